"""Dataset registry: each name maps to its files, canonical URLs and sha256.

A file is looked up, in order, under ``--data-dir``, ``$RNNLAB_DATA``, the user
cache (``$RNNLAB_CACHE``, else ``$XDG_CACHE_HOME/rnnlab`` or ``~/.cache/rnnlab``)
and, for the few small datasets rnnlab ships, the copy inside the package. The
first copy found is verified (size, then sha256) before use; a wrong copy is an
error, never silently skipped. Downloads go to the user cache, with a progress
bar, only when asked for (``rnnlab download NAME`` or ``rnnlab run --download``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..util import suggest

BUNDLED_ROOT = Path(__file__).parent / "bundled"


@dataclass(frozen=True)
class DataFile:
    """One published file: where it lives under a data root, where to fetch it, its hash."""

    path: str  # relative to a data root, e.g. "los_loop/los_speed.csv"
    url: str
    sha256: str | None = None  # None where only the file's structure can be checked
    size: int | None = None
    also_sha256: tuple[str, ...] = ()  # other accepted versions (e.g. the original's header)
    manual: str | None = None  # why it cannot be downloaded, and how to get it by hand


@dataclass(frozen=True)
class DatasetInfo:
    """A named dataset: what it is, which task it serves, and its files."""

    name: str
    task: str
    description: str
    files: tuple[DataFile, ...]
    bundled: bool = False  # a copy ships inside the package
    # load(data_dir=None, download=False) -> the data in memory (TimeSeries, ...)
    load: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    # classification datasets: sequences(data_config, seed, split_seed, data_dir, download)
    # -> LabelledSequences (rnnlab.data.sequences), split and encoded
    sequences: Callable[..., Any] | None = field(default=None, compare=False, repr=False)


_REGISTRY: dict[str, DatasetInfo] = {}


def register(info: DatasetInfo) -> DatasetInfo:
    """Add a dataset (each module of :mod:`rnnlab.data.sources` registers its own when
    :mod:`rnnlab.data` is imported)."""
    _REGISTRY[info.name] = info
    return info


def names(task: str | None = None) -> list[str]:
    """Registered dataset names, optionally only those of one task."""
    return sorted(n for n, info in _REGISTRY.items() if task is None or info.task == task)


def get(name: str) -> DatasetInfo:
    """The dataset called ``name``; an unknown name is a ConfigError listing the valid ones."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown dataset {name!r}.{suggest(name, _REGISTRY)} Known "
                          f"datasets: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def cache_dir() -> Path:
    """The user cache where downloads go."""
    if os.environ.get("RNNLAB_CACHE"):
        return Path(os.environ["RNNLAB_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnlab"


def search_roots(data_dir: str | Path | None = None) -> list[tuple[str, Path | None]]:
    """Where files are looked for, in order, as (label, folder or None when unset)."""
    env = os.environ.get("RNNLAB_DATA")
    roots: list[tuple[str, Path | None]] = [
        ("--data-dir", Path(data_dir).expanduser() if data_dir else None),
        ("$RNNLAB_DATA", Path(env).expanduser() if env else None),
        ("user cache", cache_dir()),
    ]
    if not os.environ.get("RNNLAB_NO_BUNDLED"):  # set it to check your own data folders alone
        roots.append(("bundled copy", BUNDLED_ROOT))
    return roots


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, file: DataFile, dataset: str) -> None:
    """Raise DataError unless ``path`` is byte for byte the published ``file``."""
    fix = (f"Delete it and run `rnnlab download {dataset}`, or replace it with the file "
           f"from {file.url}")
    if file.size is not None and path.stat().st_size != file.size:
        raise DataError(f"{path} has {path.stat().st_size:,} bytes but the published file "
                        f"has {file.size:,}: it is truncated or altered. {fix}")
    if file.sha256 is not None:
        got = sha256(path)
        if got != file.sha256 and got not in file.also_sha256:
            raise DataError(f"{path} has sha256 {got[:16]}... but the published file has "
                            f"{file.sha256[:16]}...: it is altered or corrupt. {fix}")


def find_file(dataset: str, file: DataFile, data_dir: str | Path | None = None,
              download: bool = False) -> Path:
    """The verified local path of one file of ``dataset``, downloading it if allowed."""
    looked = []
    for label, root in search_roots(data_dir):
        if root is None:
            looked.append(f"{label} (not set)")
            continue
        candidate = root / file.path
        if candidate.is_file():
            verify(candidate, file, dataset)
            return candidate
        looked.append(f"{label} ({candidate})")
    if download and not file.manual:
        return download_file(dataset, file)
    if file.manual:
        raise DataError(
            f"dataset {dataset!r}: file {file.path} not found. Looked in: " + "; ".join(looked)
            + f". It cannot be downloaded automatically: {file.manual} Put it at "
            f"<folder>/{file.path} and pass --data-dir <folder> or set RNNLAB_DATA.")
    raise DataError(
        f"dataset {dataset!r}: file {file.path} not found. Looked in: " + "; ".join(looked)
        + f". Fix: run `rnnlab download {dataset}` (fetches {file.url}), or put the file "
        f"at <folder>/{file.path} and pass --data-dir <folder> or set RNNLAB_DATA.")


def locate(name: str, data_dir: str | Path | None = None,
           download: bool = False) -> dict[str, Path]:
    """Verified local paths of all files of dataset ``name``, keyed by relative path."""
    info = get(name)
    return {f.path: find_file(name, f, data_dir, download) for f in info.files}


def download_file(dataset: str, file: DataFile) -> Path:
    """Fetch ``file`` into the user cache with a progress bar; verify it before keeping it."""
    from tqdm import tqdm

    target = cache_dir() / file.path
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(file.url, timeout=60) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or file.size
            with tqdm(total=total, unit="B", unit_scale=True, desc=file.path) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError) as err:
        partial.unlink(missing_ok=True)
        raise DataError(f"could not download {file.url}: {err}. Check your internet "
                        f"connection, or fetch the file by hand and put it at "
                        f"{target}") from None
    try:
        verify(partial, file, dataset)
    except DataError:
        partial.unlink(missing_ok=True)
        raise DataError(f"the file downloaded from {file.url} does not match the published "
                        f"checksum; the source may have changed. Nothing was kept.") from None
    shutil.move(partial, target)
    return target
