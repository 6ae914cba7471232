"""How long pricing the design grid of a throughput-targeted solve takes, and a digest of the prices.

A solve with a throughput target prices every layer of its grid with the profile's latency
predictor before it searches, inside its time limit: the grid's tables
(``designer.core.space.GridEvaluator``), and again through their monotone envelope, as measured
latency is not monotone. This script builds both as the solver does (``_Problem``) ``--repeats``
times for each profile (the predictor loaded, or fitted and cached, once before), on the CPU, and
prints the seconds of each build and a SHA-256 digest of every priced table. The same command in a checkout of another version, with ``PYTHONPATH`` set to
it, times that version; equal digests say the prices are the same::

    python benchmarks/grid_pricing.py h100-torch-fp32 h200-torch-fp16-b256 --repeats 2
"""

from __future__ import annotations

import hashlib
import sys
import time

import numpy as np

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.request import DesignRequest
from designer.core.solver import _Problem
from designer.core.space import SearchSpace
from designer.workflows.design import load_latency_model, throughput_constraint

TARGET = 3000.0
"""Images per second; the prices do not depend on it."""


def pricing_seconds(profile: str, family: str, repeats: int) -> tuple[list[float], str]:
    """Each build's wall seconds and the last build's digest (tables in order, axes and values)."""
    request = DesignRequest(family=family, target_throughput=TARGET, profile=profile)
    model = load_latency_model(request)
    assert model is not None
    constraint = throughput_constraint(model, TARGET)
    space = SearchSpace(request)
    seconds, problem = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        problem = _Problem(space, [constraint], request.rho0)
        seconds.append(time.perf_counter() - began)
    assert problem is not None
    digest = hashlib.sha256()
    tables = [
        table
        for evaluator in (problem.evaluate, problem.evaluate_low)
        for part in (evaluator.stem, evaluator.head, *(t for pair in evaluator.stages for t in pair))
        for table in part
    ]
    for table in tables:
        digest.update(repr(table.axes).encode())
        digest.update(np.ascontiguousarray(table.terms.data).tobytes())
    return seconds, digest.hexdigest()


def main() -> None:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profiles", nargs="+", help="profile names or paths")
    parser.add_argument("--family", default="bottleneck")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if args.repeats < 1:
        raise DesignerError("--repeats must be at least 1")
    for profile in args.profiles:
        seconds, digest = pricing_seconds(profile, args.family, args.repeats)
        print(f"{profile} ({args.family}): pricing {', '.join(f'{s:.2f}' for s in seconds)} s  digest {digest[:16]}")


if __name__ == "__main__":
    sys.exit(run_guarded(main))
