"""Which ops ``designer profile`` times: a sample of the layers the solver can choose from.

For each block family the design space (:class:`designer.core.space.SearchSpace` at the profile's
resolution, with the family's defaults: its stage strides, kernel set and inner-width ratio
range) is walked on a coarse geometric grid of widths (:data:`CHANNELS`, kept where the family's
width grid has them): the stem at every width of the space (one op each, but at the highest
resolution it is a tenth of a small network's time, and it steps between widths); every stage's
blocks for each kernel of the set and the inner widths at the family's sample of ratios
(:func:`_inners`); the first block fed by a quarter, half, all or twice its width (and by
:data:`STEM_WIDTHS` in stage 1); and the head. :func:`alignment_ops` adds probes of misaligned
widths from which the predictor learns their slowdown, and :func:`dense_line_ops` times the
``cin == cout`` convs of :data:`DENSE_KERNELS` at every multiple of 8, where latency jumps between
neighbouring widths, and :func:`index_limit_ops` times depthwise convs on both sides of the size
past which they slow down tenfold. Each layer becomes an op (:mod:`latency.predict.ops`); the
layers of the reference networks (:data:`REFERENCES`, for ``designer profile validate``) are added
exactly. Ops with more than :data:`WORK_CAP` times the MACs or feature-map traffic of
ResNet-50's largest layer at that resolution are left out (the predictor extrapolates them by
work); the cap is high enough that wide late stages (a 3x3 conv of 1024 channels at 14x14) are
measured, since extrapolating across tensor-core steps misses (``docs/RESULTS.md``, 'Latency tables').

That *dense* grid is for precisions on tensor cores (:func:`latency.predict.table.on_tensor_cores`).
Off them (fp32 on a GPU, CPUs) each op takes several times as long to autotune and time
(cuDNN's autotuning dominates: ``benchmarks/profile_cost.py``), so the *sparse* grid caps work
at :data:`SPARSE_WORK_CAP` (but not at the last two stage resolutions, where designs are widest)
and times ops above :data:`SPARSE_ABOVE` times that work on every other width of :data:`CHANNELS`
only; it keeps the dense lines, and adds widths past :data:`CHANNELS`
(:data:`SPARSE_WIDE_CHANNELS`) and lines of :data:`SPARSE_LAST_KERNELS` at the last stage
resolution, where fp32 latency is erratic (``docs/RESULTS.md`` has its build time and accuracy).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from designer.core.blocks import list_families
from designer.core.layers import Layer
from designer.core.reference import reference_spec
from designer.core.space import SearchSpace
from designer.core.structure import arch_layers
from latency.predict.ops import DW_KINDS, OpKey, layer_ops
from latency.predict.predictor import past_index_limit

CHANNELS = (
    *(8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 192, 224, 256),
    *(288, 320, 384, 448, 512, 576, 640, 768, 896, 1024, 1280, 1536, 2048),
)
ALIGNMENT_PROBES = (72, 88, 136, 200, 264, 392, 520, 776, 104, 120, 152, 184, 232, 296, 424, 616)
"""Misaligned widths (odd multiples of 8), timed as plain 3x3, 5x5 and 1x1 convs so the predictor
learns how much slower such convs run: the first eight just past a tensor-core tile, where they
cost most, the others further into a tile, where designs land as often."""
PROBE_SHAPES = (
    *(("conv_act", 3, 1), ("conv_add_act", 3, 1), ("conv_act", 1, 1), ("conv_act", 3, 2)),
    *(("conv_act", 5, 1), ("conv_add_act", 5, 1), ("conv_act", 5, 2)),
)
"""Kernel 5 as well as 3: the whole design space picks kernel 5 in most stages, and the predictor
fits a slowdown per kernel and stride (on the H200 fp16 table 1.12x the aligned model for 5x5
stride 1, 1.06x for 3x3)."""
DENSE_KERNELS = (5,)
"""Kernels whose ``cin == cout`` convs (the basic block's, the bottleneck's middle one) are timed
at every multiple of 8 from :data:`DENSE_LOW` to :data:`DENSE_HIGH`: on the H200 the latency of a
5x5 conv jumps between neighbouring multiples of 8, up and down, as cuDNN changes algorithm (fp16
at 28 px: 104 channels 0.35 ms against 0.43 for 112; 240 channels 1.52 ms against 1.15 for 232 and
1.09 for 248; fp32 has jumps of 3x), which no interpolation between coarse widths follows
(``docs/h200/steps-fp16-k35.json``). The table without the lines priced that sweep's 3x3 convs
within 7.5 % (p90; worst 26 %), its 5x5 ones within 24 % (p90; worst 49 %)."""
INDEX_PROBES = 3
"""Widths timed past the depthwise index limit, per shape and resolution (:func:`index_limit_ops`)."""
DENSE_LOW, DENSE_HIGH, DENSE_STEP = 64, 512, 8
DENSE_LAST_HIGH = 1024
"""Where the stride-1 lines end at the last stage resolution, which holds the widest convs of a
design: fp32 5x5 convs at 7 px jump most there (832 channels 10.3 ms, 928 6.2, 1024 7.3;
``docs/h200/steps-fp32-wide.json``)."""
SPARSE_LAST_KERNELS = (3,)
"""Kernels whose stride-1 lines the sparse grid also times, at the last stage resolution only
(from :data:`DENSE_LOW` to :data:`DENSE_LAST_HIGH`): off tensor cores, 3x3 convs at 7 px step
between neighbouring widths too (H200 fp32: 488 channels 1.39 ms, 496 channels 1.80, 504 channels 1.44)."""
DENSE_SHAPES = (("conv_act", 1), ("conv_add_act", 1), ("conv_act", 2))
"""(kind, stride) of the dense lines: a basic block's two convs, and the stride-2 one that starts a stage."""
STEM_WIDTHS = (16, 32, 64, 128)
"""Stem widths that feed the first block of stage 1."""
FIRST_BLOCK_RATIOS = (0.25, 0.5, 1.0, 2.0)
REFERENCES = ("resnet50", "mobilenet_v2")
WORK_CAP = 16.0
SPARSE_WORK_CAP = 4.0
"""The sparse grid's cap, except at the last :data:`WIDE_STAGES` stage resolutions, where it is
:data:`WORK_CAP`: every design puts its widest convs there (random fp32 networks with a 648-channel
3x3 conv at 14 px were priced 40 % high when that cap left it to extrapolation)."""
WIDE_STAGES = 2
SPARSE_ABOVE = 0.5
SPARSE_SKIPPED = frozenset(w for w in CHANNELS[1::2] if w >= 64)
"""Widths the sparse grid leaves out of ops above :data:`SPARSE_ABOVE` (every other one from 64 up)."""
SPARSE_WIDE_CHANNELS = (3072, 4096)
"""Widths past :data:`CHANNELS` that the sparse grid samples as well (in designs, the hidden width
of a wide late mbv2 stage): off tensor cores, extrapolating from 2,048 channels priced an fp32
1x1 conv of 4,888 to 856 channels at 14 px 29 % high (13.95 ms against 10.83 measured,
``docs/h200/breakdown-fp32-seed2.json``). The dense grid leaves them out: its fp16 profile
validates without them, and they would add about 15 % to its build time."""


