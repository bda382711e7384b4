"""A streaming look-ahead true-peak limiter, and a true-peak meter.

True peak follows ITU-R BS.1770-4 Annex 2 in spirit: the signal is oversampled ×4 and
the largest absolute value is taken. The limiter's gain for sample ``n`` is the
smallest "safe" gain (``ceiling / true_peak``, at most 1) over a window that looks
``lookahead_s`` ahead and holds for ``hold_s`` behind, smoothed by a moving average over
the look-ahead; the average of gains that are all at most the safe gain of sample
``n`` is itself at most that gain, so no sample exceeds the ceiling, and the gain ramps
down over the look-ahead before a peak instead of jumping.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage
import scipy.signal

#: Oversampling factor of the true-peak estimate.
OVERSAMPLE = 4
#: Samples on each side a streamed true-peak estimate interpolates with.
LEFT_CONTEXT, RIGHT_CONTEXT = 32, 32


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def sample_true_peaks(x: np.ndarray, left_context: np.ndarray | None = None) -> np.ndarray:
    """Per-sample true peak of ``x`` (channels, n): the largest absolute value, over
    channels and the :data:`OVERSAMPLE` interpolated points from each sample to the next.

    ``left_context`` (channels, k): the samples before ``x``, to interpolate its first
    samples as part of a longer stream.
    """
    x = np.atleast_2d(x)
    k = 0 if left_context is None else left_context.shape[1]
    full = x if k == 0 else np.concatenate([left_context, x], axis=1)
    up = scipy.signal.resample_poly(full, OVERSAMPLE, 1, axis=1)
    peaks = np.abs(up).max(axis=0)
    n_full = full.shape[1]
    per_sample = np.maximum(
        peaks[: n_full * OVERSAMPLE].reshape(n_full, OVERSAMPLE).max(axis=1),
        np.abs(full).max(axis=0),
    )
    return per_sample[k:]


def true_peak_db(x: np.ndarray) -> float:
    """True peak of a whole signal (channels, n), dBTP (−inf for silence)."""
    if np.atleast_2d(x).shape[1] == 0:
        return float("-inf")
    peak = float(sample_true_peaks(x).max())
    return float(20.0 * np.log10(peak)) if peak > 0 else float("-inf")


class TruePeakLimiter:
    """Limit a stream of blocks to ``ceiling_db`` dBTP; output lags input by the
    look-ahead, and :meth:`flush` returns the rest.

    Parameters
    ----------
    sr : int
        Sample rate, Hz.
    channels : int
        Channels of every block.
    ceiling_db : float
        Highest true peak of the output, dBTP.
    lookahead_s, hold_s : float
        Gain ramp length before a peak, and how long the gain stays down after it, seconds.
    margin_db : float
        Safety margin under the ceiling for the estimate's error at block edges, dB.
    """

    def __init__(
        self,
        sr: int,
        channels: int = 2,
        ceiling_db: float = -1.0,
        lookahead_s: float = 0.005,
        hold_s: float = 0.05,
        margin_db: float = 0.2,
    ) -> None:
        self.lookahead = max(1, int(round(lookahead_s * sr)))
        self.hold = max(0, int(round(hold_s * sr)))
        self.ceiling = db_to_gain(ceiling_db - margin_db)
        self.channels = channels
        self.pending = np.zeros((channels, 0), dtype=np.float32)  # input not yet output
        # Safe gains from (first pending sample - lookahead + 1 - hold) to the input's end.
        self.gains = np.ones(self.lookahead - 1 + self.hold)
        self.context = np.zeros((channels, LEFT_CONTEXT), dtype=np.float32)
        self.raw = np.zeros((channels, 0), dtype=np.float32)  # peaks not yet computed
        self.min_gain = 1.0

    def process(self, x: np.ndarray) -> np.ndarray:
        """Feed a block (channels, n); returns the limited samples now complete."""
        x = np.asarray(x, dtype=np.float32).reshape(self.channels, -1)
        self.pending = np.concatenate([self.pending, x], axis=1)
        self.raw = np.concatenate([self.raw, x], axis=1)
        if self.raw.shape[1] > RIGHT_CONTEXT:
            # Interpolating a sample needs the samples after it: keep the last few back.
            peaks = sample_true_peaks(self.raw, self.context)[:-RIGHT_CONTEXT]
            self._add_gains(peaks, self.raw[:, :-RIGHT_CONTEXT])
            self.raw = self.raw[:, -RIGHT_CONTEXT:]
        return self._emit(self._gained() - (self.lookahead - 1))

    def flush(self) -> np.ndarray:
        """The remaining samples (the look-ahead's worth) once the input has ended."""
        if self.raw.shape[1]:
            self._add_gains(sample_true_peaks(self.raw, self.context), self.raw)
            self.raw = self.raw[:, :0]
        n = self.pending.shape[1]
        self.gains = np.concatenate([self.gains, np.ones(self.lookahead - 1)])
        return self._emit(n)

    def _add_gains(self, peaks: np.ndarray, samples: np.ndarray) -> None:
        self.context = np.concatenate([self.context, samples], axis=1)[:, -LEFT_CONTEXT:]
        safe = np.minimum(1.0, self.ceiling / np.maximum(peaks, 1e-12))
        self.gains = np.concatenate([self.gains, safe])

    def _gained(self) -> int:
        """Pending samples whose safe gain is known."""
        return len(self.gains) - (self.lookahead - 1 + self.hold)

    def _emit(self, n_out: int) -> np.ndarray:
        if n_out <= 0:
            return np.zeros((self.channels, 0), dtype=np.float32)
        la, hold = self.lookahead, self.hold
        width = la + hold
        # h[m] = min(gains over [m - hold, m + la - 1]) for m from first pending - la + 1.
        if width % 2 == 0:  # scipy needs an odd size for a purely forward window
            padded = np.concatenate([[self.gains[0]], self.gains])
            h = scipy.ndimage.minimum_filter1d(
                padded, width + 1, origin=-(width // 2), mode="nearest"
            )[: len(self.gains) - width + 1]
        else:
            h = scipy.ndimage.minimum_filter1d(
                self.gains, width, origin=-(width // 2), mode="nearest"
            )[: len(self.gains) - width + 1]
        # s[n] = mean(h[n - la + 1 .. n]) for the pending samples.
        c = np.concatenate([[0.0], np.cumsum(h)])
        smooth = (c[la : la + n_out] - c[:n_out]) / la
        out = self.pending[:, :n_out] * smooth.astype(np.float32)
        if n_out:
            self.min_gain = min(self.min_gain, float(smooth.min()))
        self.pending = self.pending[:, n_out:]
        self.gains = self.gains[n_out:]
        return out
