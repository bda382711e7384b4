"""Render a planned mix to an audio file, streaming: one segment in memory at a time.

For each segment: read its stretch of the source (:func:`~songscape.audio.excerpt.read_excerpt`),
warp it onto the master grid (:func:`~songscape.audio.stretch.warp`) or leave it as is,
bring it to the target loudness (pyloudnorm, BS.1770), then join it to the previous
segment's tail (:mod:`~songscape.audio.transitions`) and send the result through a
true-peak limiter (:class:`~songscape.audio.limiter.TruePeakLimiter`) into a file that
appears only when complete (:class:`~songscape.audio.writer.AtomicAudioWriter`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from songscape.analysis.loudness import (
    integrated_loudness,
    k_weighted_level_db,
    moving_level_db,
)
from songscape.audio.excerpt import read_excerpt
from songscape.audio.limiter import TruePeakLimiter
from songscape.audio.stretch import fit_length, warp
from songscape.audio.transitions import bass_swap, crossfade
from songscape.audio.writer import AtomicAudioWriter
from songscape.mix.plan import RIDE_S, MixPlan, PlannedSegment

#: Samples per block sent to the limiter and the file (bounds the working memory).
BLOCK_SAMPLES = 1 << 16
#: Largest gain :func:`hold_level` applies inside a transition, and the drift it leaves
#: alone, dB.
HOLD_MAX_DB, HOLD_TOLERANCE_DB = 6.0, 0.5
#: Largest extra ride that levels the incoming track with the outgoing one, dB.
MAX_STEP_FIX_DB = 4.0
#: Seconds of each neighbour heard alone that set a transition's levels.
LEVEL_WINDOW_S = 3.0
#: Largest loudness correction applied to a segment, dB (a near-silent part is not
#: boosted into noise).
MAX_GAIN_DB = 18.0


@dataclass
class RenderReport:
    """What rendering did: samples written, time taken, the limiter's deepest gain
    (dB, 0 when it never acted), each segment's loudness before and the gain applied."""

    path: Path
    frames: int
    sample_rate: int
    seconds: float
    limiter_min_gain_db: float
    segment_gains_db: list[float]
    segment_lufs: list[float | None]

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def to_json(self) -> dict:
        return {
            "path": str(self.path),
            "duration_s": round(self.duration_s, 3),
            "render_seconds": round(self.seconds, 3),
            "realtime_factor": round(self.duration_s / self.seconds, 2) if self.seconds else None,
            "limiter_min_gain_db": round(self.limiter_min_gain_db, 2),
            "segment_gains_db": [round(g, 2) for g in self.segment_gains_db],
            "segment_lufs": [None if v is None else round(v, 2) for v in self.segment_lufs],
        }


def segment_audio(segment: PlannedSegment, sr: int, warp_method: str) -> np.ndarray:
    """A segment as it sounds in the mix before loudness matching: (2, n) float32, ``n``
    from its mix start and end samples."""
    n_out = int(round(segment.mix_end_s * sr)) - int(round(segment.mix_start_s * sr))
    c = segment.choice
    y = read_excerpt(segment.track.path, c.start_s, c.end_s, sr)
    if segment.source_anchors_s is None:
        return fit_length(y, n_out)
    return warp(y, sr, segment.source_anchors_s, segment.target_anchors_s, n_out, warp_method)


def ride_envelope(n: int, sr: int, ride_db: float, at_s: float, rising: bool) -> np.ndarray:
    """Gain (linear) over ``n`` samples: ``ride_db`` held on one side of ``at_s`` and ramped
    back to 0 dB over :data:`RIDE_S` on the other (``rising``: ride before, 0 dB after)."""
    ramp_start = at_s - RIDE_S if rising else at_s
    i0 = int(np.clip(np.floor(ramp_start * sr), 0, n))
    i1 = int(np.clip(np.ceil((ramp_start + RIDE_S) * sr), i0, n))
    ride = np.float32(10 ** (ride_db / 20))
    gain = np.empty(n, dtype=np.float32)
    gain[:i0], gain[i1:] = (1.0, ride) if rising else (ride, 1.0)
    # only the ramp itself needs a power per sample
    shape = (np.arange(i0, i1) / sr - ramp_start) / RIDE_S
    shape = np.clip(shape if rising else 1.0 - shape, 0.0, 1.0)
    gain[i0:i1] = 10 ** (ride_db * shape / 20)
    return gain


def apply_rides(y: np.ndarray, sr: int, k: int, plan: MixPlan) -> None:
    """Apply, in place, segment ``k``'s loudness rides (see
    :func:`songscape.mix.plan.loudness_ride_db`): toward the next segment before its
    transition, from the previous one after it."""
    seg = plan.segments[k]
    n = y.shape[1]
    if k + 1 < len(plan.segments):
        t = plan.transitions[k]
        if t.ride_db:
            y *= ride_envelope(n, sr, -t.ride_db, t.mix_start_s - seg.mix_start_s, rising=True)
    if k > 0:
        t = plan.transitions[k - 1]
        if t.ride_db:
            y *= ride_envelope(n, sr, t.ride_db, t.mix_end_s - seg.mix_start_s, rising=False)


