"""Transposition: the pitch moves by the semitones asked, the length does not."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.audio.stretch import rubberband_available
from songscape.audio.transpose import TRANSPOSE_METHODS, transpose

SR = 22050


def peak_hz(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[spectrum.argmax()])


@pytest.mark.parametrize("method", TRANSPOSE_METHODS)
@pytest.mark.parametrize("semitones", [-5, 3])
def test_a_tone_moves_by_the_semitones_and_keeps_its_length(method, semitones):
    if method == "rubberband" and not rubberband_available():
        pytest.skip("rubberband-cli is not installed")
    t = np.arange(2 * SR) / SR
    tone = np.stack([0.3 * np.sin(2 * np.pi * 330.0 * t)] * 2).astype(np.float32)
    out = transpose(tone, SR, semitones, method=method)
    assert out.shape == tone.shape and out.dtype == np.float32
    expected = 330.0 * 2 ** (semitones / 12)
    middle = out[0, SR // 2 : 3 * SR // 2]
    assert abs(12 * np.log2(peak_hz(middle, SR) / expected)) < 0.25


def test_no_shift_is_a_copy_and_bad_method_is_refused():
    y = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    out = transpose(y, SR, 0)
    assert np.array_equal(out, y) and out is not y
    with pytest.raises(ValueError, match="unknown transpose method"):
        transpose(y, SR, 2, method="tape")
