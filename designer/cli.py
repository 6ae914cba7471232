"""``designer`` command line: a thin layer over the library.

Each area registers its own subcommands (``designer.commands``, ``latency.cli``,
``export.cli``, ``train.cli``); handlers import heavy dependencies only when they run. A
:class:`~designer.errors.DesignerError` ends the command with one ``error:`` line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from designer.errors import DesignerError

COMMAND_MODULES = ("designer.commands", "latency.cli", "export.cli", "train.cli", "designer.tune_cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="designer",
        description="Design CNNs by maximising network entropy (DeepMAD) under cost and measured-throughput limits.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except DesignerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished work is saved and a rerun resumes it", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
