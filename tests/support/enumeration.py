"""Exhaustive enumeration of small design spaces, the settings of those spaces, and a latency-like
cost: what the solver's and the relaxation's tests check their answers against."""

import itertools

import numpy as np

from designer.core.entropy import effectiveness
from designer.core.space import SearchSpace


def enumerate_all(space: SearchSpace, layer_costs=None):
    """Every design of the space (orderings not checked) as arrays of values, and their evaluation."""
    grids = space.grids()
    names = list(grids)
    combos = np.array(list(itertools.product(*[grids[n] for n in names])), dtype=float)
    values = {n: combos[:, i] for i, n in enumerate(names)}
    return values, space.evaluate(values, layer_costs)


def feasible(space, values, evaluation, rho0, limits):
    """Which enumerated designs satisfy the orderings, the cost limits and ``rho <= rho0``."""
    ok = space.ordered(values)
    for name, limit in limits.items():
        ok &= evaluation.totals[name] <= limit
    return ok & (effectiveness(evaluation.totals["layers"], evaluation.totals["log_width"]) <= rho0)


# a fixed shape: one kernel, a fixed ratio, all stages stride 2
FIXED = dict(
    resolution=32, stages=3, width_step=8, max_width=96, min_stem_width=8, max_stem_width=24, max_depth=5,
    num_classes=10, kernel=(3,), depth_penalty="var", first_depth=5,
)  # fmt: skip
FIXED_CASES = [  # family, FLOPs, params, rho0
    ("basic", 6e6, 60e3, 0.3),
    ("basic", 2e6, None, 0.5),
    ("bottleneck", 8e6, 40e3, 0.3),
    ("bottleneck", None, 120e3, 0.6),
    ("mbv2", 3e6, 60e3, 1.0),
    ("mbv2", 1.5e6, None, 2.0),
]


def fixed_extra(family):
    """Each family's fixed inner-width setting (and mbv2's kernel and head) in the fixed shape."""
    return (
        {"expansion": 2}
        if family == "bottleneck"
        else ({"head_width": 64, "kernel": (5,), "expansion": 6} if family == "mbv2" else {})
    )


# the full space: a kernel and an inner width per stage, a stride-1 stage
FULL = dict(
    resolution=32, strides=(2, 1, 2), width_step=8, max_width=24, min_stem_width=8, max_stem_width=16,
    max_depth=3, first_depth=2, num_classes=10, kernel=(3, 5),
)  # fmt: skip
FULL_CASES = [  # family, settings, FLOPs, params, rho0
    ("basic", {}, 3e6, 30e3, 0.4),
    ("bottleneck", {"ratio": (1.0, 3.0)}, 2e6, 12e3, 0.5),
    ("bottleneck", {"ratio": (1.0, 3.0), "depth_penalty": "var"}, None, 9e3, 0.6),
    ("mbv2", {"ratio": (1.5, 2.0), "max_width": 16, "head_width": 32, "se_style": "deepmad"}, 3e5, 6e3, 1.2),
]


def stepped_latency(layer):
    """A latency-like cost with tile steps and a non-monotone wobble, as measured tables have."""
    tiles = np.ceil(np.asarray(layer.cin, dtype=float) / 16) * np.ceil(np.asarray(layer.cout, dtype=float) / 32)
    wobble = 1.0 + 0.1 * (np.asarray(layer.cout, dtype=float) % 24 == 8)
    value = (1e-6 * tiles * layer.kernel**2 * layer.res_out**2 + 2e-5 * layer.activations + 1e-3) * wobble
    return value if layer.present is True else value * layer.present
