"""Jena climate 2009-2016 (Max Planck Institute for Biogeochemistry, as packaged by Keras).

``jena_climate_2009_2016.csv.zip`` holds ``jena_climate_2009_2016.csv``: 420,551
rows every 10 minutes from ``01.01.2009 00:10:00`` to ``01.01.2017 00:00:00``,
header ``"Date Time","p (mbar)","T (degC)",...`` with 14 weather variables. The
record has a few duplicated and missing stamps: resample it to ``10min``
(see configs/jena.yaml) to get a regular index. No checked sha256 is
published, so the loader checks the structure instead.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ..registry import DataFile, DatasetInfo, find_file, register
from ..series import TimeSeries

FILE = DataFile(
    path="jena/jena_climate_2009_2016.csv.zip",
    url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
        "jena_climate_2009_2016.csv.zip",
)
MEMBER = "jena_climate_2009_2016.csv"
FEATURES = ["p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)",
            "VPact (mbar)", "VPdef (mbar)", "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)",
            "wv (m/s)", "max. wv (m/s)", "wd (deg)"]
DATE_FORMAT = "%d.%m.%Y %H:%M:%S"


def read(path: str | Path) -> TimeSeries:
    """Parse the CSV inside the zip into a (time, 1, 14) series, as recorded."""
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not a zip file; download it again from {FILE.url}")
    try:
        with zipfile.ZipFile(path) as zf:
            if MEMBER not in zf.namelist():
                raise DataError(f"{path}: no {MEMBER} inside the zip (found "
                                f"{', '.join(zf.namelist()[:5])})")
            frame = pd.read_csv(zf.open(MEMBER))
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise DataError(f"{path} could not be read as the Jena climate CSV: {err}") from None
    if list(frame.columns) != ["Date Time", *FEATURES]:
        raise DataError(f"{path}: expected the columns \"Date Time\", {', '.join(FEATURES)}; "
                        f"got {', '.join(map(str, frame.columns))}")
    try:
        index = pd.DatetimeIndex(pd.to_datetime(frame["Date Time"], format=DATE_FORMAT))
    except ValueError as err:
        raise DataError(f"{path}: 'Date Time' is not in the format dd.mm.yyyy HH:MM:SS "
                        f"({err})") from None
    units = {f: f[f.index("(") + 1:-1] for f in FEATURES}
    return TimeSeries(name=INFO.name, values=frame[FEATURES].to_numpy(np.float64)[:, None, :],
                      columns=["Jena"], index=index, freq="10min", features=list(FEATURES),
                      column_kind="station", units=units)


def load(data_dir: str | Path | None = None, download: bool = False) -> TimeSeries:
    return read(find_file(INFO.name, FILE, data_dir, download))


INFO = register(DatasetInfo(
    name="jena",
    task="forecast",
    description="Jena climate 2009-2016, 14 weather variables every 10 min (Keras zip)",
    files=(FILE,),
    load=load,
))
