"""``designer`` command line: a thin layer over the library.

Each area registers its own subcommands (``designer.cli.solve``, ``.profile``, ``.export``,
``.train``, ``.tune``); handlers import heavy dependencies only when they run. No command
ends in a traceback: a :class:`~designer.core.errors.DesignerError` prints one ``error:``
line (parameter names written as the flags that set them) and exits 2; an unexpected error
prints one line saying where its full report was written, and exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from designer.cli import export, profile, solve, train, tune
from designer.cli.args import flag_name
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text

COMMANDS = (solve, profile, export, train, tune)


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="designer",
        description="Design CNNs by maximising network entropy (DeepMAD) under cost and measured-throughput limits.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def crash_report(error: BaseException) -> Path:
    """Write the traceback of an unexpected error to a file and return its path."""
    folder = Path(os.environ.get("DESIGNER_CRASH_DIR") or tempfile.gettempdir())
    path = folder / f"designer-crash-{os.getpid()}.txt"
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    atomic_write_text(path, f"designer {' '.join(sys.argv[1:])}\n\n{text}")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args_list = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
    try:
        args = parser.parse_args(args_list)
    except SystemExit as done:  # --help, or a usage error already printed in one line
        return done.code if isinstance(done.code, int) else 2
    args.argv = args_list  # for commands that start copies of themselves (tune --gpus)
    try:
        return int(args.handler(args) or 0)
    except DesignerError as error:
        print(f"error: {error.render(flag_name)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output went away (`designer analyze X | head -1`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # the guard: never a traceback on the terminal
        try:
            where = f"; the full report is in {crash_report(error)}"
        except (OSError, DesignerError):
            where = ""
        first = next(iter(str(error).splitlines()), "")
        print(f"error: unexpected {type(error).__name__}: {first}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
