"""The tracks of a mix as the planner sees them, read from the catalog."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from songscape.analysis.pulse import pulse_clarity
from songscape.audio.excerpt import read_excerpt
from songscape.catalog import structure as structure_db
from songscape.catalog.store import LibraryStore
from songscape.errors import AudioError, UsageError

#: Fewest downbeats for a usable grid.
MIN_DOWNBEATS = 6
#: Largest median deviation of beat intervals from their median, as a fraction.
MAX_BEAT_DEVIATION = 0.06
#: Smallest share of bars holding exactly ``beats_per_bar`` beats.
MIN_REGULAR_BARS = 0.75
#: Smallest pulse clarity (:func:`songscape.analysis.pulse.pulse_clarity`) of a trusted
#: grid: noise measures under 0.07, steady music 0.3–0.8; free-time jazz and classical
#: clips fall under 0.15 (a threshold set by looking at 40 GTZAN clips, docs/mix.md).
MIN_PULSE_CLARITY = 0.15
#: Seconds of audio the pulse is measured on (the highlight, or the middle).
PULSE_WINDOW_S = 30.0
#: Rate the pulse is measured at, Hz.
PULSE_SAMPLE_RATE = 22050
#: Tempi a beat-matched mix handles, BPM.
TEMPO_RANGE_BPM = (50.0, 220.0)


@dataclass
class MixTrack:
    """One track: identity, rhythm grid (seconds), sections, highlight, energy, vector.

    ``grid_problem`` is None when the beat grid can carry a beat-matched transition,
    else the reason it cannot (the plan reports it and uses a fade).
    """

    track_id: str
    path: str
    title: str | None
    artist: str | None
    duration_s: float
    tempo_bpm: float | None
    beats_per_bar: int | None
    key: str | None
    loudness_lufs: float | None
    beat_times: np.ndarray
    downbeat_times: np.ndarray
    energy_db: np.ndarray
    energy_rate_hz: float
    sections: list[tuple[float, float, str]] = field(default_factory=list)
    highlight: tuple[float, float] | None = None
    embedding: np.ndarray | None = None
    grid_problem: str | None = None

    @property
    def name(self) -> str:
        """``Artist – Title`` (or the file name)."""
        title = self.title or self.path.rsplit("/", 1)[-1]
        return f"{self.artist} – {title}" if self.artist else title

    def level_db(self, start_s: float, end_s: float) -> float | None:
        """Power-mean level of the energy curve over ``[start_s, end_s)``, dB (None when
        unknown)."""
        lo = int(np.floor(max(0.0, start_s) * self.energy_rate_hz))
        hi = max(lo + 1, int(np.ceil(end_s * self.energy_rate_hz)))
        part = self.energy_db[lo:hi]
        if not len(part):
            return None
        return float(10 * np.log10(np.mean(10 ** (part / 10))))

    def energy_at(self, start_s: float, end_s: float) -> float | None:
        """Mean energy over ``[start_s, end_s)`` relative to the track's loudness, dB."""
        if not len(self.energy_db):
            return None
        lo = int(np.floor(start_s * self.energy_rate_hz))
        hi = max(lo + 1, int(np.ceil(end_s * self.energy_rate_hz)))
        part = self.energy_db[max(0, lo) : hi]
        if not len(part):
            return None
        return float(
            part.mean()
            - (self.loudness_lufs if self.loudness_lufs is not None else self.energy_db.mean())
        )


def grid_problem(
    beat_times: np.ndarray,
    downbeat_times: np.ndarray,
    beats_per_bar: int | None,
    tempo_bpm: float | None,
) -> str | None:
    """Why a beat grid cannot carry a beat-matched transition, or None when it can.

    A grid is trusted when it has at least :data:`MIN_DOWNBEATS` downbeats, a tempo in
    :data:`TEMPO_RANGE_BPM`, beat intervals whose median deviation from their median is
    below :data:`MAX_BEAT_DEVIATION` (rubato and free time fail this), and at least
    :data:`MIN_REGULAR_BARS` of its bars hold exactly ``beats_per_bar`` beats.
    """
    if tempo_bpm is None or not beats_per_bar:
        return "no tempo or meter was found"
    if not TEMPO_RANGE_BPM[0] <= tempo_bpm <= TEMPO_RANGE_BPM[1]:
        low, high = TEMPO_RANGE_BPM
        return f"tempo {tempo_bpm:.0f} BPM is outside {low:.0f}–{high:.0f}"
    if len(downbeat_times) < MIN_DOWNBEATS:
        return f"only {len(downbeat_times)} downbeats were found"
    ioi = np.diff(beat_times)
    deviation = float(np.median(np.abs(ioi - np.median(ioi))) / np.median(ioi))
    if deviation > MAX_BEAT_DEVIATION:
        return f"beat intervals vary by {100 * deviation:.0f} % (free tempo)"
    counts = bar_beat_counts(beat_times, downbeat_times)
    regular = float(np.mean(counts == beats_per_bar))
    if regular < MIN_REGULAR_BARS:
        return f"only {100 * regular:.0f} % of bars hold {beats_per_bar} beats"
    return None


