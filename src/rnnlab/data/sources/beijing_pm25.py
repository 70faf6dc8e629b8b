"""Beijing PM2.5 (UCI): hourly US-Embassy PM2.5 with airport weather, 2010-2014.

``PRSA_data_2010.1.1-2014.12.31.csv``: 43,824 hourly rows (no gaps in the
index), header ``No,year,month,day,hour,pm2.5,DEWP,TEMP,PRES,cbwd,Iws,Is,Ir``;
2,067 PM2.5 readings are ``NA``. The copy in ../shared/datasets names the
PM2.5 column ``pm``; both headers are read. The real stand-in for the lab's
Kraków sensors: one station, 7 numeric features (the wind direction ``cbwd``
is categorical and left out).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ..registry import DataFile, DatasetInfo, find_file, register
from ..series import TimeSeries

FILE = DataFile(
    path="beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv",
    url="https://archive.ics.uci.edu/ml/machine-learning-databases/00381/"
        "PRSA_data_2010.1.1-2014.12.31.csv",
    sha256="5e6ea1811dc9c6e52b477650597b7473dc1ce2f3a246057ccfaba25fb598e95f",
    # the UCI original: the same bytes with the header 'pm2.5' (inferred in MANIFEST.md 6a)
    also_sha256=("4127f868775e31b3956522adc0ec75af8937dde6a3896e8beed3a376c6d27f1c",),
)
FEATURES = ["pm2.5", "DEWP", "TEMP", "PRES", "Iws", "Is", "Ir"]
UNITS = {"pm2.5": "µg/m³", "DEWP": "°C", "TEMP": "°C", "PRES": "hPa", "Iws": "m/s",
         "Is": "h", "Ir": "h"}
ROWS = 43824


def read(path: str | Path) -> TimeSeries:
    """Parse a PRSA 2010-2014 file (either header) into a (time, 1, 7) hourly series."""
    frame = pd.read_csv(path, na_values=["NA", ""]).rename(columns={"pm": "pm2.5"})
    expected = ["No", "year", "month", "day", "hour"] + FEATURES[:1] + \
        ["DEWP", "TEMP", "PRES", "cbwd", "Iws", "Is", "Ir"]
    if list(frame.columns) != expected:
        raise DataError(f"{path}: expected the columns {','.join(expected)}, got "
                        f"{','.join(map(str, frame.columns))}")
    index = pd.DatetimeIndex(pd.to_datetime(frame[["year", "month", "day", "hour"]]))
    values = frame[FEATURES].to_numpy(np.float64)[:, None, :]
    return TimeSeries(name=INFO.name, values=values, columns=["Beijing"], unit="",
                      index=index, freq="h", features=list(FEATURES), column_kind="station",
                      units=dict(UNITS))


def load(data_dir: str | Path | None = None, download: bool = False) -> TimeSeries:
    """The full file, checked for its published structure (rows, hourly index, gaps)."""
    path = find_file(INFO.name, FILE, data_dir, download)
    series = read(path)
    if len(series) != ROWS or not (series.index[1:] - series.index[:-1] == "1h").all():
        raise DataError(f"{path}: expected {ROWS} consecutive hours, got {len(series)} rows")
    return series


INFO = register(DatasetInfo(
    name="beijing_pm25",
    task="forecast",
    description="Beijing PM2.5 (UCI), hourly 2010-2014: pm2.5 (NA gaps), DEWP, TEMP, PRES, "
                "Iws, Is, Ir",
    files=(FILE,),
    load=load,
))