def _ops(layers: Iterable[Layer]) -> set[OpKey]:
    return {op for layer in layers for op in layer_ops(layer)}


def family_ops(family: str, resolution: int, channels: Sequence[int] = CHANNELS) -> set[OpKey]:
    """Ops of the design space of one family (its defaults: strides, kernels, inner-width ratio
    range) on the coarse width grid ``channels``: every stage's blocks for each kernel and the
    family's sample of inner-width ratios; first blocks fed by a quarter, half, all or twice their
    width (a stage may narrow, as two published designs' last stages do)."""
    space = SearchSpace.of(family, resolution)
    widths = [w for w in channels if w in space.widths]
    stems = [w for w in STEM_WIDTHS if w in space.stem_widths]
    ops: set[OpKey] = set()
    for stem in space.stem_widths:  # one op each, in every network, at the highest resolution
        ops |= _ops(space.stem_layers(stem))
    for stage in range(1, space.body_stages + 1):
        for width in widths:
            inputs = {_snap(width * ratio, widths) for ratio in FIRST_BLOCK_RATIOS}
            if stage == 1 and inputs:
                inputs = {w for w in inputs | set(stems) if w <= width} or {min(stems)}
            for inner in _inners(space, width, channels):
                for kernel in space.kernels:
                    ops |= _ops(space.stage_layers(stage, width, width, inner, kernel)[1])
                    for cin in inputs:
                        ops |= _ops(space.stage_layers(stage, cin, width, inner, kernel)[0])
    last = space.stage_resolutions[-1]
    for width in widths:
        ops |= _ops(space.head_layers(width))
        final = space.final_channels(width)
        ops |= _ops([Layer("pool", "pool", final, final, last, last, last, norm=False)])
    return ops


