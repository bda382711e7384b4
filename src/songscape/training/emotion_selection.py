"""Choose an emotion head's feature set and penalty by cross-validation inside its training items.

A head may read any of a small list of feature sets (:data:`FEATURE_SETS`, fixed before
any measurement): the musicnn-msd embedding, tags and descriptors (the first version's
set), plus the temporal spread of the patches (``*_std``), plus musicnn-mtt's embedding
and tags (the second tagger every ingest runs), or all of them. For each target, the pair
(feature set, penalty) with the best grouped inner cross-validation score on the training
items is chosen -- mean squared error for continuous targets (ridge), ROC-AUC for
two-class ones (logistic) -- and the model refitted on all training items. Used inside
each outer fold of :func:`songscape.training.emotion.out_of_fold`, this is nested
cross-validation: the held-out items never take part in the choice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from songscape.models.emotion import BASE_BLOCKS, block_matrix

#: Candidate feature sets, in order of size (ties go to the first, the smaller).
FEATURE_SETS: tuple[tuple[str, ...], ...] = (
    BASE_BLOCKS,
    (*BASE_BLOCKS, "embedding_std", "tags_std"),
    (*BASE_BLOCKS, "mtt_embedding", "mtt_tags"),
    (*BASE_BLOCKS, "embedding_std", "tags_std", "mtt_embedding", "mtt_tags", "mtt_tags_std"),
)
#: Ridge penalties tried (standardised features).
NESTED_ALPHAS = np.logspace(-1, 6, 29)
#: Logistic ``C`` values tried (standardised features).
NESTED_CS = np.logspace(-4, 1, 6)
INNER_FOLDS = 3


def inner_splits(groups: np.ndarray, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped :data:`INNER_FOLDS`-fold splits of the training items (groups shuffled by
    ``seed``); empty when there are too few groups."""
    from sklearn.model_selection import GroupKFold

    unique = np.unique(groups)
    if len(unique) < INNER_FOLDS:
        return []
    perm = np.random.default_rng(seed).permutation(len(unique))
    relabel = dict(zip(unique, perm, strict=True))
    g = np.array([relabel[v] for v in groups])
    return list(GroupKFold(INNER_FOLDS).split(np.zeros(len(g)), groups=g))


def column_means(X: np.ndarray) -> np.ndarray:
    """Mean of each column over its finite values; 0 for a column with none."""
    finite = np.isfinite(X)
    count = finite.sum(axis=0)
    total = np.where(finite, X, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def standardise_pair(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both standardised by the training rows' mean and deviation (NaN -> training mean)."""
    mean = column_means(train)
    train = np.where(np.isfinite(train), train, mean)
    test = np.where(np.isfinite(test), test, mean)
    scale = train.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    return (train - mean) / scale, (test - mean) / scale


def ridge_path(
    Z_train: np.ndarray, Y_train: np.ndarray, Z_test: np.ndarray, alphas: np.ndarray
) -> np.ndarray:
    """Ridge predictions of ``Z_test`` for every penalty at once (one eigendecomposition).

    Parameters
    ----------
    Z_train : np.ndarray, shape (n, p)
        Standardised training features.
    Y_train : np.ndarray, shape (n, t)
        Targets (intercept fitted: the targets are centred).
    Z_test : np.ndarray, shape (m, p)
    alphas : np.ndarray, shape (k,)

    Returns
    -------
    np.ndarray, shape (k, m, t)
    """
    x_mean = Z_train.mean(axis=0)
    y_mean = Y_train.mean(axis=0)
    Zc, Zt, Yc = Z_train - x_mean, Z_test - x_mean, Y_train - y_mean
    alphas = np.asarray(alphas, dtype=np.float64)
    if Zc.shape[0] <= Zc.shape[1]:  # fewer items than features: the n x n kernel form
        lam, U = np.linalg.eigh(Zc @ Zc.T)
        left, right = (Zt @ Zc.T) @ U, U.T @ Yc  # (m, n), (n, t)
    else:  # the p x p form
        lam, V = np.linalg.eigh(Zc.T @ Zc)
        left, right = Zt @ V, (Zc @ V).T @ Yc  # (m, p), (p, t)
    shrink = 1.0 / (np.clip(lam, 0.0, None)[None, :] + alphas[:, None])  # (k, r)
    return np.einsum("mr,kr,rt->kmt", left, shrink, right) + y_mean


def choose_ridge(
    features: Mapping[str, np.ndarray],
    Y: np.ndarray,
    groups: np.ndarray,
    sets: Sequence[tuple[str, ...]] = FEATURE_SETS,
    alphas: np.ndarray = NESTED_ALPHAS,
    seed: int = 0,
) -> list[tuple[tuple[str, ...], float]]:
    """Per column of ``Y`` (NaN-free rows only), the (feature set, alpha) of least inner
    cross-validated squared error; the first set and alpha 1 when there are too few groups."""
    splits = inner_splits(groups, seed)
    if not splits:
        return [(tuple(sets[0]), 1.0)] * Y.shape[1]
    errors = np.zeros((len(sets), len(alphas), Y.shape[1]))
    for s, blocks in enumerate(sets):
        X = block_matrix(features, blocks)
        for train, test in splits:
            Ztr, Zte = standardise_pair(X[train], X[test])
            pred = ridge_path(Ztr, Y[train], Zte, alphas)
            errors[s] += ((pred - Y[test][None]) ** 2).sum(axis=1)
    out = []
    for t in range(Y.shape[1]):
        s, a = np.unravel_index(int(np.argmin(errors[:, :, t])), errors.shape[:2])
        out.append((tuple(sets[s]), float(alphas[a])))
    return out


def choose_logistic(
    features: Mapping[str, np.ndarray],
    y: np.ndarray,
    groups: np.ndarray,
    sets: Sequence[tuple[str, ...]] = FEATURE_SETS,
    Cs: np.ndarray = NESTED_CS,
    seed: int = 0,
) -> tuple[tuple[str, ...], float]:
    """The (feature set, C) of best pooled inner cross-validated ROC-AUC (two classes in
    ``y``); the first set and C = 1 when there are too few groups or a fold has one class."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    splits = inner_splits(groups, seed)
    if not splits or any(len(np.unique(y[train])) < 2 for train, _ in splits):
        return tuple(sets[0]), 1.0
    best, best_score = (tuple(sets[0]), 1.0), -np.inf
    for blocks in sets:
        X = block_matrix(features, blocks)
        pairs = [standardise_pair(X[train], X[test]) for train, test in splits]
        for C in Cs:
            scores = np.zeros(len(y))
            for (train, test), (Ztr, Zte) in zip(splits, pairs, strict=True):
                model = LogisticRegression(C=float(C), max_iter=5000).fit(Ztr, y[train])
                scores[test] = model.decision_function(Zte)
            score = roc_auc_score(y, scores)
            if score > best_score + 1e-9:
                best, best_score = (tuple(blocks), float(C)), score
    return best
