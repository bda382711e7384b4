"""Recommenders behind one interface: fit / recommend / similar_items / explain.

Indices are rows (users) and columns (items) of the :class:`Interactions` matrix given to
``fit``. Every model is deterministic given its ``seed`` (single-threaded training).
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from songscape.recommend.data import Interactions
from songscape.vectors import unit_rows, unit_rows_with_mask


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
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


def user_sentences(matrix: sp.csr_matrix, tokens: Sequence[str]) -> list[list[str]]:
    """Each user's items as a "sentence" of ``tokens[item]``, most played first (ties by
    item index); users without items are left out."""
    out = []
    for u in range(matrix.shape[0]):
        lo, hi = matrix.indptr[u], matrix.indptr[u + 1]
        idx, cnt = matrix.indices[lo:hi], matrix.data[lo:hi]
        if len(idx):
            out.append([tokens[j] for j in idx[np.lexsort((idx, -cnt))]])
    return out


def train_skipgram(
    sentences: list[list[str]],
    factors: int,
    window: int,
    min_count: int,
    negative: int,
    ns_exponent: float,
    sample: float,
    epochs: int,
    seed: int,
    trim_rule=None,
):
    """A seeded, single-threaded (so reproducible) skip-gram gensim ``Word2Vec``; negatives
    are drawn from token frequency ** ``ns_exponent`` (popularity-aware sampling)."""
    from gensim.models import Word2Vec

    return Word2Vec(
        sentences,
        vector_size=factors,
        window=window,
        min_count=min_count,
        sg=1,
        negative=negative,
        ns_exponent=ns_exponent,
        sample=sample,
        epochs=epochs,
        seed=seed,
        workers=1,
        hashfxn=_stable_hash,
        trim_rule=trim_rule,
    )


class Item2VecRecommender(_EmbeddingRecommender):
    """item2vec (Barkan & Koenigstein 2016): skip-gram Word2Vec where each user's items form
    one "sentence" (ordered by play count, most played first; a large window makes the order
    matter little). A user is the mean of their items' unit vectors; items score by cosine.
    Items with fewer than ``min_count`` listeners get no vector (their vectors are noise that
    floods recommendations with the long tail) and score -inf.

    Negative sampling is popularity-aware: negatives are drawn from the unigram (listener
    count) distribution raised to ``ns_exponent`` (word2vec's 0.75 by default; 1 samples in
    proportion to popularity, 0 uniformly, negative values favour rare items)."""

    name = "item2vec"

    def __init__(
        self,
        factors: int = 64,
        window: int = 50,
        epochs: int = 5,
        negative: int = 5,
        min_count: int = 30,
        ns_exponent: float = 0.75,
        seed: int = 0,
    ):
        super().__init__(seed)
        self.factors, self.window, self.epochs, self.negative = factors, window, epochs, negative
        self.min_count, self.ns_exponent = min_count, ns_exponent

    def _fit(self, matrix: sp.csr_matrix) -> None:
        tokens = [str(j) for j in range(matrix.shape[1])]
        model = train_skipgram(
            user_sentences(matrix, tokens), self.factors, self.window, self.min_count,
            self.negative, self.ns_exponent, 0, self.epochs, self.seed,
        )  # fmt: skip
        vecs = np.zeros((matrix.shape[1], self.factors), dtype=np.float32)
        known = np.zeros(matrix.shape[1], dtype=bool)
        for word, row in model.wv.key_to_index.items():
            vecs[int(word)] = model.wv.vectors[row]
            known[int(word)] = True
        self.item_vectors = unit_rows(vecs)
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
        top = top_k(sims, k)
        return top, sims[top]


def negative_cdf(listeners: np.ndarray, beta: float) -> np.ndarray:
    """CDF of popularity-aware negative sampling: P(item) ∝ (listeners + 1) ** beta."""
    p = np.power(np.asarray(listeners, dtype=np.float64) + 1.0, beta)
    return np.cumsum(p / p.sum())


def sample_negatives(cdf: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` item indices drawn from :func:`negative_cdf`'s distribution."""
    return np.minimum(np.searchsorted(cdf, rng.random(n)), len(cdf) - 1).astype(np.int64)


