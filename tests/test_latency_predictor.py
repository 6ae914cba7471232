from dataclasses import replace

import numpy as np
import pytest
from support.latency import relative_error, synthetic_keys, synthetic_table, true_latency

from designer.core.errors import DesignerError
from designer.core.layers import Layer
from designer.core.reference import mobilenet_v2, resnet50
from designer.core.space import GridEvaluator, SearchSpace
from designer.core.structure import arch_layers
from latency.measure.validate import random_point
from latency.predict.cache import load_predictor
from latency.predict.check import holdout_check
from latency.predict.completion import _weighted_median, complete, local_estimates
from latency.predict.ops import OpKey
from latency.predict.predictor import INDEX_LIMIT, Predictor, predict_keys, snap_up


@pytest.fixture(scope="module")
def predictor():
    return Predictor(synthetic_table())


def test_measured_ops_are_reproduced(predictor):
    keys = sorted(predictor.table.entries)
    assert relative_error(predict_keys(predictor, keys), [predictor.table.entries[k] for k in keys]).max() < 1e-6


def test_ops_between_and_beyond_the_grid_follow_the_work_model(predictor):
    # the synthetic device is linear in MACs and traffic, so off-grid shapes are predictable
    off_grid = [
        OpKey("conv_act", 48, 12, 96, 3, 1),
        OpKey("conv_add_act", 200, 24, 72, 3, 1),
        OpKey("conv_act", 1024, 56, 2048, 3, 1),  # far beyond the grid: extrapolated by work
        OpKey("dwconv_act", 512, 64, 512, 3, 1),
        OpKey("linear", 2048, 1, 1000, 1, 1),
    ]
    predicted = predict_keys(predictor, off_grid)
    assert relative_error(predicted, [true_latency(k, 8) for k in off_grid]).max() < 0.2


def test_missing_kernel_and_kinds_fall_back_sensibly():
    table = synthetic_table(keys=[k for k in synthetic_keys() if k.kind == "conv_act"])
    predictor = Predictor(table)
    queries = [
        OpKey("conv_act", 64, 16, 64, 5, 1),  # kernel 5 from kernel 3, scaled by work
        OpKey("conv_add", 64, 16, 64, 3, 1),  # variant from its sibling
        OpKey("se", 256, 16, 64, 1, 1),  # kinds without entries: roofline
        OpKey("avgpool", 256, 8, 256, 0, 0),
        OpKey("linear", 256, 1, 1000, 1, 1),
    ]
    predicted = predict_keys(predictor, queries)
    assert np.all(np.isfinite(predicted)) and np.all(predicted > 0)
    assert relative_error(predicted[:2], [true_latency(k, 8) for k in queries[:2]]).max() < 0.5


def test_layer_latency_is_vectorised_and_respects_presence(predictor):
    cin = np.arange(32, 257, 32)[:, None]
    cout = np.arange(32, 257, 32)[None, :]
    layer = Layer("conv", "main", cin, cout, 16, 3, 1)
    grid = predictor.layer_latency(layer)
    assert grid.shape == (8, 8)
    singles = [
        predictor.layer_latency(Layer("conv", "main", int(c), int(o), 16, 3, 1)) for c in cin[:, 0] for o in cout[0]
    ]
    assert np.allclose(grid.ravel(), singles)
    present = cin != cout
    masked = predictor.layer_latency(Layer("conv", "main", cin, cout, 16, 3, 1, present=present))
    assert np.all(masked[~present] == 0) and np.allclose(masked[present], grid[present])


def test_network_latency_is_the_sum_of_its_layers_and_throughput_batch_over_latency(predictor):
    spec = resnet50(32, 10)
    total = sum(predictor.layer_latency(layer) for layer in arch_layers(spec))
    assert predictor.network_latency(spec) == pytest.approx(total)
    assert predictor.throughput(spec) == pytest.approx(1000 * 8 / total)


@pytest.mark.parametrize("profile", ["synthetic", "cpu-ort-fp32-b8"])
@pytest.mark.parametrize("family", ["basic", "bottleneck", "mbv2"])
def test_every_design_grid_shape_gets_a_finite_positive_latency(profile, family):
    """The solver's latency tables over the whole default space (every width, inner width,
    kernel and stage) are finite and positive (how long pricing takes: benchmarks/solve_times.py)."""
    predictor = Predictor(synthetic_table()) if profile == "synthetic" else load_predictor(profile)
    space = SearchSpace.of(family, 224)
    evaluator = GridEvaluator(space, [("latency", predictor.layer_latency)])
    tables = [*evaluator.stem, *evaluator.head, *(t for first, rest in evaluator.stages for t in first + rest)]
    for table in tables:
        value = table.terms["latency"]
        assert np.all(np.isfinite(value)) and np.all(value >= 0)
    assert sum(float(np.max(t.terms["latency"])) for t in tables) > 0


