"""A user's own files as rnnlab data: tables (CSV, Parquet), arrays (.npz/.npy), plain text.

These are not registered datasets (no URL, no checksum): the config names the
file (``data.path``) and the columns to read. ``data.source`` says which reader
applies; :func:`settle_source` checks it against ``data.path`` and
``data.dataset`` when the config is built, and :func:`resolve_path` finds the
file (next to the config file first, then in the current folder). Every reader
fails with one line naming the config key and, for a missing column, the
columns that exist.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import ConfigError, DataError
from ..series import TimeSeries

PARQUET = (".parquet", ".pq")
ARRAYS = (".npz", ".npy")
TABLES = (".csv", ".tsv", ".tab")


def file_suffix(path: str | Path) -> str:
    """The lower-case extension that decides the reader; ``.csv.gz`` counts as ``.csv``."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zip", ".xz", ".zst") and len(suffixes) > 1:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def settle_source(data, by_suffix: dict[str, tuple[str, ...]], default_dataset: str,
                  specific: dict[str, tuple[str, ...]]) -> None:
    """Make ``data.source`` concrete and check it against data.path / data.dataset / other keys.

    ``by_suffix`` maps each file source to the extensions ``auto`` picks it for;
    ``specific`` maps a key to the sources that read it (setting it for another
    source is an error, not silently ignored).
    """
    path = data.path
    if data.source == "auto":
        if not path:
            data.source = "registry"
        else:
            suffix = file_suffix(path)
            match = [s for s, sfx in by_suffix.items() if suffix in sfx]
            if not match:
                raise ConfigError(f"data.path {path!r}: cannot tell the reader from the extension "
                                  f"{suffix or '(none)'!r}; set data.source to "
                                  f"{' or '.join(by_suffix)}")
            data.source = match[0]
    if data.source == "registry":
        if path:
            raise ConfigError(f"data.path is read by data.source {' / '.join(by_suffix)}; the "
                              f"registry source reads the dataset data.dataset. Remove data.path, "
                              f"or set data.source (e.g. {next(iter(by_suffix))})")
        if not data.dataset:
            raise ConfigError("data.dataset: name a registered dataset (see `rnnlab datasets`), "
                              "or give your own file as data.path")
    else:
        if not path:
            raise ConfigError(f"data.source {data.source} reads the file data.path; add it, "
                              f"e.g. data.path: my_data{by_suffix[data.source][0]}")
        if data.dataset not in ("", default_dataset):
            raise ConfigError(f"data.dataset {data.dataset!r} names a registered dataset, but "
                              f"data.source {data.source} reads data.path ({path}). Keep one: "
                              f"remove data.dataset, or remove data.source and data.path")
        data.dataset = ""
        suffix = file_suffix(path)
        if suffix not in by_suffix[data.source] and suffix in PARQUET + ARRAYS + TABLES:
            other = [s for s, sfx in by_suffix.items() if suffix in sfx]
            fix = f"set data.source: {other[0]}" if other else "convert the file"
            raise ConfigError(f"data.path {path!r} is a {suffix} file, which data.source "
                              f"{data.source} does not read; {fix}")
    defaults = {f.name: f.default if f.default_factory is dataclasses.MISSING
                else f.default_factory() for f in dataclasses.fields(data)}
    for key, sources in specific.items():
        if getattr(data, key) != defaults[key] and data.source not in sources:
            raise ConfigError(f"data.{key} applies to data.source {' / '.join(sources)}, not "
                              f"{data.source}; remove it")


def resolve_path(path: str, base_dir: Path | None = None) -> Path:
    """The absolute path of data.path: as given when absolute, else next to the config file
    (``base_dir``), then in the current folder. A missing file names every place tried.

    An absolute path is returned unchecked: a run folder's config.yaml holds one, and
    reading that config (e.g. to generate text from vocab.json) must not need the data;
    the readers check it when they open the file.
    """
    p = Path(path).expanduser()
    tried: list[tuple[Path, str]] = []
    if p.is_absolute():
        return p
    if base_dir is not None:
        tried.append((Path(base_dir).resolve() / p, "next to the config file"))
    cwd = Path.cwd() / p
    if all(cwd.resolve() != t.resolve() for t, _ in tried):
        tried.append((cwd, "in the current folder"))
    for candidate, _ in tried:
        if candidate.is_file():
            return candidate.resolve()
    for candidate, _ in tried:
        if candidate.is_dir():
            raise DataError(f"data.path {path!r} is a folder ({candidate}); name a file in it")
    looked = "; ".join(f"{c} ({why})" for c, why in tried)
    raise DataError(f"data.path: file {path!r} not found. Looked at: {looked}")


