"""Beats and downbeats from network activations: a bar-pointer dynamic Bayesian network.

The model of Krebs, Böck & Widmer (ISMIR 2015, "An efficient state-space model for joint
tempo and meter tracking"), as madmom's ``DBNDownBeatTrackingProcessor`` implements it:
a hidden state is (meter, beat interval in frames, position in the bar); the position
advances one frame at a time, and the tempo may change only at beat boundaries, with
probability ``exp(-lambda * |ratio - 1|)``. States in the first ``1 / observation_lambda``
of a beat emit "beat" (of the first beat, "downbeat"); all others emit "no beat".
Viterbi decoding runs once over all meters together (their states never connect, so the
best path picks the meter), in a numba-compiled forward pass: every state has a single
predecessor except the beat-boundary states, whose ``n_tempi x n_tempi`` max-plus
products run over the band of tempi a change can reach. Only those boundary states keep
back-pointers, so memory grows with frames x beats x tempi, not frames x states.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

#: Defaults of madmom's DBNDownBeatTrackingProcessor, which the activations were made for.
MIN_BPM = 55.0
MAX_BPM = 215.0
NUM_TEMPI = 60
TRANSITION_LAMBDA = 100.0
OBSERVATION_LAMBDA = 16.0
THRESHOLD = 0.05


@dataclass(frozen=True)
class BarStateSpace:
    """All (meter, tempo, position) states, flattened meter by meter, tempo by tempo.

    Attributes
    ----------
    meters : tuple of int
        Beats per bar of each block.
    intervals : np.ndarray of int
        Beat intervals (frames) shared by all meters.
    meter_of, interval_of, position_of : np.ndarray
        Per state: the meter, the beat interval (frames) and the position in the bar
        (frames since the downbeat).
    block_start : dict
        ``(meter, tempo_index) -> index of that block's first state``.
    """

    meters: tuple[int, ...]
    intervals: np.ndarray
    meter_of: np.ndarray
    interval_of: np.ndarray
    position_of: np.ndarray
    block_start: dict

    @property
    def n_states(self) -> int:
        return len(self.position_of)

    @property
    def beat_position(self) -> np.ndarray:
        """Position of each state in the bar in beats (0 ≤ p < meter)."""
        return self.position_of / self.interval_of


def beat_intervals(fps: float, min_bpm: float, max_bpm: float, num_tempi: int) -> np.ndarray:
    """Beat intervals in frames, log-spaced between the tempo bounds (madmom's rule)."""
    lo, hi = 60.0 * fps / max_bpm, 60.0 * fps / min_bpm
    intervals = np.arange(np.round(lo), np.round(hi) + 1)
    if num_tempi is not None and num_tempi < len(intervals):
        intervals = np.unique(np.round(np.exp(np.linspace(np.log(lo), np.log(hi), num_tempi))))
    return intervals.astype(int)


def bar_state_space(meters: tuple[int, ...], intervals: np.ndarray) -> BarStateSpace:
    """Build the flattened state space for ``meters`` (beats per bar) and ``intervals``."""
    meter_of, interval_of, position_of, block_start = [], [], [], {}
    n = 0
    for meter in meters:
        for t, interval in enumerate(intervals):
            size = meter * int(interval)
            block_start[(meter, t)] = n
            meter_of.append(np.full(size, meter))
            interval_of.append(np.full(size, interval))
            position_of.append(np.arange(size))
            n += size
    return BarStateSpace(
        tuple(meters), np.asarray(intervals), np.concatenate(meter_of),
        np.concatenate(interval_of), np.concatenate(position_of), block_start,
    )  # fmt: skip


def tempo_transition_log(intervals: np.ndarray, transition_lambda: float) -> np.ndarray:
    """log P(next interval | previous interval), rows = previous; zeros cut as madmom."""
    ratio = intervals[None, :] / intervals[:, None]
    prob = np.exp(-transition_lambda * np.abs(ratio - 1.0))
    prob[prob <= np.spacing(1)] = 0.0
    prob /= prob.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        return np.log(prob)


def tempo_intervals_near(
    tempo_bpm: float,
    fps: float,
    *,
    tolerance: float = 0.08,
    factors: tuple[float, ...] = (0.5, 1.0, 2.0),
    min_bpm: float = MIN_BPM,
    max_bpm: float = MAX_BPM,
    num_tempi: int = NUM_TEMPI,
) -> np.ndarray:
    """The default beat intervals whose tempo lies within ``tolerance`` of ``tempo_bpm``
    times one of ``factors`` (the same metrical level, or half or double it).

    Returns the full default set when fewer than two intervals qualify.
    """
    intervals = beat_intervals(fps, min_bpm, max_bpm, num_tempi)
    bpm = 60.0 * fps / intervals
    keep = np.zeros(len(intervals), dtype=bool)
    for factor in factors:
        keep |= np.abs(bpm / (tempo_bpm * factor) - 1.0) <= tolerance
    return intervals[keep] if keep.sum() >= 2 else intervals


@dataclass(frozen=True)
class BeatGrid:
    """The decoded grid: beat times (s), the beat number in the bar of each, the meter."""

    beat_times: np.ndarray
    beat_numbers: np.ndarray
    beats_per_bar: int | None
    log_probability: float

    @property
    def downbeat_times(self) -> np.ndarray:
        return self.beat_times[self.beat_numbers == 1]


def decode_bar_pointer(
    activations: np.ndarray,
    fps: float,
    *,
    meters: tuple[int, ...] = (3, 4),
    min_bpm: float = MIN_BPM,
    max_bpm: float = MAX_BPM,
    num_tempi: int = NUM_TEMPI,
    transition_lambda: float = TRANSITION_LAMBDA,
    observation_lambda: float = OBSERVATION_LAMBDA,
    threshold: float = THRESHOLD,
    intervals: np.ndarray | None = None,
) -> BeatGrid:
    """Viterbi-decode beats and downbeats from (beat, downbeat) activations.

    Parameters
    ----------
    activations : np.ndarray, shape (n_frames, 2)
        Per-frame probabilities of a beat that is not a downbeat, and of a downbeat.
    fps : float
        Frame rate of the activations, frames per second.
    meters : tuple of int
        Candidate beats per bar.
    min_bpm, max_bpm : float
        Tempo range, BPM.
    num_tempi : int
        Number of log-spaced beat intervals.
    transition_lambda : float
        Tempo-change penalty (higher = steadier tempo).
    observation_lambda : float
        The first ``1 / observation_lambda`` of each beat emits the beat.
    threshold : float
        Frames before the first and after the last activation above this are ignored.
    intervals : np.ndarray of int, optional
        The beat intervals (frames) to consider, replacing the log-spaced set that
        ``min_bpm``, ``max_bpm`` and ``num_tempi`` define (see :func:`tempo_intervals_near`).

    Returns
    -------
    BeatGrid
        Empty when no activation reaches ``threshold`` or fewer than two beats are found.
    """
    act = np.asarray(activations, dtype=np.float64)
    if act.ndim != 2 or act.shape[1] != 2:
        raise ValueError(f"activations must have shape (n_frames, 2), got {act.shape}")
    empty = BeatGrid(np.zeros(0), np.zeros(0, dtype=int), None, -np.inf)
    above = np.nonzero((act >= threshold).any(axis=1))[0] if threshold else np.arange(len(act))
    if len(above) == 0:
        return empty
    first, last = int(above[0]), int(above[-1]) + 1
    act = act[first:last]
    if intervals is None:
        intervals = beat_intervals(fps, min_bpm, max_bpm, num_tempi)
    intervals = np.unique(np.asarray(intervals, dtype=int))
    space = bar_state_space(tuple(meters), intervals)
    path, log_prob = _viterbi(act, space, intervals, transition_lambda, observation_lambda)
    emits_beat = (space.beat_position[path] % 1) < 1.0 / observation_lambda
    # One beat per run of beat-emitting states, at the run's activation peak.
    edges = np.flatnonzero(np.diff(np.r_[0, emits_beat.astype(int), 0]))
    beat_frames = np.array(
        [lo + int(np.argmax(act[lo:hi].max(axis=1))) for lo, hi in edges.reshape(-1, 2)],
        dtype=int,
    )
    if len(beat_frames) < 2:
        return empty
    numbers = space.beat_position[path][beat_frames].astype(int) + 1
    meter = int(space.meter_of[path[0]])
    return BeatGrid((beat_frames + first) / float(fps), numbers, meter, float(log_prob))


def _viterbi(
    act: np.ndarray,
    space: BarStateSpace,
    intervals: np.ndarray,
    transition_lambda: float,
    observation_lambda: float,
) -> tuple[np.ndarray, float]:
    n_frames, n_states, n_tempi = len(act), space.n_states, len(intervals)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_obs = np.stack([
            np.log(np.clip(1.0 - act.sum(axis=1), 0, None) / (observation_lambda - 1)),
            np.log(act[:, 0]),
            np.log(act[:, 1]),
        ], axis=1)  # fmt: skip
    beat_pos = space.beat_position
    emission = np.where(beat_pos < 1.0 / observation_lambda, 2,
                        np.where(beat_pos % 1 < 1.0 / observation_lambda, 1, 0))  # fmt: skip
    log_tempo = tempo_transition_log(intervals, transition_lambda)

    # Predecessor of every state: the previous position in its own block...
    prev = np.arange(n_states) - 1
    # ...except at beat boundaries (position k * interval), whose predecessors are the
    # last frame of beat k-1 (mod meter) in every tempo block of the same meter.
    groups = [(m, k) for m in space.meters for k in range(m)]
    boundary = np.zeros((len(groups), n_tempi), dtype=int)  # state index per (group, tempo)
    source = np.zeros((len(groups), n_tempi), dtype=int)  # its predecessors, per tempo
    for g, (meter, k) in enumerate(groups):
        for t, interval in enumerate(intervals):
            start = space.block_start[(meter, t)]
            boundary[g, t] = start + k * interval
            source[g, t] = start + (k * interval - 1) % (meter * interval)
    prev[boundary.ravel()] = -1  # marks a boundary state; filled from ``source``

    delta0 = np.full(n_states, -np.log(n_states)) + log_obs[0, emission]
    delta, back = viterbi_forward(
        delta0, log_obs, emission, prev, boundary, source, log_tempo
    )  # fmt: skip
    flat_boundary = boundary.ravel()

    state = int(np.argmax(delta))
    log_prob = float(delta[state])
    where_boundary = {int(s): divmod(idx, n_tempi) for idx, s in enumerate(flat_boundary)}
    path = np.empty(n_frames, dtype=int)
    for i in range(n_frames - 1, -1, -1):
        path[i] = state
        if i == 0:
            break
        hit = where_boundary.get(state)
        state = int(source[hit[0], back[i, hit[0], hit[1]]]) if hit else state - 1
    return path, log_prob


@numba.njit(cache=True, nogil=True)
def viterbi_forward(
    delta: np.ndarray,
    log_obs: np.ndarray,
    emission: np.ndarray,
    prev: np.ndarray,
    boundary: np.ndarray,
    source: np.ndarray,
    log_tempo: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The Viterbi forward pass over the bar-pointer states (compiled with numba).

    Parameters
    ----------
    delta : np.ndarray, shape (n_states,)
        Log probabilities of the first frame's states.
    log_obs : np.ndarray, shape (n_frames, 3)
        Per frame, log P(observation | no beat / beat / downbeat).
    emission : np.ndarray of int, shape (n_states,)
        Which column of ``log_obs`` each state emits.
    prev : np.ndarray of int, shape (n_states,)
        The single predecessor of each state; -1 for beat-boundary states.
    boundary, source : np.ndarray of int, shape (n_groups, n_tempi)
        Per (meter and beat number, tempo): the boundary state and the state (the last
        frame of the previous beat) its predecessors at each tempo are.
    log_tempo : np.ndarray, shape (n_tempi, n_tempi)
        log P(tempo to | tempo from), rows = from.

    Returns
    -------
    delta : np.ndarray, shape (n_states,)
        Log probabilities of the best paths ending in each state at the last frame.
    back : np.ndarray of int16, shape (n_frames, n_groups, n_tempi)
        For each boundary state and frame, the tempo index its best predecessor had.
        Ties go to the lowest index, as ``np.argmax``.
    """
    n_frames = log_obs.shape[0]
    n_states = delta.shape[0]
    n_groups, n_tempi = boundary.shape
    back = np.zeros((n_frames, n_groups, n_tempi), dtype=np.int16)
    new = np.empty(n_states)
    # Tempo changes are banded (only neighbouring tempi have a non-zero probability):
    # loop over each target tempo's band only, reading a contiguous row.
    to_from = np.ascontiguousarray(log_tempo.T)
    band_lo = np.zeros(n_tempi, dtype=np.int64)
    band_hi = np.zeros(n_tempi, dtype=np.int64)
    for t in range(n_tempi):
        finite = np.nonzero(np.isfinite(to_from[t]))[0]
        if finite.size:
            band_lo[t], band_hi[t] = finite[0], finite[-1] + 1
    source_delta = np.empty(n_tempi)
    for i in range(1, n_frames):
        for s in range(n_states):
            p = prev[s]
            if p >= 0:
                new[s] = delta[p] + log_obs[i, emission[s]]
        for g in range(n_groups):
            for j in range(n_tempi):
                source_delta[j] = delta[source[g, j]]
            for t in range(n_tempi):
                best = -np.inf
                best_j = 0
                row = to_from[t]
                for j in range(band_lo[t], band_hi[t]):
                    score = source_delta[j] + row[j]
                    if score > best:
                        best = score
                        best_j = j
                back[i, g, t] = best_j
                s = boundary[g, t]
                new[s] = best + log_obs[i, emission[s]]
        delta, new = new, delta
    return delta, back