def test_reference_networks_cost_what_their_size_suggests():
    predictor = load_predictor("cpu-ort-fp32-b8")
    assert 0 < predictor.network_latency(mobilenet_v2(32, 10)) < predictor.network_latency(resnet50(32, 10))


def test_holdout_check_on_the_synthetic_device_is_nearly_exact():
    result = holdout_check(synthetic_table(), 0.1, 0)
    assert result.count == round(0.1 * len(synthetic_keys()))
    assert result.median_abs_error < 0.02 and result.within_10pct > 0.9


@pytest.mark.parametrize("family", ["basic", "bottleneck", "mbv2"])
def test_the_solver_prices_a_design_like_its_network(family):
    predictor = load_predictor("cpu-ort-fp32-b8")
    space = SearchSpace.of(family, 32, stages=4, max_width=256)
    point = random_point(space, np.random.default_rng(3))
    values = {name: np.array([value], dtype=float) for name, value in point.items()}
    total = space.evaluate(values, [("latency", predictor.layer_latency)]).totals["latency"][0]
    assert total == pytest.approx(predictor.network_latency(space.to_spec(point)), rel=1e-9)


def test_snap_up_stays_within_the_tile():
    measured = np.array([64.0, 128.0, 512.0, 576.0, 768.0])
    channels = np.array([64.0, 72.0, 520.0, 576.0, 584.0, 1024.0])
    # 72 -> 128 (same 64-tile top), 520 -> 576; 584's tile ends at 640, before 768: unchanged
    np.testing.assert_array_equal(snap_up(channels, measured, 64), [64, 128, 576, 576, 584, 1024])


def test_tensor_core_profiles_price_off_grid_convs_at_the_tile():
    keys = [OpKey("conv_act", c, 14, c, 3, 1) for c in (256, 512, 576, 640)]
    table = replace(synthetic_table(keys=keys), backend="torch")
    fp32, fp16 = Predictor(table), Predictor(replace(table, precision="fp16"))
    cpu = Predictor(replace(table, backend="onnxruntime", precision="fp16"))
    off_grid = OpKey("conv_act", 520, 14, 520, 3, 1)
    assert fp16.snap_tile == 64 and fp32.snap_tile == 0 and cpu.snap_tile == 0
    assert predict_keys(fp16, [off_grid])[0] == pytest.approx(predict_keys(fp16, [keys[2]])[0])
    assert predict_keys(fp32, [off_grid])[0] < predict_keys(fp32, [keys[2]])[0]


def test_an_op_label_names_its_op():
    op = OpKey("conv_add_act", 184, 56, 1704, 5, 2)
    assert OpKey.from_label(op.label()) == op
    with pytest.raises(DesignerError, match="not an op label"):
        OpKey.from_label("conv 3x3")


def test_misaligned_convs_are_priced_by_their_measured_slowdown():
    def op(c: int) -> OpKey:
        return OpKey("conv_act", c, 14, c, 3, 1)

    aligned = [op(c) for c in (64, 80, 96, 112, 128, 160, 192, 256)]
    probes = [op(c) for c in (72, 88, 136, 200)]
    table = replace(synthetic_table(keys=aligned), backend="torch")
    without = Predictor(table)
    table.entries.update({key: 1.3 * true_latency(key, table.batch) for key in probes})
    with_probes = Predictor(table)
    # the slowdown is measured against what the aligned model says for the probes
    expected = np.median([table.entries[k] for k in probes] / predict_keys(without, probes))
    assert expected > 1.0
    assert with_probes.slowdown[(3, 1)] == pytest.approx(expected)
    assert Predictor(replace(table, backend="onnxruntime")).slowdown == {}  # CPUs: no tiles, no probes
    unmeasured = op(104)
    assert predict_keys(with_probes, [unmeasured])[0] == pytest.approx(
        expected * predict_keys(without, [unmeasured])[0]
    )
    # measured misaligned ops are known exactly; aligned ones are not touched
    np.testing.assert_allclose(predict_keys(with_probes, probes), [table.entries[k] for k in probes])
    np.testing.assert_allclose(predict_keys(with_probes, aligned), predict_keys(without, aligned))