class PopBPRRecommender(_EmbeddingRecommender):
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


def _zscore(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Standardise over the items in ``mask`` (all by default); the others get 0."""
    out = np.zeros(len(values), dtype=np.float64)
    m = np.isfinite(values) if mask is None else (mask & np.isfinite(values))
    if m.sum() < 2:
        return out
    v = values[m].astype(np.float64)
    sd = v.std()
    out[m] = (v - v.mean()) / sd if sd > 0 else 0.0
    return out


DEFAULT_HYBRID_WEIGHTS = {"als": 1.0, "item2vec": 0.75, "audio": 0.5}


class HybridRecommender(Recommender):
    """A blend of collaborative filtering and content similarity.

    ``score(u, i) = w_als · z(ALS score) + w_item2vec · z(cos(item2vec profile of u, i))
    + w_audio · z(cos(audio profile of u, i))``, where ``z`` standardises a part over the
    items (mean 0, sd 1, per user) and a profile is the count-weighted (log1p) mean of the
    unit vectors of the user's items. An item with no vector for a part (no item2vec
    vector: too few listeners; no ``item_features`` row: no audio) gets 0 for that part,
    the mean, so it neither wins nor loses by it. A part whose weight is 0 is not fitted.

    Parameters
    ----------
    weights : dict, optional
        ``{"als", "item2vec", "audio"}`` weights (default :data:`DEFAULT_HYBRID_WEIGHTS`;
        the audio part only counts when ``item_features`` are given).
    item_features : ndarray, optional
        (n_items, d) content vectors aligned with the items (audio embeddings from the
        library, tag vectors, ...); rows of zeros or NaN mean "no vector".
    item2vec_vectors : ndarray, optional
        (n_items, d) item2vec vectors trained elsewhere (e.g. on playlists or sessions,
        :mod:`songscape.recommend.words`); default: an :class:`Item2VecRecommender` is
        fitted on the interactions.
    als, item2vec : dict, optional
        Keyword arguments of the :class:`ALSRecommender` / :class:`Item2VecRecommender`.
    seed : int
        Seed of the parts.
    """

    name = "hybrid"

    def __init__(
        self,
        weights: dict[str, float] | None = None,
        item_features: np.ndarray | None = None,
        item2vec_vectors: np.ndarray | None = None,
        als: dict | None = None,
        item2vec: dict | None = None,
        seed: int = 0,
    ):
        super().__init__(seed)
        w = dict(DEFAULT_HYBRID_WEIGHTS)
        unknown = set(weights or {}) - set(w)
        if unknown:
            raise ValueError(f"unknown hybrid part(s) {sorted(unknown)} (als, item2vec, audio)")
        w.update(weights or {})
        if any(v < 0 for v in w.values()) or not any(v > 0 for v in w.values()):
            raise ValueError("hybrid weights must be >= 0 and not all 0")
        self.weights = w
        self.item_features = item_features
        self.item2vec_vectors = item2vec_vectors
        self.als_params, self.item2vec_params = dict(als or {}), dict(item2vec or {})
        self.parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _fit(self, matrix: sp.csr_matrix) -> None:
        n_items = matrix.shape[1]
        self.parts = {}
        self.als = None
        if self.weights["als"] > 0:
            self.als = ALSRecommender(seed=self.seed, **self.als_params)
            self.als.fit(matrix)
            self.parts["als"] = unit_rows_with_mask(self.als.item_vectors)
        if self.weights["item2vec"] > 0:
            if self.item2vec_vectors is not None:
                vecs = np.asarray(self.item2vec_vectors)
                if vecs.shape[0] != n_items:
                    raise ValueError(f"item2vec_vectors has {vecs.shape[0]} rows, not {n_items}")
                self.parts["item2vec"] = unit_rows_with_mask(vecs)
            else:
                params = {"min_count": 5, **self.item2vec_params}
                i2v = Item2VecRecommender(seed=self.seed, **params)
                i2v._fit(matrix)
                self.parts["item2vec"] = (i2v.item_vectors, i2v._known.copy())
        if self.weights["audio"] > 0 and self.item_features is not None:
            feats = np.asarray(self.item_features)
            if feats.shape[0] != n_items:
                raise ValueError(f"item_features has {feats.shape[0]} rows, not {n_items}")
            self.parts["audio"] = unit_rows_with_mask(feats)

    def _profile(self, u: int, part: str) -> np.ndarray | None:
        vecs, ok = self.parts[part]
        lo, hi = self._train.indptr[u], self._train.indptr[u + 1]
        idx, cnt = self._train.indices[lo:hi], self._train.data[lo:hi]
        keep = ok[idx]
        if not keep.any():
            return None
        w = np.log1p(cnt[keep]).astype(np.float32)
        prof = (vecs[idx[keep]] * w[:, None]).sum(axis=0)
        n = float(np.linalg.norm(prof))
        return prof / n if n > 0 else None

    def components(self, user_index: int) -> dict[str, np.ndarray]:
        """The standardised part scores of every item for one user (before weighting)."""
        u = self._check_user(user_index)
        out = {}
        if self.als is not None:
            out["als"] = _zscore(self.als.score_user(u))
        for part in ("item2vec", "audio"):
            if part not in self.parts:
                continue
            vecs, ok = self.parts[part]
            prof = self._profile(u, part)
            if prof is None:
                out[part] = np.zeros(self.n_items)
            else:
                out[part] = _zscore((vecs @ prof).astype(np.float64), ok)
        return out

    def score_user(self, user_index: int) -> np.ndarray:
        total = np.zeros(self.n_items)
        for part, values in self.components(user_index).items():
            total += self.weights[part] * values
        return total

    def similar_items(self, item_index: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        i = self._check_item(item_index)
        sims = np.zeros(self.n_items)
        for part, (vecs, ok) in self.parts.items():
            if ok[i]:
                sims += self.weights[part] * np.where(ok, vecs @ vecs[i], 0.0)
        sims[i] = -np.inf
        top = top_k(sims, k)
        return top, sims[top]

    def explain(self, user_index: int, item_index: int, n: int = 5) -> dict:
        """The weighted parts of the score and the user's items closest to the item."""
        u, i = self._check_user(user_index), self._check_item(item_index)
        comps = self.components(u)
        parts = {p: round(float(self.weights[p] * v[i]), 4) for p, v in comps.items()}
        seen = self._seen(u)
        sims = np.zeros(len(seen))
        for part, (vecs, ok) in self.parts.items():
            if ok[i]:
                sims += self.weights[part] * np.where(ok[seen], vecs[seen] @ vecs[i], 0.0)
        order = np.argsort(-sims, kind="stable")[:n]
        return {
            "model": self.name,
            "user": u,
            "item": i,
            "score": float(sum(parts.values())),
            "parts": parts,
            "weights": {p: self.weights[p] for p in comps},
            "because_you_listened": [
                {"item": int(seen[j]), "similarity": float(sims[j])} for j in order
            ],
            "seen": bool(i in set(seen.tolist())),
        }


MODELS: dict[str, type[Recommender]] = {
    "popularity": PopularityRecommender,
    "als": ALSRecommender,
    "bpr": BPRRecommender,
    "bpr-pop": PopBPRRecommender,
    "item2vec": Item2VecRecommender,
    "hybrid": HybridRecommender,
}


def make_model(name: str, seed: int = 0) -> Recommender:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} (choose from {', '.join(MODELS)})")
    return MODELS[name](seed=seed)
