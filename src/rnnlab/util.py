"""Small helpers every layer uses: atomic file writes, nearest-name suggestions, flattening."""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


TEMP_FILE = re.compile(r"^\..+\.(\d+)\.tmp(\.[^.]*)?$")  # what atomic_write leaves when killed


def atomic_write(path: str | Path, write: Callable[[Path], Any],
                 keep_previous: Path | None = None) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    Readers see the old file or the new one, never half of one, whenever the process
    is killed; the data is on disk (fsync) before the rename. The temporary name keeps
    the suffix (savefig and np.savez read it) and the process id (two writers never
    share one); it is removed when ``write`` fails (a full disk, say). With
    ``keep_previous`` the file being replaced is kept under that name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if keep_previous is not None and path.exists():
            os.replace(path, keep_previous)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """``text`` into ``path`` (UTF-8), atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    """``obj`` as JSON (numpy scalars as floats), atomically."""
    return write_text(path, json.dumps(obj, indent=indent, default=float))


def suggest(word: str, valid: Iterable[str], cutoff: float = 0.6) -> str:
    """`` Did you mean 'x'?`` for the valid name closest to ``word``, or '' when none is close."""
    close = difflib.get_close_matches(str(word), [str(v) for v in valid], n=1, cutoff=cutoff)
    return f" Did you mean {close[0]!r}?" if close else ""


def flatten(tree: dict, prefix: str = "") -> dict:
    """A nested mapping as dotted keys: ``{"model": {"kind": "gru"}}`` -> ``{"model.kind": "gru"}``.

    An empty mapping stays a value of its own (``quick: {}`` -> ``{"quick": {}}``).
    """
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def fmt(value: Any) -> str:
    """A value as the command line's tables show it: floats to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