def check_pulse(track: MixTrack) -> MixTrack:
    """Set ``track.grid_problem`` when its audio does not pulse at its tempo (measured on
    :data:`PULSE_WINDOW_S` of its highlight or middle); a file that cannot be read is a
    problem too. Returns the track."""
    if track.grid_problem is not None:
        return track
    start, end = track.highlight or (0.0, track.duration_s)
    mid = (start + end) / 2
    start = max(0.0, mid - PULSE_WINDOW_S / 2)
    end = min(track.duration_s, start + PULSE_WINDOW_S)
    try:
        y = read_excerpt(track.path, start, end, PULSE_SAMPLE_RATE, channels=1)[0]
    except (AudioError, ValueError, OSError) as err:
        track.grid_problem = f"its audio cannot be read ({err})"
        return track
    clarity = pulse_clarity(y, PULSE_SAMPLE_RATE, float(track.tempo_bpm))
    if clarity < MIN_PULSE_CLARITY:
        track.grid_problem = f"no clear pulse (clarity {clarity:.2f} < {MIN_PULSE_CLARITY})"
    return track


def bar_beat_counts(beat_times: np.ndarray, downbeat_times: np.ndarray) -> np.ndarray:
    """Beats in each bar ``[downbeat_k, downbeat_k+1)`` (a downbeat is a beat), shape
    ``(len(downbeat_times) - 1,)``; a beat is matched to a downbeat within 35 ms."""
    beats = np.sort(np.asarray(beat_times, dtype=float))
    edges = np.asarray(downbeat_times, dtype=float) - 0.035
    return np.diff(np.searchsorted(beats, edges))


def load_mix_tracks(
    store: LibraryStore,
    refs: list[str],
    model: str | None = None,
) -> list[MixTrack]:
    """The tracks ``refs`` (ids or paths) from the catalog, in that order.

    Raises
    ------
    TrackNotFoundError
        A reference names no track.
    UsageError
        A track was not analysed, failed, or its file has gone missing.
    """
    model = model or store.default_model()
    out = []
    for ref in refs:
        row = store.get_track(ref)
        if row["status"] != "ok":
            raise UsageError(
                f"track {row['id']} ({row['path']}) is {row['status']}: "
                f"{row['error'] or 'its file is not there'}; it cannot be mixed"
            )
        desc = store.descriptors(row["id"])
        if desc is None:
            raise UsageError(
                f"track {row['id']} has not been analysed yet; run "
                "`songscape ingest` on its folder first"
            )
        arrays = store.get_arrays(row["id"])
        info = structure_db.get_structure(store.conn, row["id"])
        chosen = structure_db.default_highlight(store.conn, row["id"])
        vec = store.embedding(row["id"], model)
        beats = np.asarray(arrays.get("beat_times", np.zeros(0)), dtype=float)
        downbeats = np.asarray(arrays.get("downbeat_times", np.zeros(0)), dtype=float)
        out.append(
            MixTrack(
                track_id=row["id"],
                path=row["path"],
                title=row["title"],
                artist=row["artist"],
                duration_s=float(row["duration_s"] or 0.0),
                tempo_bpm=desc["tempo_bpm"],
                beats_per_bar=desc["beats_per_bar"],
                key=desc["key"],
                loudness_lufs=desc["loudness_lufs"],
                beat_times=beats,
                downbeat_times=downbeats,
                energy_db=np.asarray(arrays.get("energy_curve", np.zeros(0)), dtype=float),
                energy_rate_hz=float(desc["energy_rate_hz"] or 2.0),
                sections=[
                    (s["start_s"], s["end_s"], s["label"])
                    for s in (info or {}).get("sections") or []
                ],
                highlight=(chosen["start_s"], chosen["end_s"]) if chosen else None,
                embedding=None if vec is None else np.asarray(vec[0], dtype=np.float32),
                grid_problem=grid_problem(
                    beats, downbeats, desc["beats_per_bar"], desc["tempo_bpm"]
                ),
            )
        )
    return out
