"""Tables (CSV, TSV, Parquet) as time series: columns, time stamps, wide and long layouts."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import ConfigError, DataError
from ...util import suggest
from ..series import TimeSeries
from .files import PARQUET, file_suffix, require_file


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV (``,``; ``.tsv`` tab; a ``;`` header is detected) or Parquet file as a frame."""
    path = require_file(path)
    suffix = file_suffix(path)
    if suffix in PARQUET:
        try:
            frame = pd.read_parquet(path)
        except ImportError:
            raise ConfigError(f"reading Parquet ({path.name}) needs pyarrow: pip install pyarrow "
                              f"(or save the table as CSV)") from None
        except (OSError, ValueError) as err:
            raise DataError(f"data.path {path} is not a readable Parquet file ({err})") from None
    else:
        sep = "\t" if suffix in (".tsv", ".tab") else ","
        try:
            frame = pd.read_csv(path, sep=sep)
            if frame.shape[1] == 1 and ";" in str(frame.columns[0]):
                frame = pd.read_csv(path, sep=";")
        except pd.errors.EmptyDataError:
            raise DataError(f"data.path {path} is empty: expected a header line and rows") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise DataError(f"data.path {path} is not a readable CSV ({err})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise DataError(f"data.path {path} has a header ({', '.join(frame.columns)}) but no rows")
    return frame


def check_columns(frame: pd.DataFrame, names: Sequence[str], key: str, path: Path) -> None:
    """A ConfigError naming ``key`` unless every name is a column; lists those that exist."""
    columns = [str(c) for c in frame.columns]
    for name in names:
        if str(name) not in columns:
            hint = suggest(str(name), columns, cutoff=0.5)
            shown = ", ".join(columns[:30]) + (" ..." if len(columns) > 30 else "")
            raise ConfigError(f"{key}: column {name!r} is not in {Path(path).name}.{hint} "
                              f"Its columns: {shown}")


def numeric_columns(frame: pd.DataFrame, names: Sequence[str], key: str,
                    path: Path) -> np.ndarray:
    """The named columns as float64 (empty cells -> NaN); text in them is a ConfigError."""
    out = np.empty((len(frame), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        column = frame[name]
        numbers = pd.to_numeric(column, errors="coerce")
        bad = numbers.isna() & column.notna() & (column.astype(str).str.strip() != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ConfigError(f"{key}: column {name!r} of {Path(path).name} holds non-numeric "
                              f"values, e.g. {column.iloc[row]!r} in data row {row + 1} "
                              f"({int(bad.sum())} such cells); choose numeric columns in {key}")
        out[:, j] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def parse_times(column: pd.Series, key: str, timezone: str = "",
                time_format: str = "") -> pd.DatetimeIndex:
    """A column of time stamps as a DatetimeIndex (tz-aware when the stamps or ``timezone`` say).

    Naive stamps are localised to ``timezone``; stamps with an offset are converted
    to it (mixed offsets are read as UTC first). A value that does not parse is a
    ConfigError naming ``key`` and showing the value.
    """
    name = column.name
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        raise ConfigError(f"{key}: column {name!r} holds numbers ({column.iloc[0]!r}, ...), not "
                          f"dates or times; name a column of time stamps such as "
                          f"'2024-01-31 13:00', or leave {key} out to use the row order")
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise ConfigError(f"{key}: column {name!r} has an empty cell in data row {row + 1}; "
                          f"every row needs a time stamp")
    fmt = time_format or None
    try:
        with warnings.catch_warnings():  # "could not infer format": the stamps still parse
            warnings.simplefilter("ignore", UserWarning)
            try:
                times = pd.to_datetime(column, format=fmt)
            except ValueError as err:
                if "utc=True" not in str(err) and "timezone" not in str(err).lower():
                    raise
                times = pd.to_datetime(column, format=fmt, utc=True)  # mixed offsets
    except (ValueError, TypeError, OverflowError) as err:
        bad = _first_unparsed(column, fmt)
        how = f" with data.time_format {time_format!r}" if time_format else ""
        shown = f"e.g. {bad!r} does not parse{how}" if bad is not None else str(err)
        raise ConfigError(f"{key}: column {name!r} does not hold time stamps: {shown}. Write them "
                          f"as e.g. '2024-01-31 13:00' (or set data.time_format, e.g. "
                          f"'%d/%m/%Y %H:%M')") from None
    index = pd.DatetimeIndex(times)
    if timezone:
        try:
            if index.tz is None:
                index = index.tz_localize(timezone, ambiguous="infer",
                                          nonexistent="shift_forward")
            else:
                index = index.tz_convert(timezone)
        except Exception as err:  # unknown zone names come from zoneinfo/pytz
            if "ambiguous" in str(err).lower() or "infer" in str(err).lower():
                raise DataError(f"data.timezone {timezone!r}: the naive stamps of column "
                                f"{name!r} cannot be placed around a daylight-saving change "
                                f"({err}); give stamps with an offset (e.g. +01:00) or in "
                                f"UTC") from None
            raise ConfigError(f"data.timezone: {timezone!r} is not a known time zone ({err}); "
                              f"e.g. UTC, Europe/Warsaw, Asia/Shanghai") from None
    return index


def _first_unparsed(column: pd.Series, fmt: str | None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for value in column.drop_duplicates().head(5000):
            try:
                pd.to_datetime(value, format=fmt)
            except (ValueError, TypeError, OverflowError):
                return value
    return None


def regular_freq(index: pd.DatetimeIndex, key: str, resample: str) -> str | None:
    """The step of a sorted time index; an uneven one is an error unless data.resample is set."""
    if len(index) < 2:
        return None
    steps = pd.Series(index[1:] - index[:-1])
    step = steps.mode().iloc[0]
    if step <= pd.Timedelta(0):
        return None  # duplicates: reported by the caller
    alias = pd.tseries.frequencies.to_offset(step).freqstr
    uneven = steps != step
    if uneven.any() and not resample:
        k = int(np.flatnonzero(uneven.to_numpy())[0])
        raise ConfigError(
            f"{key}: the time stamps are not evenly spaced (mostly {alias}, but "
            f"{int(uneven.sum())} steps differ, e.g. {index[k]} -> {index[k + 1]}). "
            f"Set data.resample: {alias} to put them on a full {alias} grid (missing steps "
            f"become gaps; short ones are interpolated, see data.interpolate_limit)")
    return alias


def table_series(path: Path, *, time_column: str = "", columns: Sequence[str] = (),
                 id_column: str = "", timezone: str = "", time_format: str = "",
                 resample: str = "") -> TimeSeries:
    """A table as a (time, nodes, features) series.

    Wide (no ``id_column``): one node named after the file, one feature per value
    column. Long (``id_column``): one node per id, the value columns as its
    features, lined up on the time column (a missing reading becomes a gap).
    Without ``time_column`` the row order is the time axis.
    """
    path = Path(path)
    frame = read_table(path)
    if time_column:
        check_columns(frame, [time_column], "data.time_column", path)
    if id_column:
        check_columns(frame, [id_column], "data.id_column", path)
        if not time_column:
            raise ConfigError("data.id_column (long format: one series per id) needs "
                              "data.time_column to line the series up")
    if columns:
        check_columns(frame, columns, "data.columns", path)
        if len(set(columns)) != len(columns):
            raise ConfigError(f"data.columns repeats a name: {list(columns)}")
        clash = [c for c in columns if c in (time_column, id_column)]
        if clash:
            raise ConfigError(f"data.columns: {clash[0]!r} is the time or id column; list only "
                              f"value columns")
        names = list(columns)
    else:
        skip = {time_column, id_column}
        names = [c for c in frame.columns if c not in skip
                 and pd.api.types.is_numeric_dtype(frame[c])
                 and not pd.api.types.is_bool_dtype(frame[c])]
        if not names:
            raise ConfigError(f"data.columns: {path.name} has no numeric column besides the time "
                              f"/ id column (columns: {', '.join(frame.columns)}); name the "
                              f"value columns in data.columns")
    values = numeric_columns(frame, names, "data.columns", path)
    if not time_column:
        return TimeSeries(name=path.stem, values=values[:, None, :], columns=[path.stem],
                          features=names, column_kind="series")
    times = parse_times(frame[time_column], "data.time_column", timezone, time_format)
    if id_column:
        ids = frame[id_column].astype(str).to_numpy()
        long = pd.DataFrame(values, columns=names)
        long["__id"], long["__time"] = ids, times
        dup = long.duplicated(["__id", "__time"])
        if dup.any() and not resample:
            row = int(np.flatnonzero(dup.to_numpy())[0])
            raise DataError(f"{path.name}: id {ids[row]!r} has two rows at {times[row]} "
                            f"({int(dup.sum())} repeats); set data.resample to average the "
                            f"readings within each step")
        wide = long.pivot_table(index="__time", columns="__id", values=names, aggfunc="mean",
                                dropna=False, sort=True)
        nodes = sorted(set(ids))
        index = pd.DatetimeIndex(wide.index)
        array = np.stack([wide[n].reindex(columns=nodes).to_numpy(np.float64) for n in names],
                         axis=2)
        if index.has_duplicates:  # cannot happen after pivot; kept for clarity
            raise DataError(f"{path.name}: repeated time stamps")
        freq = regular_freq(index, "data.time_column", resample)
        return TimeSeries(name=path.stem, values=array, columns=nodes, index=index, freq=freq,
                          features=names, column_kind=id_column)
    order = np.argsort(times.to_numpy(), kind="stable")
    times, values = times[order], values[order]
    if times.has_duplicates and not resample:
        first = times[times.duplicated()][0]
        raise DataError(f"data.time_column {time_column!r}: the time stamp {first} appears "
                        f"more than once ({int(times.duplicated().sum())} repeats). For one "
                        f"series per id (long format) set data.id_column; to average readings "
                        f"within each step set data.resample")
    freq = regular_freq(times, "data.time_column", resample) if not times.has_duplicates else None
    return TimeSeries(name=path.stem, values=values[:, None, :], columns=[path.stem],
                      index=times, freq=freq, features=names, column_kind="series")

