"""How good are an embedding's vectors? Metrics for labelled sets of tracks.

In the spirit of :mod:`mir_eval`: each metric validates its inputs (shapes, finite
values, enough items per class, a feasible ``k``) and raises :class:`ValueError`
with a clear message instead of returning a silently wrong number, and each
docstring states the conventions that change the number.

Metrics
-------
* :func:`linear_probe`: standardised features + logistic regression, stratified
  (optionally grouped) k-fold; pooled out-of-fold accuracy with a Wilson interval
  and the pooled confusion matrix.
* :func:`knn_precision_at_k`: the fraction of each item's ``k`` nearest neighbours
  that share its label (itself, and optionally its whole group, excluded), with a
  bootstrap interval over queries.
* :func:`multilabel_auc`: macro ROC-AUC and PR-AUC of multi-label tag scores.

Helpers
-------
* :func:`mfcc_statistics`: the MFCC-statistics baseline embedding (80-d by default).
* :func:`wilson_interval`, :func:`bootstrap_interval`: 95 % confidence intervals.
* :func:`plot_confusion_matrix`: a PNG of a confusion matrix (matplotlib, Agg canvas).

Small sets (tens of clips) give noisy figures: always report the intervals.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "bootstrap_interval",
    "knn_precision_at_k",
    "linear_probe",
    "mfcc_statistics",
    "multilabel_auc",
    "plot_confusion_matrix",
    "wilson_interval",
]

#: Two-sided 95 % normal quantile.
Z_95 = 1.959963984540054


# ---- input validation ---------------------------------------------------------------------


def _check_features(X: Any, min_items: int = 2) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"features must be a 2-D array (n_items, n_dims), got shape {X.shape}")
    if X.shape[0] < min_items:
        raise ValueError(f"need at least {min_items} items, got {X.shape[0]}")
    if X.shape[1] < 1:
        raise ValueError("features have zero dimensions")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"features must be real numbers, got dtype {X.dtype}")
    X = X.astype(np.float64, copy=False)
    if not np.all(np.isfinite(X)):
        raise ValueError("features contain NaN or infinite values")
    return X


def _check_vector(values: Any, n: int, what: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {values.shape}")
    if len(values) != n:
        raise ValueError(f"{what} has {len(values)} entries but there are {n} items")
    return values


# ---- confidence intervals -----------------------------------------------------------------


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / trials``.

    Parameters
    ----------
    successes : int
        Number of successes, ``0 <= successes <= trials``.
    trials : int
        Number of independent trials, ``> 0``.
    z : float
        Normal quantile; the default gives a two-sided 95 % interval.

    Returns
    -------
    (low, high) : tuple of float
        Always inside [0, 1]; unlike the normal (Wald) interval it does not collapse to
        a point at 0 or 1 successes.
    """
    successes, trials = int(successes), int(trials)
    if trials <= 0:
        raise ValueError(f"trials must be positive, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in [0, {trials}], got {successes}")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    low = 0.0 if successes == 0 else max(0.0, float(centre - half))
    high = 1.0 if successes == trials else min(1.0, float(centre + half))
    return low, high


def bootstrap_interval(
    values: Any, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of ``values`` (resampled with replacement).

    Parameters
    ----------
    values : array_like, shape (n,)
        Per-item scores, ``n >= 2``.
    n_boot : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling (the interval is reproducible).
    level : float
        Coverage, e.g. 0.95.

    Returns
    -------
    (low, high) : tuple of float
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or len(v) < 2:
        raise ValueError(f"need a 1-D array of at least 2 values, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values contain NaN or infinite values")
    if n_boot < 1 or not 0 < level < 1:
        raise ValueError("n_boot must be positive and level in (0, 1)")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), (int(n_boot), len(v)))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


# ---- the baseline embedding ---------------------------------------------------------------


