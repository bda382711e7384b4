"""Top-k recommendation metrics (mir_eval style: plain functions, validated inputs).

Conventions (per user; average over users with at least one relevant item):

* ``recommended`` is a ranked sequence of distinct item ids, best first; only the first ``k``
  count. Fewer than ``k`` recommendations are allowed (missing slots count as misses).
* ``relevant`` is a non-empty set of item ids (binary relevance: held-out items).
* precision@k = hits in top k / k (always divided by k, not by the list length);
* recall@k = hits in top k / |relevant|;
* NDCG@k = DCG / IDCG with DCG = sum over hits at rank r (1-based) of 1 / log2(r + 1) and
  IDCG the DCG of min(|relevant|, k) hits in the first places;
* AP@k = sum over hits at rank r of precision@r, divided by min(|relevant|, k); MAP@k is its
  mean over users;
* catalog coverage = distinct items recommended to anyone / catalog size;
* novelty = mean self-information -log2(p(i)) of recommended items, where p(i) is the share of
  (training) users who played item i, smoothed as (listeners + 1) / (n_users + 1) so unplayed
  items are finite. Higher = less popular recommendations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def _validate(recommended: Sequence, relevant: Iterable, k: int) -> tuple[list, set]:
    if not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    rec = list(recommended)
    if len(set(rec)) != len(rec):
        raise ValueError("recommended items must be distinct")
    rel = set(relevant)
    if not rel:
        raise ValueError("relevant must not be empty")
    return rec[:k], rel


def precision_at_k(recommended: Sequence, relevant: Iterable, k: int) -> float:
    rec, rel = _validate(recommended, relevant, k)
    return sum(1 for r in rec if r in rel) / k


def recall_at_k(recommended: Sequence, relevant: Iterable, k: int) -> float:
    rec, rel = _validate(recommended, relevant, k)
    return sum(1 for r in rec if r in rel) / len(rel)


def ndcg_at_k(recommended: Sequence, relevant: Iterable, k: int) -> float:
    rec, rel = _validate(recommended, relevant, k)
    dcg = sum(1.0 / np.log2(r + 2) for r, item in enumerate(rec) if item in rel)
    idcg = sum(1.0 / np.log2(r + 2) for r in range(min(len(rel), k)))
    return float(dcg / idcg)


def average_precision_at_k(recommended: Sequence, relevant: Iterable, k: int) -> float:
    rec, rel = _validate(recommended, relevant, k)
    hits, total = 0, 0.0
    for r, item in enumerate(rec, start=1):
        if item in rel:
            hits += 1
            total += hits / r
    return total / min(len(rel), k)


def map_at_k(recommended: Sequence[Sequence], relevant: Sequence[Iterable], k: int) -> float:
    """Mean of :func:`average_precision_at_k` over users (parallel sequences)."""
    if len(recommended) != len(relevant):
        raise ValueError("recommended and relevant must have one entry per user")
    if not len(recommended):
        raise ValueError("no users")
    pairs = zip(recommended, relevant, strict=True)
    return float(np.mean([average_precision_at_k(a, b, k) for a, b in pairs]))


def catalog_coverage(recommended: Iterable[Sequence], n_items: int) -> float:
    if n_items < 1:
        raise ValueError("n_items must be >= 1")
    seen: set = set()
    for rec in recommended:
        seen.update(rec)
    return len(seen) / n_items


def novelty(recommended: Iterable[Sequence], listeners: np.ndarray, n_users: int) -> float:
    """``listeners[i]`` = number of training users who played item index i."""
    listeners = np.asarray(listeners, dtype=np.float64)
    if n_users < 1:
        raise ValueError("n_users must be >= 1")
    if np.any(listeners < 0) or np.any(listeners > n_users):
        raise ValueError("listeners must be between 0 and n_users")
    info = -np.log2((listeners + 1.0) / (n_users + 1.0))
    values = [info[int(i)] for rec in recommended for i in rec]
    if not values:
        raise ValueError("no recommendations")
    return float(np.mean(values))
