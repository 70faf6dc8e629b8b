"""Config files: reading YAML, ``--set`` overrides, preset names, and data paths next to a config."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, DataError


def read_yaml(path: Path) -> dict:
    """A YAML file as a mapping; syntax errors name the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist. Presets live in configs/ "
                          f"(e.g. configs/los_loop.yaml)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{path}{at}: YAML syntax error: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a mapping (key: value lines), got "
                          f"{type(raw).__name__}")
    return raw


def parse_override(text: str) -> tuple[str, Any]:
    """``model.hidden_size=128`` -> ("model.hidden_size", 128); values are read as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set model.hidden_size=128")
    key, value = text.split("=", 1)
    try:
        return key.strip(), yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        return key.strip(), value


def apply_override(raw: dict, key: str, value: Any, source: str = "--set") -> None:
    """Set a dotted key in a nested mapping; the key is checked later by :func:`build`."""
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{source} {key}: '{part}' is not a section")
        node = child
    node[parts[-1]] = value



def config_file(source: str) -> Path | None:
    """The YAML file a config came from, when ``source`` names one."""
    path = Path(source)
    return path if path.suffix.lower() in (".yaml", ".yml") and path.is_file() else None


def default_name(raw: dict, source: str) -> str:
    """A run name for a config without one: the config file's stem, else data.path's, else
    the task (characters a folder name cannot hold become '_')."""
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    file = config_file(source)
    stem = (file.stem if file else "") or (Path(str(data.get("path"))).stem
                                          if data.get("path") else "") or str(raw.get("task"))
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).lstrip("._-")[:80]
    return name or "run"



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



# the presets of an rnnlab checkout (src/rnnlab/config/files.py -> ../../../configs)
PRESETS = Path(__file__).resolve().parents[3] / "configs"


def find(ref: str) -> Path:
    """A config path, or a preset name looked up in ./configs and the rnnlab checkout's configs/."""
    path = Path(ref)
    if path.is_file():
        return path
    for folder in (Path("configs"), PRESETS):
        for candidate in (folder / ref, folder / f"{ref}.yaml"):
            if candidate.is_file():
                return candidate
    presets = sorted(p.stem for p in PRESETS.glob("*.yaml")) if PRESETS.is_dir() else []
    raise ConfigError(f"config {ref!r} not found (neither a file nor a preset name)."
                      + (f" Presets: {', '.join(presets)}" if presets else ""))


