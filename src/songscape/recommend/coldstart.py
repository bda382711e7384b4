"""Cold start: items with no plays (content -> CF factors) and new users (fold-in).

* :class:`FactorMapper` learns a map from content vectors (audio embeddings from the
  library, tag vectors, any item feature matrix) to the item factors of a fitted
  :class:`~songscape.recommend.recommenders.ALSRecommender`: ridge regression (scikit-learn)
  by default, or a small MLP. An item nobody has played gets predicted factors and can be
  scored for every user like any other item.
* :func:`fold_in_user` solves a new user's factor from a few seed items with the ALS
  normal equations (the user half-step of Hu, Koren & Volinsky 2008, with the trained
  item factors fixed), so a new user is recommended without refitting.
* :func:`evaluate_cold_start` is the cold-start protocol: hold out a fraction of the
  items that have features *entirely* (all their interactions), fit ALS on the rest, map
  features to factors, then rank only the held-out items for every user who had played
  some, scoring recall/NDCG@k of that user's held-out items. Baselines: a random ranking
  (the held-out items have no plays, so there is no popularity to use) and a content
  k-NN (cosine between the item's features and the user's feature profile).
* :func:`hetrec_tag_features` makes content vectors for HetRec's artists from the tags
  listeners gave them (``user_taggedartists.dat``): TF-IDF over tag counts, reduced by
  truncated SVD.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from songscape.evaluation import ranking
from songscape.extras import require
from songscape.recommend.base import top_k
from songscape.recommend.data import Interactions
from songscape.recommend.factorization import ALSRecommender, confidence
from songscape.recommend.words import read_hetrec_tag_assignments
from songscape.vectors import unit_rows_with_mask


class FactorMapper:
    """Content vectors -> CF item factors.

    Parameters
    ----------
    method : str
        ``ridge`` (default) or ``mlp`` (one hidden layer, early stopping).
    alpha : float
        Ridge / MLP L2 penalty.
    hidden : int
        MLP hidden units.
    seed : int
        MLP seed.
    """

    def __init__(self, method: str = "ridge", alpha: float = 1.0, hidden: int = 256, seed: int = 0):
        if method not in ("ridge", "mlp"):
            raise ValueError(f"unknown method {method!r} (ridge, mlp)")
        self.method, self.alpha, self.hidden, self.seed = method, alpha, hidden, seed
        self._model = None

    def fit(self, features: np.ndarray, factors: np.ndarray) -> FactorMapper:
        """Learn ``features[i] -> factors[i]`` (rows aligned; at least 2 rows)."""
        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(factors, dtype=np.float64)
        if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] < 2:
            raise ValueError(f"need aligned 2-D features and factors, got {x.shape}, {y.shape}")
        if self.method == "ridge":
            linear = require("sklearn.linear_model", "recommend", "mapping cold items")
            self._model = linear.Ridge(alpha=self.alpha).fit(x, y)
        else:
            neural = require("sklearn.neural_network", "recommend", "mapping cold items")
            self._model = neural.MLPRegressor(
                hidden_layer_sizes=(self.hidden,), alpha=self.alpha * 1e-3, max_iter=300,
                early_stopping=True, random_state=self.seed,
            ).fit(x, y)  # fmt: skip
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predicted factors (n, factors), float32."""
        if self._model is None:
            raise RuntimeError("call fit() first")
        return np.asarray(self._model.predict(np.asarray(features, dtype=np.float64)),
                          dtype=np.float32).reshape(len(features), -1)  # fmt: skip