def mfcc_statistics(
    y: np.ndarray, sr: int, n_mfcc: int = 20, n_fft: int = 2048, hop_length: int = 512
) -> np.ndarray:
    """The MFCC-statistics baseline: a fixed-length vector summarising a whole track.

    Computes ``M = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft,
    hop_length=hop_length)`` (librosa's defaults otherwise: 128 Slaney mel bands from
    0 Hz to ``sr / 2`` of a centred Hann-windowed power spectrogram, converted to dB
    with ``power_to_db`` (ref 1.0, top_db 80), orthonormal DCT-II, coefficient 0 --
    the log-energy term -- kept) and its first-order deltas
    ``D = librosa.feature.delta(M)`` (Savitzky-Golay, width 9, or the largest odd width
    the number of frames allows, at least 3), then returns, concatenated in this order:

    ``[mean_t(M), std_t(M), mean_t(D), std_t(D)]``

    where the mean and (population, ``ddof=0``) standard deviation run over frames.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio; finite, at least ``n_fft`` samples.
    sr : int
        Sample rate in Hz.
    n_mfcc : int
        Coefficients per frame.
    n_fft, hop_length : int
        STFT size and hop in samples.

    Returns
    -------
    np.ndarray, shape (4 * n_mfcc,), float32
        80 values for the default ``n_mfcc=20``.
    """
    import librosa

    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n,), got {y.shape}")
    if sr <= 0 or n_mfcc < 1:
        raise ValueError("sr and n_mfcc must be positive")
    if len(y) < n_fft:
        raise ValueError(f"audio too short: {len(y)} samples, need at least n_fft={n_fft}")
    if not np.all(np.isfinite(y)):
        raise ValueError("audio contains NaN or infinite samples")
    mfcc = librosa.feature.mfcc(
        y=y.astype(np.float32, copy=False), sr=sr, n_mfcc=n_mfcc, n_fft=n_fft,
        hop_length=hop_length,
    )  # fmt: skip
    n_frames = mfcc.shape[1]
    if n_frames >= 3:
        width = min(9, n_frames if n_frames % 2 else n_frames - 1)
        delta = librosa.feature.delta(mfcc, width=width)
    else:  # too few frames for a derivative filter
        delta = np.zeros_like(mfcc)
    return np.concatenate(
        [mfcc.mean(axis=1), mfcc.std(axis=1), delta.mean(axis=1), delta.std(axis=1)]
    ).astype(np.float32)


# ---- linear probe -------------------------------------------------------------------------


