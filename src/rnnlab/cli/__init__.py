"""``rnnlab`` command line: one small function per command, declared with its arguments.

The commands live in :mod:`.train`, :mod:`.sweeps`, :mod:`.runs`, :mod:`.use` and
:mod:`.data`; each calls the library and prints what it returns. Their heavy imports
(torch, pandas, matplotlib) happen when a command runs, so ``rnnlab --help`` and
``rnnlab show`` start at once. Errors a user can fix print one ``error:`` block and
exit with 2 (usage or data) or 1 (training); they never print a traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys

from ..version import __version__
from ..errors import RnnlabError, RunInterrupted
from . import train, sweeps, runs, use, data  # noqa: F401, I001  (declares the commands, in this order)
from .args import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnlab", description="Learn, run and compare recurrent networks on real data.")
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for cmd in COMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description)
        for flags, options in cmd.arguments:
            p.add_argument(*flags, **options)
        p.set_defaults(func=cmd.run)
    return parser


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM is handled like Ctrl-C: mark the run, keep checkpoints


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args)
    except RnnlabError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except RunInterrupted as stop:
        print(f"\ninterrupted: run {stop.run_id} is marked 'interrupted' and its last "
              f"checkpoint is kept; continue it with `rnnlab run --resume {stop.run_id}`",
              file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        again = ("rerun the same `rnnlab sweep` command (or `rnnlab sweep --resume NAME`)"
                 if args.command in ("sweep", "compare") else "`rnnlab run --resume RUN`")
        print("\ninterrupted: the run is marked 'interrupted' and its last checkpoint is kept; "
              f"continue with {again}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
