"""Grouped splits of a :class:`~songscape.datasets.labels.LabelSet`: a group is never on both sides.

:func:`grouped_folds` gives cross-validation folds (``songscape evaluate``);
:func:`train_valid_split` the train/validation split of ``songscape train``.
"""

from __future__ import annotations

import numpy as np

from songscape.datasets.labels import LabelSet
from songscape.errors import DatasetError

__all__ = ["grouped_folds", "train_valid_split"]


def grouped_folds(
    labelset: LabelSet, n_folds: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_folds`` (train, held-out) index pairs; a group is never on both sides.

    Single-label sets use :class:`~sklearn.model_selection.StratifiedGroupKFold` (shuffled
    with ``seed``), others (and sets too small to stratify) :class:`~sklearn.model_selection.
    GroupKFold` over a seeded permutation of the groups.
    """
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    n = len(labelset)
    n_groups = len(np.unique(labelset.groups))
    if n_folds < 2:
        raise DatasetError(f"need at least 2 folds, got {n_folds}")
    if n_groups < n_folds:
        raise DatasetError(f"{n_groups} groups cannot fill {n_folds} folds")
    X = np.zeros((n, 1))
    stratify = labelset.labelled and not labelset.multilabel
    if stratify:  # sklearn needs some class with at least n_folds members to stratify
        stratify = int(np.bincount(labelset.class_index()).max()) >= n_folds
    if stratify:
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        splits = splitter.split(X, labelset.class_index(), labelset.groups)
    else:
        # GroupKFold has no shuffle in older sklearn: relabel groups in a seeded order.
        uniq = np.unique(labelset.groups)
        perm = np.random.default_rng(seed).permutation(len(uniq))
        relabel = dict(zip(uniq, perm, strict=True))
        groups = np.array([relabel[g] for g in labelset.groups])
        splits = GroupKFold(n_splits=n_folds).split(X, groups=groups)
    return [(np.sort(a), np.sort(b)) for a, b in splits]


def train_valid_split(
    labelset: LabelSet, valid_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Grouped train/validation indices that never take a class out of training.

    Single-label sets: whole groups, in a seeded order, move to validation while the
    validation part holds fewer than ``valid_fraction`` of the items, but only groups
    whose class keeps at least one other group in training. A class with a single
    group therefore stays in training only; without that rule a small set (GTZAN's
    2 groups per genre) loses classes to validation, the validation loss of those
    classes rises from the first epoch and early stopping fires at once. When no
    group can move, the validation part is empty (training then monitors its own
    loss). Other sets: one fold of ``round(1 / valid_fraction)`` grouped folds.
    ``valid_fraction=0`` puts everything in train.
    """
    if not 0 <= valid_fraction < 1:
        raise DatasetError(f"valid fraction must be in [0, 1), got {valid_fraction}")
    n = len(labelset)
    if valid_fraction == 0:
        return np.arange(n), np.arange(0)
    groups = np.asarray(labelset.groups)
    uniq = np.unique(groups)
    if labelset.labelled and not labelset.multilabel:
        classes = labelset.class_index()
        # a group's class: its most common one (groups are nearly always pure)
        group_class = {g: int(np.bincount(classes[groups == g]).argmax()) for g in uniq}
        left = np.bincount(list(group_class.values()))
        valid_groups: list = []
        taken = 0
        for j in np.random.default_rng(seed).permutation(len(uniq)):
            g = uniq[j]
            size = int(np.sum(groups == g))
            if taken >= valid_fraction * n:
                break
            if left[group_class[g]] > 1 and taken + size <= 1.5 * valid_fraction * n:
                valid_groups.append(g)
                left[group_class[g]] -= 1
                taken += size
        in_valid = np.isin(groups, valid_groups)
        return np.flatnonzero(~in_valid), np.flatnonzero(in_valid)
    n_folds = max(2, int(round(1 / valid_fraction)))
    n_folds = min(n_folds, len(uniq))
    if n_folds < 2:
        raise DatasetError("need at least 2 groups to hold out a validation set")
    train, valid = grouped_folds(labelset, n_folds, seed)[0]
    return train, valid
