"""Small files written in exactly the published formats of datasets we cannot ship.

Each writer puts its file(s) under ``root/<dataset folder>/`` as the registry
expects, so a test passes ``root`` as ``--data-dir``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.data.sources import jena, krakow, pems


def write_pems_npz(root: Path, name: str = "pems04", steps: int = 400, seed: int = 0) -> Path:
    """``<name>/<NAME>.npz`` with key ``data`` of shape (steps, N, 3): flow, occupancy, speed."""
    nodes = pems.SPECS[name][0]
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    daily = np.sin(2 * np.pi * t / 288)  # 288 five-minute steps a day
    base = rng.uniform(50, 300, nodes)[None]
    flow = np.maximum(base * (1 + 0.5 * daily) + rng.normal(0, 10, (steps, nodes)), 0)
    occupancy = np.clip(flow / 1000 + rng.normal(0, 0.005, (steps, nodes)), 0, 1)
    speed = np.clip(70 - 30 * occupancy + rng.normal(0, 1, (steps, nodes)), 5, 80)
    data = np.stack([flow, occupancy, speed], axis=2)
    path = root / name / f"{name.upper()}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, data=data)
    return path


def write_jena_zip(root: Path, start: str = "2014-12-20 00:10", days: int = 21,
                   drop_rows: tuple[int, ...] = (500,)) -> Path:
    """``jena/jena_climate_2009_2016.csv.zip`` holding the CSV as Keras ships it.

    Header names quoted, unquoted values, ``dd.mm.yyyy HH:MM:SS`` stamps every 10
    minutes; ``drop_rows`` are left out, as the real record misses a few stamps.
    """
    stamps = pd.date_range(start, periods=days * 144, freq="10min")
    rng = np.random.default_rng(1)
    hours = stamps.hour + stamps.minute / 60
    temp = 2 + 5 * np.sin(2 * np.pi * (hours - 9) / 24) + rng.normal(0, 0.3, len(stamps))
    cols = {
        "p (mbar)": 990 + rng.normal(0, 2, len(stamps)), "T (degC)": temp,
        "Tpot (K)": temp + 273.15 + 7, "Tdew (degC)": temp - 3, "rh (%)": 80 - temp,
        "VPmax (mbar)": 6.1 * np.exp(0.07 * temp), "VPact (mbar)": 5 + 0.2 * temp,
        "VPdef (mbar)": 1 + 0.05 * temp, "sh (g/kg)": 3.5 + 0.1 * temp,
        "H2OC (mmol/mol)": 5.6 + 0.15 * temp, "rho (g/m**3)": 1280 - 4 * temp,
        "wv (m/s)": rng.uniform(0, 4, len(stamps)), "max. wv (m/s)": rng.uniform(2, 6, len(stamps)),
        "wd (deg)": rng.uniform(0, 360, len(stamps)),
    }
    assert list(cols) == jena.FEATURES
    lines = [",".join(f'"{c}"' for c in ["Date Time", *cols])]
    for i, stamp in enumerate(stamps):
        if i in drop_rows:
            continue
        values = ",".join(f"{cols[c][i]:.2f}" for c in cols)
        lines.append(f"{stamp.strftime('%d.%m.%Y %H:%M:%S')},{values}")
    path = root / jena.FILE.path
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(jena.MEMBER, "\n".join(lines) + "\n")
    return path


def write_krakow(root: Path, sensors: tuple[int, ...] = (142, 171),
                 gaps: dict[int, list[int]] | None = None) -> Path:
    """Twelve ``<month>-2017.csv`` files and ``sensor_locations.csv`` under ``krakow/``.

    Every hour of 2017 in UTC, columns ``UTC time`` then ``<id>_<feature>`` per
    sensor; ``gaps[sensor]`` lists hours of the year whose cells are left empty.
    """
    folder = root / "krakow"
    folder.mkdir(parents=True, exist_ok=True)
    hours = pd.date_range("2017-01-01", "2017-12-31 23:00", freq="h")
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"UTC time": hours.strftime("%Y-%m-%dT%H:%M:%S")})
    for s in sensors:
        season = -10 * np.cos(2 * np.pi * hours.day_of_year / 365) + 8
        values = {"temperature": season + 4 * np.sin(2 * np.pi * (hours.hour - 9) / 24),
                  "humidity": rng.uniform(40, 100, len(hours)),
                  "pressure": rng.normal(101300, 500, len(hours)),
                  "pm1": rng.gamma(2, 10, len(hours)), "pm25": rng.gamma(2, 15, len(hours)),
                  "pm10": rng.gamma(2, 20, len(hours))}
        for feature in krakow.FEATURES:
            column = np.round(np.asarray(values[feature], dtype=float), 2).astype(object)
            for h in (gaps or {}).get(s, []):
                column[h] = None
            frame[f"{s}_{feature}"] = column
    for number, month in enumerate(krakow.MONTHS, 1):
        part = frame[hours.month == number]
        part.to_csv(folder / f"{month}-2017.csv", index=False)
    pd.DataFrame({"id": list(sensors), "latitude": [50.06] * len(sensors),
                  "longitude": [19.94] * len(sensors)}).to_csv(
        folder / "sensor_locations.csv", index=False)
    return folder
