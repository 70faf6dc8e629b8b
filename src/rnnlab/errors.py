"""Errors a user can act on: each carries one readable message and an exit code.

The CLI prints ``error: <message>`` for these and exits with ``exit_code``; any
other exception is a bug in rnnlab and keeps its traceback.
"""

from __future__ import annotations


class RnnlabError(Exception):
    """Base class: a problem with the user's input, named with its fix."""

    exit_code = 2


class ConfigError(RnnlabError):
    """A config key, value or command-line override is wrong."""


class DataError(RnnlabError):
    """A data file is missing, corrupt, or not in the expected format."""


class TrainingError(RnnlabError):
    """Training could not go on (NaN loss, out of memory, ...)."""

    exit_code = 1


class RunNotFound(RnnlabError):
    """A run id or folder given on the command line does not exist."""


class RunInUse(RnnlabError):
    """A run or sweep is being run by another process, or has already finished."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run; it is marked 'interrupted' and can be resumed."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id