def test_depthwise_convs_past_32_bit_indexing_are_priced_from_their_own_entries():
    # a device whose depthwise convs run 10x slower from INDEX_LIMIT input elements on
    batch, res = 256, 112
    first_past = -(-INDEX_LIMIT // (batch * res * res))  # 669 channels

    def op(channels: int) -> OpKey:
        return OpKey("dwconv_act", channels, res, channels, 3, 2)

    def latency(key: OpKey) -> float:
        return true_latency(key, batch) * (10.0 if key.cin >= first_past else 1.0)

    below = [op(c) for c in (64, 128, 256, 384, 512, 640)]
    table = synthetic_table(batch, keys=below)
    table.entries = {key: latency(key) for key in below}
    unaware = Predictor(table)
    past = [op(c) for c in (768, 896, 1024)]
    table.entries.update({key: latency(key) for key in past})
    aware = Predictor(table)
    for channels in (704, 960):  # between entries past the limit, and between the last below and the first past
        assert relative_error(predict_keys(aware, [op(channels)])[0], latency(op(channels))) < 0.05
    assert predict_keys(unaware, [op(960)])[0] < 0.2 * latency(op(960))  # no entries past it: the work model
    # nothing is interpolated across the cliff from below
    np.testing.assert_allclose(predict_keys(aware, [op(600)]), predict_keys(unaware, [op(600)]), rtol=1e-6)


def test_nodes_no_estimate_reaches_stay_within_the_measured_residuals():
    # a sparse grid: nodes that no estimate from measured nodes reaches are priced from the
    # measured residuals nearest them, never pushed outside them by neighbouring estimates
    nan = np.nan
    measured = np.array(
        [
            [nan, nan, -0.03, 0.11, nan, nan, nan, nan, nan, nan],
            [nan, 0.3, nan, 0.16, nan, -0.06, nan, nan, nan, nan],
            [0.07, -0.24, nan, nan, nan, nan, nan, nan, nan, nan],
        ]
    )
    known = np.isfinite(measured)
    coords = [np.log([8.0, 16.0, 24.0]), np.log(8.0 * np.arange(1, 11))]
    filled = complete(np.where(known, measured, 0.0), known, coords, np.zeros(known.shape))
    unreached = ~known & ~np.isfinite(local_estimates(np.where(known, measured, 0.0), known, coords))
    assert unreached.sum() >= 10
    assert np.all(filled[known] == measured[known])
    assert np.all((filled[unreached] >= -0.24) & (filled[unreached] <= 0.3))
    assert abs(filled[0, 9] - (-0.06)) < abs(filled[0, 9] - 0.3)  # the far end leans to its nearest measured node


def test_a_node_between_measured_nodes_of_its_line_is_interpolated_not_carried_from_another_line():
    # widths measured at every step at one resolution (a dense line, with a step at the fourth
    # width that only that resolution has), coarsely at the other: the unmeasured nodes of the
    # coarse resolution follow its own measured neighbours, not the other resolution's step
    widths = np.log(8.0 * np.arange(64, 73))
    dense_line = np.array([0.0, 0.02, 0.04, 1.0, 0.08, 0.1, 0.12, 0.14, 0.16])
    coarse_line = np.full(len(widths), np.nan)
    coarse_line[[0, 1, 8]] = [0.3, 0.32, 0.46]
    measured = np.stack([dense_line, coarse_line])
    known = np.isfinite(measured)
    coords = [np.log([7.0, 14.0]), widths]
    filled = complete(np.where(known, measured, 0.0), known, coords, np.zeros(known.shape))
    between = np.interp(widths, widths[[1, 8]], measured[1, [1, 8]])
    np.testing.assert_allclose(filled[1, 2:8], between[2:8], atol=0.05)


def test_the_weighted_median_of_the_estimates_ignores_those_without_weight():
    # most estimates of most nodes have no weight; the median over the weighted ones alone is the
    # weighted median over all of them, taken here the plain way (every estimate sorted)
    rng = np.random.default_rng(0)
    shape = (40, 30)
    estimates = [rng.normal(size=shape).round(1) for _ in range(25)]  # rounded: ties between estimates
    weights = [np.where(rng.random(shape) < 0.1, rng.choice([0.5, 1.0, 2.0], size=shape), 0.0) for _ in range(25)]
    stacked, stacked_weights = np.stack(estimates, -1), np.stack(weights, -1)
    order = np.argsort(stacked, axis=-1, kind="stable")
    cumulative = np.cumsum(np.take_along_axis(stacked_weights, order, -1), -1)
    pick = np.argmax(cumulative >= cumulative[..., -1:] / 2, -1)
    plain = np.take_along_axis(np.take_along_axis(stacked, order, -1), pick[..., None], -1)[..., 0]
    plain = np.where(cumulative[..., -1] > 0, plain, np.nan)
    assert np.isnan(plain).any() and np.isfinite(plain).any()
    np.testing.assert_array_equal(_weighted_median(estimates, weights), plain)
