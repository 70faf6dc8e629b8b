"""PeMS04 / PeMS07 / PeMS08 traffic (ASTGCN / ASTGNN releases), 5-minute steps.

``PEMS0X.npz`` holds one array under the key ``data`` of shape (T, N, 3): flow,
occupancy and speed of N detectors (PEMS04: (16992, 307, 3) from 2018-01-01;
PEMS07: 883 detectors from 2017-05-01; PEMS08: (17856, 170, 3) from 2016-07-01).
``PEMS0X.csv`` is the sensor graph: header ``from,to,cost`` (road distance).
The arrays are too large for ../shared/datasets; the loader checks their
structure (key, 3 features, detector count, finite values) because no checked
sha256 is published. The graphs of PEMS04/08 are there and are checksummed.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ..registry import DataFile, DatasetInfo, find_file, register
from ..series import TimeSeries

FEATURES = ["flow", "occupancy", "speed"]
UNITS = {"flow": "vehicles/5 min", "occupancy": "", "speed": "mph"}
BASE = "https://github.com/guoshnBJTU/ASTGNN/raw/main/data"
# name -> (detectors, first time stamp, edges in the graph, graph sha256 and size or None)
SPECS = {
    "pems04": (307, "2018-01-01", 340,
               ("68ffaa80447eb34428a9999dc28363c61406ec0fd714686d0582d2386ac6f5f7", 4852)),
    "pems07": (883, "2017-05-01", None, None),
    "pems08": (170, "2016-07-01", 295,
               ("859d68e7583ed4e6016588eaaca494d3ece286dae361614c5c1833017f87eaa7", 4032)),
}


def files(name: str) -> tuple[DataFile, DataFile | None]:
    """The traffic array and (when checksummed) the sensor graph of ``name``."""
    upper = name.upper()
    array = DataFile(f"{name}/{upper}.npz", f"{BASE}/{upper}/{upper}.npz")
    graph_hash = SPECS[name][3]
    graph = (DataFile(f"{name}/{upper}.csv", f"{BASE}/{upper}/{upper}.csv", *graph_hash)
             if graph_hash else None)
    return array, graph


def read_array(path: str | Path, name: str) -> TimeSeries:
    """Parse a PEMS ``.npz`` into a (T, N, 3) series of flow, occupancy and speed."""
    nodes, start = SPECS[name][:2]
    try:
        with np.load(path) as npz:
            if "data" not in npz.files:
                raise DataError(f"{path}: no array 'data' in the npz (found {npz.files})")
            values = np.asarray(npz["data"], dtype=np.float64)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"{path} is not a readable .npz file ({err}); download it again") \
            from None
    if values.ndim != 3 or values.shape[1:] != (nodes, 3):
        raise DataError(f"{path}: expected data of shape (T, {nodes}, 3) (flow, occupancy, "
                        f"speed of {nodes} detectors), got {values.shape}")
    if not np.isfinite(values).all():
        raise DataError(f"{path}: the traffic array holds NaN or infinite values")
    index = pd.date_range(start, periods=len(values), freq="5min")
    return TimeSeries(name=name, values=values, columns=[str(i) for i in range(nodes)],
                      index=index, freq="5min", features=list(FEATURES),
                      column_kind="detector", units=dict(UNITS))


def read_graph(path: str | Path, name: str) -> pd.DataFrame:
    """The sensor graph as a frame of edges ``from, to, cost``, checked against its spec."""
    nodes, _, edges, _ = SPECS[name]
    frame = pd.read_csv(path)
    if list(frame.columns) != ["from", "to", "cost"]:
        raise DataError(f"{path}: expected the header from,to,cost, got "
                        f"{','.join(map(str, frame.columns))}")
    ids = frame[["from", "to"]].to_numpy()
    if (edges is not None and len(frame) != edges) or ids.min() < 0 or ids.max() >= nodes:
        raise DataError(f"{path}: expected {edges} edges between detectors 0..{nodes - 1}, got "
                        f"{len(frame)} edges between {ids.min()}..{ids.max()}")
    return frame


def adjacency(name: str, data_dir: str | Path | None = None, download: bool = False,
              ) -> np.ndarray:
    """The (N, N) matrix of road distances between connected detectors (0 = no edge).

    PEMS08's graph lists 18 detector pairs twice; the shorter distance is kept.
    """
    graph = files(name)[1]
    if graph is None:
        raise DataError(f"no checksummed sensor graph is registered for {name}")
    edges = read_graph(find_file(name, graph, data_dir, download), name)
    nodes = SPECS[name][0]
    shortest = edges.groupby(["from", "to"], as_index=False)["cost"].min()
    matrix = np.zeros((nodes, nodes))
    matrix[shortest["from"].to_numpy(), shortest["to"].to_numpy()] = shortest["cost"].to_numpy()
    return matrix


def _register(name: str) -> DatasetInfo:
    array, graph = files(name)
    nodes = SPECS[name][0]

    def load(data_dir: str | Path | None = None, download: bool = False) -> TimeSeries:
        return read_array(find_file(name, array, data_dir, download), name)

    return register(DatasetInfo(
        name=name, task="forecast",
        description=f"{name.upper()} traffic, {nodes} detectors x flow/occupancy/speed, 5 min "
                    f"(ASTGNN){'; with sensor graph' if graph else ''}",
        files=(array, graph) if graph else (array,), load=load))


INFOS = {name: _register(name) for name in SPECS}