def require_file(path: Path) -> Path:
    """``path`` when it is a file, else a DataError naming it (and data.path)."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise DataError(f"data.path: file {path} {what} (a run folder's config.yaml "
                        f"records the absolute path its data was read from; put the file "
                        f"there)")
    return path


# ---------------------------------------------------------------- tables

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
            close = difflib.get_close_matches(str(name), columns, n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
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


# ---------------------------------------------------------------- arrays

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
                close = difflib.get_close_matches(key, keys, n=1, cutoff=0.5)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"data.key: {path.name} has no array {key!r}.{hint} "
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


# ---------------------------------------------------------------- texts

def read_text(path: Path, encoding: str = "utf-8") -> str:
    """The whole file as a string; an empty or undecodable file is a DataError."""
    path = require_file(path)
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as err:
        raise DataError(f"data.path {path} is not {encoding} text ({err}); set data.encoding "
                        f"(e.g. latin-1, gbk)") from None
    except LookupError:
        raise ConfigError(f"data.encoding: unknown text encoding {encoding!r}") from None
    if not text.strip():
        raise DataError(f"data.path {path} is empty")
    return text


def labelled_texts(path: Path, text_column: str, label_column: str
                   ) -> tuple[list[str], np.ndarray, list[str], int]:
    """(texts, integer labels, class names, rows dropped) of a table with a text and a label column.

    Rows with an empty text or label are dropped (and counted). Classes are the
    distinct labels, in numeric order when they are all numbers, else sorted as text.
    """
    path = Path(path)
    frame = read_table(path)
    check_columns(frame, [text_column], "data.text_column", path)
    check_columns(frame, [label_column], "data.label_column", path)
    if text_column == label_column:
        raise ConfigError("data.text_column and data.label_column name the same column")
    texts = frame[text_column]
    labels = frame[label_column]
    keep = texts.notna() & labels.notna() & (texts.astype(str).str.strip() != "")
    dropped = int((~keep).sum())
    texts, labels = texts[keep].astype(str).tolist(), labels[keep]
    if not texts:
        raise DataError(f"{path.name}: no row has both a text ({text_column!r}) and a label "
                        f"({label_column!r})")
    if pd.api.types.is_numeric_dtype(labels) and (labels == labels.round()).all():
        labels = labels.astype("int64")
    values = labels.to_numpy()
    if pd.api.types.is_numeric_dtype(labels):
        classes_raw = sorted(set(values.tolist()))
    else:
        values = labels.astype(str).str.strip().to_numpy()
        classes_raw = sorted(set(values.tolist()))
    if len(classes_raw) < 2:
        raise DataError(f"data.label_column {label_column!r} of {path.name} holds a single "
                        f"class ({classes_raw[0]!r}) in all {len(texts)} rows; a classifier "
                        f"needs at least two classes")
    lookup = {c: i for i, c in enumerate(classes_raw)}
    codes = np.array([lookup[v] for v in values.tolist()], dtype=np.int64)
    return texts, codes, [str(c) for c in classes_raw], dropped


_EN_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[^\w\s]", re.UNICODE)


def tokenize(texts: Sequence[str], language: str) -> list[list[str]]:
    """Tokens of each text: ``char`` characters, ``en`` lower-cased words and punctuation,
    ``zh`` jieba words (cached, see :func:`rnnlab.data.wordvec.segment`)."""
    if language == "char":
        return [list(t.strip()) for t in texts]
    if language == "en":
        return [_EN_TOKEN.findall(t.lower()) for t in texts]
    if language == "zh":
        from .. import wordvec

        return wordvec.segment(list(texts))
    raise ValueError(f"unknown language {language!r}")
