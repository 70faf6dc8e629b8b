"""Los-loop: traffic speed of 207 loop detectors in Los Angeles, 5-minute steps (T-GCN).

The T-GCN authors' ``los_speed.csv``: a header of 207 detector ids, then 2016
rows (7 days x 288 steps) of speeds in mph. The T-GCN paper dates the week as
1-7 March 2012; the file itself carries no time stamps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ..registry import DataFile, DatasetInfo, find_file, register
from ..series import TimeSeries

SPEED = DataFile(
    path="los_loop/los_speed.csv",
    url="https://github.com/lehaifeng/T-GCN/raw/master/data/los_speed.csv",
    sha256="7b732d86ae32b2930595becba28aff39dacbfb2197e250fc0332e1744ce2cbf4",
    size=3402125,
)
def load(data_dir: str | Path | None = None, download: bool = False) -> TimeSeries:
    """The Los-loop speeds as a (2016, 207) series in mph."""
    path = find_file(INFO.name, SPEED, data_dir, download)
    frame = pd.read_csv(path)
    values = frame.to_numpy(dtype=np.float64)
    if values.shape != (2016, 207) or np.isnan(values).any():
        raise DataError(f"{path}: expected 2016 rows x 207 detector columns of speeds, "
                        f"got {values.shape}")
    index = pd.date_range("2012-03-01", periods=len(values), freq="5min")
    return TimeSeries(name=INFO.name, values=values, columns=list(frame.columns),
                      unit="mph", index=index, freq="5min", column_kind="detector")


INFO = register(DatasetInfo(
    name="los_loop",
    task="forecast",
    description="Los-loop traffic speed, 207 detectors x 2016 steps of 5 min (mph), T-GCN",
    files=(SPEED,),
    bundled=True,
    load=load,
))
