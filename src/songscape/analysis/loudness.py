"""Loudness: integrated loudness (EBU R128 / ITU-R BS.1770) and a coarse energy curve."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyloudnorm
import scipy.signal

#: Floor of :func:`energy_curve`, dB (digital silence would otherwise be -inf).
ENERGY_FLOOR_DB = -100.0

# BS.1770 gating blocks are 400 ms; pyloudnorm rejects shorter signals.
_GATE_BLOCK_S = 0.4


@lru_cache(maxsize=8)
def _meter(sr: int) -> pyloudnorm.Meter:
    # Building the K-weighting filters costs ~1 ms; reuse one meter per sample rate.
    return pyloudnorm.Meter(sr)


def integrated_loudness(y: np.ndarray, sr: int) -> float | None:
    """Integrated, gated loudness per ITU-R BS.1770-4 / EBU R128, in LUFS.

    Uses :mod:`pyloudnorm` (K-weighting, 400 ms blocks with 75 % overlap, absolute gate
    at -70 LUFS, relative gate at -10 LU).

    Parameters
    ----------
    y : np.ndarray
        Mono signal, shape (n,), or multichannel, shape (channels, n), in ``[-1, 1]``.
        Up to 5 channels are weighted per BS.1770 (L, R, C, Ls, Rs: surrounds +1.5 dB);
        more channels are mixed down to mono first (a rough stand-in).
    sr : int
        Sample rate, Hz.

    Returns
    -------
    float or None
        Loudness in LUFS; None when the signal is shorter than one 400 ms gating block or
        no block passes the absolute gate (silence).

    Notes
    -----
    A full-scale 1 kHz sine in one channel reads about -3.01 LUFS: the mean square is
    -3.01 dB and the +0.69 dB K-weighting gain at 1 kHz is cancelled by the standard's
    -0.691 dB offset.
    """
    x = np.asarray(y, dtype=np.float64)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim == 2 and x.shape[0] > 5:
        x = x.mean(axis=0)
    data = x.T if x.ndim == 2 else x  # pyloudnorm wants (samples, channels)
    if data.shape[0] < int(np.ceil(_GATE_BLOCK_S * sr)) + 1 or not np.isfinite(data).all():
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        lufs = float(_meter(int(sr)).integrated_loudness(data))
    return lufs if np.isfinite(lufs) else None


def energy_curve(
    y: np.ndarray,
    sr: int,
    rate_hz: float = 2.0,
    window_s: float = 1.0,
    floor_db: float = ENERGY_FLOOR_DB,
) -> np.ndarray:
    """RMS level over time, in dB relative to full scale, sampled at ``rate_hz``.

    Sample ``k`` is the RMS of the ``window_s``-long window centred at ``k / rate_hz``
    seconds (windows at the edges use only the samples that exist), for
    ``k = 0 … ceil(duration · rate_hz) - 1``.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono signal in ``[-1, 1]``.
    sr : int
        Sample rate, Hz.
    rate_hz : float
        Output sampling rate, Hz (points per second).
    window_s : float
        RMS window length, seconds.
    floor_db : float
        Lowest value returned, dB (silence).

    Returns
    -------
    np.ndarray, float64, shape (ceil(duration · rate_hz),)
        ``20 log10(rms)``, clipped below at ``floor_db``; a full-scale square wave is 0 dB,
        a full-scale sine -3.01 dB.
    """
    x = np.asarray(y, dtype=np.float64)
    n = len(x)
    if n == 0:
        return np.zeros(0)
    n_out = max(1, int(np.ceil(n / sr * rate_hz)))
    # Cumulative sum of squares: each window's mean square in O(1).
    cs = np.concatenate([[0.0], np.cumsum(x * x)])
    centers = np.arange(n_out) / rate_hz * sr
    half = window_s * sr / 2.0
    lo = np.clip(np.round(centers - half).astype(int), 0, n)
    hi = np.clip(np.round(centers + half).astype(int), 0, n)
    count = np.maximum(hi - lo, 1)
    ms = np.maximum((cs[hi] - cs[lo]) / count, 0.0)  # cumsum round-off can dip below 0
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(ms)
    return np.maximum(db, floor_db)


def k_weighting_filters(sr: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """BS.1770's K-weighting as ``(b, a)`` coefficient pairs applied in order (shelf, then
    high-pass), built from :class:`pyloudnorm.IIRfilter` with the standard's parameters."""
    shelf = pyloudnorm.IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sr, "high_shelf")
    high_pass = pyloudnorm.IIRfilter(0.0, 0.5, 38.0, sr, "high_pass")
    return [(shelf.b, shelf.a), (high_pass.b, high_pass.a)]


def k_weighted(y: np.ndarray, sr: int) -> np.ndarray:
    """``y`` (channels, n) through :func:`k_weighting_filters`; float64."""
    out = np.atleast_2d(y).astype(np.float64)
    for b, a in k_weighting_filters(sr):
        out = scipy.signal.lfilter(b, a, out, axis=-1)
    return out


def k_weighted_level_db(y: np.ndarray, sr: int) -> float | None:
    """Mean K-weighted power of ``y`` (channels, n) in dB (LUFS without gating); None for
    silence or an empty signal."""
    if np.atleast_2d(y).shape[-1] == 0:
        return None
    power = float((k_weighted(y, sr) ** 2).sum(axis=0).mean())
    return -0.691 + 10 * np.log10(power) if power > 1e-10 else None


def moving_level_db(y: np.ndarray, sr: int, window_s: float = 1.0) -> np.ndarray:
    """K-weighted level (dB) of ``y`` (channels, n) at every sample: the power averaged over
    a centred ``window_s`` window (edges: the samples that exist)."""
    power = (k_weighted(y, sr) ** 2).sum(axis=0)
    n, half = len(power), max(1, int(window_s * sr / 2))
    c = np.concatenate([[0.0], np.cumsum(power)])
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + half, 0, n)
    mean = (c[hi] - c[lo]) / np.maximum(hi - lo, 1)
    return -0.691 + 10 * np.log10(np.maximum(mean, 1e-10))
