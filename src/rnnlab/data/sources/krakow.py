"""Kraków air quality 2017 (Kaggle "Air Quality Data from Extensive Network of Sensors", Airly).

Twelve monthly files ``january-2017.csv`` ... ``december-2017.csv``, one row per
hour: a ``UTC time`` column, then for every sensor id six columns
``<id>_temperature``, ``<id>_humidity``, ``<id>_pressure``, ``<id>_pm1``,
``<id>_pm25``, ``<id>_pm10``; empty cells where a sensor reported nothing.
``sensor_locations.csv`` gives ``id, latitude, longitude`` of each sensor.
The files need a Kaggle account, so they are not downloaded automatically and
have no published checksum; the loader checks their structure.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ..registry import DataFile, DatasetInfo, find_file, register
from ..series import TimeSeries

PAGE = ("https://www.kaggle.com/datasets/datascienceairly/"
        "air-quality-data-from-extensive-network-of-sensors")
MANUAL = (f"the files come from Kaggle ({PAGE}; a free account is needed): download the "
          f"dataset, unzip it and put its CSV files in a folder named krakow.")
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
MONTH_FILES = tuple(DataFile(f"krakow/{m}-2017.csv", PAGE, manual=MANUAL) for m in MONTHS)
LOCATIONS = DataFile("krakow/sensor_locations.csv", PAGE, manual=MANUAL)
FEATURES = ["temperature", "humidity", "pressure", "pm1", "pm25", "pm10"]
UNITS = {"temperature": "°C", "humidity": "%", "pressure": "", "pm1": "µg/m³",
         "pm25": "µg/m³", "pm10": "µg/m³"}
COLUMN = re.compile(r"^(\d+)_(" + "|".join(FEATURES) + r")$")


def read_month(path: str | Path) -> pd.DataFrame:
    """One monthly file as a frame indexed by UTC time, columns (sensor id, feature)."""
    frame = pd.read_csv(path)
    if not len(frame.columns) or frame.columns[0] != "UTC time":
        raise DataError(f"{path}: the first column must be 'UTC time', got "
                        f"{frame.columns[0] if len(frame.columns) else 'nothing'}")
    bad = [c for c in frame.columns[1:] if not COLUMN.match(c)]
    if bad:
        raise DataError(f"{path}: columns must be named <sensor id>_<{'|'.join(FEATURES)}>, "
                        f"got {bad[:3]}")
    try:
        index = pd.DatetimeIndex(pd.to_datetime(frame.pop("UTC time"), format="ISO8601"))
    except ValueError as err:
        raise DataError(f"{path}: 'UTC time' holds a value that is not a time ({err})") from None
    frame.index = index.tz_localize(None) if index.tz is not None else index
    frame.columns = pd.MultiIndex.from_tuples(
        [COLUMN.match(c).groups() for c in frame.columns], names=["sensor", "feature"])
    return frame.apply(pd.to_numeric, errors="coerce")


def read_locations(path: str | Path) -> pd.DataFrame:
    """``sensor_locations.csv``: sensor id, latitude, longitude."""
    frame = pd.read_csv(path)
    if list(frame.columns[:3]) != ["id", "latitude", "longitude"]:
        raise DataError(f"{path}: expected the columns id, latitude, longitude, got "
                        f"{', '.join(map(str, frame.columns))}")
    return frame


def read(paths: list[Path]) -> TimeSeries:
    """The monthly files joined into one hourly (time, sensors, 6) series in UTC."""
    frame = pd.concat([read_month(p) for p in paths], axis=0).sort_index()
    if frame.index.duplicated().any():
        raise DataError("the monthly files repeat a time stamp; each hour must appear once")
    sensors = sorted(set(frame.columns.get_level_values(0)), key=int)
    full = pd.MultiIndex.from_product([sensors, FEATURES])
    frame = frame.reindex(columns=full)  # a sensor missing a feature in a month: NaN
    values = frame.to_numpy(np.float64).reshape(len(frame), len(sensors), len(FEATURES))
    return TimeSeries(name=INFO.name, values=values, columns=sensors, index=frame.index,
                      freq="h", features=list(FEATURES), column_kind="sensor",
                      units=dict(UNITS))


def load(data_dir: str | Path | None = None, download: bool = False) -> TimeSeries:
    """All twelve months (the locations file must be there too, and well-formed)."""
    read_locations(find_file(INFO.name, LOCATIONS, data_dir, download))
    return read([find_file(INFO.name, f, data_dir, download) for f in MONTH_FILES])


def sensor_locations(data_dir: str | Path | None = None) -> pd.DataFrame:
    return read_locations(find_file(INFO.name, LOCATIONS, data_dir))


INFO = register(DatasetInfo(
    name="krakow",
    task="forecast",
    description="Kraków air quality 2017 (Kaggle, Airly sensors), hourly: temperature, "
                "humidity, pressure, pm1, pm25, pm10 per sensor",
    files=(*MONTH_FILES, LOCATIONS),
    load=load,
))
