"""What to design: the family, the budgets and the mathematical program's parameters.

Every parameter is declared once, here, with its help text (:func:`designer.core.params.parameter`);
``designer solve`` and ``designer tune`` build their options from these fields, the design
space (:class:`designer.core.space.SearchSpace`) reads them, and bad values are reported by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.core.blocks import get_family, list_families
from designer.core.entropy import DEFAULT_ALPHA, DEFAULT_BETA, stage_weights
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
    # --- the design space ----------------------------------------------------------------------
    resolution: int = parameter(224, "input resolution")
    stages: int = parameter(5, "down-sampling stages, the stem included")
    num_classes: int = parameter(1000, "classes of the classifier", flag="--classes")
    in_channels: int = parameter(3, "input image channels")
    kernel: int | None = parameter(None, "kernel of every block (default: the family's, 3 ResNet, 5 mbv2)")
    expansion: int | None = parameter(None, "bottleneck out/inner width (4) or mbv2 hidden/in width (6)")
    head_width: int | None = parameter(None, "width of a 1x1 conv before pooling (default: the family's, mbv2 1280)")
    se: bool = parameter(True, "squeeze-and-excitation in the blocks of families that have it (mbv2)")
    width_step: int = parameter(8, "widths are multiples of this")
    max_width: int = parameter(2048, "widest stage")
    min_stem_width: int = parameter(16, "narrowest stem")
    max_stem_width: int = parameter(128, "widest stem")
    max_depth: int = parameter(32, "most blocks per stage")
    time_limit: float | None = parameter(None, "give up after this many seconds", runtime=True)
    allow_extrapolation: bool = parameter(
        False, "accept a throughput prediction that rests mostly on ops outside the profile's measured ranges"
    )

    def __post_init__(self) -> None:
        check_choice("family", self.family, list_families())
        for name in ("flops", "params", "target_throughput", "time_limit"):
            if getattr(self, name) is not None:
                check_number(name, getattr(self, name))
        if self.profile is not None and (not isinstance(self.profile, str) or not self.profile):
            raise ParameterError(f"{{profile}} must be a profile name or path, got {self.profile!r}")
        if self.rho is not None:
            check_number("rho", self.rho, RHO_RANGE[0], above=False, high=RHO_RANGE[1])
        check_number("beta", self.beta, above=False)
        for name, low in (("resolution", 8), ("stages", 2), ("num_classes", 1), ("in_channels", 1)):
            check_int(name, getattr(self, name), low)
        for name in ("width_step", "max_width", "min_stem_width", "max_stem_width", "max_depth"):
            check_int(name, getattr(self, name))
        for name in ("expansion", "head_width"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name))
        if self.kernel is not None:
            check_choice("kernel", self.kernel, KERNELS)
        for name in ("se", "allow_extrapolation"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(f"{{{name}}} must be true or false, got {getattr(self, name)!r}")
        if self.alpha is not None:
            if len(self.alpha) != self.stages or not all(is_number(a) and 0 <= a < float("inf") for a in self.alpha):
                raise ParameterError(
                    f"{{alpha}} needs {self.stages} finite non-negative weights (one per down-sampling stage, "
                    f"see {{stages}}), got {self.alpha!r}"
                )
        if self.max_stem_width < self.min_stem_width:
            raise ParameterError("{min_stem_width} must not exceed {max_stem_width}")
        if self.expansion is not None and not get_family(self.family).uses_inner:
            raise ParameterError(f"{self.family} blocks have no inner width; drop {{expansion}}")

    @property
    def rho0(self) -> float:
        """The effectiveness bound: ``rho``, else the family's default."""
        return self.rho if self.rho is not None else get_family(self.family).rho0

    @property
    def weights(self) -> tuple[float, ...]:
        """The stage weights: ``alpha``, else the default aligned to the deepest stages."""
        return self.alpha if self.alpha is not None else stage_weights(self.stages, DEFAULT_ALPHA)

    @property
    def budgeted(self) -> bool:
        return any(value is not None for value in (self.flops, self.params, self.target_throughput))
