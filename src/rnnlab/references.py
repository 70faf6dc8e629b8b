"""Published figures beside a run's own: the ``reference:`` section of a config.

A reference is compared with a run only when the run has every setting it was reached
with (``when``) and its protocol is the run's (``comparable``); otherwise it is shown
with the reason it is not compared, never compared silently.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .util import flatten


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def lookup(summary: dict, path: str) -> float | None:
    """The number at dotted ``path`` of a run's summary (None when it has none)."""
    node: Any = summary
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None


PER_CLASS = ("precision", "recall", "f1")


def _figures(r: dict) -> list[dict]:
    """The reference's headline figure, then one per class and measure of ``per_class``
    (marked with its class, so tables can set them apart)."""
    out = [r]
    for name, values in (r.get("per_class") or {}).items():
        for measure, value in zip(PER_CLASS, values):
            out.append({**r, "metric": f"per_class.{name}.{measure}", "value": value,
                        "higher_is_better": True, "class": str(name), "measure": measure})
    return out


def compare(references: list, config: dict, summary: dict) -> list[dict]:
    """One row per published figure (a reference's headline, then its per-class ones): the
    published value, the run's own, the difference (positive = better) and a verdict: met,
    missed, or why the two are not compared."""
    flat = flatten(config)
    refs = [dataclasses.asdict(r) if dataclasses.is_dataclass(r) else dict(r)
            for r in references]
    return [_compare_one(r, flat, summary) for ref in refs for r in _figures(ref)]


def _compare_one(r: dict, flat: dict, summary: dict) -> dict:
    if "class" in r:  # looked up by name: a class name may hold a dot
        value = summary.get("per_class", {}).get(r["class"], {}).get(r["measure"])
        ours = None if value is None else float(value)
    else:
        ours = lookup(summary, r["metric"])
    row = {"source": r["source"], "model": r["model"], "metric": r["metric"],
           "value": r["value"], "ours": ours, "difference": None,
           "higher_is_better": r.get("higher_is_better", True)}
    if "class" in r:
        row["class"] = r["class"]
    other = [f"{k}={v}" for k, v in r.get("when", {}).items() if not _same(flat.get(k), v)]
    if ours is None:
        row["verdict"] = "not measured by this run"
    elif other:
        row["verdict"] = "other settings: " + ", ".join(other)
    elif not r.get("comparable", True):
        row["verdict"] = "not comparable: " + (r.get("protocol") or "another protocol")
    else:
        sign = 1 if r.get("higher_is_better", True) else -1
        row["difference"] = sign * (ours - r["value"])
        row["decimals"] = r.get("decimals")
        row["verdict"] = verdict(ours, r["value"], sign, r.get("decimals"))
    return row


def verdict(ours: float, value: float, sign: int, decimals: int | None = None) -> str:
    """met or missed; with ``decimals`` ours is first rounded as the published figure was."""
    if sign * (ours - value) >= 0:
        return "met"
    if decimals is not None and sign * (round(ours, decimals) - value) >= 0:
        return f"met at the published precision ({decimals} decimal{'' if decimals == 1 else 's'})"
    return "missed"
