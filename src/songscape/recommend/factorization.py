"""Matrix factorisation recommenders: implicit-feedback ALS and BPR (the ``implicit``
library, CPU) and BPR with popularity-aware negative sampling (numpy).

``implicit`` comes with the ``recommend`` extra; fitting ALS or BPR without it raises
:class:`~songscape.errors.MissingExtraError`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from songscape.extras import require
from songscape.recommend.base import EmbeddingRecommender


def _one_blas_thread():
    # implicit warns and slows down when BLAS runs its own threads beside its workers
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, "blas")


def confidence(matrix: sp.csr_matrix, weighting: str = "log", alpha: float = 1.0) -> sp.csr_matrix:
    """Confidence weights from play counts: ``log`` = alpha * log1p(count) (the default: play
    counts are heavy-tailed), ``bm25`` (implicit's bm25_weight, K1=100, B=0.8) times alpha,
    ``linear`` = alpha * count, ``binary`` = alpha."""
    m = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    if weighting == "log":
        m.data = (alpha * np.log1p(m.data)).astype(np.float32)
    elif weighting == "bm25":
        nn = require("implicit.nearest_neighbours", "recommend", "BM25 confidence weighting")
        m = (nn.bm25_weight(m, K1=100, B=0.8) * alpha).tocsr().astype(np.float32)
    elif weighting == "linear":
        m.data = (alpha * m.data).astype(np.float32)
    elif weighting == "binary":
        m.data = np.full_like(m.data, alpha, dtype=np.float32)
    else:
        raise ValueError(f"unknown weighting {weighting!r} (log, bm25, linear, binary)")
    return m


class ALSRecommender(EmbeddingRecommender):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) via the ``implicit`` library, CPU."""

    name = "als"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        iterations: int = 15,
        weighting: str = "bm25",
        alpha: float = 1.0,
        threads: int = 1,
        seed: int = 0,
    ):
        super().__init__(seed)
        self.factors, self.regularization, self.iterations = factors, regularization, iterations
        self.weighting, self.alpha, self.threads = weighting, alpha, threads

    def _fit(self, matrix: sp.csr_matrix) -> None:
        als = require("implicit.cpu.als", "recommend", "the ALS recommender")
        with _one_blas_thread():
            model = als.AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                iterations=self.iterations,
                alpha=1.0,
                random_state=self.seed,
                num_threads=self.threads,
            )
            model.fit(confidence(matrix, self.weighting, self.alpha), show_progress=False)
        self.user_vectors = np.asarray(model.user_factors)
        self.item_vectors = np.asarray(model.item_factors)
        self._unit = None


class BPRRecommender(EmbeddingRecommender):
    """Bayesian Personalised Ranking (Rendle et al. 2009) via ``implicit``, CPU. BPR uses
    only whether a pair was played (counts are binarised by implicit)."""

    name = "bpr"

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
        threads: int = 1,
        seed: int = 0,
    ):
        super().__init__(seed)
        self.factors, self.learning_rate = factors, learning_rate
        self.regularization, self.iterations, self.threads = regularization, iterations, threads

    def _fit(self, matrix: sp.csr_matrix) -> None:
        bpr = require("implicit.cpu.bpr", "recommend", "the BPR recommender")
        model = bpr.BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            random_state=self.seed,
            num_threads=self.threads,
        )
        model.fit(matrix, show_progress=False)
        # implicit appends a bias column to item factors and a 1 to user factors
        self.user_vectors = np.asarray(model.user_factors)
        self.item_vectors = np.asarray(model.item_factors)
        self._unit = None


def negative_cdf(listeners: np.ndarray, beta: float) -> np.ndarray:
    """CDF of popularity-aware negative sampling: P(item) ∝ (listeners + 1) ** beta."""
    p = np.power(np.asarray(listeners, dtype=np.float64) + 1.0, beta)
    return np.cumsum(p / p.sum())


def sample_negatives(cdf: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` item indices drawn from :func:`negative_cdf`'s distribution."""
    return np.minimum(np.searchsorted(cdf, rng.random(n)), len(cdf) - 1).astype(np.int64)


class PopBPRRecommender(EmbeddingRecommender):
    """BPR with popularity-aware negative sampling (numpy, mini-batch SGD).

    ``implicit``'s BPR draws negatives uniformly, so most negatives are obscure items the
    user never had a chance to meet and the model learns little from them. Here a
    negative item is drawn with probability proportional to ``listeners ** beta``
    (``beta`` = 0 is uniform, 1 in proportion to popularity; rejected and redrawn when the
    user has played it), which pushes popular-but-unplayed items down (Rendle &
    Freudenthaler 2014 discuss adaptive variants). Item biases are learned; scores are
    ``user · item + bias``.
    """

    name = "bpr-pop"

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        epochs: int = 30,
        beta: float = 0.5,
        batch_size: int = 1024,
        seed: int = 0,
    ):
        super().__init__(seed)
        self.factors, self.learning_rate = factors, learning_rate
        self.regularization = regularization
        self.epochs, self.beta, self.batch_size = epochs, beta, batch_size

    def _fit(self, matrix: sp.csr_matrix) -> None:
        rng = np.random.default_rng(self.seed)
        n_users, n_items = matrix.shape
        users = np.repeat(np.arange(n_users), np.diff(matrix.indptr))
        pos = matrix.indices.astype(np.int64)
        listeners = np.diff(matrix.tocsc().indptr).astype(np.float64)
        cdf = negative_cdf(listeners, self.beta)
        seen = set((users * n_items + pos).tolist())
        scale = 1.0 / np.sqrt(self.factors)
        uv = rng.normal(0, scale, (n_users, self.factors))
        iv = rng.normal(0, scale, (n_items, self.factors))
        bias = np.zeros(n_items)
        lr, reg = self.learning_rate, self.regularization
        for _ in range(self.epochs):
            order = rng.permutation(len(pos))
            for start in range(0, len(order), self.batch_size):
                b = order[start : start + self.batch_size]
                u, i = users[b], pos[b]
                j = sample_negatives(cdf, len(b), rng)
                for _retry in range(3):  # redraw negatives the user has played
                    bad = np.fromiter((x in seen for x in (u * n_items + j).tolist()), bool, len(b))
                    if not bad.any():
                        break
                    j[bad] = sample_negatives(cdf, int(bad.sum()), rng)
                keep = ~np.fromiter((x in seen for x in (u * n_items + j).tolist()), bool, len(b))
                u, i, j = u[keep], i[keep], j[keep]
                wu, wi, wj = uv[u], iv[i], iv[j]
                x = np.einsum("ij,ij->i", wu, wi - wj) + bias[i] - bias[j]
                g = 1.0 / (1.0 + np.exp(np.clip(x, -30, 30)))  # sigmoid(-x)
                np.add.at(uv, u, lr * (g[:, None] * (wi - wj) - reg * wu))
                np.add.at(iv, i, lr * (g[:, None] * wu - reg * wi))
                np.add.at(iv, j, lr * (-g[:, None] * wu - reg * wj))
                np.add.at(bias, i, lr * (g - reg * bias[i]))
                np.add.at(bias, j, lr * (-g - reg * bias[j]))
        # fold the bias in as an extra dimension, as implicit does
        self.user_vectors = np.hstack([uv, np.ones((n_users, 1))]).astype(np.float32)
        self.item_vectors = np.hstack([iv, bias[:, None]]).astype(np.float32)
        self._unit = None


