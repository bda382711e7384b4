"""The highlight of a track: the window (default 30 s) most worth hearing.

Two scorers rate every candidate window, which starts on a downbeat (else a beat, else
a whole second) and lies inside the track:

* **signal** (:func:`signal_window_scores`): a weighted mean of, per window, how much
  of it lies in the chorus candidate's sections, how strongly it repeats elsewhere
  (the recurrence-based repetition curve), how loud it is relative to the track, how
  much the loudness *rises* into its start, and the novelty (a section boundary) at its
  start. The weights (:data:`SIGNAL_WEIGHTS`) were set by hand from the idea, and
  checked only on synthetic verse/chorus songs (``bench/highlights.py``).
* **attention** (:func:`attention_window_scores`): as in Ha et al. (2017), "Automatic
  music highlight extraction using convolutional recurrent attention networks": a
  tagging network's attention over time, multiplied by the mel energy at that time,
  summed over the window.

Each scorer's window scores are scaled to 0..1 over the track's candidate windows;
the **fused** score is their mean (:func:`fuse_scores`). :func:`best_window` picks the
top window (ties: the earliest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from songscape.analysis.structure import Structure

#: Default highlight length, seconds.
DEFAULT_LENGTH_S = 30.0
#: Resolution of the curves windows are scored on, Hz.
GRID_RATE_HZ = 4.0
#: Weights of the signal scorer's terms (sum 1).
SIGNAL_WEIGHTS = {"chorus": 0.35, "repetition": 0.2, "loudness": 0.25, "rise": 0.1,
                  "novelty": 0.1}  # fmt: skip
#: Span before/after a window start compared for the loudness rise, seconds.
RISE_SPAN_S = 4.0

METHODS = ("fused", "signal", "attention")


@dataclass
class Highlight:
    """A highlight window ``[start_s, end_s)``, how it was chosen and its score (0..1)."""

    start_s: float
    end_s: float
    method: str
    score: float

    def to_json(self) -> dict:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "method": self.method, "score": round(float(self.score), 4)}  # fmt: skip


def candidate_starts(
    duration_s: float,
    length_s: float,
    downbeat_times: np.ndarray,
    beat_times: np.ndarray,
) -> np.ndarray:
    """Window starts (s): downbeats, else beats, else every second, that fit in the track.

    A track no longer than ``length_s`` has the single start 0.
    """
    last = duration_s - length_s
    if last <= 0:
        return np.zeros(1)
    for grid in (np.asarray(downbeat_times, dtype=float), np.asarray(beat_times, dtype=float)):
        starts = grid[(grid >= 0) & (grid <= last + 1e-9)]
        if len(starts) >= 2:
            return starts
    return np.arange(0.0, last + 1e-9, 1.0)


def curve_on_grid(times: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Sample-and-hold a curve given at ``times`` (frame starts) onto ``grid`` (both seconds)."""
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    if not len(times):
        return np.zeros(len(grid))
    idx = np.clip(np.searchsorted(times, grid, side="right") - 1, 0, len(times) - 1)
    return values[idx]


def window_means(curve: np.ndarray, rate_hz: float, starts: np.ndarray, length_s: float
                 ) -> np.ndarray:  # fmt: skip
    """Mean of ``curve`` (sampled at ``rate_hz``) over each ``[start, start + length_s)``."""
    c = np.concatenate([[0.0], np.cumsum(curve, dtype=float)])
    a = np.clip(np.round(np.asarray(starts) * rate_hz).astype(int), 0, len(curve))
    b = np.clip(a + max(1, int(round(length_s * rate_hz))), 0, len(curve))
    return (c[b] - c[a]) / np.maximum(b - a, 1)


def unit_scale(x: np.ndarray, lo_pct: float = 0.0, hi_pct: float = 100.0) -> np.ndarray:
    """Scale to 0..1 between two percentiles (clipped); constant input gives zeros."""
    x = np.asarray(x, dtype=float)
    if not len(x):
        return x
    lo, hi = np.percentile(x, [lo_pct, hi_pct])
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(x)


def loudness_on_grid(energy_db: np.ndarray, energy_rate_hz: float, grid: np.ndarray
                     ) -> np.ndarray:  # fmt: skip
    """The energy curve (dB) on ``grid``, scaled 0..1 between its 5th and 95th percentiles."""
    e = np.asarray(energy_db, dtype=float)
    if not len(e):
        return np.zeros(len(grid))
    times = np.arange(len(e)) / energy_rate_hz
    return unit_scale(curve_on_grid(times, e, grid), 5.0, 95.0)


def signal_window_scores(
    structure: Structure,
    energy_db: np.ndarray,
    energy_rate_hz: float,
    starts: np.ndarray,
    length_s: float,
    weights: dict[str, float] | None = None,
) -> np.ndarray:
    """The signal scorer: one score per start, weighted sum of chorus, repetition,
    loudness, rise and start novelty terms (each 0..1). See :data:`SIGNAL_WEIGHTS`."""
    w = dict(SIGNAL_WEIGHTS if weights is None else weights)
    duration = structure.duration_s
    grid = np.arange(0.0, max(duration, 1.0 / GRID_RATE_HZ), 1.0 / GRID_RATE_HZ)
    chorus = np.zeros(len(grid))
    for s in structure.chorus_sections():
        chorus[(grid >= s.start_s) & (grid < s.end_s)] = 1.0
    repetition = curve_on_grid(structure.frame_times, structure.repetition, grid)
    novelty = curve_on_grid(structure.frame_times, structure.novelty, grid)
    loud = loudness_on_grid(energy_db, energy_rate_hz, grid)
    before = window_means(loud, GRID_RATE_HZ, np.maximum(starts - RISE_SPAN_S, 0), RISE_SPAN_S)
    after = window_means(loud, GRID_RATE_HZ, starts, RISE_SPAN_S)
    rise = np.clip(after - before, 0.0, 1.0)
    # Novelty at the start: the strongest boundary within a second of it.
    near = window_means(novelty, GRID_RATE_HZ, np.maximum(starts - 1.0, 0), 2.0)
    terms = {
        "chorus": window_means(chorus, GRID_RATE_HZ, starts, length_s),
        "repetition": window_means(repetition, GRID_RATE_HZ, starts, length_s),
        "loudness": window_means(loud, GRID_RATE_HZ, starts, length_s),
        "rise": rise,
        "novelty": unit_scale(near),
    }
    return sum(w[name] * terms[name] for name in w)