def fold_in_user(
    model: ALSRecommender,
    seed_items: list[int] | np.ndarray,
    counts: list[float] | np.ndarray | None = None,
    item_factors: np.ndarray | None = None,
) -> np.ndarray:
    """A new user's factor from seed items, the ALS user step with item factors fixed.

    ``x = (YᵀY + Σ_i (c_i - 1) y_i y_iᵀ + λI)⁻¹ Σ_i c_i y_i`` where ``c_i`` is the
    confidence of seed ``i`` computed as in training (its play count, default 1, weighted
    by the model's ``weighting``; for BM25, the median training confidence).

    Parameters
    ----------
    model : ALSRecommender
        A fitted model.
    seed_items : sequence of int
        Item indices the new user likes (at least one).
    counts : sequence of float, optional
        Play counts of the seeds (default 1 each).
    item_factors : ndarray, optional
        Factors to use instead of the model's (e.g. with mapped cold items appended).

    Returns
    -------
    ndarray
        The user factor, shape (factors,).
    """
    model.check_fitted()
    y = np.asarray(model.item_vectors if item_factors is None else item_factors, np.float64)
    seeds = np.asarray(seed_items, dtype=np.int64)
    if seeds.size == 0:
        raise ValueError("give at least one seed item")
    if seeds.min() < 0 or seeds.max() >= len(y):
        raise IndexError(f"seed item index out of range 0..{len(y) - 1}")
    c = np.ones(len(seeds)) if counts is None else np.asarray(counts, dtype=np.float64)
    if model.weighting == "bm25":  # BM25 needs the column statistics: a typical value
        conf = np.full(len(seeds), float(np.median(confidence(model._train, "bm25").data)))
    elif model.weighting == "log":
        conf = model.alpha * np.log1p(c)
    elif model.weighting == "linear":
        conf = model.alpha * c
    else:
        conf = np.full(len(seeds), float(model.alpha))
    ys = y[seeds]
    a = y.T @ y + (ys.T * (conf - 1.0)) @ ys + model.regularization * np.eye(y.shape[1])
    b = (ys * conf[:, None]).sum(axis=0)
    return np.linalg.solve(a, b).astype(np.float32)


def recommend_for_seed(
    model: ALSRecommender,
    seed_items: list[int] | np.ndarray,
    k: int = 10,
    item_factors: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k items (seeds excluded) for a new user folded in from ``seed_items``."""
    y = model.item_vectors if item_factors is None else item_factors
    user = fold_in_user(model, seed_items, item_factors=item_factors)
    scores = (np.asarray(y) @ user).astype(np.float64)
    scores[np.asarray(seed_items, dtype=np.int64)] = -np.inf
    top = top_k(scores, k)
    return top, scores[top]


def hetrec_tag_features(
    directory: str | Path,
    items: list[str],
    dim: int = 64,
    seed: int = 0,
    users: set[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Tag vectors of HetRec artists aligned with ``items`` (artist ids).

    ``users`` restricts to the tags those users gave (so that an evaluation on the other
    users does not see its own test users' tags: a user who tagged an artist has played
    it, which would leak the answer).

    Returns
    -------
    features : ndarray
        (len(items), dim) float32; zeros for artists nobody tagged.
    has : ndarray
        Boolean mask of the items that have a vector.
    """
    decomposition = require("sklearn.decomposition", "recommend", "HetRec tag features")
    text = require("sklearn.feature_extraction.text", "recommend", "HetRec tag features")
    rows = read_hetrec_tag_assignments(directory)
    index = {a: i for i, a in enumerate(items)}
    tags: dict[str, int] = {}
    r, c = [], []
    for user, artist, tag, _month in rows:
        if artist in index and (users is None or user in users):
            r.append(index[artist])
            c.append(tags.setdefault(tag, len(tags)))
    counts = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(items), max(len(tags), 1)))
    counts.sum_duplicates()
    tfidf = text.TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    has = np.diff(counts.indptr) > 0
    dim = min(dim, max(1, len(tags) - 1))
    svd = decomposition.TruncatedSVD(n_components=dim, random_state=seed)
    feats = np.zeros((len(items), dim), dtype=np.float32)
    feats[has] = svd.fit_transform(tfidf[has]).astype(np.float32)
    return feats, has


