"""Offline evaluation: per-user holdout, fit every model on train, score top-k on test.

Protocol: a user is *eligible* with at least ``min_user_items`` distinct items (default 5).
For each eligible user, ``test_fraction`` (default 20%, at least 1) of their items is held out:

* ``random`` (seeded): a random subset of the user's items;
* ``time``: the user's most recent items (used automatically when timestamps exist).

Models are fit on the remaining matrix (same user and item indexing); each eligible user gets
the top-k unseen items, scored against the held-out set (binary relevance). The popularity
baseline is always evaluated.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from songscape.evaluation import ranking
from songscape.recommend.data import Interactions
from songscape.recommend.recommenders import make_model

DEFAULT_MODELS = ("popularity", "als", "bpr", "item2vec", "hybrid")


def split_holdout(
    inter: Interactions,
    test_fraction: float = 0.2,
    protocol: str = "auto",
    seed: int = 0,
    min_user_items: int = 5,
) -> tuple[sp.csr_matrix, dict[int, np.ndarray], str]:
    """Returns (train matrix, {user index: held-out item indices}, protocol used)."""
    if not 0 < test_fraction < 1:
        raise ValueError("test_fraction must be in (0, 1)")
    if protocol == "auto":
        protocol = "time" if inter.timestamps is not None else "random"
    if protocol not in ("random", "time"):
        raise ValueError(f"unknown protocol {protocol!r} (random, time, auto)")
    if protocol == "time" and inter.timestamps is None:
        raise ValueError("the time protocol needs timestamps")
    rng = np.random.default_rng(seed)
    m = inter.matrix.tocsr()
    keep = np.ones(m.nnz, dtype=bool)
    test: dict[int, np.ndarray] = {}
    for u in range(m.shape[0]):
        lo, hi = m.indptr[u], m.indptr[u + 1]
        n = hi - lo
        if n < min_user_items:
            continue
        n_test = max(1, int(round(test_fraction * n)))
        if protocol == "random":
            pos = rng.permutation(n)[:n_test]
        else:
            ts = inter.timestamps.data[lo:hi]
            pos = np.lexsort((m.indices[lo:hi], ts))[-n_test:]
        keep[lo + pos] = False
        test[u] = np.sort(m.indices[lo + pos])
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    train = sp.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape)
    return train, test, protocol


def evaluate(
    inter: Interactions,
    models: list[str] | tuple[str, ...] = DEFAULT_MODELS,
    k: int = 10,
    seed: int = 0,
    protocol: str = "auto",
    test_fraction: float = 0.2,
) -> list[dict]:
    """One dict per model (popularity first): metrics at k, coverage, novelty, fit time."""
    names = ["popularity"] + [m for m in models if m != "popularity"]
    train, test, used = split_holdout(inter, test_fraction, protocol, seed)
    if not test:
        raise ValueError("no user has enough items to hold some out")
    listeners = np.diff(train.tocsc().indptr)
    users = sorted(test)
    results = []
    for name in names:
        model = make_model(name, seed=seed)
        t0 = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - t0
        recs = [model.recommend(u, k)[0].tolist() for u in users]
        rels = [set(test[u].tolist()) for u in users]
        results.append(
            {
                "model": name,
                f"precision_at_{k}": _mean(ranking.precision_at_k, recs, rels, k),
                f"recall_at_{k}": _mean(ranking.recall_at_k, recs, rels, k),
                f"ndcg_at_{k}": _mean(ranking.ndcg_at_k, recs, rels, k),
                f"map_at_{k}": ranking.map_at_k(recs, rels, k),
                "coverage": ranking.catalog_coverage(recs, inter.n_items),
                "novelty": ranking.novelty(recs, listeners, inter.n_users),
                "fit_s": round(fit_s, 3),
                "n_users": inter.n_users,
                "n_items": inter.n_items,
                "n_test_users": len(users),
                "protocol": used,
                "k": k,
            }
        )
    return results


def _mean(fn, recs, rels, k) -> float:
    return float(np.mean([fn(a, b, k) for a, b in zip(recs, rels, strict=True)]))
