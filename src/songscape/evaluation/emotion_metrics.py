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

__all__ = [
    "roc_auc_rows",
    "roc_auc_with_interval",
    "spearman_rows",
    "spearman_with_interval",
    "top_emotion_accuracy",
]

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


def _bootstrap_rows(n: int, seed: int) -> np.ndarray:
    """``(N_BOOT, n)`` item indices, each row one resample with replacement."""
    return np.random.default_rng(seed).integers(0, n, (N_BOOT, n))


def spearman_rows(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair of two ``(m, n)`` arrays (average ranks for ties).

    Returns NaN for a row where either side is constant. One vectorised pass: it replaces
    a loop of ``m`` calls to :func:`scipy.stats.spearmanr`, which it matches.
    """
    from scipy.stats import rankdata

    rt = rankdata(truth, axis=1)
    rp = rankdata(pred, axis=1)
    rt -= rt.mean(axis=1, keepdims=True)
    rp -= rp.mean(axis=1, keepdims=True)
    denom = np.sqrt((rt**2).sum(axis=1) * (rp**2).sum(axis=1))
    constant = (np.ptp(truth, axis=1) == 0) | (np.ptp(pred, axis=1) == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rt * rp).sum(axis=1) / denom
    return np.where(constant, np.nan, rho)


def roc_auc_rows(truth: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC-AUC of each row of ``(m, n)`` scores against 0/1 truth (ties count half).

    By the Mann-Whitney identity: AUC = (sum of the positives' average ranks
    - n1 (n1 + 1) / 2) / (n1 n0). NaN for a row holding one class only. Matches
    :func:`sklearn.metrics.roc_auc_score` row by row.
    """
    from scipy.stats import rankdata

    ranks = rankdata(score, axis=1)
    n_pos = truth.sum(axis=1)
    n_neg = truth.shape[1] - n_pos
    u = (ranks * truth).sum(axis=1) - n_pos * (n_pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = u / (n_pos * n_neg)
    return np.where((n_pos == 0) | (n_neg == 0), np.nan, auc)


def _percentiles(values: Any) -> list[float]:
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
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
    t, p = _pair(truth, pred)
    rows = _bootstrap_rows(len(t), seed)
    boots = spearman_rows(t[rows], p[rows])
    rho = spearman_rows(t[None, :], p[None, :])[0]
    return {"rho": float(rho), "ci95": _percentiles(boots), "n": len(t)}


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
    rows = _bootstrap_rows(len(t), seed)
    boots = roc_auc_rows(t[rows], s[rows])
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
