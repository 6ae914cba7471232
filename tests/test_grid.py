"""The solver's priced grid (GridEvaluator): extra costs (latency) are priced only where a design
reads them, designs are priced as the network is, and the envelope bounds the cost from below."""

import numpy as np
import pytest
from support.enumeration import FULL, enumerate_all, stepped_latency

import designer.core.space as space_module
from designer.core.space import GridEvaluator, SearchSpace
from latency.predict.cache import load_predictor

SPACES = [("bottleneck", {"ratio": (1.0, 3.0)}), ("mbv2", {"ratio": (1.5, 2.0), "max_width": 16, "head_width": 32})]


def tables(evaluator):
    return [*evaluator.stem, *evaluator.head, *(t for first, rest in evaluator.stages for t in first + rest)]


@pytest.mark.parametrize("family, extra", SPACES)
def test_latency_is_priced_only_where_designs_read_it_and_designs_cost_what_their_network_does(
    family, extra, monkeypatch
):
    space = SearchSpace.of(family, **{**FULL, **extra})
    priced = []

    def counted(layer):
        value = stepped_latency(layer)
        priced.append(np.size(value))
        return value

    evaluator = GridEvaluator(space, [("latency", counted)])
    sparse, priced[:] = sum(priced), []
    monkeypatch.setattr(space_module, "_reads_pair", lambda layer, reachable: None)
    everywhere = GridEvaluator(space, [("latency", counted)])
    assert sparse < sum(priced)
    values, evaluation = enumerate_all(space, [("latency", stepped_latency)])
    ok = space.ordered(values)
    index = {name: np.searchsorted(evaluator.grids[name], values[name][ok]) for name in values}
    for table, full in zip(tables(evaluator), tables(everywhere)):
        usable = np.ones(table.terms.data.shape[1:], dtype=bool)
        if table.usable is not None:
            usable = np.broadcast_to(table.usable, usable.shape)
            assert not usable.all()
            assert np.all(usable[tuple(index[axis] for axis in table.axes)])  # every design reads usable entries
        assert np.array_equal(table.terms["latency"][usable], full.terms["latency"][usable])
    gathered = evaluator(index)
    assert np.allclose(gathered.totals["latency"], evaluation.totals["latency"][ok], rtol=1e-12)
    assert np.allclose(gathered.objective, evaluation.objective[ok], rtol=1e-12)


def test_the_enveloped_grid_is_the_least_cost_at_or_above_each_index():
    """The solver bounds measured latency, which is not monotone, with its lower envelope: at each
    entry the least latency at that or any larger index a design reads, made from the tables
    already priced."""
    predictor = load_predictor("cpu-ort-fp32-b8")
    space = SearchSpace.of("mbv2", 32, stages=3, max_width=64, ratio=(2.0, 4.0))
    raw = GridEvaluator(space, [("latency", predictor.layer_latency)])
    low = raw.enveloped()
    pairs = list(zip(tables(raw), tables(low)))
    assert any(not np.array_equal(a.terms["latency"], b.terms["latency"]) for a, b in pairs)
    assert any(table.usable is not None for table, _ in pairs)
    for table, enveloped in pairs:
        cost, bound = table.terms["latency"], enveloped.terms["latency"]
        usable = np.ones(cost.shape, dtype=bool) if table.usable is None else np.broadcast_to(table.usable, cost.shape)
        assert table.axes == enveloped.axes and np.all(bound[usable] <= cost[usable])
        for axis in range(cost.ndim):
            assert np.all(np.diff(bound, axis=axis) >= 0)
        assert bound[(0,) * cost.ndim] == cost[usable].min()
        assert np.array_equal(enveloped.terms["macs"], table.terms["macs"])
