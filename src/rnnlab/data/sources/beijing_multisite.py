"""Beijing Multi-Site Air-Quality (UCI), Aotizhongxin station, hourly 2013-03 .. 2017-02.

``PRSA_Data_Aotizhongxin_20130301-20170228.csv`` (one of the 12 station files in
the UCI zip): 35,064 hourly rows, quoted header ``"No","year","month","day",
"hour","PM2.5","PM10","SO2","NO2","CO","O3","TEMP","PRES","DEWP","RAIN","wd",
"WSPM","station"``, ``NA`` gaps in every measured column. 11 numeric features
(the wind direction ``wd`` is categorical and left out).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ..registry import DataFile, DatasetInfo, find_file, register
from ..series import TimeSeries

ZIP_URL = ("https://archive.ics.uci.edu/ml/machine-learning-databases/00501/"
           "PRSA2017_Data_20130301-20170228.zip")
FILE = DataFile(
    path="beijing_multisite/PRSA_Data_Aotizhongxin_20130301-20170228.csv",
    url=ZIP_URL,
    sha256="a94fbcfc71708b6ffdc033360163d91efb7f675e496f6b5860929aa96b96351b",
    size=2835916,
    manual=f"it is one member of the UCI zip {ZIP_URL}: download the zip and extract "
           f"PRSA_Data_20130301-20170228/PRSA_Data_Aotizhongxin_20130301-20170228.csv.",
)
FEATURES = ["PM2.5", "PM10", "SO2", "NO2", "CO", "O3", "TEMP", "PRES", "DEWP", "RAIN", "WSPM"]
UNITS = {**{k: "µg/m³" for k in FEATURES[:6]}, "TEMP": "°C", "PRES": "hPa", "DEWP": "°C",
         "RAIN": "mm", "WSPM": "m/s"}
COLUMNS = ["No", "year", "month", "day", "hour", *FEATURES[:9], "RAIN", "wd", "WSPM", "station"]
ROWS = 35064


def read(path: str | Path) -> TimeSeries:
    """Parse one station file into a (time, 1, 11) hourly series."""
    frame = pd.read_csv(path, na_values=["NA", " "])
    if list(frame.columns) != COLUMNS:
        raise DataError(f"{path}: expected the columns {','.join(COLUMNS)}, got "
                        f"{','.join(map(str, frame.columns))}")
    index = pd.DatetimeIndex(pd.to_datetime(frame[["year", "month", "day", "hour"]]))
    station = str(frame["station"].iloc[0])
    return TimeSeries(name=INFO.name, values=frame[FEATURES].to_numpy(np.float64)[:, None, :],
                      columns=[station], index=index, freq="h", features=list(FEATURES),
                      column_kind="station", units=dict(UNITS))


def load(data_dir: str | Path | None = None, download: bool = False) -> TimeSeries:
    path = find_file(INFO.name, FILE, data_dir, download)
    series = read(path)
    if len(series) != ROWS:
        raise DataError(f"{path}: expected {ROWS} hourly rows, got {len(series)}")
    return series


INFO = register(DatasetInfo(
    name="beijing_multisite",
    task="forecast",
    description="Beijing multi-site air quality (UCI), Aotizhongxin, hourly 2013-2017: "
                "6 pollutants + 5 weather features, NA gaps",
    files=(FILE,),
    load=load,
))
