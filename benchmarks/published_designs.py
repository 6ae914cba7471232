"""Our designs against the published DeepMAD designs, at the published budgets and settings.

For each published ResNet-family structure (DeepMAD-R18, R34, R50: ``designer.core.reference``)
the MP is solved at its budget (FLOPs, params, rho0 0.3) with the published settings: alpha
1,1,1,1,8, beta 10, the published code's depth penalty (std over the stages after the second),
strides 2 then 2,2,2,1,2, the first stage capped at 3 blocks, a kernel of 3 or 5 and an inner
width of out/10 to out per stage. Both are analysed with the same formula; the paper's depth
penalty (var) is solved too, for the R50 budget. Writes JSON (and our specs) to ``--out``::

    python benchmarks/published_designs.py --out docs/deepmad --time-limit 120
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.analysis import Analysis, analyze_spec
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.reference import reference_spec
from designer.core.request import DesignRequest
from designer.core.space import SearchSpace
from designer.workflows.design import design

BUDGETS = {"deepmad_r18": (1.82e9, 11.69e6), "deepmad_r34": (3.68e9, 21.80e6), "deepmad_r50": (4.13e9, 25.55e6)}


def row(analysis: Analysis) -> dict[str, Any]:
    return {key: analysis.to_dict()[key] for key in ("params", "flops", "depth", "rho", "entropy", "objective")}


def compare(name: str, time_limit: float, penalty: str) -> dict[str, Any]:
    flops, params = BUDGETS[name]
    request = DesignRequest(
        family="bottleneck", flops=flops, params=params, rho=0.3, depth_penalty=penalty, time_limit=time_limit
    )
    space = SearchSpace(request)
    published = analyze_spec(reference_spec(name), space.alpha, space.penalty)
    start = time.perf_counter()
    result = design(request)
    seconds = time.perf_counter() - start
    ours = replace(result.spec, name=f"ours-{name.removeprefix('deepmad_')}-{penalty}")
    return {
        "budget": {"flops": flops, "params": params, "rho0": 0.3},
        "penalty": {"kind": penalty, "beta": space.penalty.beta, "skip": space.penalty.skip},
        "published": {"name": name, **row(published)},
        "ours": {**row(result.analysis), "proven_optimal": result.proven, "gap": result.gap, "seconds": seconds},
        "arch": ours.to_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for compare.json and the designs")
    parser.add_argument("--time-limit", type=float, default=60.0, help="solver time limit per budget (s)")
    args = parser.parse_args(argv)
    if not args.time_limit > 0:
        raise DesignerError(f"--time-limit must be positive, got {args.time_limit}")
    rows = [compare(name, args.time_limit, "std") for name in BUDGETS]
    rows.append(compare("deepmad_r50", args.time_limit, "var"))
    for item in rows:
        atomic_write_text(args.out / f"{item['arch']['name']}.json", json.dumps(item["arch"], indent=2) + "\n")
        ours, theirs = item["ours"], item["published"]
        status = "proven optimal" if ours["proven_optimal"] else f"gap {ours['gap']:.1%}"
        print(
            f"{theirs['name']} ({item['penalty']['kind']}): published entropy {theirs['entropy']:,.0f} objective "
            f"{theirs['objective']:,.1f}; ours entropy {ours['entropy']:,.0f} objective {ours['objective']:,.1f} "
            f"({status}, {ours['seconds']:.0f} s)"
        )
    machine = {"python": platform.python_version(), "machine": platform.machine(), "date": time.strftime("%Y-%m-%d")}
    atomic_write_text(args.out / "compare.json", json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
