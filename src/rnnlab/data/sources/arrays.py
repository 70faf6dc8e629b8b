"""Arrays (``.npy``, ``.npz``) as time series, shaped (time, columns) or (time, nodes, features)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import ConfigError, DataError
from ...util import suggest
from ..series import TimeSeries
from .files import require_file


def array_series(path: Path, key: str = "") -> TimeSeries:
    """An ``.npy`` array, or array ``key`` of an ``.npz``, shaped (T, N) or (T, N, F).

    Columns are named 0 .. N-1 (select them with data.nodes); features f0 .. f{F-1}.
    """
    path = require_file(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise DataError(f"data.path {path} is not a readable .npy/.npz array file "
                        f"({err})") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.files)
            if not keys:
                raise DataError(f"data.path {path} holds no arrays")
            if not key:
                if len(keys) > 1:
                    raise ConfigError(f"data.key: {path.name} holds {len(keys)} arrays "
                                      f"({', '.join(keys)}); name the one to use")
                key = keys[0]
            if key not in keys:
                raise ConfigError(f"data.key: {path.name} has no array {key!r}."
                                  f"{suggest(key, keys, cutoff=0.5)} "
                                  f"Its arrays: {', '.join(keys)}")
            array = loaded[key]
    else:
        if key:
            raise ConfigError(f"data.key names an array inside a .npz file; {path.name} is a "
                              f"single .npy array, remove data.key")
        array = loaded
    if array.ndim not in (2, 3):
        raise DataError(f"{path.name}{':' + key if key else ''}: expected an array shaped "
                        f"(time, columns) or (time, nodes, features), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise DataError(f"{path.name}{':' + key if key else ''}: expected numbers, got dtype "
                        f"{array.dtype}")
    if len(array) < 2:
        raise DataError(f"{path.name}: the array has {len(array)} time steps")
    array = np.asarray(array, dtype=np.float64)
    columns = [str(i) for i in range(array.shape[1])]
    features = [f"f{i}" for i in range(array.shape[2])] if array.ndim == 3 else None
    return TimeSeries(name=path.stem, values=array, columns=columns, features=features,
                      column_kind="column" if array.ndim == 2 else "node")

