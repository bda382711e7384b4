"""Confidence intervals, against known values."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.evaluation.intervals import bootstrap_interval, wilson_interval


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(0, 10)[1] > 0.2
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(10, 10)[0] < 0.8
    with pytest.raises(ValueError):
        wilson_interval(3, 0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_bootstrap_interval_is_seeded_and_brackets_the_mean() -> None:
    values = np.random.default_rng(1).random(50)
    a, b = bootstrap_interval(values, seed=3), bootstrap_interval(values, seed=3)
    assert a == b
    assert a[0] < values.mean() < a[1]
    assert bootstrap_interval(np.ones(5)) == (1.0, 1.0)
    with pytest.raises(ValueError):
        bootstrap_interval([0.5])
