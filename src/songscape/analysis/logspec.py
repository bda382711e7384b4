"""Log-filtered spectrogram and its positive difference: the input of beat networks.

The beat/downbeat networks trained with madmom (BeatNet among them) expect madmom's
feature pipeline exactly: centred frames, a Hann-windowed FFT of the frame length,
overlapping triangular filters spaced logarithmically (``bands_per_octave`` per octave,
normalised to unit area), ``log10(1 + S)`` and the half-wave rectified difference to the
frame half a window earlier, stacked. This module reproduces it with numpy alone, so
the default rhythm path needs no madmom; ``tests/analysis/test_logspec.py`` compares it
with madmom's own processors.
"""

from __future__ import annotations

import numpy as np

#: Reference frequency of the logarithmic band centres, Hz (A4).
REFERENCE_HZ = 440.0


def frame_signal(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Frames centred on ``i * hop_length`` samples, zero-padded at both ends.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono signal.
    frame_length, hop_length : int
        Frame size and hop, samples.

    Returns
    -------
    np.ndarray, shape (ceil(n / hop_length), frame_length)
    """
    y = np.asarray(y, dtype=np.float32)
    n_frames = int(np.ceil(len(y) / float(hop_length)))
    half = frame_length // 2
    padded = np.concatenate([
        np.zeros(half, np.float32), y, np.zeros(frame_length + hop_length, np.float32)
    ])
    starts = np.arange(n_frames) * hop_length
    return padded[starts[:, None] + np.arange(frame_length)[None, :]]


def log_band_frequencies(
    bands_per_octave: int, fmin_hz: float, fmax_hz: float, reference_hz: float = REFERENCE_HZ
) -> np.ndarray:
    """Band centre frequencies spaced ``1 / bands_per_octave`` octave apart, Hz."""
    left = np.floor(np.log2(fmin_hz / reference_hz) * bands_per_octave)
    right = np.ceil(np.log2(fmax_hz / reference_hz) * bands_per_octave)
    freqs = reference_hz * 2.0 ** (np.arange(left, right) / float(bands_per_octave))
    freqs = freqs[np.searchsorted(freqs, fmin_hz):]
    return freqs[: np.searchsorted(freqs, fmax_hz, "right")]


def log_filterbank(
    bin_frequencies: np.ndarray,
    bands_per_octave: int = 24,
    fmin_hz: float = 30.0,
    fmax_hz: float = 17000.0,
) -> np.ndarray:
    """Overlapping, area-normalised triangular filters on log-spaced centre bins.

    Centres are snapped to the nearest FFT bin and de-duplicated, so low bands merge
    where bins are coarser than the band spacing.

    Returns
    -------
    np.ndarray, shape (n_bins, n_bands)
    """
    freqs = log_band_frequencies(bands_per_octave, fmin_hz, fmax_hz)
    idx = np.clip(bin_frequencies.searchsorted(freqs), 1, len(bin_frequencies) - 1)
    left, right = bin_frequencies[idx - 1], bin_frequencies[idx]
    idx = np.unique(idx - (freqs - left < right - freqs))
    if len(idx) < 3:
        raise ValueError("too few frequency bins for a triangular filterbank")
    bank = np.zeros((len(bin_frequencies), len(idx) - 2))
    triples = zip(idx[:-2], idx[1:-1], idx[2:], strict=True)
    for band, (start, centre, stop) in enumerate(triples):
        if stop - start < 2:  # too narrow for a triangle: a single bin
            centre, stop = start, start + 1
        rise = np.linspace(0, 1, centre - start, endpoint=False)
        fall = np.linspace(1, 0, stop - centre, endpoint=False)
        shape = np.concatenate([rise, fall])
        stop = min(stop, len(bin_frequencies))
        bank[start:stop, band] = (shape / shape.sum())[: stop - start]
    return bank


def log_filtered_spectrogram(
    y: np.ndarray,
    sr: int,
    frame_length: int,
    hop_length: int,
    *,
    bands_per_octave: int = 24,
    fmin_hz: float = 30.0,
    fmax_hz: float = 17000.0,
    diff_ratio: float = 0.5,
) -> np.ndarray:
    """``log10(1 + filtered |STFT|)`` stacked with its half-wave rectified difference.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono signal in [-1, 1].
    sr : int
        Sample rate, Hz.
    frame_length, hop_length : int
        FFT frame and hop, samples (BeatNet: 64 ms and 20 ms at 22050 Hz).
    bands_per_octave : int
        Filter bands per octave.
    fmin_hz, fmax_hz : float
        Range of the band centres, Hz.
    diff_ratio : float
        The difference is taken to the frame where the window had risen to this share
        of its maximum (0.5: about a quarter window earlier, at least one frame).

    Returns
    -------
    np.ndarray, shape (n_frames, 2 * n_bands), float32
    """
    frames = frame_signal(y, frame_length, hop_length)
    window = np.hanning(frame_length).astype(np.float32)
    n_bins = frame_length >> 1
    magnitude = np.abs(np.fft.rfft(frames * window, n=frame_length, axis=1)[:, :n_bins])
    bin_frequencies = np.fft.fftfreq(n_bins * 2, 1.0 / sr)[:n_bins]
    bank = log_filterbank(bin_frequencies, bands_per_octave, fmin_hz, fmax_hz)
    spec = np.log10(1.0 + (magnitude.astype(np.float32) @ bank.astype(np.float32)))
    first_high = int(np.argmax(window > diff_ratio * window.max()))
    diff_frames = int(max(1, round((frame_length / 2 - first_high) / hop_length)))
    diff = np.zeros_like(spec)
    diff[diff_frames:] = np.maximum(spec[diff_frames:] - spec[:-diff_frames], 0.0)
    return np.hstack([spec, diff]).astype(np.float32)
