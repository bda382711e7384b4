"""Ordering: the exact DP equals brute force; beam search and catalog chains behave."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from songscape.mix.order import (
    arc_cost,
    arc_targets,
    chain_from_catalog,
    order_beam,
    order_exact,
    order_tracks,
    path_cost,
    random_order_cost,
)


def random_costs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cost = rng.random((n, n))
    np.fill_diagonal(cost, np.inf)
    return cost, rng.random((n, n))


@pytest.mark.parametrize("n, seed", [(2, 0), (4, 1), (6, 2), (7, 3)])
def test_exact_order_is_the_brute_force_optimum(n, seed):
    cost, arc = random_costs(n, seed)
    best = min(path_cost(list(p), cost, arc, 0.3) for p in itertools.permutations(range(n)))
    order = order_exact(cost, arc, 0.3)
    assert sorted(order) == list(range(n))
    assert path_cost(order, cost, arc, 0.3) == pytest.approx(best)
    pinned = [p for p in itertools.permutations(range(n)) if p[0] == 1 and p[-1] == 0]
    best_pinned = min(path_cost(list(p), cost) for p in pinned)
    order = order_exact(cost, start=1, end=0)
    assert (order[0], order[-1]) == (1, 0)
    assert path_cost(order, cost) == pytest.approx(best_pinned)


def test_beam_search_beats_random_orders_on_larger_sets():
    cost, _ = random_costs(20, 5)
    order, method = order_tracks(cost)
    assert method.startswith("beam") and sorted(order) == list(range(20))
    assert path_cost(order, cost) < 0.6 * random_order_cost(cost, None, 0.0) * 1.0
    pinned = order_beam(cost, start=3, end=7)
    assert (pinned[0], pinned[-1]) == (3, 7) and sorted(pinned) == list(range(20))


def test_exact_refuses_big_sets():
    with pytest.raises(ValueError, match="at most"):
        order_exact(np.zeros((13, 13)))


def test_arc_targets_and_costs():
    t = arc_targets("warmup-peak-cooldown", 9)
    assert t.argmax() in (5, 6) and t[0] < t[5] and t[-1] < t[5]
    assert arc_targets("none", 5) is None
    assert np.all(np.diff(arc_targets("rising", 5)) > 0)
    costs = arc_cost(np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    np.testing.assert_allclose(costs, [[0, 1], [1, 0]])
    with pytest.raises(ValueError):
        arc_targets("zigzag", 3)


def test_chain_from_catalog_follows_the_cheapest_steps():
    # Tracks on a line: the cheapest step is always to the next one.
    positions = np.arange(50, dtype=float)

    def step_costs(i, candidates):
        return np.abs(positions[candidates] - positions[i] - 1.0)

    chain = chain_from_catalog(10, 6, step_costs, 50)
    assert chain == [10, 11, 12, 13, 14, 15]
    stopped = chain_from_catalog(10, 100, step_costs, 50, stop=lambda seq: len(seq) >= 3)
    assert stopped == [10, 11, 12]
