"""What to design: the family, the budgets and the mathematical program's parameters.

Every parameter is declared once, here, with its help text (:func:`designer.core.params.parameter`);
``designer solve`` and ``designer tune`` build their options from these fields, the design
space (:class:`designer.core.space.SearchSpace`) reads them, and bad values are reported by name.
Parameters left ``None`` take the family's default (:mod:`designer.core.blocks`).
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.core.blocks import SE_STYLES, BlockFamily, get_family, list_families
from designer.core.entropy import DEFAULT_ALPHA, DEFAULT_BETA, PENALTIES, DepthPenalty, stage_weights
from designer.core.errors import DesignerError, ParameterError
from designer.core.params import check_choice, check_int, check_number, is_number, parameter
from designer.core.spec import KERNELS
from designer.core.units import parse_count

RHO_RANGE = (0.05, 5.0)


def parse_weights(text: str) -> tuple[float, ...]:
    """``"1,1,1,1,8"`` as a tuple of floats."""
    try:
        return tuple(float(value) for value in text.split(","))
    except ValueError:
        raise DesignerError(f"{text!r} is not a comma-separated list of numbers, e.g. 1,1,1,1,8") from None


def parse_ints(text: str) -> tuple[int, ...]:
    """``"2,2,2,1,2"`` as a tuple of ints."""
    try:
        return tuple(int(value) for value in text.split(","))
    except ValueError:
        raise DesignerError(f"{text!r} is not a comma-separated list of whole numbers, e.g. 3,5") from None


@dataclass(frozen=True)
class DesignRequest:
    """A design problem: maximise entropy under ``rho <= rho0`` and the given budgets."""

    family: str = parameter("bottleneck", "block family", choices=list_families)
    # --- budgets ---------------------------------------------------------------------------
    flops: float | None = parameter(None, "FLOPs (MACs) budget, e.g. 4.1G or 4.1e9", parse=parse_count)
    params: float | None = parameter(None, "parameter budget, e.g. 25.6M", parse=parse_count)
    target_throughput: float | None = parameter(None, "least predicted throughput (images/s) on the profile's GPU")
    profile: str | None = parameter(
        None,
        "latency profile (name or path) of the target GPU (default: `designer profile use`, else the most recent "
        "built or imported here, else this GPU's); see `designer profile list`",
    )
    # --- the mathematical program ------------------------------------------------------------
    rho: float | None = parameter(None, "effectiveness bound rho0 (default: the family's, 0.3 ResNet, 0.5 mbv2)")
    alpha: tuple[float, ...] | None = parameter(
        None, "weights of the stage entropies, deepest last (default 1,...,1,8)", parse=parse_weights, metavar="W,W,..."
    )
    beta: float = parameter(DEFAULT_BETA, "weight of the depth-uniformity penalty")
    depth_penalty: str = parameter(
        "std",
        "std: beta*exp(std) over the later stages (the published code); var: beta*exp(Var) over all (the paper)",
        choices=PENALTIES,
    )
    penalty_skip: int | None = parameter(
        None, "leading body stages the std penalty leaves out (default: the family's, 2 ResNet, 0 mbv2)"
    )
    # --- the design space ----------------------------------------------------------------------
    resolution: int = parameter(224, "input resolution")
    strides: tuple[int, ...] | None = parameter(
        None,
        "strides of the body stages after the stride-2 stem (default: the family's, 2,2,2,1,2 ResNet)",
        parse=parse_ints,
        metavar="S,S,...",
    )
    stages: int | None = parameter(
        None, "down-sampling stages, the stem included, all body strides 2 (instead of strides)"
    )
    num_classes: int = parameter(1000, "classes of the classifier", flag="--classes")
    in_channels: int = parameter(3, "input image channels")
    kernel: tuple[int, ...] | None = parameter(
        None, "kernels each stage chooses from, e.g. 3,5 (default) or 3 to fix it", parse=parse_ints, metavar="K,K,..."
    )
    ratio: tuple[float, float] | None = parameter(
        None, "range of the inner-width ratio each stage chooses from (bottleneck out/inner, mbv2 hidden/out)"
    )
    expansion: int | None = parameter(None, "a fixed ratio instead: bottleneck out/inner (4), mbv2 hidden/in (6)")
    head_width: int | None = parameter(None, "width of a 1x1 conv before pooling (default: the family's, mbv2 1280)")
    se: bool = parameter(True, "squeeze-and-excitation in the blocks of families that have it (mbv2)")
    se_style: str = parameter("efficientnet", "SE convention", choices=SE_STYLES)
    width_step: int = parameter(8, "widths are multiples of this")
    max_width: int = parameter(2048, "widest stage")
    min_stem_width: int = parameter(16, "narrowest stem")
    max_stem_width: int = parameter(128, "widest stem")
    max_depth: int = parameter(32, "most blocks per stage")
    first_depth: int | None = parameter(None, "most blocks in the first body stage (default: the family's, 3 ResNet)")
    time_limit: float = parameter(
        10.0,
        "seconds before the solver stops proving and returns the best design found, with its gap "
        "(`designer solve` counts them from the command's start; with --verify, each round's solve has them)",
    )
    allow_extrapolation: bool = parameter(
        False, "accept a throughput prediction that rests mostly on ops outside the profile's measured ranges"
    )

    def __post_init__(self) -> None:
        check_choice("family", self.family, list_families())
        for name in ("flops", "params", "target_throughput"):
            if getattr(self, name) is not None:
                check_number(name, getattr(self, name))
        check_number("time_limit", self.time_limit)
        if self.profile is not None and (not isinstance(self.profile, str) or not self.profile):
            raise ParameterError(f"{{profile}} must be a profile name or path, got {self.profile!r}")
        if self.rho is not None:
            check_number("rho", self.rho, RHO_RANGE[0], above=False, high=RHO_RANGE[1])
        check_number("beta", self.beta, above=False)
        check_choice("depth_penalty", self.depth_penalty, PENALTIES)
        check_choice("se_style", self.se_style, SE_STYLES)
        for name, low in (("resolution", 8), ("num_classes", 1), ("in_channels", 1)):
            check_int(name, getattr(self, name), low)
        for name in ("width_step", "max_width", "min_stem_width", "max_stem_width", "max_depth"):
            check_int(name, getattr(self, name))
        for name in ("expansion", "head_width", "first_depth"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name))
        if self.penalty_skip is not None:
            check_int("penalty_skip", self.penalty_skip, 0)
        for name in ("se", "allow_extrapolation"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(f"{{{name}}} must be true or false, got {getattr(self, name)!r}")
        if self.max_stem_width < self.min_stem_width:
            raise ParameterError("{min_stem_width} must not exceed {max_stem_width}")
        self._check_layout()
        self._check_block()
        if self.alpha is not None:
            stages = self.entropy_stages
            if len(self.alpha) != stages or not all(is_number(a) and 0 <= a < float("inf") for a in self.alpha):
                raise ParameterError(
                    f"{{alpha}} needs {stages} finite non-negative weights (one per down-sampling stage), got {self.alpha!r}"
                )

    def _check_layout(self) -> None:
        if self.stages is not None:
            check_int("stages", self.stages, 2)
            if self.strides is not None:
                raise ParameterError("give {strides} or {stages}, not both")
        if self.strides is not None:
            if not self.strides or any(s not in (1, 2) or isinstance(s, bool) for s in self.strides):
                raise ParameterError(
                    f"{{strides}} must be a list of 1s and 2s, one per body stage, got {self.strides!r}"
                )

    def _check_block(self) -> None:
        block = self.block
        if self.kernel is not None:
            if not self.kernel:
                raise ParameterError("{kernel} needs at least one kernel")
            for kernel in self.kernel:
                check_choice("kernel", kernel, KERNELS)
        if (self.expansion is not None or self.ratio is not None) and not block.uses_inner:
            raise ParameterError(f"{self.family} blocks have no inner width; drop {{expansion}} and {{ratio}}")
        if self.expansion is not None and self.ratio is not None:
            raise ParameterError("give {ratio} (a range) or {expansion} (a fixed ratio), not both")
        if self.ratio is not None:
            low, high = self.ratio
            check_number("ratio", low, 1.0, above=block.uses_expansion)
            check_number("ratio", high, low, above=False)

    # --- derived settings --------------------------------------------------------------------
    @property
    def block(self) -> BlockFamily:
        return get_family(self.family)

    @property
    def rho0(self) -> float:
        """The effectiveness bound: ``rho``, else the family's default."""
        return self.rho if self.rho is not None else self.block.rho0

    @property
    def body_strides(self) -> tuple[int, ...]:
        if self.strides is not None:
            return self.strides
        if self.stages is not None:
            return (2,) * (self.stages - 1)
        return self.block.strides

    @property
    def entropy_stages(self) -> int:
        """Down-sampling stages, the stem included: a stride-1 stage belongs to the one before."""
        return 1 + sum(stride == 2 for stride in self.body_strides)

    @property
    def weights(self) -> tuple[float, ...]:
        """The stage weights: ``alpha``, else the default aligned to the deepest stages."""
        return self.alpha if self.alpha is not None else stage_weights(self.entropy_stages, DEFAULT_ALPHA)

    @property
    def kernels(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.kernel or self.block.kernels)))

    @property
    def ratio_range(self) -> tuple[float, float] | None:
        """The inner-width ratio's range when the solver chooses it (``None``: fixed or no inner width)."""
        if self.expansion is not None or not self.block.uses_inner:
            return None
        return self.ratio or self.block.ratio_range

    @property
    def penalty(self) -> DepthPenalty:
        skip = self.penalty_skip
        if skip is None:
            skip = self.block.penalty_skip if self.depth_penalty == "std" else 0
        return DepthPenalty(self.beta, self.depth_penalty, skip)

    @property
    def budgeted(self) -> bool:
        return any(value is not None for value in (self.flops, self.params, self.target_throughput))