def attention_window_scores(
    attention: np.ndarray,
    attention_rate_hz: float,
    mel_energy: np.ndarray,
    starts: np.ndarray,
    length_s: float,
) -> np.ndarray:
    """Ha et al.'s score: sum over the window of attention(t) x mel energy(t).

    Returned as the window's share (0..1) of the whole track's attention-energy mass.

    Parameters
    ----------
    attention : np.ndarray, shape (n,)
        The network's attention over the track's frames (non-negative).
    attention_rate_hz : float
        Frames per second of ``attention`` and ``mel_energy``.
    mel_energy : np.ndarray, shape (n,)
        Mel-spectrogram energy per frame (linear power summed over bands, any scale).
    starts : np.ndarray
        Window starts, seconds.
    length_s : float
        Window length, seconds.
    """
    a = np.clip(np.asarray(attention, dtype=float), 0.0, None)
    e = np.asarray(mel_energy, dtype=float)
    mass = a * e
    total = float(mass.sum())
    if total <= 0:
        return np.zeros(len(starts))
    n_window = max(1, int(round(length_s * attention_rate_hz)))
    return window_means(mass, attention_rate_hz, starts, length_s) * n_window / total


def fuse_scores(*scores: np.ndarray) -> np.ndarray:
    """Mean of the scorers' window scores, each first scaled to 0..1 over the windows."""
    return np.mean([unit_scale(s) for s in scores], axis=0)


def best_window(starts: np.ndarray, scores: np.ndarray, length_s: float, duration_s: float,
                method: str) -> Highlight:  # fmt: skip
    """The top-scoring window (ties: earliest) as a :class:`Highlight` with its score."""
    i = int(np.argmax(scores))
    start = float(starts[i])
    return Highlight(start, float(min(start + length_s, duration_s)), method,
                     float(np.clip(scores[i], 0.0, 1.0)))  # fmt: skip


def signal_highlight(
    structure: Structure,
    energy_db: np.ndarray,
    energy_rate_hz: float,
    downbeat_times: np.ndarray,
    beat_times: np.ndarray,
    length_s: float = DEFAULT_LENGTH_S,
) -> Highlight:
    """The signal scorer's highlight (see :func:`signal_window_scores`)."""
    starts = candidate_starts(structure.duration_s, length_s, downbeat_times, beat_times)
    scores = signal_window_scores(structure, energy_db, energy_rate_hz, starts, length_s)
    return best_window(starts, scores, length_s, structure.duration_s, "signal")


@dataclass
class AttentionCurve:
    """A network's attention over a track's frames and the mel energy of those frames.

    ``attention`` and ``mel_energy`` have one value per frame at ``rate_hz`` frames/s.
    """

    attention: np.ndarray
    mel_energy: np.ndarray
    rate_hz: float
    model: str = ""


def compute_highlights(
    structure: Structure,
    energy_db: np.ndarray,
    energy_rate_hz: float,
    downbeat_times: np.ndarray,
    beat_times: np.ndarray,
    length_s: float = DEFAULT_LENGTH_S,
    attention: AttentionCurve | None = None,
) -> dict[str, Highlight]:
    """The highlight of every available method: ``signal`` always, ``attention`` and
    ``fused`` when an attention curve is given.

    Parameters
    ----------
    structure : Structure
        From :func:`songscape.analysis.structure.analyze_structure`.
    energy_db : np.ndarray
        RMS energy curve, dB, at ``energy_rate_hz``.
    energy_rate_hz : float
        Hz.
    downbeat_times, beat_times : np.ndarray
        Seconds; windows start on a downbeat when there are any.
    length_s : float
        Window length, seconds (> 0).
    attention : AttentionCurve or None
        The attention model's curve (see ``songscape.models.highlight_attention``).

    Returns
    -------
    dict
        ``{method: Highlight}``.
    """
    if not length_s > 0:
        raise ValueError(f"highlight length must be positive, got {length_s}")
    starts = candidate_starts(structure.duration_s, length_s, downbeat_times, beat_times)
    signal = signal_window_scores(structure, energy_db, energy_rate_hz, starts, length_s)
    out = {"signal": best_window(starts, signal, length_s, structure.duration_s, "signal")}
    if attention is not None and len(attention.attention):
        att = attention_window_scores(attention.attention, attention.rate_hz,
                                      attention.mel_energy, starts, length_s)  # fmt: skip
        out["attention"] = best_window(starts, att, length_s, structure.duration_s, "attention")
        out["fused"] = best_window(starts, fuse_scores(signal, att), length_s,
                                   structure.duration_s, "fused")  # fmt: skip
    return out


def default_method(highlights: dict[str, Highlight]) -> str:
    """The method shown by default: ``fused`` when available, else ``signal``."""
    return "fused" if "fused" in highlights else "signal"
