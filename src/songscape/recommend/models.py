"""Recommenders behind one interface: fit / recommend / similar_items / explain.

Indices are rows (users) and columns (items) of the :class:`Interactions` matrix given to
``fit``. Every model is deterministic given its ``seed`` (single-threaded training).
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod

import numpy as np
import scipy.sparse as sp

from songscape.recommend.data import Interactions


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    # ties broken by item index, so results are stable
    return part[np.lexsort((part, -scores[part]))].astype(np.int64)


class Recommender(ABC):
    name: str = "base"

    def __init__(self, seed: int = 0):
        self.seed = seed
        self._train: sp.csr_matrix | None = None

    # -- the interface -------------------------------------------------------------
    def fit(self, interactions: Interactions | sp.spmatrix) -> Recommender:
        m = interactions.matrix if isinstance(interactions, Interactions) else interactions
        m = sp.csr_matrix(m, dtype=np.float32)
        if m.nnz == 0:
            raise ValueError("cannot fit on an empty interaction matrix")
        self._train = m
        self._fit(m)
        return self

    def recommend(
        self, user_index: int, k: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item indices and their scores (descending)."""
        u = self._check_user(user_index)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        scores = self.score_user(u).astype(np.float64, copy=True)
        if exclude_seen:
            row = self._train.indices[self._train.indptr[u] : self._train.indptr[u + 1]]
            scores[row] = -np.inf
        top = _top_k(scores, k)
        return top, scores[top]

    @abstractmethod
    def score_user(self, user_index: int) -> np.ndarray:
        """Scores of every item for one (checked) user; higher is better."""

    @abstractmethod
    def similar_items(self, item_index: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The k items most similar to an item (itself excluded), with scores."""

    @abstractmethod
    def explain(self, user_index: int, item_index: int) -> dict:
        """Why ``item_index`` is scored as it is for ``user_index`` (JSON-able)."""

    @abstractmethod
    def _fit(self, matrix: sp.csr_matrix) -> None: ...

    # -- helpers -------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        self._check_fitted()
        return self._train.shape[0]

    @property
    def n_items(self) -> int:
        self._check_fitted()
        return self._train.shape[1]

    def _check_fitted(self) -> None:
        if self._train is None:
            raise RuntimeError(f"{self.name}: call fit() first")

    def _check_user(self, u: int) -> int:
        self._check_fitted()
        if not isinstance(u, int | np.integer) or not 0 <= u < self._train.shape[0]:
            raise IndexError(
                f"{self.name}: unknown user index {u!r} (have 0..{self._train.shape[0] - 1})"
            )
        return int(u)

    def _check_item(self, i: int) -> int:
        self._check_fitted()
        if not isinstance(i, int | np.integer) or not 0 <= i < self._train.shape[1]:
            raise IndexError(
                f"{self.name}: unknown item index {i!r} (have 0..{self._train.shape[1] - 1})"
            )
        return int(i)

    def _seen(self, u: int) -> np.ndarray:
        return self._train.indices[self._train.indptr[u] : self._train.indptr[u + 1]]


class PopularityRecommender(Recommender):
    """Items ranked by number of listeners (the baseline every model must beat)."""

    name = "popularity"

    def _fit(self, matrix: sp.csr_matrix) -> None:
        self.listeners = np.diff(matrix.tocsc().indptr).astype(np.float64)
        # co-occurrence cosine for similar_items
        b = (matrix > 0).astype(np.float32).tocsc()
        norms = np.sqrt(np.maximum(self.listeners, 1.0))
        self._bin, self._norms = b, norms

    def score_user(self, user_index: int) -> np.ndarray:
        return self.listeners

    def similar_items(self, item_index: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        i = self._check_item(item_index)
        co = np.asarray((self._bin.T @ self._bin[:, i]).todense()).ravel()
        sims = co / (self._norms * self._norms[i])
        sims[i] = -np.inf
        sims[co == 0] = -np.inf
        top = _top_k(sims, k)
        return top, sims[top]

    def explain(self, user_index: int, item_index: int) -> dict:
        u, i = self._check_user(user_index), self._check_item(item_index)
        rank = int((self.listeners > self.listeners[i]).sum()) + 1
        return {
            "model": self.name,
            "user": u,
            "item": i,
            "score": float(self.listeners[i]),
            "reason": f"listened to by {int(self.listeners[i])} users (popularity rank {rank})",
            "seen": bool(i in set(self._seen(u).tolist())),
        }


class _EmbeddingRecommender(Recommender):
    """Shared code for models that end with user and item vectors (score = dot product)."""

    user_vectors: np.ndarray
    item_vectors: np.ndarray

    def score_user(self, user_index: int) -> np.ndarray:
        return self.item_vectors @ self.user_vectors[user_index]

    def _item_unit(self) -> np.ndarray:
        if getattr(self, "_unit", None) is None:
            norms = np.linalg.norm(self.item_vectors, axis=1, keepdims=True)
            self._unit = self.item_vectors / np.maximum(norms, 1e-12)
        return self._unit

    def similar_items(self, item_index: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        i = self._check_item(item_index)
        unit = self._item_unit()
        sims = (unit @ unit[i]).astype(np.float64)
        sims[i] = -np.inf
        top = _top_k(sims, k)
        return top, sims[top]

    def explain(self, user_index: int, item_index: int, n: int = 5) -> dict:
        """The score and the user's listened items most similar to the item (cosine)."""
        u, i = self._check_user(user_index), self._check_item(item_index)
        seen = self._seen(u)
        unit = self._item_unit()
        sims = unit[seen] @ unit[i] if len(seen) else np.zeros(0)
        order = np.argsort(-sims, kind="stable")[:n]
        return {
            "model": self.name,
            "user": u,
            "item": i,
            "score": float(self.score_user(u)[i]),
            "because_you_listened": [
                {"item": int(seen[j]), "similarity": float(sims[j])} for j in order
            ],
            "seen": bool(i in set(seen.tolist())),
        }


def _one_blas_thread():
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
        from implicit.nearest_neighbours import bm25_weight

        m = (bm25_weight(m, K1=100, B=0.8) * alpha).tocsr().astype(np.float32)
    elif weighting == "linear":
        m.data = (alpha * m.data).astype(np.float32)
    elif weighting == "binary":
        m.data = np.full_like(m.data, alpha, dtype=np.float32)
    else:
        raise ValueError(f"unknown weighting {weighting!r} (log, bm25, linear, binary)")
    return m


class ALSRecommender(_EmbeddingRecommender):
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
        from implicit.cpu.als import AlternatingLeastSquares

        with _one_blas_thread():
            model = AlternatingLeastSquares(
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


class BPRRecommender(_EmbeddingRecommender):
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
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        model = BayesianPersonalizedRanking(
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


def _stable_hash(text: str) -> int:
    """gensim seeds vectors with hash(word + seed); Python's str hash varies per process."""
    return zlib.crc32(text.encode("utf-8"))


class Item2VecRecommender(_EmbeddingRecommender):
    """item2vec (Barkan & Koenigstein 2016): skip-gram Word2Vec where each user's items form
    one "sentence" (ordered by play count, most played first; a large window makes the order
    matter little). A user is the mean of their items' unit vectors; items score by cosine.
    Items with fewer than ``min_count`` listeners get no vector (their vectors are noise that
    floods recommendations with the long tail) and score -inf."""

    name = "item2vec"

    def __init__(
        self,
        factors: int = 64,
        window: int = 50,
        epochs: int = 5,
        negative: int = 5,
        min_count: int = 30,
        seed: int = 0,
    ):
        super().__init__(seed)
        self.factors, self.window, self.epochs, self.negative = factors, window, epochs, negative
        self.min_count = min_count

    def _fit(self, matrix: sp.csr_matrix) -> None:
        from gensim.models import Word2Vec

        sentences = []
        for u in range(matrix.shape[0]):
            lo, hi = matrix.indptr[u], matrix.indptr[u + 1]
            idx, cnt = matrix.indices[lo:hi], matrix.data[lo:hi]
            order = np.lexsort((idx, -cnt))
            if len(idx):
                sentences.append([str(int(j)) for j in idx[order]])
        model = Word2Vec(
            sentences,
            vector_size=self.factors,
            window=self.window,
            min_count=self.min_count,
            sg=1,
            negative=self.negative,
            sample=0,
            epochs=self.epochs,
            seed=self.seed,
            workers=1,
            hashfxn=_stable_hash,
        )
        vecs = np.zeros((matrix.shape[1], self.factors), dtype=np.float32)
        known = np.zeros(matrix.shape[1], dtype=bool)
        for word, row in model.wv.key_to_index.items():
            vecs[int(word)] = model.wv.vectors[row]
            known[int(word)] = True
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        self.item_vectors = vecs / np.maximum(norms, 1e-12)
        self._known = known
        users = np.zeros((matrix.shape[0], self.factors), dtype=np.float32)
        for u in range(matrix.shape[0]):
            seen = matrix.indices[matrix.indptr[u] : matrix.indptr[u + 1]]
            if len(seen):
                mean = self.item_vectors[seen].mean(axis=0)
                users[u] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        self.user_vectors = users
        self._unit = self.item_vectors

    def score_user(self, user_index: int) -> np.ndarray:
        scores = (self.item_vectors @ self.user_vectors[user_index]).astype(np.float64)
        scores[~self._known] = -np.inf
        return scores

    def similar_items(self, item_index: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        i = self._check_item(item_index)
        sims = (self.item_vectors @ self.item_vectors[i]).astype(np.float64)
        sims[~self._known] = -np.inf
        sims[i] = -np.inf
        top = _top_k(sims, k)
        return top, sims[top]


MODELS: dict[str, type[Recommender]] = {
    "popularity": PopularityRecommender,
    "als": ALSRecommender,
    "bpr": BPRRecommender,
    "item2vec": Item2VecRecommender,
}


def make_model(name: str, seed: int = 0) -> Recommender:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} (choose from {', '.join(MODELS)})")
    return MODELS[name](seed=seed)
