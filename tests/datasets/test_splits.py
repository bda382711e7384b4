"""Grouped splits: a group is never on both sides, and validation never takes a class away."""

from __future__ import annotations

import numpy as np

from songscape.datasets import grouped_folds, read_labels, train_valid_split
from tests.helpers import shared_data


def gtzan_labels():
    return read_labels(shared_data("gtzan_subset100", "labels.csv"), label_column="genre")


def test_grouped_split_never_puts_a_group_on_both_sides() -> None:
    data = gtzan_labels()
    train, valid = train_valid_split(data, 0.2, seed=3)
    assert len(train) + len(valid) == 93 and len(valid) > 0
    assert not set(data.groups[train]) & set(data.groups[valid])
    assert np.array_equal(train, train_valid_split(data, 0.2, seed=3)[0])  # seeded
    for tr, te in grouped_folds(data, 3, seed=0):
        assert not set(data.groups[tr]) & set(data.groups[te])


def test_validation_split_never_takes_a_class_out_of_training() -> None:
    # Inside a cross-training fold most genres keep 1-2 groups: a class whose only
    # training group went to validation would be unlearnable (and stop training at once).
    data = gtzan_labels()
    for tr, _ in grouped_folds(data, 3, seed=0):
        part = data.subset(tr)
        for seed in range(4):
            train, valid = train_valid_split(part, 0.2, seed=seed)
            labels = part.single_labels()
            assert set(labels[valid]) <= set(labels[train])
            assert set(labels[train]) == set(labels)
            assert not set(part.groups[train]) & set(part.groups[valid])
            assert 0.1 * len(part) <= len(valid) <= 0.3 * len(part)
    # one group per class: nothing can move, so no validation part
    labels = data.single_labels()
    first = {c: data.groups[np.flatnonzero(labels == c)[0]] for c in data.classes}
    single = data.subset(np.flatnonzero(np.isin(data.groups, list(first.values()))))
    assert len(np.unique(single.groups)) == len(single.classes) == 10
    assert len(train_valid_split(single, 0.2)[1]) == 0
