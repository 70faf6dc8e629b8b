"""Results in SQLite: one row per run, one per epoch. Every write is one transaction.

The database (``runs/rnnlab.db`` by default) indexes the run folders; the
folders hold the files (config, checkpoints, figures, summary.json). A run is
``running`` until its summary is written, then ``finished``; an error or Ctrl-C
leaves it ``failed`` or ``interrupted``, never ``finished``. A running run records
its owner (host, pid, process start time) and a heartbeat: when the owner is gone
(SIGKILL, out of memory, a preempted node) the run reads as ``interrupted``. A
sweep (``sweeps`` table) records its spec; its runs carry its name in
``runs.sweep``. The database runs in WAL mode: readers never wait for writers, and
writers wait for each other (up to a minute). Databases written by older versions
are migrated in place on first open (columns and tables are only ever added).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from .config import data_label
from .errors import RunInUse, RunNotFound
from .process import Owner, alive, me

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
ADDED_COLUMNS = (("sweep", "TEXT"), ("owner_host", "TEXT"), ("owner_pid", "INTEGER"),
                 ("owner_start", "INTEGER"), ("heartbeat", "TEXT"))


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
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode=WAL")
            yield con
        finally:
            con.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success, rolled back on any error."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                if not self._migrated:
                    self._migrate(con)
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def _migrate(self, con: sqlite3.Connection) -> None:
        """Create the tables, or add the columns a newer rnnlab wants (inside the write lock,
        so two processes opening an old database do not both add them)."""
        for statement in SCHEMA.split(";"):
            if statement.strip():
                con.execute(statement)
        have = {r["name"] for r in con.execute("PRAGMA table_info(runs)")}
        for name, sql_type in ADDED_COLUMNS:
            if name not in have:
                con.execute(f"ALTER TABLE runs ADD COLUMN {name} {sql_type}")
        self._migrated = True

    def start_run(self, run_id: str, cfg: dict, run_dir: Path, sweep: str | None = None,
                  owner: Owner | None = None) -> None:
        with self._tx() as con:
            con.execute(
                "INSERT INTO runs (id, name, task, dataset, kind, impl, seed, status, created,"
                " run_dir, config, sweep, owner_host, owner_pid, owner_start, heartbeat) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, cfg["name"], cfg["task"], data_label(cfg["data"]),
                 cfg["model"].get("kind"), cfg["model"].get("impl"), cfg["seed"], now(),
                 str(run_dir), json.dumps(cfg), sweep, *_owner_values(owner or me()), now()))

    def claim(self, run_id: str, owner: Owner) -> dict:
        """Make ``owner`` the process running ``run_id`` (to resume it), unless the run has
        finished or another live process runs it; returns the run's row."""
        with self._tx() as con:
            row = dict(con.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())
            if row["status"] == "finished":
                raise RunInUse(f"run {run_id} already finished; start a new one with "
                               "`rnnlab run`")
            other = owner_of(row)
            if row["status"] == "running" and other and other != owner and \
                    alive(other, row.get("heartbeat")):
                raise RunInUse(f"run {run_id} is running in another process ({other}, last "
                               f"heartbeat {row.get('heartbeat')}); stop that process first, or "
                               "wait for it to finish")
            con.execute("UPDATE runs SET status = 'running', error = NULL, owner_host = ?, "
                        "owner_pid = ?, owner_start = ?, heartbeat = ? WHERE id = ?",
                        (*_owner_values(owner), now(), run_id))
            return row

    def beat(self, run_id: str, owner: Owner) -> None:
        """The owner says it is still running the run."""
        with self._tx() as con:
            con.execute("UPDATE runs SET heartbeat = ? WHERE id = ? AND owner_pid = ? AND "
                        "owner_host = ?", (now(), run_id, owner.pid, owner.host))

    def log_epoch(self, run_id: str, epoch: int, metrics: dict) -> None:
        with self._tx() as con:
            con.execute("INSERT OR REPLACE INTO epochs (run_id, epoch, metrics) VALUES (?, ?, ?)",
                        (run_id, epoch, json.dumps(metrics)))

    def set_epochs(self, run_id: str, rows: list[dict]) -> None:
        """The run's per-epoch rows are exactly ``rows`` (a resumed run's checkpoint history)."""
        with self._tx() as con:
            con.execute("DELETE FROM epochs WHERE run_id = ?", (run_id,))
            con.executemany("INSERT INTO epochs (run_id, epoch, metrics) VALUES (?, ?, ?)",
                            [(run_id, r["epoch"], json.dumps(r)) for r in rows])

    def set_status(self, run_id: str, status: str, error: str | None = None) -> None:
        with self._tx() as con:
            con.execute("UPDATE runs SET status = ?, error = ? WHERE id = ?",
                        (status, error, run_id))

    def finish_run(self, run_id: str, summary: dict) -> None:
        with self._tx() as con:
            con.execute("UPDATE runs SET status = 'finished', finished = ?, summary = ?, "
                        "error = NULL WHERE id = ?", (now(), json.dumps(summary), run_id))

    def _rows(self, sql: str, args=()) -> list[dict]:
        """Rows of a read: no write lock is taken, so a reader never waits for a writer."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            if not self._migrated and not self._current(con):
                with self._tx():
                    pass  # a database of an older rnnlab: add what is missing, once
            rows = con.execute(sql, args).fetchall()
        return [_as_seen(dict(r)) for r in rows]

    def _current(self, con: sqlite3.Connection) -> bool:
        """Does the database have every table and column this version reads?"""
        tables = {r["name"] for r in con.execute("SELECT name FROM sqlite_master")}
        have = {r["name"] for r in con.execute("PRAGMA table_info(runs)")}
        self._migrated = {"runs", "epochs", "sweeps"} <= tables and \
            {name for name, _ in ADDED_COLUMNS} <= have
        return self._migrated

    def list_runs(self, status: str | None = None, **filters) -> list[dict]:
        """Runs, oldest first, filtered by column values (task=, dataset=, kind=, ...) and by
        their status as seen now (a killed run reads as interrupted)."""
        where = [f"{k} = ?" for k, v in filters.items() if v is not None]
        args = [v for v in filters.values() if v is not None]
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self._rows(sql + " ORDER BY created, id", args)
        return [r for r in rows if status is None or r["status"] == status]

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


def _owner_values(owner: Owner) -> tuple:
    return owner.host, owner.pid, owner.started


def owner_of(row: dict) -> Owner | None:
    """The process recorded as running a run (None for runs of older rnnlab versions)."""
    if row.get("owner_pid") is None:
        return None
    return Owner(row["owner_host"], row["owner_pid"], row.get("owner_start"))


def _as_seen(row: dict) -> dict:
    """A run row with the status a user should see: a run left 'running' by a process that
    is gone was interrupted (it can be resumed)."""
    if row.get("status") == "running":
        owner = owner_of(row)
        if owner is None or not alive(owner, row.get("heartbeat")):
            row["status"] = "interrupted"
            row["error"] = row.get("error") or (
                f"its process ({owner}) stopped without a word (killed?)" if owner
                else "it was left running by an older rnnlab")
    return row
