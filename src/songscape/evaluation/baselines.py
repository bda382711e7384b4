"""Baseline embeddings that need no training: what a learned embedding must beat.

* :func:`mfcc_statistics`: the MFCC-statistics vector of a whole track (80-d by default).
"""

from __future__ import annotations

import numpy as np

__all__ = ["mfcc_statistics"]


def mfcc_statistics(
    y: np.ndarray, sr: int, n_mfcc: int = 20, n_fft: int = 2048, hop_length: int = 512
) -> np.ndarray:
    """The MFCC-statistics baseline: a fixed-length vector summarising a whole track.

    Computes ``M = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft,
    hop_length=hop_length)`` (librosa's defaults otherwise: 128 Slaney mel bands from
    0 Hz to ``sr / 2`` of a centred Hann-windowed power spectrogram, converted to dB
    with ``power_to_db`` (ref 1.0, top_db 80), orthonormal DCT-II, coefficient 0 --
    the log-energy term -- kept) and its first-order deltas
    ``D = librosa.feature.delta(M)`` (Savitzky-Golay, width 9, or the largest odd width
    the number of frames allows, at least 3), then returns, concatenated in this order:

    ``[mean_t(M), std_t(M), mean_t(D), std_t(D)]``

    where the mean and (population, ``ddof=0``) standard deviation run over frames.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio; finite, at least ``n_fft`` samples.
    sr : int
        Sample rate in Hz.
    n_mfcc : int
        Coefficients per frame.
    n_fft, hop_length : int
        STFT size and hop in samples.

    Returns
    -------
    np.ndarray, shape (4 * n_mfcc,), float32
        80 values for the default ``n_mfcc=20``.
    """
    import librosa

    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n,), got {y.shape}")
    if sr <= 0 or n_mfcc < 1:
        raise ValueError("sr and n_mfcc must be positive")
    if len(y) < n_fft:
        raise ValueError(f"audio too short: {len(y)} samples, need at least n_fft={n_fft}")
    if not np.all(np.isfinite(y)):
        raise ValueError("audio contains NaN or infinite samples")
    mfcc = librosa.feature.mfcc(
        y=y.astype(np.float32, copy=False), sr=sr, n_mfcc=n_mfcc, n_fft=n_fft,
        hop_length=hop_length,
    )  # fmt: skip
    n_frames = mfcc.shape[1]
    if n_frames >= 3:
        width = min(9, n_frames if n_frames % 2 else n_frames - 1)
        delta = librosa.feature.delta(mfcc, width=width)
    else:  # too few frames for a derivative filter
        delta = np.zeros_like(mfcc)
    return np.concatenate(
        [mfcc.mean(axis=1), mfcc.std(axis=1), delta.mean(axis=1), delta.std(axis=1)]
    ).astype(np.float32)
