"""The hybrid recommender: ALS, item2vec and audio (content) similarity blended."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from songscape.recommend.base import Recommender, top_k
from songscape.recommend.factorization import ALSRecommender
from songscape.recommend.item2vec import Item2VecRecommender
from songscape.vectors import unit_rows_with_mask


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
                i2v = Item2VecRecommender(seed=self.seed, **params).fit(matrix)
                self.parts["item2vec"] = (i2v.item_vectors, i2v.known.copy())
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
        seen = self.seen_items(u)
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


