"""Checks of a rendered mix: loudness at transitions, true peak, beat alignment, length.

Conventions: times in seconds on the mix's timeline; loudness in LUFS/LU per ITU-R
BS.1770 (K-weighted, channels summed with weight 1); *short-term* loudness uses a
3 s window (EBU Tech 3341) sampled every ``hop_s``.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from songscape.analysis.loudness import k_weighted, k_weighting_filters

#: EBU short-term window, seconds.
SHORT_TERM_S = 3.0


def short_term_loudness(
    y: np.ndarray, sr: int, hop_s: float = 0.1, window_s: float = SHORT_TERM_S
) -> tuple[np.ndarray, np.ndarray]:
    """Short-term loudness over time: ``(times_s, lufs)``, each value for the window
    *ending* at its time; −inf (clipped to −70) for silence."""
    k = k_weighted(y, sr)
    power = (k**2).sum(axis=0)
    c = np.concatenate([[0.0], np.cumsum(power)])
    win, hop = int(window_s * sr), max(1, int(hop_s * sr))
    ends = np.arange(win, len(power) + 1, hop)
    mean_square = (c[ends] - c[ends - win]) / win
    lufs = -0.691 + 10 * np.log10(np.maximum(mean_square, 1e-7))
    return ends / sr, np.maximum(lufs, -70.0)


def transition_loudness(
    times_s: np.ndarray, lufs: np.ndarray, start_s: float, end_s: float
) -> dict[str, float]:
    """Loudness around one transition ``[start_s, end_s]``.

    ``before``: the window ending at the start; ``after``: the window ending 3 s after
    the end (both tracks heard alone); ``step_lu`` = ``|after − before|``;
    ``bump_lu``: how far any window ending inside the transition (or up to 3 s after it)
    strays outside the range ``[min(before, after), max(before, after)]``;
    ``jump_lu`` = the larger of the two — what the "≤ 2 LU" goal is checked on.
    """

    def at(t: float) -> float:
        return float(np.interp(t, times_s, lufs))

    before, after = at(start_s), at(end_s + SHORT_TERM_S)
    inside = lufs[(times_s > start_s) & (times_s <= end_s + SHORT_TERM_S)]
    lo, hi = min(before, after), max(before, after)
    bump = float(
        max(
            0.0,
            (inside.max() - hi) if len(inside) else 0.0,
            (lo - inside.min()) if len(inside) else 0.0,
        )
    )
    step = abs(after - before)
    return {
        "before_lufs": round(before, 2),
        "after_lufs": round(after, 2),
        "step_lu": round(step, 2),
        "bump_lu": round(bump, 2),
        "jump_lu": round(max(step, bump), 2),
    }


def transition_excess_lu(
    times_s: np.ndarray,
    lufs: np.ndarray,
    start_s: float,
    end_s: float,
    alone_lufs: list[np.ndarray],
) -> float:
    """How far the mix's short-term loudness around a transition leaves what its two
    tracks do on their own, LU (0: never outside).

    ``alone_lufs``: each track's short-term loudness heard alone (loudness-matched, no
    fades or rides), sampled at ``times_s`` (NaN where its window is not all inside the
    track). For every window ending inside the transition or up to 3 s after it, the
    allowed range spans the level before and after (as in :func:`transition_loudness`)
    and the tracks' own levels at that moment; the excess is the largest distance
    outside it. A quiet intro that dips by itself is the music, not the transition:
    :func:`transition_loudness`'s ``bump`` counts it, this does not.
    """
    before = float(np.interp(start_s, times_s, lufs))
    after = float(np.interp(end_s + SHORT_TERM_S, times_s, lufs))
    inside = (times_s > start_s) & (times_s <= end_s + SHORT_TERM_S)
    if not inside.any():
        return 0.0
    own = np.vstack([np.asarray(a, dtype=float)[inside] for a in alone_lufs])
    known = ~np.isnan(own)
    own_lo = np.where(known, own, np.inf).min(axis=0)
    own_hi = np.where(known, own, -np.inf).max(axis=0)
    lo = np.minimum(own_lo, min(before, after))
    hi = np.maximum(own_hi, max(before, after))
    mix = lufs[inside]
    return float(max(0.0, float(np.max(np.maximum(mix - hi, lo - mix)))))


def phase_errors(
    beats_a: np.ndarray, beats_b: np.ndarray, start_s: float, end_s: float
) -> np.ndarray:
    """For each beat of ``beats_b`` inside ``[start_s, end_s]``, the distance (seconds) to
    the nearest beat of ``beats_a``: how far apart the two tracks' pulses are."""
    a = np.sort(np.asarray(beats_a, dtype=float))
    b = np.asarray(beats_b, dtype=float)
    b = b[(b >= start_s) & (b <= end_s)]
    if not len(a) or not len(b):
        return np.zeros(0)
    idx = np.clip(np.searchsorted(a, b), 1, len(a) - 1) if len(a) > 1 else np.zeros(len(b), int)
    near = np.minimum(np.abs(b - a[idx]), np.abs(b - a[np.maximum(idx - 1, 0)]))
    return near


