"""Network entropy, effectiveness and the depth-uniformity penalty of DeepMAD.

What counts as a layer
----------------------
Entropy and effectiveness are taken over the *main* conv layers: the convolutions that the
signal must pass through on its way from the input to the classifier.

* The stem conv is a main layer (width ``3 * k^2``): every path starts with it.
* Every conv on a block's residual branch is a main layer: both kxk convs of a basic block,
  all three convs of a bottleneck, and the expansion, depthwise and projection convs of an
  inverted residual (the expansion conv only where it exists; a depthwise conv has width
  ``k^2`` since each output sees one channel).
* The 1x1 head conv before pooling (MobileNetV2's 1280-wide one) is a main layer.
* Projection shortcuts are not main layers: they are a parallel path that the main path does
  not depend on, and counting them would reward adding shortcuts.
* SE layers are not main layers: they compute a per-channel gate from a globally pooled
  vector, they do not transform the feature map spatially.
* The classifier is not a main layer: it reads the pooled features after the last stage.
* Pooling, batch-norm, activations and residual adds have no width.

Stages
------
A stage ends wherever the network down-samples next (a stride-2 block, the stem's max-pool)
and at the end of the body. Each main layer belongs to the stage its block ends in, so the
1x1 reduce conv of a down-sampling bottleneck belongs to the new stage with the rest of its
block. The entropy at the end of stage ``i`` is ``log(r_i^2 C_i) * sum log(w)`` over every
main layer up to and including that stage, with ``r_i`` the stage's resolution and ``C_i`` the
output width of its last main layer. The multi-scale entropy is ``sum alpha_i H_i``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from designer.core.structure import MainLayer

DEFAULT_ALPHA: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 8.0)
DEFAULT_BETA = 10.0


def stage_weights(n_stages: int, alpha: Sequence[float]) -> tuple[float, ...]:
    """Weights for ``n_stages`` stages, aligned to the deepest ones.

    With fewer stages than weights, the last ``n_stages`` weights apply; with more, the
    extra (earliest) stages take ``alpha[0]``. The default ``1,1,1,1,8`` thus always gives
    the final stage weight 8.
    """
    alpha = tuple(float(a) for a in alpha)
    if n_stages <= len(alpha):
        return alpha[len(alpha) - n_stages :]
    return (alpha[0],) * (n_stages - len(alpha)) + alpha


def stage_entropy(res: Any, channels: Any, cum_log_width: Any) -> Any:
    """``log(r^2 C) * sum log(w)`` for the network truncated at a stage end (arrays allowed)."""
    return np.log(np.asarray(res, dtype=float) ** 2 * channels) * cum_log_width


def effectiveness(n_layers: Any, sum_log_width: Any) -> Any:
    """``rho = L / geometric_mean(w)`` over ``L`` main layers."""
    n_layers = np.asarray(n_layers, dtype=float)
    return n_layers / np.exp(sum_log_width / n_layers)


def min_sum_log_width(n_layers: Any, rho0: float) -> Any:
    """The least ``sum log(w)`` for which ``L`` layers satisfy ``rho <= rho0``."""
    n_layers = np.asarray(n_layers, dtype=float)
    return n_layers * (np.log(n_layers) - np.log(rho0))


def min_sum_log_width_slope(n_layers: Any, rho0: float) -> Any:
    """The derivative of :func:`min_sum_log_width` in ``L`` (it is convex: tangents lie below it)."""
    return np.log(np.asarray(n_layers, dtype=float) / rho0) + 1.0


PENALTIES = ("std", "var")


@dataclass(frozen=True)
class DepthPenalty:
    """The depth-uniformity penalty, subtracted from the entropy in the MP's objective.

    * ``var`` (the paper): ``beta * exp(Var(L_1..L_M))`` over every body stage's block count.
    * ``std`` (the published search code): ``beta * exp(std(L))`` over the body stages after the
      first ``skip`` (the code leaves out the first two of a ResNet layout, whose first stage it
      caps at 3 blocks, and none of a mobile one).

    Variances and deviations are of the population (NumPy's default).
    """

    beta: float = DEFAULT_BETA
    kind: str = "var"
    skip: int = 0

    def counted(self, depths: Any) -> np.ndarray:
        """The block counts the penalty reads (stage depths on the last axis): those after the
        first ``skip`` stages, or the last one where there are no more."""
        depths = np.asarray(depths)
        return depths[..., self.skip :] if self.skip < depths.shape[-1] else depths[..., -1:]

    def of_variance(self, variance: Any) -> Any:
        """The penalty for a variance of the counted block counts (for bounds over boxes)."""
        spread = np.sqrt(np.maximum(variance, 0.0)) if self.kind == "std" else variance
        return self.beta * np.exp(spread)

    def __call__(self, depths: Any) -> Any:
        return self.of_variance(np.var(self.counted(np.asarray(depths, dtype=float)), axis=-1))

    def least(self, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
        """The least penalty over boxes of the counted block counts (ranges ``[lows, highs]``,
        counted stages on the last axis): a valid lower bound of the penalty in each box.

        ``n * min Var = min_t sum_i dist(t, [lo_i, hi_i])^2``, a convex piecewise quadratic in ``t``
        with breakpoints at the range ends: its minimum is at a breakpoint or at the stationary
        point of one segment, all of which are tried.
        """
        lows, highs = np.asarray(lows, dtype=float), np.asarray(highs, dtype=float)
        points = np.sort(np.concatenate([lows, highs], -1), -1)
        candidates = [points[..., j] for j in range(points.shape[-1])]
        for j in range(points.shape[-1] - 1):
            a, b = points[..., j], points[..., j + 1]
            t = ((a + b) / 2)[..., None]
            above, below = t > highs, t < lows
            count = above.sum(-1) + below.sum(-1)
            total = np.where(above, highs, 0).sum(-1) + np.where(below, lows, 0).sum(-1)
            stationary = np.clip(total / np.maximum(count, 1), a, b)
            candidates.append(np.where(count > 0, stationary, t[..., 0]))
        t = np.stack(candidates, -1)[..., None]
        spread = ((np.clip(t, lows[..., None, :], highs[..., None, :]) - t) ** 2).sum(-1).min(-1)
        return self.of_variance(spread / lows.shape[-1])


def design_objective(entropy: Any, depths: Any, penalty: DepthPenalty) -> Any:
    """The MP's objective: multi-scale entropy minus the depth penalty (stage depths on the last axis)."""
    return entropy - penalty(depths)


@dataclass(frozen=True)
class StageEntropy:
    res: int
    channels: int
    layers: int
    cum_log_width: float
    entropy: float


@dataclass(frozen=True)
class EntropyReport:
    depth: int
    mean_width: float
    rho: float
    entropy: float
    stages: tuple[StageEntropy, ...]
    alpha: tuple[float, ...]


def group_stages(layers: Sequence[MainLayer]) -> list[StageEntropy]:
    """Group consecutive main layers of one stage resolution; entropies are cumulative."""
    stages: list[StageEntropy] = []
    total, count = 0.0, 0
    for position, layer in enumerate(layers):
        total += float(np.log(layer.width))
        count += 1
        last_of_stage = position + 1 == len(layers) or layers[position + 1].res != layer.res
        if last_of_stage:
            previous = sum(stage.layers for stage in stages)
            entropy = float(stage_entropy(layer.res, layer.channels, total))
            stages.append(StageEntropy(layer.res, layer.channels, count - previous, total, entropy))
    return stages


def entropy_report(layers: Sequence[MainLayer], alpha: Sequence[float] = DEFAULT_ALPHA) -> EntropyReport:
    stages = group_stages(layers)
    weights = stage_weights(len(stages), alpha)
    sum_log = stages[-1].cum_log_width
    depth = len(layers)
    return EntropyReport(
        depth=depth,
        mean_width=float(np.exp(sum_log / depth)),
        rho=float(effectiveness(depth, sum_log)),
        entropy=float(sum(w * s.entropy for w, s in zip(weights, stages))),
        stages=tuple(stages),
        alpha=weights,
    )
