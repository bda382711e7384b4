"""Figures of emotion predictions: rank correlation, ROC-AUC, top-emotion accuracy.

Each validates its inputs and gives a 95 % interval: Spearman's rho and ROC-AUC by a
percentile bootstrap over items (seeded, 1000 resamples), accuracies by Wilson's
interval (:mod:`songscape.evaluation.intervals`). Items are resampled independently, so
with grouped data the intervals are, if anything, too narrow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from songscape.evaluation.intervals import wilson_interval

__all__ = ["roc_auc_with_interval", "spearman_with_interval", "top_emotion_accuracy"]

N_BOOT = 1000


def _pair(truth: Any, pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(truth, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    if t.ndim != 1 or t.shape != p.shape:
        raise ValueError(f"truth and predictions must be 1-D of one length, got {t.shape}, "
                         f"{p.shape}")  # fmt: skip
    if len(t) < 3:
        raise ValueError(f"need at least 3 items, got {len(t)}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
        raise ValueError("truth or predictions contain NaN or infinite values")
    return t, p


def _percentiles(values: list[float]) -> list[float]:
    finite = np.asarray([v for v in values if np.isfinite(v)])
    if len(finite) == 0:
        return [float("nan"), float("nan")]
    low, high = np.percentile(finite, [2.5, 97.5])
    return [float(low), float(high)]


def spearman_with_interval(truth: Any, pred: Any, seed: int = 0) -> dict[str, Any]:
    """Spearman's rank correlation of predictions with the truth, and its bootstrap interval.

    Returns
    -------
    dict
        ``rho`` (NaN when either side is constant), ``ci95`` [low, high], ``n``.
    """
    from scipy.stats import spearmanr

    t, p = _pair(truth, pred)

    def rho(i: np.ndarray) -> float:
        if np.ptp(t[i]) == 0 or np.ptp(p[i]) == 0:
            return float("nan")
        return float(spearmanr(t[i], p[i]).statistic)

    rng = np.random.default_rng(seed)
    boots = [rho(rng.integers(0, len(t), len(t))) for _ in range(N_BOOT)]
    return {"rho": rho(np.arange(len(t))), "ci95": _percentiles(boots), "n": len(t)}


def roc_auc_with_interval(truth: Any, score: Any, seed: int = 0) -> dict[str, Any]:
    """ROC-AUC of scores for 0/1 truth (ties count half), with a bootstrap interval.

    Raises
    ------
    ValueError
        Truth other than 0/1, or only one class.
    """
    from sklearn.metrics import roc_auc_score

    t, s = _pair(truth, score)
    if not np.all(np.isin(t, (0, 1))):
        raise ValueError("truth must hold only 0 and 1")
    if t.min() == t.max():
        raise ValueError("ROC-AUC needs both classes")
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(N_BOOT):
        i = rng.integers(0, len(t), len(t))
        boots.append(float(roc_auc_score(t[i], s[i])) if t[i].min() != t[i].max() else np.nan)
    return {"auc": float(roc_auc_score(t, s)), "ci95": _percentiles(boots), "n": len(t),
            "n_positive": int(t.sum())}  # fmt: skip


def top_emotion_accuracy(truth: Any, pred: Any) -> dict[str, Any]:
    """How often the predicted top emotion is the listeners' top emotion (and in their top 3).

    Parameters
    ----------
    truth, pred : array_like, shape (n, n_emotions)
        Listener shares and predicted scores.

    Returns
    -------
    dict
        ``accuracy`` and ``ci95`` (Wilson), ``in_top3`` and ``in_top3_ci95``, ``chance``
        (always answering the most frequent top emotion of ``truth``), ``n``.
    """
    t = np.asarray(truth, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    if t.ndim != 2 or t.shape != p.shape:
        raise ValueError(f"truth and predictions must be (n, k) of one shape, got {t.shape}, "
                         f"{p.shape}")  # fmt: skip
    n = len(t)
    top_true = t.argmax(axis=1)
    top_pred = p.argmax(axis=1)
    hits = int(np.sum(top_true == top_pred))
    top3 = np.argsort(-t, axis=1)[:, :3]
    hits3 = int(np.sum([top_pred[i] in top3[i] for i in range(n)]))
    chance = float(np.bincount(top_true).max() / n)
    return {"accuracy": hits / n, "ci95": list(wilson_interval(hits, n)),
            "in_top3": hits3 / n, "in_top3_ci95": list(wilson_interval(hits3, n)),
            "chance": chance, "n": n}  # fmt: skip
