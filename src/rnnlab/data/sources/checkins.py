"""FourSquare check-ins in New York and Tokyo (TSMC2014, Yang et al. 2015).

The published ``dataset_tsmc2014.zip`` holds ``dataset_tsmc2014/dataset_TSMC2014_NYC.txt``
(227,428 check-ins) and ``..._TKY.txt`` (573,703): tab-separated, no header,
latin-1 text, 8 columns: userId, venueId, venueCategoryId, venueCategory,
latitude, longitude, timezoneOffset (minutes from UTC) and utcTimestamp written
like ``Tue Apr 03 18:00:09 +0000 2012``. The lab calls the two files FS_NYC.csv
and FS_TKY.csv. The zip is read as it is; its checksum is not published, so its
structure is checked instead.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd

from ...errors import ConfigError, DataError
from ..registry import DataFile, DatasetInfo, find_file, register

ZIP = DataFile(
    path="foursquare/dataset_tsmc2014.zip",
    url="http://www-public.imtbs-tsp.eu/~zhang_da/pub/dataset_tsmc2014.zip",
)
CITIES = {"NYC": "dataset_TSMC2014_NYC.txt", "TKY": "dataset_TSMC2014_TKY.txt"}
COLUMNS = ["userId", "venueId", "venueCategoryId", "venueCategory", "latitude", "longitude",
           "timezoneOffset", "utcTimestamp"]
TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"


def read_checkins(source, where: str = "check-in file") -> pd.DataFrame:
    """Parse one TSMC2014 text file (path or binary file object) into a typed frame.

    Adds ``time`` (UTC timestamps) and ``local_hour`` (hour of day where the
    check-in happened: UTC time plus the time-zone offset).
    """
    try:
        frame = pd.read_csv(source, sep="\t", header=None, names=COLUMNS, encoding="latin-1",
                            dtype={"userId": "int64", "venueId": str, "venueCategoryId": str,
                                   "venueCategory": str, "latitude": "float64",
                                   "longitude": "float64", "timezoneOffset": "int64",
                                   "utcTimestamp": str}, quoting=3)
        frame["time"] = pd.to_datetime(frame["utcTimestamp"], format=TIME_FORMAT, utc=True)
    except (ValueError, TypeError) as err:
        raise DataError(f"{where}: not in the TSMC2014 format (8 tab-separated columns "
                        f"{', '.join(COLUMNS)}; times like 'Tue Apr 03 18:00:09 +0000 2012'): "
                        f"{err}") from None
    if frame[COLUMNS].isna().any().any():
        raise DataError(f"{where}: some rows have fewer than 8 columns")
    local = frame["time"] + pd.to_timedelta(frame["timezoneOffset"], unit="min")
    frame["local_hour"] = local.dt.hour.astype("int64")
    return frame


def load(data_dir: str | Path | None = None, download: bool = False,
         city: str = "NYC") -> pd.DataFrame:
    """The check-ins of ``city`` (NYC or TKY) in file order, typed (see :func:`read_checkins`)."""
    if city not in CITIES:
        raise ConfigError(f"unknown city {city!r}; the TSMC2014 data has {', '.join(CITIES)}")
    path = find_file(INFO.name, ZIP, data_dir, download)
    try:
        with zipfile.ZipFile(path) as z:
            members = [m for m in z.namelist() if m.endswith(CITIES[city])]
            if not members:
                raise DataError(f"{path}: no member named {CITIES[city]}; members are "
                                f"{', '.join(z.namelist()[:6])}")
            with z.open(members[0]) as f:
                return read_checkins(f, f"{path}:{members[0]}")
    except zipfile.BadZipFile:
        raise DataError(f"{path} is not a zip file; download {ZIP.url} again") from None


INFO = register(DatasetInfo(
    name="checkins",
    task="classify",
    description="FourSquare check-ins, New York (227,428) and Tokyo (573,703), TSMC2014",
    files=(ZIP,),
    load=load,
))
