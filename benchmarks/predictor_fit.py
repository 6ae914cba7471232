"""How long fitting a profile's latency predictor takes, and a digest of what the fit gives.

The first solve with a profile fits its predictor before the solve's own time limit counts
(``latency/predict/cache.py`` keeps the fit after that). This script fits each profile
``--repeats`` times, on the CPU, and prints the seconds of each fit and a SHA-256 digest of the
fitted predictor (pickled). The same command in a checkout of another version, with
``PYTHONPATH`` set to it, tells whether a change to the fitting code changed its output (equal
digests) and what it saved::

    python benchmarks/predictor_fit.py h200-torch-fp16-b256 --repeats 3
"""

from __future__ import annotations

import hashlib
import pickle
import sys
import time

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from latency.predict.predictor import Predictor
from latency.predict.profiles import resolve_profile
from latency.predict.table import LatencyTable


def fit_seconds(profile: str, repeats: int) -> tuple[list[float], str]:
    """Each fit's wall seconds (the table loaded once, before) and the last fit's digest."""
    table = LatencyTable.load(resolve_profile(profile))
    seconds, fitted = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        fitted = Predictor(table)
        seconds.append(time.perf_counter() - began)
    return seconds, hashlib.sha256(pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL)).hexdigest()


def main() -> None:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profiles", nargs="+", help="profile names or paths")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.repeats < 1:
        raise DesignerError("--repeats must be at least 1")
    for profile in args.profiles:
        seconds, digest = fit_seconds(profile, args.repeats)
        print(f"{profile}: fit {', '.join(f'{s:.2f}' for s in seconds)} s  digest {digest[:16]}")


if __name__ == "__main__":
    sys.exit(run_guarded(main))
