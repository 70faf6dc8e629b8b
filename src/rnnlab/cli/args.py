"""How a command is declared: its name, help, arguments and function, in one place.

Each command module declares its commands with :func:`command` next to the function
that runs them; :func:`rnnlab.cli.build_parser` turns the list into argparse
subcommands, in declaration order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Command:
    name: str
    help: str
    description: str | None
    arguments: list[tuple[tuple, dict]]
    run: Callable


COMMANDS: list[Command] = []


def arg(*flags: str, **options) -> tuple[tuple, dict]:
    """One argument, as argparse's add_argument takes it."""
    return flags, options


def command(name: str, help: str, *arguments, description: str | None = None):
    """Declare the decorated function as the command ``name`` with these arguments (each an
    argument or a list of them)."""
    flat: list[tuple[tuple, dict]] = []

    def add(group) -> None:
        if isinstance(group, list):
            for item in group:
                add(item)
        else:
            flat.append(group)
    add(list(arguments))

    def declare(func: Callable) -> Callable:
        COMMANDS.append(Command(name, help, description, flat, func))
        return func
    return declare


# arguments several commands share
RUNS_DIR = arg("--runs-dir", default="runs", help="folder of run folders and the store "
               "rnnlab.db (default: ./runs)")
DATA_DIR = arg("--data-dir", help="folder to look for data files in first (then $RNNLAB_DATA, "
               "the user cache, the bundled copies)")
DOWNLOAD = arg("--download", action="store_true", help="download missing data files")
NO_PROGRESS = arg("--no-progress", action="store_true", help="no progress bars")
RUN = arg("run", help="run id, unique prefix or run folder")
LOCATIONS = [RUNS_DIR, DATA_DIR]
