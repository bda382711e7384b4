"""The embedding-quality metrics, on synthetic data with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.evaluation.probes import knn_precision_at_k, linear_probe, multilabel_auc


def clusters(n_per_class: int = 20, n_classes: int = 3, dim: int = 8, spread: float = 0.1,
             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tight, far-apart Gaussian clusters: one per class."""
    rng = np.random.default_rng(seed)
    centres = 10.0 * np.eye(n_classes, dim)
    X = np.concatenate([c + spread * rng.standard_normal((n_per_class, dim)) for c in centres])
    y = np.repeat([f"class{i}" for i in range(n_classes)], n_per_class)
    return X, y


# ---- linear probe -------------------------------------------------------------------------


def test_probe_separable_clusters_are_perfect() -> None:
    X, y = clusters()
    result = linear_probe(X, y)
    assert result["accuracy"] == 1.0
    assert result["fold_accuracies"] == [1.0] * 5
    assert result["class_names"] == ["class0", "class1", "class2"]
    assert np.array_equal(result["confusion"], np.diag([20, 20, 20]))
    low, high = result["ci95"]
    assert 0.9 < low < 1.0 and high == 1.0
    assert result["majority_baseline"] == pytest.approx(1 / 3)


def test_probe_random_labels_are_near_chance() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    y = rng.permutation(np.repeat(["a", "b"], 100))
    result = linear_probe(X, y, seed=1)
    assert 0.35 < result["accuracy"] < 0.65
    assert result["ci95"][0] < 0.5 < result["ci95"][1]
    assert np.sum(result["confusion"]) == 200


