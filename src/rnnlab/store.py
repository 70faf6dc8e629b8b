"""Results in SQLite: one row per run, one per epoch. Every write is one transaction.

The database (``runs/rnnlab.db`` by default) indexes the run folders; the
folders hold the files (config, checkpoints, figures, summary.json). A run is
``running`` until its summary is written, then ``finished``; a crash or Ctrl-C
leaves it ``failed`` or ``interrupted``, never ``finished``. A sweep (``sweeps``
table) records its spec; its runs carry its name in ``runs.sweep``. Databases
written by older versions are migrated in place on first open (columns and
tables are only ever added).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from .config import data_label
from .errors import RunNotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    task TEXT NOT NULL,
    dataset TEXT,
    kind TEXT,
    impl TEXT,
    seed INTEGER,
    status TEXT NOT NULL,
    created TEXT NOT NULL,
    finished TEXT,
    run_dir TEXT NOT NULL,
    config TEXT NOT NULL,
    summary TEXT,
    error TEXT,
    sweep TEXT
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL REFERENCES runs(id),
    epoch INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS sweeps (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    created TEXT NOT NULL
);
"""

DB_NAME = "rnnlab.db"  # the store's file inside a runs folder

# Columns added to ``runs`` after its first release: (name, SQL type), added when missing.
ADDED_COLUMNS = (("sweep", "TEXT"),)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """The run index at ``path``; safe for several processes writing at once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._migrated = False

    @classmethod
    def of(cls, runs_dir: str | Path) -> Store:
        """The store of the runs folder ``runs_dir`` (its ``rnnlab.db``)."""
        return cls(Path(runs_dir) / DB_NAME)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: committed on success, rolled back on any error."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode=WAL")
            if not self._migrated:
                con.executescript(SCHEMA)
                have = {r["name"] for r in con.execute("PRAGMA table_info(runs)")}
                for name, sql_type in ADDED_COLUMNS:
                    if name not in have:
                        con.execute(f"ALTER TABLE runs ADD COLUMN {name} {sql_type}")
                self._migrated = True
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.close()

    def start_run(self, run_id: str, cfg: dict, run_dir: Path, sweep: str | None = None) -> None:
        with self._tx() as con:
            con.execute(
                "INSERT INTO runs (id, name, task, dataset, kind, impl, seed, status, created,"
                " run_dir, config, sweep) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                (run_id, cfg["name"], cfg["task"], data_label(cfg["data"]),
                 cfg["model"].get("kind"), cfg["model"].get("impl"), cfg["seed"], now(),
                 str(run_dir), json.dumps(cfg), sweep))

    def log_epoch(self, run_id: str, epoch: int, metrics: dict) -> None:
        with self._tx() as con:
            con.execute("INSERT OR REPLACE INTO epochs (run_id, epoch, metrics) VALUES (?, ?, ?)",
                        (run_id, epoch, json.dumps(metrics)))

    def set_status(self, run_id: str, status: str, error: str | None = None) -> None:
        with self._tx() as con:
            con.execute("UPDATE runs SET status = ?, error = ? WHERE id = ?",
                        (status, error, run_id))

    def finish_run(self, run_id: str, summary: dict) -> None:
        with self._tx() as con:
            con.execute("UPDATE runs SET status = 'finished', finished = ?, summary = ?, "
                        "error = NULL WHERE id = ?", (now(), json.dumps(summary), run_id))

    def _rows(self, sql: str, args=()) -> list[dict]:
        if not self.path.exists():
            return []
        with self._tx() as con:
            return [dict(r) for r in con.execute(sql, args).fetchall()]

    def list_runs(self, **filters) -> list[dict]:
        """Runs, oldest first, filtered by column values (task=, dataset=, kind=, ...)."""
        where = [f"{k} = ?" for k, v in filters.items() if v is not None]
        args = [v for v in filters.values() if v is not None]
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        return self._rows(sql + " ORDER BY created, id", args)

    def get_run(self, ref: str) -> dict:
        """A run by its id or a unique prefix of it."""
        rows = self._rows("SELECT * FROM runs WHERE substr(id, 1, length(?)) = ? ORDER BY id",
                          (ref, ref))
        exact = [r for r in rows if r["id"] == ref]
        if exact:
            return exact[0]
        if len(rows) == 1:
            return rows[0]
        if not rows:
            raise RunNotFound(f"no run {ref!r} in {self.path}. List runs with `rnnlab runs`.")
        raise RunNotFound(f"{ref!r} matches {len(rows)} runs ({', '.join(r['id'] for r in rows[:5])}"
                          f"{', ...' if len(rows) > 5 else ''}); give more of the id.")

    def epochs(self, run_id: str) -> list[dict]:
        rows = self._rows("SELECT metrics FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,))
        return [json.loads(r["metrics"]) for r in rows]

    # -- sweeps
    def save_sweep(self, name: str, spec: dict) -> None:
        """Record a sweep's spec (base config, grid, seeds) under ``name``; kept if present."""
        with self._tx() as con:
            con.execute("INSERT OR IGNORE INTO sweeps (name, spec, created) VALUES (?, ?, ?)",
                        (name, json.dumps(spec), now()))

    def get_sweep(self, name: str) -> dict | None:
        """A sweep's spec, or None when no sweep has that name."""
        rows = self._rows("SELECT spec FROM sweeps WHERE name = ?", (name,))
        return json.loads(rows[0]["spec"]) if rows else None

    def sweep_names(self) -> list[str]:
        return [r["name"] for r in self._rows("SELECT name FROM sweeps ORDER BY created, name")]
