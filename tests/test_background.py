"""The relaxation refined beside the caller (``designer.core.background``): in a forked process
and on a thread, it proves what the refinement proves in the caller's thread, takes a better
target sent in, raises what it raised, and stops when told."""

import multiprocessing
import multiprocessing.dummy

import numpy as np
import pytest
from support.enumeration import feasible
from test_relaxation import PROVING_CASES, design, setup

import designer.core.background as background
from designer.core.background import BackgroundRelaxation

CONTEXTS = {
    "fork": lambda: multiprocessing.get_context("fork"),  # Linux
    "thread": lambda: multiprocessing.dummy,  # elsewhere
}


def proving_case():
    """The first small space that the refinement alone proves, its root box, and the enumerated
    optimum's objective and multipliers."""
    space, problem, values, index, evaluation, limits = setup(*PROVING_CASES[0])
    ok = feasible(space, values, evaluation, PROVING_CASES[0][-1], limits)
    best = int(np.flatnonzero(ok)[np.argmax(evaluation.objective[ok])])
    box = {name: (0, len(grid) - 1) for name, grid in problem.grids.items()}
    return problem, box, float(evaluation.objective[best]), problem.relaxation.start(design(index, best))


def test_a_target_sent_in_closes_the_pieces_it_beats():
    """Started with no target (nothing closes), the refinement proves the optimum once it is sent in."""
    problem, box, optimum, start = proving_case()
    refined = problem.relaxation.refine(box, start, -np.inf)
    bounds = [next(refined).bound]
    for relaxed in iter(lambda: refined.send(optimum), None):
        bounds.append(relaxed.bound)
        if relaxed.bound == -np.inf:
            break
    assert bounds[0] > optimum and bounds[-1] == -np.inf


@pytest.mark.parametrize("context", CONTEXTS)
def test_beside_the_caller_it_proves_the_optimum(context, monkeypatch):
    monkeypatch.setattr(background, "_context", CONTEXTS[context])
    problem, box, optimum, start = proving_case()
    refining = BackgroundRelaxation(problem.relaxation, box, start, optimum, np.inf)
    chosen = []
    while not refining.done:
        chosen += refining.poll(timeout=1.0)
    refining.finish()
    assert refining.cap == -np.inf and chosen
    assert all(box[name][0] <= point[name] <= box[name][1] for point in chosen for name in point)


@pytest.mark.parametrize("context", CONTEXTS)
def test_what_the_refinement_raises_is_raised(context, monkeypatch):
    monkeypatch.setattr(background, "_context", CONTEXTS[context])
    problem, box, optimum, start = proving_case()

    def broken(*args, **kwargs):
        raise ValueError("a broken refinement")
        yield

    monkeypatch.setattr(problem.relaxation, "refine", broken)
    refining = BackgroundRelaxation(problem.relaxation, box, start, optimum, np.inf)
    with pytest.raises(ValueError, match="a broken refinement"):
        refining.finish()


@pytest.mark.parametrize("context", CONTEXTS)
def test_told_to_stop_it_ends_before_its_next_dp(context, monkeypatch):
    """With no target and no deadline it would cut pieces for long; told to stop, it ends by
    itself (it sends its last message rather than being terminated)."""
    monkeypatch.setattr(background, "_context", CONTEXTS[context])
    problem, box, _, start = proving_case()
    refining = BackgroundRelaxation(problem.relaxation, box, start, -np.inf, np.inf)
    refining.poll(timeout=30.0)  # the root's bound
    refining.finish(wait=False)
    assert refining.done and refining.error is None and not refining.worker.is_alive()
