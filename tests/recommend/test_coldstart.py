"""Cold start: content -> factors mapping, fold-in of new users, the cold-start protocol."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.recommend.coldstart import (
    FactorMapper,
    evaluate_cold_start,
    fold_in_user,
    recommend_for_seed,
)
from songscape.recommend.recommenders import ALSRecommender
from songscape.synthetic.listening import (
    BLOCK,
    block_of_item,
    blocks,
    planted,
    planted_features,
)


@pytest.fixture(scope="module")
def als():
    return ALSRecommender(factors=8, regularization=5.0, seed=0).fit(planted())


@pytest.mark.parametrize("method", ["ridge", "mlp"])
def test_mapper_gives_cold_items_factors_of_their_block(als, method):
    feats = planted_features()
    cold = [0, 1, BLOCK, BLOCK + 1]
    warm = [i for i in range(2 * BLOCK) if i not in cold]
    mapper = FactorMapper(method, alpha=1.0, seed=0).fit(feats[warm], als.item_vectors[warm])
    pred = mapper.predict(feats[cold])
    assert pred.shape == (4, als.item_vectors.shape[1])
    # a cold item scores highest with the users of its own block
    for row, i in zip(pred, cold, strict=True):
        scores = als.user_vectors @ row
        group = np.arange(len(scores)) // 20
        assert scores[group == block_of_item(i)].mean() > scores[group != block_of_item(i)].mean()


def test_mapper_errors():
    with pytest.raises(ValueError, match="unknown method"):
        FactorMapper("svm")
    with pytest.raises(ValueError, match="aligned"):
        FactorMapper().fit(np.zeros((3, 2)), np.zeros((4, 2)))
    with pytest.raises(RuntimeError, match="fit"):
        FactorMapper().predict(np.zeros((1, 2)))


def test_fold_in_matches_the_user_step(als):
    """Folding a training user back in from their own items lands near their factor."""
    data = planted()
    u = 3
    seen = data.matrix[u].indices
    x = fold_in_user(als, seen, counts=data.matrix[u].data)
    cos = x @ als.user_vectors[u] / np.linalg.norm(x) / np.linalg.norm(als.user_vectors[u])
    assert cos > 0.9
    items, _ = recommend_for_seed(als, [BLOCK + 1, BLOCK + 4], k=5)
    assert all(block_of_item(i) == 1 for i in items) and BLOCK + 1 not in items
    with pytest.raises(ValueError, match="at least one"):
        fold_in_user(als, [])
    with pytest.raises(IndexError):
        fold_in_user(als, [999])


def test_cold_start_protocol_beats_random():
    inter = blocks(n_groups=4, users_per_group=40, block=30, per_user=12)
    rng = np.random.default_rng(0)
    group = np.array([int(x[1]) for x in inter.items])  # items are named b<g>i<n>
    centres = rng.standard_normal((4, 8))
    feats = centres[group] + 0.3 * rng.standard_normal((inter.n_items, 8))
    out = evaluate_cold_start(inter, feats, k=10, seed=0, methods=("ridge",),
                              als={"factors": 8, "regularization": 1.0})  # fmt: skip
    by = {r["method"]: r for r in out["results"]}
    assert set(by) == {"random", "content-knn", "als+ridge"}
    assert out["setup"]["held_out_items"] == 24 and out["setup"]["test_users"] > 100
    assert by["als+ridge"]["ndcg_at_10"] > 2 * by["random"]["ndcg_at_10"]
    assert by["content-knn"]["ndcg_at_10"] > 2 * by["random"]["ndcg_at_10"]
