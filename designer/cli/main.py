"""``designer`` command line: a thin layer over the library.

Each area registers its own subcommands (``designer.cli.solve``, ``.profile``, ``.export``,
``.train``, ``.tune``); handlers import heavy dependencies only when they run. No command
ends in a traceback (:func:`designer.cli.guard.run_guarded`): a
:class:`~designer.core.errors.DesignerError` prints one ``error:`` line (parameter names written
as the flags that set them) and exits 2; an unexpected error prints one line saying where its
full report was written, and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from designer.cli import export, profile, solve, train, tune
from designer.cli.args import Parser
from designer.cli.clock import start_command
from designer.cli.guard import run_guarded

COMMANDS = (solve, profile, export, train, tune)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="designer",
        description="Design CNNs by maximising network entropy (DeepMAD) under cost and measured-throughput limits.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    start_command()
    parser = build_parser()
    args_list = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
    try:
        args = parser.parse_args(args_list)
    except SystemExit as done:  # --help, or a usage error already printed in one line
        return done.code if isinstance(done.code, int) else 2
    args.argv = args_list  # for commands that start copies of themselves (tune --gpus)
    return run_guarded(lambda: args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
