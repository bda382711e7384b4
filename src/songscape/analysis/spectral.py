"""Spectral shape: brightness descriptors from a magnitude spectrogram."""

from __future__ import annotations

import librosa
import numpy as np


def frame_weights(S: np.ndarray, floor_db: float = -60.0) -> np.ndarray:
    """Boolean mask of frames louder than ``floor_db`` below the loudest frame.

    Spectral statistics of near-silent frames (fades, gaps) are dominated by noise
    and dither, so the means below skip them.

    Parameters
    ----------
    S : np.ndarray, shape (n_bins, n_frames)
        Magnitude spectrogram.
    floor_db : float
        Threshold relative to the loudest frame's energy, dB.
    """
    energy = np.sum(np.asarray(S, dtype=float) ** 2, axis=0)
    if energy.size == 0 or energy.max() <= 0:
        return np.zeros(energy.shape, dtype=bool)
    return energy > energy.max() * 10.0 ** (floor_db / 10.0)


def spectral_centroid(S: np.ndarray, sr: int, n_fft: int = 2048) -> np.ndarray:
    """Per-frame spectral centroid, Hz (magnitude-weighted mean frequency).

    Parameters
    ----------
    S : np.ndarray, shape (1 + n_fft // 2, n_frames)
        Magnitude spectrogram.
    sr : int
        Sample rate, Hz.
    n_fft : int
        FFT size the spectrogram was computed with, samples.

    Returns
    -------
    np.ndarray, shape (n_frames,)
        Hz; 0 for all-zero frames.
    """
    return librosa.feature.spectral_centroid(S=S, sr=sr, n_fft=n_fft)[0]


def mean_spectral_centroid(S: np.ndarray, sr: int, n_fft: int = 2048) -> float | None:
    """Mean spectral centroid over non-silent frames, Hz (a "brightness" summary).

    Per-frame centroids (as :func:`spectral_centroid`) averaged with each frame weighted
    by its total magnitude, so loud passages dominate, as they do perceptually; frames
    more than 60 dB below the loudest are skipped. None when every frame is silent.

    Parameters
    ----------
    S : np.ndarray, shape (1 + n_fft // 2, n_frames)
        Magnitude spectrogram.
    sr : int
        Sample rate, Hz.
    n_fft : int
        FFT size, samples.
    """
    keep = frame_weights(S)
    if not keep.any():
        return None
    S = S[:, keep]
    # Magnitude-weighted mean of per-frame centroids = centroid of the summed spectrum
    # (one matrix-vector product instead of a per-frame normalisation).
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    total = S.sum(axis=1)
    return float(freqs @ total / total.sum())


def spectral_rolloff_hz(
    S: np.ndarray, sr: int, n_fft: int = 2048, roll_percent: float = 0.85
) -> float | None:
    """Median frequency below which ``roll_percent`` of each frame's energy lies, Hz.

    None when every frame is silent.
    """
    keep = frame_weights(S)
    if not keep.any():
        return None
    r = librosa.feature.spectral_rolloff(
        S=S[:, keep], sr=sr, n_fft=n_fft, roll_percent=roll_percent
    )[0]
    return float(np.median(r))
