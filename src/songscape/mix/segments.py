"""Which part of each track plays: cut points on downbeats at phrase boundaries.

DJs cut where phrases start: a section's first downbeat, or 8, 16… bars into it
(:func:`phrase_downbeats`). A segment is either the whole track (first to last
downbeat) or its highlight with room before and after for the transitions: it starts
at the last phrase boundary at least ``entry_bars`` before the highlight and ends at the
first one at least ``exit_bars`` after it, so the highlight itself plays alone.
A track without a trusted grid is cut in seconds instead, and joined by fades.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from songscape.mix.tracks import MixTrack

#: Segment modes.
SEGMENT_MODES = ("auto", "highlight", "full")
#: Bars per phrase.
PHRASE_BARS = 8
#: ``auto`` plays highlights when the mix has more tracks than this.
AUTO_FULL_MAX_TRACKS = 5
#: How far under a track's loud parts a moment is "quiet" (lead-in, fade-out), dB.
QUIET_BELOW_PEAK_DB = 20.0
#: Highlight length assumed when a track has none stored, seconds.
FALLBACK_HIGHLIGHT_S = 30.0


@dataclass
class SegmentChoice:
    """The part of a track that plays: ``[start_s, end_s)`` in the source, seconds.

    ``first_downbeat``/``last_downbeat`` index the track's downbeats at the cuts (None
    when cut in seconds); ``cut`` says what the cuts are on (``phrase``, ``downbeat`` or
    ``time``); ``part`` is ``highlight`` or ``full``.
    """

    start_s: float
    end_s: float
    part: str
    cut: str
    first_downbeat: int | None = None
    last_downbeat: int | None = None

    @property
    def bars(self) -> int | None:
        if self.first_downbeat is None or self.last_downbeat is None:
            return None
        return self.last_downbeat - self.first_downbeat

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def resolve_mode(mode: str, n_tracks: int) -> str:
    """``highlight`` or ``full`` for a mode of :data:`SEGMENT_MODES`."""
    if mode not in SEGMENT_MODES:
        raise ValueError(f"unknown segment mode {mode!r}; choose one of {', '.join(SEGMENT_MODES)}")
    if mode == "auto":
        return "highlight" if n_tracks > AUTO_FULL_MAX_TRACKS else "full"
    return mode


def phrase_downbeats(
    downbeat_times: np.ndarray,
    sections: list[tuple[float, float, str]],
    phrase_bars: int = PHRASE_BARS,
) -> np.ndarray:
    """Indices of the downbeats where a phrase starts: each section's first downbeat and
    every ``phrase_bars`` bars after it within the section (from the first downbeat when
    there are no sections)."""
    n = len(downbeat_times)
    if n == 0:
        return np.zeros(0, dtype=int)
    starts = sorted({int(np.argmin(np.abs(downbeat_times - s))) for s, _, _ in sections} | {0})
    points: set[int] = set()
    for a, b in zip(starts, starts[1:] + [n], strict=True):
        points.update(range(a, b, phrase_bars))
    points.add(n - 1)
    return np.array(sorted(points), dtype=int)


def choose_segment(
    track: MixTrack, part: str, entry_bars: int, exit_bars: int, fade_s: float, on_grid: bool
) -> SegmentChoice:
    """The segment of ``track`` for ``part`` (``highlight`` or ``full``).

    On a grid the cuts are downbeats with at least ``entry_bars + exit_bars + 2`` bars
    between them when the track has them; off the grid (or too short), seconds with
    ``fade_s`` of room.
    """
    hs, he = track.highlight or _middle(track.duration_s, FALLBACK_HIGHLIGHT_S)
    audible_start, audible_end = audible_span(track)
    # Lead-in silence and fade-out tails are not played: cut inside the audible span.
    inside = (track.downbeat_times >= audible_start - 0.25) & (
        track.downbeat_times <= audible_end + 0.25
    )
    offset = int(np.argmax(inside)) if inside.any() else 0
    db = track.downbeat_times[inside] if inside.sum() >= 2 else track.downbeat_times
    if inside.sum() < 2:
        offset = 0
    # A short track gets shorter transitions rather than none (at least 2 bars each).
    room = max(0, (len(db) - 3) // 2)
    entry_bars, exit_bars = min(entry_bars, room), min(exit_bars, room)
    if on_grid and min(entry_bars, exit_bars) >= 2:
        last = len(db) - 1
        if part == "full":
            return SegmentChoice(
                float(db[0]), float(db[last]), part, "downbeat", offset, offset + last
            )
        phrases = phrase_downbeats(db, track.sections)
        want_start = int(np.searchsorted(db, hs - 0.05)) - entry_bars
        want_end = int(np.searchsorted(db, he - 0.05)) + exit_bars
        before = phrases[phrases <= want_start]
        after = phrases[phrases >= want_end]
        first = int(before[-1]) if len(before) else max(0, want_start)
        final = int(after[0]) if len(after) else min(last, want_end)
        while final - first < entry_bars + exit_bars + 2 and (first > 0 or final < last):
            final, first = min(last, final + 1), max(0, first - (final >= last))
        cut = "phrase" if first in phrases and final in phrases else "downbeat"
        return SegmentChoice(
            float(db[first]), float(db[final]), part, cut, offset + first, offset + final
        )
    if part == "full":
        return SegmentChoice(audible_start, audible_end, part, "time")
    start, end = max(audible_start, hs - fade_s), min(audible_end, he + fade_s)
    if end - start < 2 * fade_s:
        start, end = max(0.0, hs - fade_s), min(track.duration_s, he + fade_s)
    return SegmentChoice(start, end, part, "time")


def audible_span(
    track: MixTrack, below_peak_db: float = QUIET_BELOW_PEAK_DB
) -> tuple[float, float]:
    """From the first to the last moment (seconds) whose energy is within ``below_peak_db``
    of the track's loud parts (its 90th-percentile level); the whole track when unknown."""
    e = track.energy_db
    if not len(e):
        return 0.0, track.duration_s
    loud = np.flatnonzero(e >= np.percentile(e, 90) - below_peak_db)
    start = max(0.0, (loud[0] - 0.5) / track.energy_rate_hz)
    end = min(track.duration_s, (loud[-1] + 0.5) / track.energy_rate_hz)
    return start, end


def _middle(duration_s: float, length_s: float) -> tuple[float, float]:
    start = max(0.0, (duration_s - length_s) / 2)
    return start, min(duration_s, start + length_s)
