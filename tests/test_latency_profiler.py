import numpy as np
import pytest
from support.latency import synthetic_keys, synthetic_table, true_latency

from designer.core.errors import DesignerError
from designer.core.reference import resnet50
from designer.core.space import SearchSpace
from designer.core.structure import arch_layers
from latency.measure.backend import Settings, check_device
from latency.measure.grid import (
    INDEX_PROBES,
    SPARSE_ABOVE,
    SPARSE_LAST_KERNELS,
    SPARSE_SKIPPED,
    SPARSE_WIDE_CHANNELS,
    SPARSE_WORK_CAP,
    WIDE_STAGES,
    WORK_CAP,
    alignment_ops,
    at_batch,
    dense_line_ops,
    profile_ops,
    reference_ops,
    work,
)
from latency.measure.profiler import build_profile, partial_path
from latency.measure.validate import measure, random_specs
from latency.predict.ops import DW_KINDS, layer_ops
from latency.predict.predictor import INDEX_LIMIT, Predictor
from latency.predict.table import LatencyTable


class FakeBackend:
    """Times ops by the synthetic formula; can be told to be interrupted after some ops."""

    name = "torch"

    def __init__(self, interrupt_after: int | None = None) -> None:
        self.settings = Settings("fp32")
        self.calls = 0
        self.interrupt_after = interrupt_after

    def device_name(self) -> str:
        return "NVIDIA H100 80GB HBM3"

    def provenance(self):
        return {"device_name": self.device_name(), "method": "formula", "repetitions": 1, "activation": "relu"}

    def time_op(self, key, batch):
        if self.interrupt_after is not None and self.calls >= self.interrupt_after:
            raise KeyboardInterrupt
        self.calls += 1
        return true_latency(key, batch)

    def time_network(self, spec, batch):
        if self.interrupt_after is not None and self.calls >= self.interrupt_after:
            raise KeyboardInterrupt
        self.calls += 1
        return float(len(spec.name))


def test_a_narrower_run_adds_to_a_profile_and_never_drops_entries(tmp_path):
    ops = sorted(synthetic_keys())
    path = tmp_path / "h100-torch-fp32-b8.json"
    build_profile(FakeBackend(), "h100", 8, ops[:60], path, {"resolution": 32}, progress=False)
    backend = FakeBackend()  # like --limit, --families or --resolution: fewer or other ops than before
    table = build_profile(backend, "h100", 8, ops[50:55] + ops[60:65], path, {"resolution": 16}, progress=False)
    assert backend.calls == 5 and LatencyTable.load(path).entries.keys() == set(ops[:65])
    assert table.provenance["grid"] == {"resolution": 16} and table.provenance["previous_grids"] == [{"resolution": 32}]
    with pytest.raises(KeyboardInterrupt):  # interrupted: the partial file holds the old entries and the new ones
        build_profile(FakeBackend(interrupt_after=2), "h100", 8, ops[70:80], path, {"resolution": 8}, progress=False)
    assert len(LatencyTable.load(partial_path(path)).entries) == 67 and len(LatencyTable.load(path).entries) == 65
    table = build_profile(FakeBackend(), "h100", 8, ops[:1], path, {"resolution": 32}, progress=False)
    assert len(table.entries) == 67 and not partial_path(path).exists()
    assert {"resolution": 8} in table.provenance["previous_grids"]


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path):
    ops = sorted(synthetic_keys())[:40]
    path = tmp_path / "h100-torch-fp32-b8.json"
    with pytest.raises(KeyboardInterrupt):
        build_profile(FakeBackend(interrupt_after=25), "h100", 8, ops, path, {}, progress=False)
    partial = LatencyTable.load(partial_path(path))
    assert not partial.complete and not path.exists() and len(partial.entries) == 25
    partial.provenance["note"] = "the first call was cut short"
    partial.save(partial_path(path))
    backend = FakeBackend()
    table = build_profile(backend, "h100", 8, ops, path, {}, progress=False)
    assert backend.calls == 15 and table.complete and len(table.entries) == 40
    assert not partial_path(path).exists() and LatencyTable.load(path).entries.keys() == set(ops)
    # each call's ops and seconds are recorded, the interrupted one's too, and the note is kept
    builds = LatencyTable.load(path).provenance["builds"]
    assert [b["ops"] for b in builds] == [25, 15] and all(b["seconds"] >= 0 and b["date"] for b in builds)
    assert table.provenance["note"] == "the first call was cut short"
    build_profile(FakeBackend(), "h100", 8, ops, path, {}, progress=False)  # nothing left to time: no record
    assert len(LatencyTable.load(path).provenance["builds"]) == 2


def test_a_run_refuses_to_resume_another_profile(tmp_path):
    path = tmp_path / "h100-torch-fp32-b8.json"
    build_profile(FakeBackend(), "h100", 8, sorted(synthetic_keys())[:3], path, {}, progress=False)
    with pytest.raises(DesignerError, match="holds a different profile"):
        build_profile(FakeBackend(), "h100", 16, sorted(synthetic_keys())[:3], path, {}, progress=False)


