"""Shared fixtures: where the real datasets are, and how to drive the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The folder of real datasets ($RNNLAB_DATA), laid out as ../shared/datasets.

    Without it the test is skipped, except where RNNLAB_REQUIRE_DATA=1 (CI):
    there a missing folder fails the test, so real-data tests can never be
    skipped silently.
    """
    root = os.environ.get("RNNLAB_DATA")
    if root and Path(root).is_dir():
        return Path(root).resolve()
    message = "set RNNLAB_DATA to the real datasets folder (e.g. ../shared/datasets)"
    if os.environ.get("RNNLAB_REQUIRE_DATA") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def cli(tmp_path):
    """Run ``python -m rnnlab ...`` in a fresh folder; returns the CompletedProcess.

    The user cache points into the test folder so nothing outside it is read
    or written.
    """

    def run(*args, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "RNNLAB_CACHE": str(tmp_path / "cache"),
                    "PYTHONUNBUFFERED": "1", **(env or {})}
        return subprocess.run([sys.executable, "-m", "rnnlab", *map(str, args)],
                              cwd=tmp_path, env=full_env, capture_output=True, text=True,
                              timeout=timeout)

    run.cwd = tmp_path
    return run


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
