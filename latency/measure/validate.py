"""``designer profile validate``: predicted against measured latency of whole networks.

Random networks are drawn from the design space (a family's :class:`SearchSpace` at the
profile's resolution: stem and stage widths on its grid, non-decreasing, 1 to
:data:`MAX_DEPTH` blocks per stage, MACs within :data:`MACS_RANGE` scaled to the resolution),
and the standard ResNet-50 and MobileNetV2 are added. Each is measured end to end with the
profile's backend (batch-norm folded, same precision and timing method as the ops) and
predicted by summing its layers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_bytes, atomic_write_text
from designer.core.layers import total_macs
from designer.core.parse import build, read_json
from designer.core.reference import reference_spec
from designer.core.space import SearchSpace
from designer.core.spec import ArchSpec
from designer.core.structure import arch_layers
from designer.plots import png, subplots
from latency.measure.backend import Backend
from latency.predict.check import ErrorSummary
from latency.predict.predictor import Predictor
from latency.predict.profiles import PARTS

MAX_DEPTH = 6
MIN_WIDTH, MAX_WIDTH = 16, 1024
MACS_RANGE = (0.3e9, 6e9)
"""MACs of the random networks at 224x224 (scaled by the resolution squared)."""


@dataclass(frozen=True)
class NetResult:
    name: str
    macs: int
    predicted_ms: float
    measured_ms: float

    @property
    def error(self) -> float:
        return self.predicted_ms / self.measured_ms - 1.0


def random_specs(count: int, resolution: int, families: list[str], seed: int = 0) -> list[ArchSpec]:
    """``count`` random networks of the design spaces (families in turn; each family's default
    space: its strides, kernel set and inner-width ratio range), within :data:`MACS_RANGE`."""
    rng = np.random.default_rng(seed)
    low, high = (m * (resolution / 224) ** 2 for m in MACS_RANGE)
    specs: list[ArchSpec] = []
    while len(specs) < count:
        family = families[len(specs) % len(families)]
        space = SearchSpace.of(family, resolution)
        point = random_point(space, rng)
        if not space.ordered({name: np.array([value]) for name, value in point.items()})[0]:
            continue
        spec = space.to_spec(point, name=f"random-{family}-{len(specs):02d}")
        if low <= total_macs(arch_layers(spec)) <= high:
            specs.append(spec)
    return specs


def random_point(space: SearchSpace, rng: np.random.Generator) -> dict[str, float]:
    """A design of ``space``: sorted random widths, a random kernel, an inner width at a
    log-uniform ratio of the range and 1 to :data:`MAX_DEPTH` blocks per stage."""
    grids = space.grids()
    widths = [w for w in space.widths if MIN_WIDTH <= w <= MAX_WIDTH]
    chosen = np.sort(rng.choice(widths, size=space.body_stages))
    point = {"stem": float(rng.choice([w for w in space.stem_widths if w <= chosen[0]] or [min(space.stem_widths)]))}
    for stage in range(1, space.body_stages + 1):
        width = float(chosen[stage - 1])
        point[f"width{stage}"] = width
        point[f"depth{stage}"] = float(rng.integers(1, min(MAX_DEPTH, int(grids[f"depth{stage}"][-1])) + 1))
        if space.has_kernel():
            point[f"kernel{stage}"] = float(rng.choice(space.kernels))
        if space.has_inner():
            low, high = space.ratio_range or (1.0, 1.0)
            ratio = float(np.exp(rng.uniform(np.log(low), np.log(high))))
            inner = width / ratio if space.family.inner_below_width else width * ratio
            inners = grids[f"inner{stage}"]
            point[f"inner{stage}"] = float(inners[np.argmin(np.abs(np.log(inners / inner)))])
    return point


def validation_specs(count: int, resolution: int, families: list[str], seed: int = 0) -> list[ArchSpec]:
    references = [reference_spec(name, resolution) for name in ("resnet50", "mobilenet_v2")]
    return random_specs(count, resolution, families, seed) + references


def measure(
    predictor: Predictor,
    backend: Backend,
    specs: list[ArchSpec],
    progress: bool = True,
    partial: Path | None = None,
) -> list[NetResult]:
    """Each network measured end to end and predicted. With ``partial``, a file that keeps the
    latencies measured so far (rewritten after each network): a run cut short resumes from it,
    measuring only the networks it lacks, and it is removed once all are measured."""
    from tqdm import tqdm

    key = {"profile": predictor.name, "specs": [spec.to_dict() for spec in specs]}
    measured = _measured_so_far(partial, key)
    for spec in tqdm(specs, desc="networks", unit="net", disable=not progress):
        if spec.name not in measured:
            measured[spec.name] = backend.time_network(spec, predictor.batch)
            if partial is not None:
                atomic_write_text(partial, json.dumps({**key, "measured_ms": measured}) + "\n")
    if partial is not None:
        partial.unlink(missing_ok=True)
    return [_result(predictor, spec, measured[spec.name]) for spec in specs]


def _measured_so_far(partial: Path | None, key: dict[str, Any]) -> dict[str, float]:
    """The latencies an interrupted run of the same profile and networks saved in ``partial``."""
    if partial is None or not partial.is_file():
        return {}
    try:
        saved = json.loads(partial.read_text())
    except (OSError, ValueError):
        return {}  # a file that cannot be read is measured again, not trusted
    if not isinstance(saved, dict) or {k: saved.get(k) for k in key} != key:
        return {}
    return {name: float(ms) for name, ms in saved.get("measured_ms", {}).items()}


def repredict(predictor: Predictor, report_path: Path) -> tuple[dict[str, Any], list[NetResult], list[ArchSpec]]:
    """An earlier ``validate.json`` (the parsed file), and its networks with their measured latency
    kept and predicted again by ``predictor``: to score a new profile or predictor on the same
    measurements without the device. DesignerError if the report is not one or does not fit."""
    report, earlier = read_report(report_path)
    if report.get("batch") != predictor.batch:
        raise DesignerError(
            f"{report_path} was measured at batch {report.get('batch')}, the profile at {predictor.batch}; "
            "re-predict with a profile of the same batch"
        )
    parts = PARTS.match(str(report.get("profile", "")))
    measured_with = (parts["backend"], parts["precision"]) if parts else None
    if measured_with not in (None, (predictor.backend, predictor.precision)):
        raise DesignerError(
            f"{report_path} was measured with {' '.join(measured_with)}, the profile is {predictor.backend} "
            f"{predictor.precision}; re-predict with a profile of the same backend and precision"
        )
    rows = report.get("specs")
    specs = [ArchSpec.from_dict(spec, f"{report_path} specs[{i}]") for i, spec in enumerate(rows or [])]
    measured = {row.name: row.measured_ms for row in earlier}
    if not isinstance(rows, list) or set(measured) != {spec.name for spec in specs}:
        raise DesignerError(
            f"{report_path} lacks its networks' specs; give a validate.json that `designer profile validate` wrote"
        )
    return report, [_result(predictor, spec, measured[spec.name]) for spec in specs], specs


def read_report(report_path: Path) -> tuple[dict[str, Any], list[NetResult]]:
    """A ``validate.json`` and its networks, checked (DesignerError naming the problem)."""
    what = f"validate report {report_path}"
    report = read_json(report_path, "validate report")
    rows = report.get("networks") if isinstance(report, dict) else None
    if not isinstance(rows, list) or not rows:
        raise DesignerError(
            f"{report_path} is not a validate.json (no networks); give the file `profile validate` wrote"
        )
    results = [build(NetResult, row, what, f"networks[{i}]") for i, row in enumerate(rows)]
    if any(r.measured_ms <= 0 or r.predicted_ms <= 0 for r in results):
        raise DesignerError(f"{what} holds a latency that is not positive; re-run `designer profile validate`")
    return report, results


def _result(predictor: Predictor, spec: ArchSpec, measured_ms: float) -> NetResult:
    return NetResult(spec.name, int(total_macs(arch_layers(spec))), predictor.network_latency(spec), measured_ms)


def summary(results: list[NetResult]) -> dict[str, float]:
    errors = ErrorSummary.of([r.predicted_ms for r in results], [r.measured_ms for r in results])
    signed = np.array([r.error for r in results])
    return {**errors.to_dict(), "mean_signed_error": float(signed.mean())}


def table_text(results: list[NetResult]) -> str:
    lines = [f"{'network':<24} {'GMACs':>7} {'predicted ms':>13} {'measured ms':>12} {'error':>8}"]
    for r in results:
        lines.append(
            f"{r.name:<24} {r.macs / 1e9:7.2f} {r.predicted_ms:13.3f} {r.measured_ms:12.3f} {r.error * 100:+7.2f}%"
        )
    return "\n".join(lines)


def write_report(results: list[NetResult], specs: list[ArchSpec], meta: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``validate.json`` under ``folder``: the results, their summary and the networks' specs."""
    report = {
        **meta,
        "summary": summary(results),
        "networks": [asdict(r) for r in results],
        "specs": [s.to_dict() for s in specs],
    }
    atomic_write_text(folder / "validate.json", json.dumps(report, indent=2) + "\n")
    return report