def test_an_interrupted_validation_resumes_and_ignores_another_runs_partial(tmp_path):
    predictor = Predictor(synthetic_table())
    specs, others = (random_specs(4, 32, ["basic"], seed=seed) for seed in (0, 1))
    partial = tmp_path / "validate.partial.json"
    with pytest.raises(KeyboardInterrupt):  # another run's networks, cut short: its file reuses nothing
        measure(predictor, FakeBackend(interrupt_after=1), others, progress=False, partial=partial)
    with pytest.raises(KeyboardInterrupt):
        measure(predictor, backend := FakeBackend(interrupt_after=2), specs, progress=False, partial=partial)
    assert backend.calls == 2 and partial.exists()
    backend = FakeBackend()
    results = measure(predictor, backend, specs, progress=False, partial=partial)
    assert backend.calls == 2 and not partial.exists()
    assert [r.name for r in results] == [s.name for s in specs] and all(r.measured_ms > 0 for r in results)


def test_gpu_names_match_the_device_case_insensitively():
    check_device(FakeBackend(), "h100")
    check_device(FakeBackend(), "H100-80GB")
    with pytest.raises(DesignerError, match="a v100 profile can only be measured on a v100"):
        check_device(FakeBackend(), "v100")


def test_the_grid_covers_the_design_space_kinds_and_the_reference_networks():
    ops = set(profile_ops(224))
    assert {op.kind for op in ops} == {
        "conv",
        "conv_act",
        "conv_add",
        "conv_add_act",
        "dwconv_act",
        "se",
        "maxpool",
        "avgpool",
        "linear",
    }
    assert {op for layer in arch_layers(resnet50(224)) for op in layer_ops(layer)} <= ops
    space = SearchSpace.of("bottleneck", 224)
    assert {op.res for op in ops if op.kind == "conv_act" and op.cin >= 8} >= set(space.stage_resolutions[:-1])
    # the whole grid is sized for <= 10 minutes of H200 time in fp16 (1,813 ops took 123 s there)
    assert 1000 < len(profile_ops(224, ["bottleneck"])) < 4000
    assert len(profile_ops(224)) < 8000


def test_5x5_convs_are_timed_at_every_multiple_of_8_where_the_families_have_them():
    line = {op.cout for op in profile_ops(224) if op.kind == "conv_add_act" and op.kernel == 5 and op.res == 14}
    assert set(range(64, 513, 8)) <= line
    for dense in (True, False):  # on to 1024 channels at the last stage, in both grids
        last = {
            op.cout for op in profile_ops(224, dense=dense) if op.kind == "conv_act" and op.kernel == 5 and op.res == 7
        }
        assert set(range(64, 1025, 8)) <= last
    sparse = {op for op in profile_ops(224, dense=False) if op.kernel == 5 and op.cin == op.cout and op.res == 14}
    assert {op.cout for op in sparse if op.kind == "conv_act" and op.stride == 1} >= {96, 104, 232, 240, 304}
    mobile = profile_ops(224, ["mbv2"])  # depthwise only: no 5x5 full convs beyond the alignment probes
    assert not set(mobile) & (dense_line_ops(224) - alignment_ops(224))


def test_depthwise_convs_are_timed_on_both_sides_of_the_index_limit_at_the_profile_batch():
    plain = set(profile_ops(224, dense=False))
    for batch in (128, 256):
        probes = set(at_batch(sorted(plain), 224, batch)) - plain
        assert probes and {op.kind for op in probes} <= set(DW_KINDS)
        for kind, res, kernel, stride in {(op.kind, op.res, op.kernel, op.stride) for op in probes}:
            widths = sorted(
                op.cin for op in probes if (op.kind, op.res, op.kernel, op.stride) == (kind, res, kernel, stride)
            )
            past = [w for w in widths if batch * w * res * res >= INDEX_LIMIT]
            assert 1 <= len(past) <= INDEX_PROBES and len(widths) - len(past) <= 1
    # at batch 256 the 112 px stride-2 ones cross it between 640 and 768 channels
    at_256 = {op.cin for op in at_batch(sorted(plain), 224, 256) if op.kind in DW_KINDS and op.res == 112}
    assert {640, 768} <= at_256
    assert at_batch(profile_ops(224), 224, 8) == profile_ops(224)  # a small batch never reaches it


def test_the_sparse_grid_keeps_kinds_references_and_probes_and_thins_large_ops():
    dense, sparse = set(profile_ops(224)), set(profile_ops(224, dense=False))
    wide = {op for op in sparse if {op.cin, op.cout} & set(SPARSE_WIDE_CHANNELS)}
    last_lines = dense_line_ops(224, dense=False) - dense_line_ops(224)
    assert {op.kernel for op in last_lines} == set(SPARSE_LAST_KERNELS) and last_lines <= sparse
    assert wide and sparse - wide - last_lines < dense and len(sparse) < 0.8 * len(dense)
    assert {op.kind for op in sparse} == {op.kind for op in dense}
    assert reference_ops(224) <= sparse
    assert any(op in sparse for op in alignment_ops(224))
    largest = np.max([work(op) for op in reference_ops(224, ("resnet50",))], axis=0)
    wide_stages = SearchSpace.of("basic", 224).stage_resolutions[-WIDE_STAGES:]
    for op in dense_line_ops(224) & dense:
        assert op in sparse  # the lines are timed alike in both
    for op in sparse - reference_ops(224) - dense_line_ops(224, dense=False):
        scale = np.max(np.array(work(op)) / largest)
        assert scale <= (WORK_CAP if op.res in wide_stages else SPARSE_WORK_CAP)
        if scale > SPARSE_ABOVE and op.cout >= 64:
            assert op.cin not in SPARSE_SKIPPED and op.cout not in SPARSE_SKIPPED
