"""Metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from songscape.evaluation import ranking as metrics

REC = ["a", "b", "c", "d"]
REL = {"a", "c", "x"}


def test_precision_recall():
    assert metrics.precision_at_k(REC, REL, 2) == pytest.approx(1 / 2)
    assert metrics.precision_at_k(REC, REL, 4) == pytest.approx(2 / 4)
    # fewer recommendations than k: missing slots are misses
    assert metrics.precision_at_k(["a"], REL, 10) == pytest.approx(0.1)
    assert metrics.recall_at_k(REC, REL, 4) == pytest.approx(2 / 3)
    assert metrics.recall_at_k(REC, REL, 1) == pytest.approx(1 / 3)


def test_ndcg():
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics.ndcg_at_k(REC, REL, 4) == pytest.approx(dcg / idcg)
    assert metrics.ndcg_at_k(["a", "c", "x"], REL, 3) == pytest.approx(1.0)
    assert metrics.ndcg_at_k(["q"], REL, 3) == 0.0
    # ideal list truncated at k
    assert metrics.ndcg_at_k(["b", "a"], REL, 2) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )


def test_map():
    ap = metrics.average_precision_at_k(REC, REL, 4)
    assert ap == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert metrics.average_precision_at_k(["b", "a"], {"a"}, 2) == pytest.approx(0.5)
    assert metrics.map_at_k([REC, ["b", "a"]], [REL, {"a"}], 4) == pytest.approx((ap + 0.5) / 2)


def test_coverage_and_novelty():
    assert metrics.catalog_coverage([[0, 1], [1, 2]], 10) == pytest.approx(0.3)
    listeners = np.array([3, 1, 0])
    # p = (listeners + 1) / (n_users + 1) with n_users = 3
    want = np.mean([-math.log2(4 / 4), -math.log2(2 / 4)])
    assert metrics.novelty([[0, 1]], listeners, 3) == pytest.approx(want)
    assert metrics.novelty([[2]], listeners, 3) == pytest.approx(2.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: metrics.precision_at_k(["a"], {"a"}, 0),
        lambda: metrics.precision_at_k(["a", "a"], {"a"}, 2),
        lambda: metrics.recall_at_k(["a"], set(), 2),
        lambda: metrics.map_at_k([["a"]], [], 2),
        lambda: metrics.catalog_coverage([["a"]], 0),
        lambda: metrics.novelty([[0]], np.array([5]), 3),
    ],
)
def test_invalid_inputs(call):
    with pytest.raises(ValueError):
        call()
