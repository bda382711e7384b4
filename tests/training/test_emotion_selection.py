"""Nested choice of an emotion head's feature set and penalty (inside the training items)."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.datasets.emotion_labels import EmotionLabels
from songscape.models.emotion import BLOCK_SIZES, BLOCKS, split_flat
from songscape.training.emotion import fit_head, out_of_fold, score_predictions
from songscape.training.emotion_selection import (
    FEATURE_SETS,
    choose_logistic,
    choose_ridge,
    column_means,
    inner_splits,
    ridge_path,
)

WIDTH = sum(BLOCK_SIZES.values())


def offset(block: str) -> int:
    return sum(BLOCK_SIZES[b] for b in BLOCKS[: BLOCKS.index(block)])


def wide(n: int = 90, seed: int = 0) -> tuple[np.ndarray, EmotionLabels]:
    """Full-width rows where arousal follows musicnn-mtt's tags and valence the patch
    spread of musicnn-msd's tags; nothing in the first version's blocks carries either."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, WIDTH))
    mtt, spread = offset("mtt_tags"), offset("tags_std")
    arousal = np.tanh(X[:, mtt : mtt + 3].sum(axis=1) + 0.2 * rng.normal(size=n))
    valence = (X[:, spread : spread + 3].sum(axis=1) + 0.3 * rng.normal(size=n) > 0
               ).astype(float)  # fmt: skip
    labels = EmotionLabels(
        paths=[], groups=np.array([f"g{i // 3}" for i in range(n)]), group_source="test",
        targets={"arousal": arousal, "valence": valence}, binary={"valence"},
        strata=np.array(["a" if v else "b" for v in valence]),
    )  # fmt: skip
    return X, labels


def test_ridge_path_matches_sklearn_ridge():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(1)
    Z, Zt, Y = rng.normal(size=(30, 50)), rng.normal(size=(7, 50)), rng.normal(size=(30, 2))
    path = ridge_path(Z, Y, Zt, np.array([0.5, 20.0]))
    for k, alpha in enumerate((0.5, 20.0)):
        expected = Ridge(alpha=alpha).fit(Z, Y).predict(Zt)
        np.testing.assert_allclose(path[k], expected, atol=1e-8)


def test_inner_splits_are_grouped_and_need_three_groups():
    groups = np.repeat(np.arange(6), 4)
    splits = inner_splits(groups)
    assert len(splits) == 3
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
    assert inner_splits(np.array([0, 0, 1, 1])) == []
    np.testing.assert_allclose(column_means(np.array([[1.0, np.nan], [3.0, np.nan]])), [2, 0])


def test_the_choice_finds_the_block_that_carries_the_target():
    X, labels = wide()
    feats = split_flat(X)
    ((chosen, alpha),) = choose_ridge(feats, labels.targets["arousal"][:, None], labels.groups)
    assert "mtt_tags" in chosen and alpha > 0
    chosen, C = choose_logistic(feats, labels.targets["valence"], labels.groups)
    assert "tags_std" in chosen and C > 0
    # Too few groups to cross-validate: the first version's set and a fixed penalty.
    few = np.array(["a", "b"] * 45)
    assert choose_ridge(feats, labels.targets["arousal"][:, None], few) == [(FEATURE_SETS[0],
                                                                             1.0)]  # fmt: skip


def test_nested_heads_beat_the_fixed_first_set_out_of_fold():
    X, labels = wide()
    nested, _ = out_of_fold(X, labels, folds=5, targets=["arousal"])
    fixed, _ = out_of_fold(X, labels, FEATURE_SETS[0], folds=5, targets=["arousal"])
    good = score_predictions(nested, labels)["per_target"]["arousal"]["spearman"]["rho"]
    bad = score_predictions(fixed, labels)["per_target"]["arousal"]["spearman"]["rho"]
    assert good > 0.3 > 0.25 > abs(bad)  # about 0.39 and -0.16
    head = fit_head("nested", X, labels)
    assert "mtt_tags" in head.audio["arousal"].blocks
    assert "tags_std" in head.audio["valence"].blocks


def test_first_version_rows_split_with_unknown_new_blocks():
    b = split_flat(np.ones((2, 256)))
    assert b["embedding"].shape == (2, 200) and np.isnan(b["mtt_tags"]).all()
    with pytest.raises(ValueError, match="257 values"):
        split_flat(np.ones(257))


def test_ridge_path_with_more_items_than_features_matches_sklearn_too():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(2)
    Z, Zt, Y = rng.normal(size=(40, 6)), rng.normal(size=(5, 6)), rng.normal(size=(40, 1))
    np.testing.assert_allclose(ridge_path(Z, Y, Zt, np.array([3.0]))[0, :, 0],
                               Ridge(alpha=3.0).fit(Z, Y[:, 0]).predict(Zt), atol=1e-8)  # fmt: skip
