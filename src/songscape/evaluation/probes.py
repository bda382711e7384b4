"""How good are an embedding's vectors? Metrics of fixed vectors on labelled items.

In the spirit of :mod:`mir_eval`: each metric validates its inputs (shapes, finite
values, enough items per class, a feasible ``k``) and raises :class:`ValueError`
with a clear message instead of returning a silently wrong number, and each
docstring states the conventions that change the number.

* :func:`linear_probe`: standardised features + logistic regression, stratified
  (optionally grouped) k-fold; pooled out-of-fold accuracy with a Wilson interval
  and the pooled confusion matrix.
* :func:`knn_precision_at_k`: the fraction of each item's ``k`` nearest neighbours
  that share its label (itself, and optionally its whole group, excluded), with a
  bootstrap interval over queries.
* :func:`multilabel_auc`: macro ROC-AUC and PR-AUC of multi-label tag scores.

:mod:`songscape.evaluation.harness` runs them the same way for every model.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from songscape.evaluation.intervals import bootstrap_interval, wilson_interval

__all__ = ["knn_precision_at_k", "linear_probe", "multilabel_auc"]


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
