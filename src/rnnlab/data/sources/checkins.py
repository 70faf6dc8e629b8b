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

import numpy as np
import pandas as pd
import torch

from ...errors import ConfigError, DataError
from ..padding import Ragged
from ..registry import DataFile, DatasetInfo, find_file, register
from ..sequences import SPLITS, LabelledSequences, Part, gather_ranges
from ..windows import split_points, time_span_windows

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


def sequences(d, seed: int, split_seed: int, data_dir=None, download: bool = False
              ) -> LabelledSequences:
    """Per user, in time order, split ``d.split`` before windowing; windows of
    ``d.span_hours`` sliding by ``d.step_hours`` with at least ``d.min_length`` check-ins:
    the categories and hours of all but the last -> the category of the last."""
    frame = load(data_dir, download, city=d.city)
    users = np.sort(frame["userId"].unique())
    if d.limit is not None and d.limit < len(users):
        users = np.sort(np.random.default_rng(split_seed).choice(users, d.limit, False))
        frame = frame[frame["userId"].isin(users)]
    frame = frame.sort_values(["userId", "time"], kind="stable").reset_index(drop=True)
    classes = list(frame["venueCategory"].value_counts().index)  # most frequent first
    cat = frame["venueCategory"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    values = np.stack([cat, frame["local_hour"].to_numpy()], axis=1).astype(np.int64)
    times = frame["time"].dt.tz_convert(None).to_numpy()  # naive UTC datetime64
    span, step = np.timedelta64(int(d.span_hours * 3600e9), "ns"), \
        np.timedelta64(int(d.step_hours * 3600e9), "ns")
    bounds = {k: ([], []) for k in SPLITS}
    starts = np.flatnonzero(np.r_[True, frame["userId"].to_numpy()[1:]
                                  != frame["userId"].to_numpy()[:-1]])
    ends = np.r_[starts[1:], len(frame)]
    for a, b in zip(starts, ends):  # one user at a time (a loop over users, not rows)
        cuts = split_points(b - a, d.split)
        for name, p, q in zip(SPLITS, cuts[:-1], cuts[1:]):
            _, lo, hi = time_span_windows(times[a + p:a + q], span, step,
                                          min_length=d.min_length, unique=True)
            bounds[name][0].append(lo + a + p)
            bounds[name][1].append(hi + a + p)
    parts = {}
    for name, (los, his) in bounds.items():
        lo = np.concatenate(los) if los else np.zeros(0, np.int64)
        hi = np.concatenate(his) if his else np.zeros(0, np.int64)
        lo = np.maximum(lo, hi - 1 - d.max_length)  # keep the latest max_length inputs
        rows = gather_ranges(lo, hi - 1)  # inputs: all but the window's last check-in
        seqs = Ragged.from_lengths(torch.from_numpy(values[rows]),
                                   torch.from_numpy(hi - 1 - lo))
        parts[name] = Part(seqs, torch.from_numpy(cat[hi - 1].astype(np.int64)))
    facts = {"city": d.city, "checkins": len(frame), "span_hours": d.span_hours,
             "step_hours": d.step_hours}
    return LabelledSequences(parts, classes, classes, hours=True, top5=True, facts=facts)


INFO = register(DatasetInfo(
    name="checkins",
    task="classify",
    description="FourSquare check-ins, New York (227,428) and Tokyo (573,703), TSMC2014",
    files=(ZIP,),
    load=load,
    sequences=sequences,
))
