"""Emotion figures: Spearman, ROC-AUC and top-emotion accuracy with intervals."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.evaluation.emotion_metrics import (
    roc_auc_rows,
    roc_auc_with_interval,
    spearman_rows,
    spearman_with_interval,
    top_emotion_accuracy,
)


def test_spearman_of_a_monotone_prediction_is_one_and_noise_is_near_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(size=80)
    perfect = spearman_with_interval(x, np.exp(x))
    assert perfect["rho"] == pytest.approx(1.0) and perfect["ci95"][0] > 0.99
    noise = spearman_with_interval(x, rng.normal(size=80))
    assert abs(noise["rho"]) < 0.3 and noise["ci95"][0] < noise["rho"] < noise["ci95"][1]
    assert np.isnan(spearman_with_interval(x, np.ones(80))["rho"])


def test_roc_auc_and_its_checks():
    y = np.array([0, 0, 1, 1, 0, 1])
    assert roc_auc_with_interval(y, [0.1, 0.2, 0.8, 0.9, 0.3, 0.7])["auc"] == 1.0
    assert roc_auc_with_interval(y, [0.9, 0.8, 0.1, 0.2, 0.7, 0.3])["auc"] == 0.0
    with pytest.raises(ValueError, match="both classes"):
        roc_auc_with_interval([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="0 and 1"):
        roc_auc_with_interval([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        roc_auc_with_interval([0, 1, 1], [0.1, np.nan, 0.3])


def test_top_emotion_accuracy_by_hand():
    truth = np.array([[0.9, 0.1, 0.0], [0.1, 0.8, 0.3], [0.2, 0.3, 0.9], [0.5, 0.4, 0.1]])
    pred = np.array([[0.8, 0.0, 0.1], [0.7, 0.2, 0.1], [0.1, 0.2, 0.3], [0.1, 0.9, 0.2]])
    out = top_emotion_accuracy(truth, pred)
    assert out["accuracy"] == 0.5 and out["in_top3"] == 1.0 and out["chance"] == 0.5
    with pytest.raises(ValueError):
        top_emotion_accuracy(truth, pred[:, :2])


def test_row_wise_auc_and_spearman_match_sklearn_and_scipy_with_ties():
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, (40, 25)).astype(float)
    truth[0] = 1.0  # one class only: NaN
    score = np.round(rng.normal(size=(40, 25)), 1)  # rounding makes ties
    auc = roc_auc_rows(truth, score)
    assert np.isnan(auc[0])
    for row in range(1, 40):
        assert auc[row] == pytest.approx(roc_auc_score(truth[row], score[row]), abs=1e-12)
    values = np.round(rng.normal(size=(40, 25)), 1)
    values[1] = 2.0  # constant: NaN
    rho = spearman_rows(values, score)
    assert np.isnan(rho[1])
    for row in [0, *range(2, 40)]:
        assert rho[row] == pytest.approx(spearmanr(values[row], score[row]).statistic, abs=1e-12)
