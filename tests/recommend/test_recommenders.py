"""Every recommender passes one contract on a matrix with planted structure.

Two user groups (20 users each) listen only to items of their own block (items 0-14 for
group A, 15-29 for group B), each user to 8 of the block's 15 items with random counts
(:func:`songscape.synthetic.listening.planted`).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from songscape.errors import MissingExtraError
from songscape.recommend.data import Interactions
from songscape.recommend.recommenders import (
    ALSRecommender,
    BPRRecommender,
    HybridRecommender,
    Item2VecRecommender,
    PopBPRRecommender,
    PopularityRecommender,
    Recommender,
    negative_cdf,
    sample_negatives,
)
from songscape.synthetic.listening import (
    BLOCK,
    N_PER_GROUP,
    PER_USER,
    block_of_item,
    block_of_user,
    planted,
    planted_features,
)


class RecommenderContract:
    personalised = True

    def make(self) -> Recommender:
        raise NotImplementedError

    @pytest.fixture
    def data(self) -> Interactions:
        return planted()

    @pytest.fixture
    def model(self, data) -> Recommender:
        return self.make().fit(data)

    def test_name(self, model):
        assert isinstance(model.name, str) and model.name

    def test_recovers_planted_structure(self, model, data):
        k = BLOCK - PER_USER  # exactly the unseen items of the user's block
        for u in range(data.n_users):
            items, _ = model.recommend(u, k)
            if self.personalised:
                assert all(block_of_item(i) == block_of_user(u) for i in items), (u, items)
            else:
                # popularity: the most-listened unseen items, whatever the block
                listeners = np.diff(data.matrix.tocsc().indptr)
                seen = set(data.matrix[u].indices.tolist())
                best = max(listeners[i] for i in range(data.n_items) if i not in seen)
                assert listeners[items[0]] == best

    def test_excludes_seen_k_and_sorted(self, model, data):
        for u in (0, N_PER_GROUP + 3):
            seen = set(data.matrix[u].indices.tolist())
            items, scores = model.recommend(u, 5)
            assert len(items) == 5 == len(scores)
            assert not seen & set(items.tolist())
            assert len(set(items.tolist())) == 5
            assert np.all(np.diff(scores) <= 1e-9)
            items, _ = model.recommend(u, 3, exclude_seen=False)
            assert len(items) == 3
        # k larger than the candidates: all unseen (scorable) items at most
        items, _ = model.recommend(0, 1000)
        assert 0 < len(items) <= data.n_items - PER_USER

    def test_similar_items_same_block(self, model):
        for i in (0, 7, BLOCK + 2):
            items, scores = model.similar_items(i, 5)
            assert len(items) == 5 and i not in items.tolist()
            assert np.all(np.diff(scores) <= 1e-9)
            assert sum(block_of_item(j) == block_of_item(i) for j in items) >= 4, items

    def test_explain(self, model):
        items, _ = model.recommend(0, 1)
        info = model.explain(0, int(items[0]))
        assert isinstance(info, dict)
        assert info["model"] == model.name and "score" in info

    def test_unknown_user_and_item(self, model, data):
        with pytest.raises(IndexError, match="unknown user index"):
            model.recommend(data.n_users, 5)
        with pytest.raises(IndexError, match="unknown user index"):
            model.recommend(-1, 5)
        with pytest.raises(IndexError, match="unknown item index"):
            model.similar_items(data.n_items)
        with pytest.raises(ValueError):
            model.recommend(0, 0)

    def test_deterministic(self, model, data):
        again = self.make().fit(data)
        for u in (1, N_PER_GROUP + 1):
            a, sa = model.recommend(u, 5)
            b, sb = again.recommend(u, 5)
            assert a.tolist() == b.tolist()
            np.testing.assert_allclose(sa, sb, rtol=1e-5, atol=1e-6)

    def test_unfitted(self):
        with pytest.raises(RuntimeError, match="fit"):
            self.make().recommend(0, 5)


class TestPopularity(RecommenderContract):
    personalised = False

    def make(self):
        return PopularityRecommender()


class TestALS(RecommenderContract):
    def make(self):
        return ALSRecommender(factors=8, iterations=15, regularization=5.0, seed=0)


class TestBPR(RecommenderContract):
    def make(self):
        return BPRRecommender(factors=8, iterations=100, learning_rate=0.01, seed=0)


class TestItem2Vec(RecommenderContract):
    def make(self):
        return Item2VecRecommender(factors=16, window=10, epochs=50, min_count=1, seed=0)


@pytest.mark.parametrize("weighting", ["log", "bm25", "linear", "binary"])
def test_als_weightings(weighting):
    model = ALSRecommender(factors=8, regularization=5.0, weighting=weighting, seed=0)
    model.fit(planted())
    items, _ = model.recommend(0, 5)
    assert all(block_of_item(i) == 0 for i in items)


def test_unknown_weighting():
    with pytest.raises(ValueError, match="weighting"):
        ALSRecommender(weighting="nope").fit(planted())


class TestPopBPR(RecommenderContract):
    def make(self):
        return PopBPRRecommender(factors=8, epochs=100, regularization=0.05, batch_size=32, seed=0)


class TestHybrid(RecommenderContract):
    def make(self):
        return HybridRecommender(
            item_features=planted_features(missing=(3, 20)),
            als={"factors": 8, "regularization": 5.0},
            item2vec={"factors": 16, "window": 10, "epochs": 50, "min_count": 1},
        )


class TestHybridAudioOnly(RecommenderContract):
    """Only the content part: the blocks come from the planted features alone."""

    def make(self):
        return HybridRecommender(
            weights={"als": 0.0, "item2vec": 0.0, "audio": 1.0},
            item_features=planted_features(),
        )


def test_hybrid_missing_vectors_get_zero_and_parts_add_up():
    data = planted()
    model = HybridRecommender(
        weights={"als": 1.0, "item2vec": 0.0, "audio": 2.0},
        item_features=planted_features(missing=(3,)),
        als={"factors": 8, "regularization": 5.0},
    ).fit(data)
    parts = model.components(0)
    assert set(parts) == {"als", "audio"}
    assert parts["audio"][3] == 0.0
    np.testing.assert_allclose(model.score_user(0), parts["als"] + 2.0 * parts["audio"])
    info = model.explain(0, 3)
    assert set(info["parts"]) == {"als", "audio"} and info["parts"]["audio"] == 0.0
    with pytest.raises(ValueError, match="rows"):
        HybridRecommender(item_features=np.zeros((3, 4))).fit(data)
    with pytest.raises(ValueError, match="unknown hybrid part"):
        HybridRecommender(weights={"tags": 1.0})


def test_pop_bpr_negatives_follow_popularity():
    listeners = np.array([0.0, 9.0, 99.0])
    rng = np.random.default_rng(0)
    for beta, expected in (
        (0.0, [1 / 3] * 3),
        (1.0, [1 / 111, 10 / 111, 100 / 111]),
        (0.5, np.sqrt([1, 10, 100]) / np.sqrt([1, 10, 100]).sum()),
    ):
        draws = sample_negatives(negative_cdf(listeners, beta), 60_000, rng)
        share = np.bincount(draws, minlength=3) / len(draws)
        np.testing.assert_allclose(share, expected, atol=0.01)
    model = PopBPRRecommender(factors=4, epochs=5, beta=0.0, seed=1).fit(planted())
    assert np.all(np.isfinite(model.item_vectors))


def _uninstall(monkeypatch, package: str) -> None:
    """Make ``package`` (and its submodules already imported) look not installed."""
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, package, None)


@pytest.mark.parametrize(
    ("package", "make"),
    [
        ("implicit", lambda: ALSRecommender(factors=4, iterations=1)),
        ("implicit", lambda: BPRRecommender(factors=4, iterations=1)),
        ("gensim", lambda: Item2VecRecommender(factors=4, epochs=1, min_count=1)),
        ("implicit", lambda: HybridRecommender()),
    ],
)
def test_missing_recommend_extra_names_it(monkeypatch, package, make):
    _uninstall(monkeypatch, package)
    with pytest.raises(MissingExtraError, match=r"pip install 'songscape\[recommend\]'") as err:
        make().fit(planted())
    assert err.value.extra == "recommend" and err.value.module.startswith(package)
    # the models that need neither package still work
    assert len(PopularityRecommender().fit(planted()).recommend(0, 3)[0]) == 3