def hold_level(
    mixed: np.ndarray, sr: int, before_db: float | None, after_db: float | None
) -> np.ndarray:
    """Keep the loudness of a transition between its neighbours' levels: where the mixed
    overlap's 1 s level strays from the line joining the level before (``before_db``) and
    after (``after_db``), a gain (at most :data:`HOLD_MAX_DB`, smoothed over 1 s) brings
    it back — a DJ's hand on the faders through a quiet break or a bass pile-up."""
    if before_db is None or after_db is None or mixed.shape[1] < sr:
        return mixed
    n = mixed.shape[1]
    target = np.linspace(before_db, after_db, n)
    level = moving_level_db(mixed, sr)
    correction = np.clip(target - level, -HOLD_MAX_DB, HOLD_MAX_DB)
    correction = np.where(np.abs(correction) < HOLD_TOLERANCE_DB, 0.0, correction)
    width = int(sr)  # smooth: no gain steps faster than a second
    padded = np.concatenate([[0.0], np.cumsum(np.pad(correction, width // 2, mode="edge"))])
    correction = (padded[width : width + n] - padded[:n]) / width  # moving average, O(n)
    return (mixed * (10 ** (correction / 20))).astype(np.float32)


def loudness_gain_db(y: np.ndarray, sr: int, target_lufs: float) -> tuple[float, float | None]:
    """The gain (dB) that brings ``y`` to ``target_lufs``, and its loudness (None: silent)."""
    lufs = integrated_loudness(y, sr)
    if lufs is None:
        return 0.0, None
    return float(np.clip(target_lufs - lufs, -MAX_GAIN_DB, MAX_GAIN_DB)), lufs


def check_output_path(out: str | os.PathLike) -> Path:
    """``out`` as a Path after checking its suffix and that its folder is writable.

    Raises
    ------
    ValueError
        Unknown suffix.
    PermissionError, FileNotFoundError
        The folder is missing or not writable.
    """
    from songscape.audio.writer import output_format

    path = Path(out)
    output_format(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"the folder {folder} is not writable")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder")
    return path


def render_mix(
    plan: MixPlan,
    out: str | os.PathLike,
    progress: Callable[[int, int], None] | None = None,
) -> RenderReport:
    """Render ``plan`` to ``out`` (``.wav``, ``.flac``, ``.ogg`` or ``.mp3``).

    ``progress(done, total)`` is called after each segment. The file appears only when
    complete; an error or Ctrl-C leaves nothing behind.
    """
    path = check_output_path(out)
    o = plan.options
    sr = o.sample_rate
    started = time.perf_counter()
    limiter = TruePeakLimiter(sr, 2, o.ceiling_dbtp)
    gains: list[float] = []
    lufs: list[float | None] = []
    tail: np.ndarray | None = None  # the previous segment's part under the next transition
    before_db: float | None = None  # its level just before that transition, heard alone
    starts = [int(round(s.mix_start_s * sr)) for s in plan.segments]
    ends = [int(round(s.mix_end_s * sr)) for s in plan.segments]
    with AtomicAudioWriter(path, sr, 2) as writer:

        def emit(block: np.ndarray) -> None:
            for i in range(0, block.shape[1], BLOCK_SAMPLES):
                writer.write(limiter.process(block[:, i : i + BLOCK_SAMPLES]))

        for k, segment in enumerate(plan.segments):
            y = segment_audio(segment, sr, o.warp)
            gain_db, loudness = loudness_gain_db(y, sr, o.target_lufs)
            gains.append(gain_db)
            lufs.append(loudness)
            y *= np.float32(10 ** (gain_db / 20))
            apply_rides(y, sr, k, plan)
            head = 0
            if tail is not None:
                t = plan.transitions[k - 1]
                head = tail.shape[1]
                window = int(LEVEL_WINDOW_S * sr)
                # Match the incoming track, heard alone after the overlap, to the outgoing
                # one heard alone before it (the rides guessed from the stored energy
                # curves leave a small step): an extra ride on the incoming side.
                after_db = k_weighted_level_db(y[:, head : head + window], sr)
                if before_db is not None and after_db is not None:
                    extra = float(np.clip(before_db - after_db, -MAX_STEP_FIX_DB, MAX_STEP_FIX_DB))
                    if abs(extra) > HOLD_TOLERANCE_DB:
                        y *= ride_envelope(y.shape[1], sr, extra, head / sr, rising=False)
                        after_db += extra
                incoming = y[:, :head]
                if t.style == "bass-swap" and t.swap_s is not None:
                    beat = int(round(60.0 / plan.master_tempo_bpm * sr))
                    swap = int(round(t.swap_s * sr)) - starts[k]
                    mixed = bass_swap(tail, incoming, sr, swap, beat)
                else:
                    mixed = crossfade(tail, incoming)
                emit(hold_level(mixed, sr, before_db, after_db))
            keep = ends[k] - starts[k + 1] if k + 1 < len(plan.segments) else 0
            body_end = y.shape[1] - keep
            emit(y[:, head:body_end])
            tail = y[:, body_end:] if keep else None
            before_db = k_weighted_level_db(
                y[:, max(head, body_end - int(LEVEL_WINDOW_S * sr)) : body_end], sr
            )
            del y
            if progress is not None:
                progress(k + 1, len(plan.segments))
        writer.write(limiter.flush())
        frames = writer.frames
    seconds = time.perf_counter() - started
    return RenderReport(
        path, frames, sr, seconds, 20 * np.log10(max(limiter.min_gain, 1e-9)), gains, lufs
    )