def linear_probe(
    X: Any,
    y: Sequence[Hashable] | np.ndarray,
    groups: Sequence[Hashable] | np.ndarray | None = None,
    n_splits: int = 5,
    seed: int = 0,
    C: float = 1.0,
) -> dict[str, Any]:
    """Cross-validated accuracy of a linear classifier on fixed embeddings.

    Each fold fits, on its training items only, a :class:`~sklearn.preprocessing.
    StandardScaler` (zero mean, unit variance per dimension) followed by an
    L2-regularised multinomial :class:`~sklearn.linear_model.LogisticRegression`
    (``C``, lbfgs), and predicts its held-out items. Folds are
    :class:`~sklearn.model_selection.StratifiedKFold` (shuffled with ``seed``), or
    :class:`~sklearn.model_selection.StratifiedGroupKFold` when ``groups`` is given, so
    that all items of one group (artist, album, recording) are in the same fold.

    Conventions: every item is predicted exactly once (out of fold); ``accuracy`` is
    the pooled out-of-fold accuracy (correct / n) and ``ci95`` its 95 % Wilson score
    interval, which treats the n predictions as independent trials: it ignores the
    variance between fold models and correlation within groups, so it is, if
    anything, too narrow. ``accuracy_mean`` is the unweighted mean of the per-fold
    accuracies (folds may differ in size when grouped).

    Parameters
    ----------
    X : array_like, shape (n, d)
        One embedding per item.
    y : array_like, shape (n,)
        Class label per item (any hashable, e.g. genre names).
    groups : array_like, shape (n,), optional
        Group per item; items of one group never fall on both sides of a split.
    n_splits : int
        Folds, >= 2.
    seed : int
        Seed of the fold shuffling.
    C : float
        Inverse regularisation strength of the logistic regression.

    Returns
    -------
    dict
        ``accuracy`` (pooled), ``ci95`` (low, high), ``ci_method`` ("wilson"),
        ``accuracy_mean``, ``fold_accuracies`` (list), ``confusion`` (list of lists,
        rows = true class, columns = predicted class, ordered as ``class_names``),
        ``class_names`` (sorted), ``majority_baseline`` (accuracy of always predicting the
        largest class), ``n``, ``n_splits``, ``grouped`` and ``predictions`` (out-of-fold
        predicted label per item).

    Raises
    ------
    ValueError
        Bad shapes or non-finite features; fewer than 2 classes; a class with fewer
        items than ``n_splits`` (ungrouped) or fewer groups than ``n_splits`` (grouped);
        a grouped split that leaves some class out of a training fold.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = _check_features(X)
    n = X.shape[0]
    labels = _check_vector(y, n, "y")
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits}")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"need at least 2 classes, got {len(classes)}")
    if groups is None:
        if counts.min() < n_splits:
            rare = classes[counts.argmin()]
            raise ValueError(
                f"class {rare!r} has {counts.min()} items, fewer than n_splits={n_splits}: "
                "every fold needs at least one item of every class"
            )
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        splits = list(splitter.split(X, labels))
    else:
        group_ids = _check_vector(groups, n, "groups")
        if counts.max() < n_splits:
            raise ValueError(f"every class has fewer items than n_splits={n_splits}")
        n_groups = len(np.unique(group_ids))
        if n_groups < n_splits:
            raise ValueError(f"{n_groups} groups cannot fill n_splits={n_splits} folds")
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        splits = list(splitter.split(X, labels, group_ids))
    for i, (train, _test) in enumerate(splits):
        missing = np.setdiff1d(classes, labels[train])
        if len(missing):
            raise ValueError(
                f"fold {i} has no training items of class(es) {list(missing)}: "
                "use fewer splits or smaller groups"
            )

    predictions = np.empty(n, dtype=labels.dtype)
    fold_accuracies = []
    for train, test in splits:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
        model.fit(X[train], labels[train])
        predictions[test] = model.predict(X[test])
        fold_accuracies.append(float(np.mean(predictions[test] == labels[test])))
    correct = int(np.sum(predictions == labels))
    cm = confusion_matrix(labels, predictions, labels=classes)
    return {
        "accuracy": correct / n,
        "ci95": wilson_interval(correct, n),
        "ci_method": "wilson",
        "accuracy_mean": float(np.mean(fold_accuracies)),
        "fold_accuracies": fold_accuracies,
        "confusion": cm.tolist(),
        "class_names": [str(c) for c in classes],
        "majority_baseline": float(counts.max() / n),
        "n": n,
        "n_splits": n_splits,
        "grouped": groups is not None,
        "predictions": predictions,
    }


# ---- nearest-neighbour retrieval ----------------------------------------------------------


def knn_precision_at_k(
    X: Any,
    labels: Sequence[Hashable] | np.ndarray,
    k: int = 10,
    metric: str = "cosine",
    groups: Sequence[Hashable] | np.ndarray | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Precision at ``k`` of nearest-neighbour retrieval: do similar vectors share labels?

    For each item (the query) the ``k`` nearest *eligible* other items under
    ``metric`` are retrieved, and the query scores the fraction of them with its own
    label. Eligible means: not the query itself and, when ``groups`` is given, not in
    the query's group (same artist, album or recording), so that finding another
    excerpt of the same recording -- leakage -- is not rewarded. Distance ties are
    broken by item order (stable sort). The score is the mean over queries.

    Because excluded items cannot be retrieved, a query whose class has fewer than
    ``k`` eligible members cannot reach 1.0: ``ceiling`` is the mean over queries of
    ``min(k, relevant eligible) / k``, the best achievable score, and ``chance`` the
    mean fraction of relevant items among the eligible ones, the expected score of
    random retrieval. Read the precision between these two.

    The 95 % interval is a percentile bootstrap over queries (``n_boot`` resamples,
    ``seed``); it treats queries as independent, which they are not quite (they share
    neighbours), so it is somewhat too narrow.

    Parameters
    ----------
    X : array_like, shape (n, d)
        One embedding per item.
    labels : array_like, shape (n,)
        Label per item.
    k : int
        Neighbours per query; ``1 <= k`` and at most the smallest number of eligible
        items of any query (``n - 1`` without groups).
    metric : str
        Any metric :func:`sklearn.metrics.pairwise_distances` accepts, e.g. ``"cosine"``
        (the default: embeddings are compared by direction) or ``"euclidean"``.
    groups : array_like, shape (n,), optional
        Group per item; same-group items are never neighbours.
    n_boot : int
        Bootstrap resamples for the interval.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    dict
        ``precision`` (mean over queries), ``ci95`` (low, high), ``ci_method``
        ("bootstrap over queries"), ``ceiling``, ``chance``, ``k``, ``n``, ``metric``,
        ``grouped``, ``per_query`` (np.ndarray, shape (n,)) and ``neighbours``
        (np.ndarray of int, shape (n, k), nearest first).

    Raises
    ------
    ValueError
        Bad shapes or non-finite features; ``k < 1``; ``k >= n``; a query with fewer
        than ``k`` eligible neighbours once its group is excluded.
    """
    from sklearn.metrics import pairwise_distances

    X = _check_features(X)
    n = X.shape[0]
    labels = _check_vector(labels, n, "labels")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if k >= n:
        raise ValueError(f"k={k} must be smaller than the number of items n={n}")
    excluded = np.eye(n, dtype=bool)
    if groups is not None:
        group_ids = _check_vector(groups, n, "groups")
        excluded |= group_ids[:, None] == group_ids[None, :]
    eligible = ~excluded
    n_eligible = eligible.sum(axis=1)
    if n_eligible.min() < k:
        worst = int(n_eligible.argmin())
        raise ValueError(
            f"item {worst} has only {n_eligible[worst]} eligible neighbours outside its "
            f"group, fewer than k={k}"
        )
    distances = pairwise_distances(X, metric=metric)
    distances = np.where(excluded, np.inf, distances)
    neighbours = np.argsort(distances, axis=1, kind="stable")[:, :k]
    relevant = labels[:, None] == labels[None, :]
    per_query = relevant[np.arange(n)[:, None], neighbours].mean(axis=1)
    n_relevant = (relevant & eligible).sum(axis=1)
    return {
        "precision": float(per_query.mean()),
        "ci95": bootstrap_interval(per_query, n_boot=n_boot, seed=seed),
        "ci_method": "bootstrap over queries",
        "ceiling": float(np.mean(np.minimum(k, n_relevant) / k)),
        "chance": float(np.mean(n_relevant / n_eligible)),
        "k": k,
        "n": n,
        "metric": metric,
        "grouped": groups is not None,
        "per_query": per_query,
        "neighbours": neighbours,
    }


