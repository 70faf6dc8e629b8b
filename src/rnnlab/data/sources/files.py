"""A user's own files as rnnlab data: which reader applies, and the checks before reading.

These are not registered datasets (no URL, no checksum): the config names the
file (``data.path``) and the columns to read. ``data.source`` says which reader
applies (:mod:`.tables`, :mod:`.arrays`, :mod:`.texts`); :func:`settle_source`
checks it against ``data.path`` and ``data.dataset`` when the config is built.
Every reader fails with one line naming the config key and, for a missing column,
the columns that exist.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ...errors import ConfigError, DataError

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


def require_file(path: Path) -> Path:
    """``path`` when it is a file, else a DataError naming it (and data.path)."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise DataError(f"data.path: file {path} {what} (a run folder's config.yaml "
                        f"records the absolute path its data was read from; put the file "
                        f"there)")
    return path

