"""``designer`` command line: argparse shells over :mod:`designer.workflows` and the layers below.

Nothing imports this package; :func:`main` is the console script. The command's clock
(:mod:`designer.cli.clock`) starts first.
"""

import designer.cli.clock  # noqa: F401  (first: starts the clock before the heavy imports)
from designer.cli.main import main

__all__ = ["main"]