def write_plot(report_path: Path) -> Path:
    """``validate.png`` (predicted against measured) next to a ``validate.json``."""
    report, results = read_report(report_path)
    try:
        png = scatter_png(results, str(report.get("profile", "")))
    except ImportError:
        raise DesignerError(
            f"the plot needs matplotlib, which does not import here; {report_path} is written: "
            f"run `designer profile plot {report_path}` where matplotlib is installed"
        ) from None
    path = report_path.with_suffix(".png")
    atomic_write_bytes(path, png)
    return path


def scatter_png(results: list[NetResult], title: str) -> bytes:
    measured = np.array([r.measured_ms for r in results])
    predicted = np.array([r.predicted_ms for r in results])
    figure, axis = subplots(figsize=(5, 5), dpi=120)
    low, high = min(measured.min(), predicted.min()) * 0.8, max(measured.max(), predicted.max()) * 1.25
    line = np.array([low, high])
    axis.plot(line, line, color="black", linewidth=1, label="predicted = measured")
    axis.fill_between(line, line * 0.95, line * 1.05, color="grey", alpha=0.2, label="+-5 %")
    axis.scatter(measured, predicted, s=18)
    axis.set(
        xscale="log", yscale="log", xlim=(low, high), ylim=(low, high), xlabel="measured ms", ylabel="predicted ms"
    )
    axis.set_title(f"{title}: {len(results)} networks", fontsize=9)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return png(figure)
