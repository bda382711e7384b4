"""Brightness descriptors on signals whose centroid is known."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from songscape.analysis.spectral import (
    mean_spectral_centroid,
    spectral_centroid,
    spectral_rolloff_hz,
)
from songscape.audio.synth import harmonic_tone

SR = 22050
N_FFT = 2048


def mag(y: np.ndarray) -> np.ndarray:
    return np.abs(librosa.stft(np.asarray(y, dtype=np.float32), n_fft=N_FFT, hop_length=512))


@pytest.mark.parametrize("freq", [440.0, 1000.0, 3000.0])
def test_sine_centroid_is_its_frequency(freq: float) -> None:
    t = np.arange(3 * SR) / SR
    S = mag(0.5 * np.sin(2 * np.pi * freq * t))
    # Window leakage is symmetric in bins, so the centroid lands within a bin (10.8 Hz).
    assert mean_spectral_centroid(S, SR, N_FFT) == pytest.approx(freq, abs=SR / N_FFT)


def test_centroid_of_two_tones_is_magnitude_weighted() -> None:
    t = np.arange(3 * SR) / SR
    y = 0.3 * np.sin(2 * np.pi * 500 * t) + 0.1 * np.sin(2 * np.pi * 2500 * t)
    expected = (0.3 * 500 + 0.1 * 2500) / 0.4
    assert mean_spectral_centroid(mag(y), SR, N_FFT) == pytest.approx(expected, rel=0.02)


def test_brighter_timbre_has_higher_centroid_and_rolloff() -> None:
    dark = mag(harmonic_tone(220.0, 2.0, SR, n_harmonics=12, rolloff=2.0))
    bright = mag(harmonic_tone(220.0, 2.0, SR, n_harmonics=12, rolloff=0.5))
    assert mean_spectral_centroid(bright, SR) > 1.5 * mean_spectral_centroid(dark, SR)
    assert spectral_rolloff_hz(bright, SR) > spectral_rolloff_hz(dark, SR)


def test_mean_matches_librosa_frame_centroids() -> None:
    rng = np.random.default_rng(0)
    S = mag(rng.standard_normal(2 * SR) * np.linspace(0.1, 1.0, 2 * SR))
    per_frame = spectral_centroid(S, SR, N_FFT)
    w = S.sum(axis=0)
    assert mean_spectral_centroid(S, SR, N_FFT) == pytest.approx(
        float(np.sum(per_frame * w) / np.sum(w)), rel=1e-6
    )


def test_silence_gives_none() -> None:
    S = mag(np.zeros(SR))
    assert mean_spectral_centroid(S, SR) is None
    assert spectral_rolloff_hz(S, SR) is None
