"""The MFCC-statistics baseline embedding."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.evaluation.baselines import mfcc_statistics


def test_mfcc_statistics_layout() -> None:
    sr = 16000
    t = np.arange(sr) / sr
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    noise = 0.1 * np.random.default_rng(0).standard_normal(sr).astype(np.float32)
    a, b = mfcc_statistics(tone, sr), mfcc_statistics(noise, sr)
    assert a.shape == (80,) and a.dtype == np.float32 and np.all(np.isfinite(a))
    assert np.all(a[20:40] >= 0) and np.all(a[60:] >= 0)  # the std blocks
    assert not np.allclose(a, b)
    assert np.array_equal(a, mfcc_statistics(tone, sr))
    assert mfcc_statistics(tone, sr, n_mfcc=13).shape == (52,)
    assert mfcc_statistics(tone[:2048], sr).shape == (80,)  # few frames: narrow delta filter
    with pytest.raises(ValueError, match="mono"):
        mfcc_statistics(np.stack([tone, tone]), sr)
    with pytest.raises(ValueError, match="too short"):
        mfcc_statistics(tone[:100], sr)