# ---- multi-label tagging ------------------------------------------------------------------


def multilabel_auc(y_true: Any, scores: Any) -> dict[str, Any]:
    """Macro ROC-AUC and PR-AUC of tag scores, the usual auto-tagging figures.

    Per tag (column), ROC-AUC is :func:`sklearn.metrics.roc_auc_score` (the probability
    that a random positive item scores above a random negative one, ties counting half)
    and PR-AUC is :func:`sklearn.metrics.average_precision_score` (average precision:
    the mean over positives of the precision at their rank, no interpolation). Both are
    averaged with equal weight per tag (macro). A tag whose column is all 0 or all 1 has
    no defined AUC and is skipped (listed in ``skipped``).

    Parameters
    ----------
    y_true : array_like, shape (n, n_tags)
        0/1 ground truth.
    scores : array_like, shape (n, n_tags)
        Finite scores (probabilities or logits; only their order matters).

    Returns
    -------
    dict
        ``roc_auc``, ``pr_auc`` (macro), ``per_tag_roc_auc``, ``per_tag_pr_auc`` (lists,
        None for skipped tags), ``n_tags`` (scored), ``skipped`` (indices), ``n``.

    Raises
    ------
    ValueError
        Shapes differ or are not 2-D, labels other than 0/1, non-finite scores, no tag
        with both positive and negative items.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    truth = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if truth.ndim != 2 or s.ndim != 2:
        raise ValueError(f"y_true and scores must be 2-D (n, n_tags), got {truth.shape}, {s.shape}")
    if truth.shape != s.shape:
        raise ValueError(f"y_true {truth.shape} and scores {s.shape} differ in shape")
    if truth.shape[0] < 2:
        raise ValueError("need at least 2 items")
    if not np.all(np.isin(truth, (0, 1))):
        raise ValueError("y_true must hold only 0 and 1")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinite values")
    truth = truth.astype(np.int64)
    roc, pr, skipped = [], [], []
    for j in range(truth.shape[1]):
        positives = truth[:, j].sum()
        if positives == 0 or positives == len(truth):
            roc.append(None)
            pr.append(None)
            skipped.append(j)
            continue
        roc.append(float(roc_auc_score(truth[:, j], s[:, j])))
        pr.append(float(average_precision_score(truth[:, j], s[:, j])))
    scored = [v for v in roc if v is not None]
    if not scored:
        raise ValueError("no tag has both positive and negative items: AUC is undefined")
    return {
        "roc_auc": float(np.mean(scored)),
        "pr_auc": float(np.mean([v for v in pr if v is not None])),
        "per_tag_roc_auc": roc,
        "per_tag_pr_auc": pr,
        "n_tags": len(scored),
        "skipped": skipped,
        "n": int(truth.shape[0]),
    }


# ---- plotting -----------------------------------------------------------------------------


def plot_confusion_matrix(
    cm: Any,
    class_names: Sequence[str],
    path: str | os.PathLike[str],
    title: str = "",
) -> Path:
    """Write a confusion matrix as a PNG.

    Cells are shaded by the row-normalised rate (the fraction of each true class given
    each prediction) and labelled with the raw counts. Uses matplotlib's Agg canvas
    directly (no pyplot, no global backend change), so it works headless.

    Parameters
    ----------
    cm : array_like, shape (c, c)
        Counts; rows = true class, columns = predicted class.
    class_names : sequence of str, length c
    path : str or path-like
        Output PNG; parent folders are created.
    title : str

    Returns
    -------
    Path
        The written file.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - matplotlib is a dependency
        raise ImportError("plot_confusion_matrix needs matplotlib: pip install matplotlib") from err

    cm = np.asarray(cm)
    c = len(class_names)
    if cm.shape != (c, c):
        raise ValueError(f"confusion matrix of shape {cm.shape} does not match {c} class names")
    if np.any(cm < 0) or not np.all(np.isfinite(cm)):
        raise ValueError("confusion matrix must hold non-negative finite counts")
    totals = cm.sum(axis=1, keepdims=True)
    rates = np.divide(cm, totals, out=np.zeros(cm.shape, dtype=float), where=totals > 0)

    size = 1.6 + 0.55 * c
    fig = Figure(figsize=(size + 1.2, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    ax.set_xticks(range(c), labels=list(class_names), rotation=45, ha="right")
    ax.set_yticks(range(c), labels=list(class_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(c):
        for j in range(c):
            if cm[i, j]:
                colour = "white" if rates[i, j] > 0.5 else "black"
                ax.text(j, i, f"{cm[i, j]:g}", ha="center", va="center", color=colour)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
