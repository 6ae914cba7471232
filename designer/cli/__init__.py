"""``designer`` command line: argparse shells over :mod:`designer.workflows` and the layers below.

Nothing imports this package; :func:`main` is the console script.
"""

from designer.cli.main import main

__all__ = ["main"]
