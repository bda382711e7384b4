"""The true-peak limiter: nothing over the ceiling, nothing changed below it, the same
output whatever the block sizes."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.audio.limiter import TruePeakLimiter, db_to_gain, sample_true_peaks, true_peak_db

SR = 44100


def stream(x: np.ndarray, block: int, **kwargs) -> np.ndarray:
    lim = TruePeakLimiter(SR, x.shape[0], **kwargs)
    parts = [lim.process(x[:, i : i + block]) for i in range(0, x.shape[1], block)]
    return np.concatenate(parts + [lim.flush()], axis=1)


def loud_signal() -> np.ndarray:
    t = np.arange(SR * 2) / SR
    x = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t)])
    x[:, SR // 2 : SR // 2 + 4000] *= 4.0  # a 1.2 peak burst
    x[0, SR + 7] = 1.6  # a single spike
    return x.astype(np.float32)


def test_true_peak_of_a_sine_between_samples():
    # A sine at fs/4 sampled at 45 degrees: samples reach 0.707 but the wave reaches 1.
    n = np.arange(4096)
    x = np.sin(2 * np.pi * n / 4 + np.pi / 4)[None, :]
    assert np.abs(x).max() == pytest.approx(0.7071, abs=1e-3)
    assert true_peak_db(x) == pytest.approx(0.0, abs=0.2)


@pytest.mark.parametrize("block", [997, 8192, 100_000])
def test_output_never_exceeds_the_ceiling_and_keeps_its_length(block):
    x = loud_signal()
    y = stream(x, block, ceiling_db=-1.0)
    assert y.shape == x.shape
    assert true_peak_db(y) <= -1.0 + 1e-3
    # far from the peaks, the signal passes untouched
    np.testing.assert_allclose(y[:, : SR // 4], x[:, : SR // 4], atol=1e-7)


def test_block_size_does_not_change_the_output():
    x = loud_signal()
    np.testing.assert_allclose(stream(x, 1000), stream(x, 65536), atol=2e-3)


def test_quiet_signal_is_untouched():
    x = 0.1 * loud_signal()
    np.testing.assert_array_equal(stream(x, 4096), x)
    assert db_to_gain(-6.0206) == pytest.approx(0.5, abs=1e-4)
    assert sample_true_peaks(x).shape == (x.shape[1],)
