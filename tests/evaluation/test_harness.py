"""The one evaluation protocol: embedding with caches, fixed and cross-fitted scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from songscape.datasets import LabelSet, grouped_folds, gtzan_groups, read_labels
from songscape.evaluation.harness import (
    MFCC,
    MFCC_LAYER,
    balanced_subset,
    embed_items,
    embed_layers,
    evaluate_cross_fitted,
    evaluate_embeddings,
    feasible_folds,
    feasible_k,
)
from tests.helpers import tiny_csv


def labelled(n_classes: int = 3, groups_per_class: int = 4, per_group: int = 3,
             dim: int = 6, spread: float = 0.5, seed: int = 0) -> tuple[np.ndarray, LabelSet]:
    """Clustered vectors and a matching single-label set with GTZAN-like groups."""
    rng = np.random.default_rng(seed)
    labels, groups, rows = [], [], []
    for c in range(n_classes):
        for g in range(groups_per_class):
            for _ in range(per_group):
                labels.append((f"c{c}",))
                groups.append(f"c{c}:{g}")
                rows.append(3.0 * np.eye(n_classes, dim)[c] + spread * rng.standard_normal(dim))
    paths = [Path(f"/nowhere/{i}.ogg") for i in range(len(rows))]
    data = LabelSet(paths=paths, labels=labels, groups=np.asarray(groups),
                    classes=tuple(sorted({lab[0] for lab in labels})), group_source="test")
    return np.asarray(rows), data


def test_cross_fitted_with_one_embedding_equals_the_fixed_protocol() -> None:
    X, data = labelled()
    for n_folds in (3, 4):
        fixed = evaluate_embeddings(X, data, folds=n_folds, k=5, seed=2)
        folds = grouped_folds(data, n_folds, seed=2)
        crossed = evaluate_cross_fitted([X] * n_folds, data, folds, k=5, seed=2)
        assert crossed["probe_acc"] == fixed["probe_acc"]
        assert crossed["probe_ci95"] == fixed["probe_ci95"]
        assert crossed["knn_p10"] == pytest.approx(fixed["knn_p10"])
        assert crossed["k"] == fixed["k"] == 5


def test_cross_fitted_scores_each_fold_in_its_own_embedding() -> None:
    X, data = labelled(spread=0.3)
    folds = grouped_folds(data, 3, seed=0)
    noise = np.random.default_rng(1).standard_normal(X.shape)
    good = evaluate_cross_fitted([X, X, X], data, folds, k=5)
    one_bad = evaluate_cross_fitted([X, X, noise], data, folds, k=5)
    assert good["probe_acc"] == 1.0
    held_out_by_noise = len(folds[2][1]) / len(data)
    assert one_bad["probe_acc"] <= 1.0 - 0.3 * held_out_by_noise
    assert one_bad["probe_acc"] >= 1.0 - held_out_by_noise  # the other folds are untouched
    with pytest.raises(ValueError, match="2 embeddings for 3 folds"):
        evaluate_cross_fitted([X, X], data, folds)
    with pytest.raises(ValueError, match="exactly once"):
        evaluate_cross_fitted([X, X], data, folds[:2])


def test_ungrouped_knn_is_the_leaky_figure() -> None:
    X, data = labelled()
    plain = evaluate_embeddings(X, data, folds=3, k=5)
    assert "knn_p10_ungrouped" not in plain  # songscape evaluate's output is unchanged
    leaky = evaluate_embeddings(X, data, folds=3, k=5, ungrouped_knn=True)
    assert leaky["knn_p10_ungrouped"] >= leaky["knn_p10"]
    assert {k: v for k, v in leaky.items() if k != "knn_p10_ungrouped"} == plain


def test_small_selections_keep_every_class_and_feasible_settings() -> None:
    _, data = labelled(n_classes=3, groups_per_class=4, per_group=3)
    small = balanced_subset(data, 9)
    assert len(small) == 9
    assert sorted(set(small.single_labels())) == ["c0", "c1", "c2"]
    assert all(len(set(small.groups[small.single_labels() == c])) == 3 for c in data.classes)
    assert balanced_subset(data, 0) is data and balanced_subset(data, 100) is data
    kept = [str(p) for p in small.paths]
    assert kept == sorted(kept, key=lambda p: int(Path(p).stem))  # order preserved
    assert feasible_folds(small, 5) == 3 and feasible_folds(data, 3) == 3
    assert feasible_k(data.groups, 10) == 10 and feasible_k(np.array(["a", "a", "b"]), 10) == 1


def test_gtzan_groups_blocks_ids_within_genre() -> None:
    names = ["audio/blues/blues.00000.ogg", "blues.00004", "blues.00005.ogg", "rock.00001.wav"]
    groups = gtzan_groups(names)
    assert list(groups) == ["blues:0", "blues:0", "blues:1", "rock:0"]
    assert list(gtzan_groups(names, block=1)) == ["blues:0", "blues:4", "blues:5", "rock:1"]
    with pytest.raises(ValueError, match="not a GTZAN clip"):
        gtzan_groups(["song.ogg"])


def test_mfcc_embedding_is_cached_and_one_layer(tmp_path: Path) -> None:
    data = read_labels(tiny_csv(tmp_path), label_column="genre")
    X, info = embed_items(MFCC, data, cache_dir=tmp_path / "cache")
    assert X.shape == (8, 80) and X.dtype == np.float32
    assert info == {"model": MFCC, "version": "mfcc-20", "layer": MFCC_LAYER, "dim": 80}
    layers, again = embed_layers(MFCC, data, cache_dir=tmp_path / "cache")
    assert list(layers) == [MFCC_LAYER] and again == info
    np.testing.assert_array_equal(layers[MFCC_LAYER], X)
    assert list((tmp_path / "cache" / "features").glob("*.npz"))