def evaluate_cold_start(
    inter: Interactions,
    features: np.ndarray,
    has_features: np.ndarray | None = None,
    holdout_fraction: float = 0.2,
    k: int = 10,
    seed: int = 0,
    methods: tuple[str, ...] = ("ridge", "mlp"),
    als: dict | None = None,
    ridge_alpha: float = 1.0,
    eval_users: np.ndarray | None = None,
) -> dict:
    """The cold-start protocol (module docstring); one dict per ranking, plus the setup.

    Parameters
    ----------
    inter : Interactions
        All interactions.
    features : ndarray
        (n_items, d) content vectors aligned with ``inter.items``.
    has_features : ndarray, optional
        Items that have a vector (default: rows that are finite and non-zero).
    holdout_fraction : float
        Share of the items with features that is held out entirely.
    k : int
        List length.
    seed : int
        Seed of the item split, ALS and the random baseline.
    methods : tuple of str
        Mappers to evaluate (``ridge``, ``mlp``).
    als : dict, optional
        :class:`ALSRecommender` keyword arguments.
    ridge_alpha : float
        Ridge penalty.
    eval_users : ndarray, optional
        Boolean mask of the users to score (default: all); e.g. the users whose own
        data did not go into the features.

    Returns
    -------
    dict
        ``{"setup": {...}, "results": [{"method", "recall_at_k", "ndcg_at_k", "fit_s"}]}``.
    """
    if not 0 < holdout_fraction < 1:
        raise ValueError("holdout_fraction must be in (0, 1)")
    feats = np.asarray(features, dtype=np.float32)
    if feats.shape[0] != inter.n_items:
        raise ValueError(f"features has {feats.shape[0]} rows, not {inter.n_items}")
    unit, ok = unit_rows_with_mask(feats)
    if has_features is not None:
        ok &= np.asarray(has_features, dtype=bool)
    m = inter.matrix.tocsr()
    listeners = np.diff(m.tocsc().indptr)
    candidates = np.flatnonzero(ok & (listeners > 0))
    rng = np.random.default_rng(seed)
    n_held = max(1, int(round(holdout_fraction * len(candidates))))
    held = np.sort(rng.choice(candidates, n_held, replace=False))
    is_held = np.zeros(inter.n_items, dtype=bool)
    is_held[held] = True
    coo = m.tocoo()
    keep = ~is_held[coo.col]
    train = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=m.shape)
    test = {}
    for u in range(m.shape[0]):
        row = m.indices[m.indptr[u] : m.indptr[u + 1]]
        rel = row[is_held[row]]
        if eval_users is not None and not eval_users[u]:
            continue
        if len(rel) and train.indptr[u + 1] > train.indptr[u]:
            test[u] = set(np.searchsorted(held, rel).tolist())  # positions within `held`
    users = sorted(test)
    if not users:
        raise ValueError("no user played a held-out item and something else")
    t0 = time.perf_counter()
    model = ALSRecommender(seed=seed, **(als or {})).fit(train)
    als_s = time.perf_counter() - t0
    warm = np.flatnonzero(ok & ~is_held & (np.diff(train.tocsc().indptr) > 0))
    results = []

    def score(name: str, scores_of, fit_s: float) -> None:
        recs = []
        for u in users:
            s = scores_of(u)
            recs.append(top_k(s.astype(np.float64), k).tolist())
        rels = [test[u] for u in users]
        pairs = list(zip(recs, rels, strict=True))
        results.append({
            "method": name,
            f"recall_at_{k}": float(np.mean([ranking.recall_at_k(a, b, k) for a, b in pairs])),
            f"ndcg_at_{k}": float(np.mean([ranking.ndcg_at_k(a, b, k) for a, b in pairs])),
            "fit_s": round(fit_s, 3),
        })  # fmt: skip

    score("random", lambda u: rng.random(len(held)), 0.0)
    # content k-NN: the user's (log1p-weighted) feature profile vs. the held-out features
    prof = train.copy()
    prof.data = np.log1p(prof.data)
    has_prof = sp.diags(ok.astype(np.float32)) @ unit
    profiles = np.asarray(prof @ has_prof)
    score("content-knn", lambda u: unit[held] @ profiles[u], 0.0)
    for method in methods:
        t0 = time.perf_counter()
        mapper = FactorMapper(method, alpha=ridge_alpha, seed=seed)
        mapper.fit(feats[warm], model.item_vectors[warm])
        pred = mapper.predict(feats[held])
        fit_s = time.perf_counter() - t0
        score(f"als+{method}", lambda u, pred=pred: pred @ model.user_vectors[u], fit_s)
    return {
        "setup": {
            "n_users": inter.n_users,
            "n_items": inter.n_items,
            "items_with_features": int(ok.sum()),
            "held_out_items": int(n_held),
            "held_out_interactions": int((~keep).sum()),
            "test_users": len(users),
            "k": k,
            "seed": seed,
            "als_fit_s": round(als_s, 3),
            "candidates": "the held-out items only",
        },
        "results": results,
    }
