"""The recommender interface (fit / recommend / similar_items / explain), the shared base
of the models that end with user and item vectors, and the popularity baseline.

Indices are rows (users) and columns (items) of the :class:`Interactions` matrix given to
``fit``. Every model is deterministic given its ``seed`` (single-threaded training). The
models live beside this module: :mod:`~songscape.recommend.factorization` (ALS, BPR),
:mod:`~songscape.recommend.item2vec`, :mod:`~songscape.recommend.hybrid`; the registry
of names is :data:`songscape.recommend.recommenders.MODELS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import scipy.sparse as sp

from songscape.recommend.data import Interactions
from songscape.vectors import unit_rows


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest finite scores, best first (ties by index)."""
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    # ties broken by item index, so results are stable
    return part[np.lexsort((part, -scores[part]))].astype(np.int64)


class Recommender(ABC):
    """A recommender over an interaction matrix: users are rows, items columns.

    Parameters
    ----------
    seed : int
        Seed of everything random in fitting.
    """

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
        top = top_k(scores, k)
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
        self.check_fitted()
        return self._train.shape[0]

    @property
    def n_items(self) -> int:
        self.check_fitted()
        return self._train.shape[1]

    def check_fitted(self) -> None:
        """Raise RuntimeError unless the model has been fitted."""
        if self._train is None:
            raise RuntimeError(f"{self.name}: call fit() first")

    def _check_user(self, u: int) -> int:
        self.check_fitted()
        if not isinstance(u, int | np.integer) or not 0 <= u < self._train.shape[0]:
            raise IndexError(
                f"{self.name}: unknown user index {u!r} (have 0..{self._train.shape[0] - 1})"
            )
        return int(u)

    def _check_item(self, i: int) -> int:
        self.check_fitted()
        if not isinstance(i, int | np.integer) or not 0 <= i < self._train.shape[1]:
            raise IndexError(
                f"{self.name}: unknown item index {i!r} (have 0..{self._train.shape[1] - 1})"
            )
        return int(i)

    def seen_items(self, u: int) -> np.ndarray:
        """The item indices user ``u`` has in the training matrix."""
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
        top = top_k(sims, k)
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
            "seen": bool(i in set(self.seen_items(u).tolist())),
        }


class EmbeddingRecommender(Recommender):
    """Shared code for models that end with user and item vectors (score = dot product)."""

    user_vectors: np.ndarray
    item_vectors: np.ndarray

    def score_user(self, user_index: int) -> np.ndarray:
        return self.item_vectors @ self.user_vectors[user_index]

    def _item_unit(self) -> np.ndarray:
        if getattr(self, "_unit", None) is None:
            self._unit = unit_rows(self.item_vectors)
        return self._unit

    def similar_items(self, item_index: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        i = self._check_item(item_index)
        unit = self._item_unit()
        sims = (unit @ unit[i]).astype(np.float64)
        sims[i] = -np.inf
        top = top_k(sims, k)
        return top, sims[top]

    def explain(self, user_index: int, item_index: int, n: int = 5) -> dict:
        """The score and the user's listened items most similar to the item (cosine)."""
        u, i = self._check_user(user_index), self._check_item(item_index)
        seen = self.seen_items(u)
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