def pulse_steadiness(beat_times: np.ndarray, start_s: float, end_s: float) -> float | None:
    """Coefficient of variation of the inter-beat intervals inside ``[start_s, end_s]``
    (0 for a perfectly steady pulse); None with fewer than 4 beats there."""
    b = np.asarray(beat_times, dtype=float)
    b = b[(b >= start_s) & (b <= end_s)]
    if len(b) < 4:
        return None
    ioi = np.diff(b)
    return float(ioi.std() / ioi.mean())


def short_term_loudness_file(
    path: str,
    hop_s: float = 0.1,
    block_s: float = 30.0,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`short_term_loudness` of an audio file, read block by block (bounded memory
    for any length): the K-weighting filters carry their state across blocks."""
    import soundfile as sf

    with sf.SoundFile(path) as f:
        sr = f.samplerate
        filters = k_weighting_filters(sr)
        states: list[np.ndarray | None] = [None, None]
        win, hop = int(SHORT_TERM_S * sr), max(1, int(hop_s * sr))
        tail = np.zeros(0)
        offset = 0  # samples before `tail`
        times, values = [], []
        next_end = win
        for block in f.blocks(blocksize=int(block_s * sr), dtype="float64", always_2d=True):
            x = block.T
            for i, (b, a) in enumerate(filters):
                if states[i] is None:
                    states[i] = np.zeros((x.shape[0], max(len(a), len(b)) - 1))
                x, states[i] = scipy.signal.lfilter(b, a, x, axis=-1, zi=states[i])
            power = np.concatenate([tail, (x**2).sum(axis=0)])
            c = np.concatenate([[0.0], np.cumsum(power)])
            total = offset + len(power)
            while next_end <= total:
                e = next_end - offset
                times.append(next_end / sr)
                values.append((c[e] - c[e - win]) / win)
                next_end += hop
            keep = min(len(power), win)
            offset, tail = total - keep, power[-keep:]
    lufs = -0.691 + 10 * np.log10(np.maximum(np.array(values), 1e-7))
    return np.array(times), np.maximum(lufs, -70.0)


def onset_lag_s(
    a: np.ndarray, b: np.ndarray, sr: int, max_lag_s: float, hop_length: int = 128
) -> float:
    """How far ``b``'s rhythm sits after ``a``'s (seconds, within ±``max_lag_s``): the lag
    of the largest cross-correlation of their onset-strength envelopes (librosa, mono,
    ``hop_length`` samples per frame), refined to a fraction of a frame by a parabola
    through the peak. Two beat-matched tracks played together give ~0."""
    import librosa

    env = [
        librosa.onset.onset_strength(y=np.atleast_2d(x).mean(axis=0), sr=sr, hop_length=hop_length)
        for x in (a, b)
    ]
    ea, eb = (e - e.mean() for e in env)
    n = min(len(ea), len(eb))
    ea, eb = ea[:n], eb[:n]
    max_lag = max(1, int(round(max_lag_s * sr / hop_length)))
    lags = np.arange(-max_lag, max_lag + 1)
    xc = np.array(
        [float(ea[max(0, -k) : n - max(0, k)] @ eb[max(0, k) : n - max(0, -k)]) for k in lags]
    )
    i = int(np.argmax(xc))
    shift = 0.0
    if 0 < i < len(xc) - 1:
        denom = xc[i - 1] - 2 * xc[i] + xc[i + 1]
        shift = 0.5 * (xc[i - 1] - xc[i + 1]) / denom if denom < 0 else 0.0
    return float((lags[i] + shift) * hop_length / sr)
