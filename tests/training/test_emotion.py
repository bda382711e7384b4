"""Emotion heads: fitting, cross-fitting, the head file, and estimates from features."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from songscape.datasets.emotion_labels import EmotionLabels
from songscape.errors import TrainedModelError
from songscape.models.emotion import (
    AudioEmotionFeatures,
    estimate_emotion,
    installed_heads,
    load_head,
    split_flat,
)
from songscape.models.emotion_space import GEMS
from songscape.models.registry import get_spec
from songscape.training.emotion import fit_head, out_of_fold, score_predictions


def synthetic(n: int = 80, seed: int = 0) -> tuple[np.ndarray, EmotionLabels]:
    """Features where arousal follows descriptor 0 (tempo), valence descriptor 1 and each
    GEMS emotion one embedding dimension."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 256))
    X[:, 200:250] = rng.uniform(0, 1, size=(n, 50))  # tag probabilities
    arousal = np.tanh(X[:, 250] + 0.3 * rng.normal(size=n))
    valence = (X[:, 251] + 0.3 * rng.normal(size=n) > 0).astype(float)
    gems = {g: np.clip(0.5 + 0.2 * X[:, i] + 0.05 * rng.normal(size=n), 0, 1)
            for i, g in enumerate(GEMS)}  # fmt: skip
    labels = EmotionLabels(
        paths=[], groups=np.array([f"g{i // 4}" for i in range(n)]), group_source="test",
        targets={"arousal": arousal, "valence": valence, **gems}, binary={"valence"},
        strata=np.array(["a" if v else "b" for v in valence]),
    )  # fmt: skip
    return X, labels


def features(row: np.ndarray, n_patches: int = 5) -> AudioEmotionFeatures:
    b = split_flat(row)
    gram = np.tile(b["tags"], (n_patches, 1))
    return AudioEmotionFeatures(b["embedding"], b["tags"], b["descriptors"], gram,
                                np.arange(n_patches) * 3.0, 3.0,
                                tuple(get_spec("musicnn-msd").labels))  # fmt: skip


def test_cross_fitted_heads_learn_what_the_features_carry():
    X, labels = synthetic()
    pred, folds = out_of_fold(X, labels, ("embedding",), folds=5, targets=list(GEMS))
    assert len(folds) == 5
    for train, test in folds:  # grouped: no group on both sides
        assert not set(labels.groups[train]) & set(labels.groups[test])
    assert score_predictions(pred, labels)["gems_mean_spearman"] > 0.35  # noise: about 0
    va, _ = out_of_fold(X, labels, ("descriptors",), folds=5, targets=["valence", "arousal"])
    scores = score_predictions(va, labels)["per_target"]
    assert scores["valence"]["roc_auc"]["auc"] > 0.8
    assert scores["arousal"]["spearman"]["rho"] > 0.7
    # A block that carries nothing about the targets scores near chance.
    only_tags, _ = out_of_fold(X, labels, ("tags",), folds=5, targets=["arousal"])
    rho = score_predictions(only_tags, labels)["per_target"]["arousal"]["spearman"]["rho"]
    assert abs(rho) < 0.35


def test_head_file_round_trip_and_estimates(tmp_path, monkeypatch):
    X, labels = synthetic()
    grams = [np.tile(split_flat(x)["tags"], (4, 1)) for x in X]
    head = fit_head("test-head", X, labels, taggrams=grams)
    path = head.save(tmp_path / "models" / "test-head")
    again = load_head(path)
    assert again.to_json() == head.to_json() and again.version == head.version
    assert set(again.patch) == {"valence", "arousal"}
    est = estimate_emotion(features(X[0]), [again])
    assert est.method == "head:test-head" and -1 <= est.valence <= 1 and -1 <= est.arousal <= 1
    assert set(est.gems) == set(GEMS) and est.curve.shape == (5, 2)
    assert est.curve[:, 1].mean() == pytest.approx(est.arousal, abs=1e-6)
    fast, slow = X[0].copy(), X[0].copy()
    fast[250], slow[250] = 3.0, -3.0  # the "tempo" feature the arousal target follows
    assert estimate_emotion(features(fast), [again]).arousal > estimate_emotion(
        features(slow), [again]).arousal  # fmt: skip
    zero = estimate_emotion(features(X[0]))
    assert zero.method == "zero-shot:musicnn-msd"
    # Installed heads are found; a broken one is skipped with a warning.
    (tmp_path / "models" / "broken").mkdir()
    (tmp_path / "models" / "broken" / "emotion.json").write_text(json.dumps({"format": "x"}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        heads = installed_heads(tmp_path / "models")
    assert [h.name for h in heads] == ["test-head"]
    assert any("broken emotion head" in str(w.message) for w in caught)
    with pytest.raises(TrainedModelError, match="unreadable"):
        load_head(tmp_path / "nothing.json")
