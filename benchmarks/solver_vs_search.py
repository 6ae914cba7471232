"""The solver against random and evolutionary search, each with 100,000 samples.

For every budget the issue lists (DeepMAD paper, ImageNet 224x224), solve the MP (default
settings: the whole design space, stopped at the time limit with its gap where not proven) and
search the same space under the same constraints with (a) 100,000 random designs and (b) an
evolutionary search of 100,000 evaluations (population 1,000, uniform crossover, per-variable
index mutations, elitist selection, seeded with random designs). Uniform draws almost never
meet every budget, so each random design (in both searches) has sorted widths and is scaled
into the budgets: all its indices shrink by the largest common factor that makes it feasible
(found by bisection). Reports objective values and seconds.

    python benchmarks/solver_vs_search.py --out results.json [--samples 100000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.entropy import effectiveness
from designer.core.space import GridEvaluator, SearchSpace
from designer.workflows.design import DesignRequest, design

BUDGETS = [  # family, params, FLOPs (MACs)
    *[
        (family, p, f)
        for family in ("basic", "bottleneck")
        for p, f in ((11.7e6, 1.8e9), (21.8e6, 3.6e9), (25.6e6, 4.1e9))
    ],
    ("mbv2", 5.3e6, 0.39e9),
    ("mbv2", 3.5e6, 0.32e9),
    ("mbv2", 29e6, 4.5e9),
    ("mbv2", 50e6, 8.7e9),
    ("mbv2", 89e6, 15.4e9),
]


class Scorer:
    """Objective of designs given as index arrays (``-inf`` where a constraint fails)."""

    def __init__(self, request: DesignRequest) -> None:
        self.request = request
        self.space = SearchSpace(request)
        self.evaluate = GridEvaluator(self.space)
        self.names = list(self.evaluate.grids)
        self.sizes = np.array([len(self.evaluate.grids[n]) for n in self.names])
        self.pairs = self.space.pairs()  # non-decreasing widths, inner-width ratios

    def __call__(self, points: np.ndarray) -> np.ndarray:
        index = {name: points[:, d] for d, name in enumerate(self.names)}
        evaluation = self.evaluate(index)
        totals = evaluation.totals
        ok = totals["macs"] <= self.request.flops
        ok &= totals["params"] <= self.request.params
        ok &= effectiveness(totals["layers"], totals["log_width"]) <= self.request.rho0
        for pair in self.pairs:
            ok &= pair.holds(self.value(pair.lower, index), self.value(pair.upper, index))
        return np.where(ok, evaluation.objective, -np.inf)

    def value(self, name: str, index: dict[str, np.ndarray]) -> np.ndarray:
        return self.evaluate.grids[name][index[name]]

    def random(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """Random designs with sorted widths, each scaled down until it fits (if it can)."""
        points = rng.integers(0, self.sizes, size=(count, len(self.sizes)))
        widths = [d for d, name in enumerate(self.names) if name.startswith("width")]
        points[:, widths] = np.sort(points[:, widths], 1)
        low, high = np.zeros(count), np.ones(count)
        for _ in range(20):
            middle = (low + high) / 2
            fits = np.isfinite(self(np.floor(points * middle[:, None]).astype(np.int64)))
            low = np.where(fits, middle, low)
            high = np.where(fits, high, middle)
        return np.floor(points * low[:, None]).astype(np.int64)


def random_search(scorer: Scorer, samples: int, rng: np.random.Generator) -> float:
    best = -np.inf
    for start in range(0, samples, 10_000):
        best = max(best, float(scorer(scorer.random(rng, min(10_000, samples - start))).max()))
    return best


def evolutionary_search(scorer: Scorer, samples: int, rng: np.random.Generator, population: int = 1000) -> float:
    pool = scorer.random(rng, population)
    score = scorer(pool)
    used = population
    while used < samples:
        count = min(population, samples - used)
        ranked = np.argsort(-score)
        parents = pool[ranked[: population // 4]]
        a = parents[rng.integers(0, len(parents), count)]
        b = parents[rng.integers(0, len(parents), count)]
        children = np.where(rng.random(a.shape) < 0.5, a, b)
        scale = np.maximum(1, scorer.sizes // 16)
        jump = rng.integers(-3, 4, children.shape) * rng.integers(1, scale + 1, children.shape)
        mutate = rng.random(children.shape) < 0.25
        children = np.clip(children + mutate * jump, 0, scorer.sizes - 1)
        child_score = scorer(children)
        used += count
        pool = np.concatenate([pool, children])
        score = np.concatenate([score, child_score])
        keep = np.argsort(-score)[:population]
        pool, score = pool[keep], score[keep]
    return float(score.max())


def main() -> None:
    parser = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.samples < 1:
        parser.error(f"--samples must be at least 1, got {args.samples}")
    rows = []
    print(
        f"{'family':10} {'params':>7} {'FLOPs':>7} {'solver':>10} {'s':>6} {'random':>10} {'s':>6} {'evolution':>10} {'s':>6}"
    )
    for family, params, flops in BUDGETS:
        request = DesignRequest(family=family, flops=flops, params=params)
        start = time.perf_counter()
        result = design(request)
        solver_seconds = time.perf_counter() - start
        scorer = Scorer(request)
        rng = np.random.default_rng(args.seed)
        start = time.perf_counter()
        random_best = random_search(scorer, args.samples, rng)
        random_seconds = time.perf_counter() - start
        start = time.perf_counter()
        evolution_best = evolutionary_search(scorer, args.samples, rng)
        evolution_seconds = time.perf_counter() - start
        row = {
            "family": family,
            "params": params,
            "flops": flops,
            "rho0": request.rho0,
            "solver_objective": result.objective,
            "solver_proven": result.proven,
            "solver_gap": result.gap,
            "solver_seconds": solver_seconds,
            "random_objective": random_best,
            "random_seconds": random_seconds,
            "evolution_objective": evolution_best,
            "evolution_seconds": evolution_seconds,
            "arch": result.spec.to_dict(),
        }
        rows.append(row)
        print(
            f"{family:10} {params / 1e6:6.1f}M {flops / 1e9:6.2f}G {result.objective:10.1f} {solver_seconds:6.2f} "
            f"{random_best:10.1f} {random_seconds:6.2f} {evolution_best:10.1f} {evolution_seconds:6.2f}",
            flush=True,
        )
    machine = {"platform": platform.platform(), "processor": platform.processor(), "python": platform.python_version()}
    args.out.write_text(
        json.dumps({"machine": machine, "samples": args.samples, "seed": args.seed, "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    sys.exit(run_guarded(main))
