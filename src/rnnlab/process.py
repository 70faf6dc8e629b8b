"""Which process owns a running run, and whether that process is still alive.

A run records its owner (host, process id and the process's start time) and a
heartbeat. On the same host the owner is alive when a process with that id exists
and started at that time (a reused id is another process); on another host, when its
heartbeat is recent. A run whose owner is gone was killed (SIGKILL, out of memory, a
closed lid, a preempted node) and is reported as interrupted.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone

HEARTBEAT_SECONDS = 30.0  # how often a running run says it is alive
STALE_SECONDS = 300.0  # a run on another host that has been silent this long is gone


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: int | None  # the process's start time in clock ticks since boot (Linux)

    def __str__(self) -> str:
        return f"host {self.host}, pid {self.pid}"


def start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), None when it cannot be told."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            # the command name (field 2) may hold spaces: the fields after it follow its ')'
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def me() -> Owner:
    return Owner(socket.gethostname(), os.getpid(), start_time(os.getpid()))


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def alive(owner: Owner, heartbeat: str | None) -> bool:
    """Is the process that owns a run still running it?"""
    if owner.host == socket.gethostname():
        if not _exists(owner.pid):
            return False
        started = start_time(owner.pid)
        return owner.started is None or started is None or started == owner.started
    if not heartbeat:
        return False
    age = datetime.now(timezone.utc) - datetime.fromisoformat(heartbeat)
    return age.total_seconds() < STALE_SECONDS


def pid_alive(pid: int) -> bool:
    """A process with this id runs on this host (for temporary files named by pid)."""
    return _exists(pid)