def _inners(space: SearchSpace, width: int, channels: Sequence[int]) -> Sequence[int | None]:
    """Inner widths timed for a stage of ``width``: none where the space fixes the ratio, else the
    grid widths nearest to the family's ratios (:attr:`~designer.core.blocks.BlockFamily.grid_ratios`)."""
    if not space.has_inner():
        return [None]
    low, high = space.ratio_range or (1.0, 1.0)
    ratios = np.geomspace(low, high, space.family.grid_ratios)
    scale = 1.0 / ratios if space.family.inner_below_width else ratios
    return [*sorted({_snap(width * s, channels) for s in scale})]


def alignment_ops(resolution: int) -> set[OpKey]:
    """Probes of misaligned widths at every stage's input resolution (``cin == cout``)."""
    return _square_convs(resolution, PROBE_SHAPES, ALIGNMENT_PROBES)


def dense_line_ops(resolution: int, dense: bool = True) -> set[OpKey]:
    """The ``cin == cout`` convs of :data:`DENSE_KERNELS` in :data:`DENSE_SHAPES` at every multiple
    of :data:`DENSE_STEP` from :data:`DENSE_LOW` to :data:`DENSE_HIGH`, and on to
    :data:`DENSE_LAST_HIGH` for the stride-1 ones at the last stage resolution; for the sparse
    grid (not ``dense``), those last ones of :data:`SPARSE_LAST_KERNELS` as well."""
    shapes = [(kind, kernel, stride) for kernel in DENSE_KERNELS for kind, stride in DENSE_SHAPES]
    last_kernels = DENSE_KERNELS if dense else (*DENSE_KERNELS, *SPARSE_LAST_KERNELS)
    last_shapes = [(kind, kernel, 1) for kernel in last_kernels for kind, stride in DENSE_SHAPES if stride == 1]
    last = SearchSpace.of("basic", resolution).stage_resolutions[-1]
    widths = range(DENSE_LOW, DENSE_LAST_HIGH + 1, DENSE_STEP)
    return _square_convs(resolution, shapes, range(DENSE_LOW, DENSE_HIGH + 1, DENSE_STEP)) | {
        op for op in _square_convs(resolution, last_shapes, widths) if op.res == last
    }


def _square_convs(resolution: int, shapes: Iterable[tuple[str, int, int]], widths: Iterable[int]) -> set[OpKey]:
    """Convs of each ``(kind, kernel, stride)`` with ``cin == cout`` at each width, at every stage's
    input resolution (a stride-2 conv reads a stage's input, a stride-1 one its output)."""
    resolutions = SearchSpace.of("basic", resolution).stage_resolutions
    return {
        OpKey(kind, width, res, width, kernel, stride)
        for kind, kernel, stride in shapes
        for res in (resolutions[:-1] if stride == 2 else resolutions[1:])
        for width in widths
    }