def test_probe_groups_keep_duplicates_out_of_the_test_folds() -> None:
    # 40 groups of 3 near-identical copies, label random per group: a memorising model
    # scores high only when copies of a test item were in training (leakage).
    rng = np.random.default_rng(0)
    points = rng.standard_normal((40, 200))
    X = np.repeat(points, 3, axis=0) + 1e-3 * rng.standard_normal((120, 200))
    labels = np.repeat(rng.permutation(np.repeat(["a", "b"], 20)), 3)
    groups = np.repeat(np.arange(40), 3)
    leaky = linear_probe(X, labels, n_splits=3)
    grouped = linear_probe(X, labels, groups=groups, n_splits=3)
    assert leaky["accuracy"] > 0.9
    assert grouped["accuracy"] < 0.75
    assert grouped["grouped"] and not leaky["grouped"]


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "message"),
    [
        (np.zeros((10, 2)), ["a"] * 10, {}, "at least 2 classes"),
        (np.zeros(10), ["a", "b"] * 5, {}, "2-D"),
        (np.zeros((10, 2)), ["a", "b"] * 4, {}, "8 entries"),
        (np.full((10, 2), np.nan), ["a", "b"] * 5, {}, "NaN"),
        (np.zeros((10, 2)), ["a"] * 7 + ["b"] * 3, {}, "fewer than n_splits"),
        (np.zeros((10, 2)), ["a", "b"] * 5, {"n_splits": 1}, "at least 2"),
        (np.zeros((10, 2)), ["a", "b"] * 5, {"groups": [0, 1, 2] * 3 + [0]}, "3 groups"),
    ],
)
def test_probe_rejects_bad_input(X, y, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        linear_probe(X, y, **kwargs)


def test_probe_rejects_groups_that_empty_a_class_from_training() -> None:
    X, y = clusters(n_per_class=6, n_classes=2)
    groups = np.where(y == "class0", "only", np.arange(12).astype(str))  # class0 is one group
    with pytest.raises(ValueError, match="no training items of class"):
        linear_probe(X, y, groups=groups, n_splits=3)


# ---- kNN precision ------------------------------------------------------------------------


def test_knn_separable_clusters_are_perfect() -> None:
    X, y = clusters()
    result = knn_precision_at_k(X, y, k=10)
    assert result["precision"] == 1.0
    assert result["ci95"] == (1.0, 1.0)
    assert result["ceiling"] == 1.0
    assert result["chance"] == pytest.approx(19 / 59)
    assert result["neighbours"].shape == (60, 10)
    assert not np.any(result["neighbours"] == np.arange(60)[:, None])  # never itself


def test_knn_random_labels_are_near_chance() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    y = rng.integers(0, 3, 300)
    result = knn_precision_at_k(X, y, k=10, metric="euclidean")
    assert abs(result["precision"] - result["chance"]) < 0.06
    assert result["ci95"][0] < result["chance"] < result["ci95"][1]


def test_knn_groups_are_never_neighbours() -> None:
    # Pairs of identical points with random labels per pair: without groups each item's
    # nearest neighbour is its twin (precision@1 = 1); with groups the twin is excluded.
    rng = np.random.default_rng(0)
    points = rng.standard_normal((50, 6))
    X = np.repeat(points, 2, axis=0)
    labels = np.repeat(rng.integers(0, 2, 50), 2)
    groups = np.repeat(np.arange(50), 2)
    leaky = knn_precision_at_k(X, labels, k=1)
    grouped = knn_precision_at_k(X, labels, k=1, groups=groups)
    assert leaky["precision"] == 1.0
    assert grouped["precision"] < 0.75
    neighbours = grouped["neighbours"][:, 0]
    assert not np.any(groups[neighbours] == groups)


def test_knn_ceiling_reflects_excluded_groups() -> None:
    X, y = clusters(n_per_class=6, n_classes=2)
    groups = np.repeat(np.arange(4), 3)  # each class = two groups of 3
    result = knn_precision_at_k(X, y, k=5, groups=groups)
    # 3 same-class items stay eligible out of 9: at most 3 of 5 neighbours can match
    assert result["ceiling"] == pytest.approx(3 / 5)
    assert result["precision"] == pytest.approx(3 / 5)
    assert result["chance"] == pytest.approx(3 / 9)


@pytest.mark.parametrize(
    ("k", "kwargs", "message"),
    [
        (10, {}, "smaller than the number of items"),
        (12, {}, "smaller than the number of items"),
        (0, {}, "at least 1"),
        (8, {"groups": [0] * 5 + [1] * 5}, "eligible neighbours"),
    ],
)
def test_knn_rejects_bad_k(k, kwargs, message) -> None:
    X, y = clusters(n_per_class=5, n_classes=2)
    with pytest.raises(ValueError, match=message):
        knn_precision_at_k(X, y, k=k, **kwargs)


def test_knn_rejects_mismatched_labels() -> None:
    with pytest.raises(ValueError, match="labels has 3 entries"):
        knn_precision_at_k(np.zeros((4, 2)), [0, 1, 0], k=1)


# ---- multi-label tagging ------------------------------------------------------------------


def test_multilabel_auc_known_values_and_skipped_tags() -> None:
    truth = np.array([[1, 0, 1], [1, 1, 1], [0, 0, 1], [0, 1, 1]])
    scores = np.array([[0.9, 0.1, 0.5], [0.8, 0.2, 0.5], [0.1, 0.3, 0.5], [0.2, 0.9, 0.5]])
    result = multilabel_auc(truth, scores)
    # tag 0 perfectly ranked; tag 1: positives at 0.2 and 0.9 vs negatives 0.1 and 0.3 -> 3/4;
    # tag 2 is positive everywhere: no AUC, skipped
    assert result["per_tag_roc_auc"][:2] == [1.0, 0.75] and result["skipped"] == [2]
    assert result["roc_auc"] == pytest.approx(0.875) and result["n_tags"] == 2
    assert result["per_tag_pr_auc"][0] == 1.0
    with pytest.raises(ValueError, match="only 0 and 1"):
        multilabel_auc(truth * 2, scores)
    with pytest.raises(ValueError, match="undefined"):
        multilabel_auc(np.ones((3, 2)), np.zeros((3, 2)))


def test_multilabel_auc_matches_hand_computation() -> None:
    truth = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    scores = np.array([[0.9, 0.2, 0.5], [0.8, 0.7, 0.5], [0.3, 0.6, 0.5], [0.1, 0.1, 0.5]])
    result = multilabel_auc(truth, scores)
    # tag 0: positives 0.9, 0.3 vs negatives 0.8, 0.1 -> 3 of 4 pairs; AP (1 + 2/3) / 2
    # tag 1: positives above all negatives -> 1 and 1; tag 2 has no positive: skipped
    assert result["per_tag_roc_auc"] == [pytest.approx(0.75), pytest.approx(1.0), None]
    assert result["per_tag_pr_auc"][0] == pytest.approx(5 / 6)
    assert result["roc_auc"] == pytest.approx(0.875)
    assert result["pr_auc"] == pytest.approx((5 / 6 + 1) / 2)
    assert result["skipped"] == [2] and result["n_tags"] == 2
    assert multilabel_auc([[1], [0]], [[0.5], [0.5]])["roc_auc"] == 0.5  # ties count half
    with pytest.raises(ValueError, match="only 0 and 1"):
        multilabel_auc([[2], [0]], [[0.1], [0.2]])
    with pytest.raises(ValueError, match="differ in shape"):
        multilabel_auc(truth, scores[:, :2])
    with pytest.raises(ValueError, match="undefined"):
        multilabel_auc([[0], [0]], [[0.1], [0.2]])
    with pytest.raises(ValueError, match="NaN"):
        multilabel_auc([[1], [0]], [[np.nan], [0.2]])