def _snap(value: float, grid: Sequence[int]) -> int:
    return min(grid, key=lambda w: abs(np.log(w / value)))


def reference_ops(resolution: int, names: Sequence[str] = REFERENCES) -> set[OpKey]:
    return _ops(layer for name in names for layer in arch_layers(reference_spec(name, resolution)))


def work(op: OpKey) -> tuple[float, float]:
    """MACs and feature-map elements of one image through the op."""
    layer = op.layer()
    return float(layer.macs), float(layer.activations)


def index_limit_ops(ops: Iterable[OpKey], batch: int) -> set[OpKey]:
    """Depthwise convs on both sides of :data:`~latency.predict.predictor.INDEX_LIMIT` input
    elements at ``batch``, for each depthwise shape and resolution among ``ops``: the last
    width of :data:`CHANNELS` below it and the first :data:`INDEX_PROBES` past it. Past the limit
    PyTorch's depthwise kernels run about ten times slower (H200 fp32, batch 256, 3x3 stride 2 at
    112 px: 640 channels 4.9 ms, 768 channels 48.5 ms), and the predictor prices such convs only
    from entries past it."""
    probes: set[OpKey] = set()
    for kind, res, kernel, stride in {(op.kind, op.res, op.kernel, op.stride) for op in ops if op.kind in DW_KINDS}:
        past = past_index_limit(kind, np.array(CHANNELS), res, batch)
        if past.any():
            first = int(np.argmax(past))
            widths = CHANNELS[max(first - 1, 0) : first + INDEX_PROBES]
            probes |= {OpKey(kind, w, res, w, kernel, stride) for w in widths}
    return probes


def at_batch(grid: Sequence[OpKey], resolution: int, batch: int) -> list[OpKey]:
    """The sorted ops a profile at ``batch`` measures: ``grid`` (:func:`profile_ops`, which sizes
    the batch) and the :func:`index_limit_ops` of its design-space ops (reference networks aside)."""
    design = set(grid) - reference_ops(resolution)
    return sorted(set(grid) | index_limit_ops(design, batch))


def profile_ops(resolution: int, families: Sequence[str] | None = None, dense: bool = True) -> list[OpKey]:
    """The sorted ops a profile of these families at this resolution measures at any batch (``dense``:
    see the module docstring; pass ``latency.predict.table.on_tensor_cores(backend, precision)``);
    :func:`at_batch` adds those that depend on the batch."""
    reference = reference_ops(resolution)
    largest = np.max([work(op) for op in reference_ops(resolution, ("resnet50",))], axis=0)
    families = list_families() if families is None else families
    channels = CHANNELS if dense else (*CHANNELS, *SPARSE_WIDE_CHANNELS)
    sampled = {op for family in families for op in family_ops(family, resolution, channels)}
    shapes = {(op.kind, op.kernel, op.stride) for op in sampled}  # lines only of convs the families have
    lines = {op for op in dense_line_ops(resolution, dense) if (op.kind, op.kernel, op.stride) in shapes}
    sampled |= alignment_ops(resolution)

    wide_stages = SearchSpace.of("basic", resolution).stage_resolutions[-WIDE_STAGES:]

    def scale(op: OpKey) -> float:
        return float(np.max(np.array(work(op)) / largest))

    def cap(op: OpKey) -> float:
        return WORK_CAP if dense or op.res in wide_stages else SPARSE_WORK_CAP

    def kept(op: OpKey) -> bool:
        size = scale(op)
        skipped = op.cout >= 64 and (op.cin in SPARSE_SKIPPED or op.cout in SPARSE_SKIPPED)
        return size <= cap(op) and (dense or not (size > SPARSE_ABOVE and skipped))

    lines = {op for op in lines if scale(op) <= WORK_CAP}  # the lines are the point: no thinning, the dense cap
    return sorted({op for op in sampled if kept(op)} | lines | reference)
