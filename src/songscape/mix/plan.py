"""A mix's plan: master tempo, the segment of each track, the order, and the timeline of
its transitions — everything the renderer needs, and everything the user is told.

:func:`plan_mix` runs the steps: the master tempo (:func:`master_tempo`), whether each
track rides the master grid, its segment (:mod:`~songscape.mix.segments`), the
transition costs (:mod:`~songscape.mix.cost`), the order (:mod:`~songscape.mix.order`)
and the layout (:func:`layout`): beat-matched transitions overlap a whole number of
bars, others fade over ``fade_s`` seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from songscape.mix.cost import (
    TEMPO_MULTIPLIERS,
    CostWeights,
    TransitionFeatures,
    best_tempo_ratio,
    camelot_codes,
    camelot_steps,
    cost_matrix,
    cost_parts,
    key_relation,
    total_cost,
)
from songscape.mix.order import arc_cost, arc_targets, order_tracks, path_cost, random_order_cost
from songscape.mix.segments import SegmentChoice, choose_segment, resolve_mode
from songscape.mix.tracks import MixTrack, bar_beat_counts
from songscape.vectors import unit_rows

#: Transition styles for beat-matched transitions (fades are always equal-power).
STYLES = ("bass-swap", "crossfade")


@dataclass(frozen=True)
class MixOptions:
    """How a mix is planned and rendered.

    ``bars`` None: 8 for full songs, 4 for highlights. ``max_stretch``: the largest
    tempo change a track gets (0.1 = ±10 %) before it plays at its own tempo with fades.
    """

    segments: str = "auto"
    bars: int | None = None
    fade_s: float = 6.0
    max_stretch: float = 0.1
    style: str = "bass-swap"
    arc: str = "none"
    reorder: bool = True
    target_lufs: float = -14.0
    ceiling_dbtp: float = -1.0
    sample_rate: int = 44100
    warp: str = "rubberband"
    weights: CostWeights = field(default_factory=CostWeights)

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(
                f"unknown transition style {self.style!r}; choose one of {', '.join(STYLES)}"
            )
        if self.bars is not None and not 1 <= self.bars <= 64:
            raise ValueError(f"--bars must be between 1 and 64, got {self.bars}")
        if not 0.5 <= self.fade_s <= 60:
            raise ValueError(f"--fade must be between 0.5 and 60 seconds, got {self.fade_s}")
        if not 0 <= self.max_stretch <= 0.5:
            raise ValueError(f"--max-stretch must be between 0 and 0.5, got {self.max_stretch}")
        if not -40 <= self.target_lufs <= -5:
            raise ValueError(f"--lufs must be between -40 and -5, got {self.target_lufs}")

    def to_json(self) -> dict:
        out = asdict(self)
        out["weights"] = self.weights.to_json()
        return out


@dataclass
class PlannedSegment:
    """One track's segment placed in the mix (times in seconds).

    ``source_anchors_s``/``target_anchors_s``: the time map, relative to the segment's
    start in the source and in the mix (None: played as is). ``stretch``: the tempo
    change (mix / own) in its beat-matched overlaps; between them it ramps back to 1.
    """

    track: MixTrack
    choice: SegmentChoice
    on_grid: bool
    grid_note: str | None
    tempo_multiplier: float
    stretch: float
    source_anchors_s: np.ndarray | None
    target_anchors_s: np.ndarray | None
    mix_start_s: float = 0.0

    @property
    def duration_s(self) -> float:
        if self.target_anchors_s is not None:
            return float(self.target_anchors_s[-1])
        return self.choice.duration_s

    @property
    def mix_end_s(self) -> float:
        return self.mix_start_s + self.duration_s

    def to_json(self, index: int) -> dict:
        t = self.track
        return {
            "index": index,
            "track_id": t.track_id,
            "title": t.title,
            "artist": t.artist,
            "path": t.path,
            "part": self.choice.part,
            "cut": self.choice.cut,
            "source_start_s": round(self.choice.start_s, 3),
            "source_end_s": round(self.choice.end_s, 3),
            "mix_start_s": round(self.mix_start_s, 3),
            "mix_end_s": round(self.mix_end_s, 3),
            "bars": self.choice.bars,
            "on_grid": self.on_grid,
            "grid_note": self.grid_note,
            "tempo_bpm": None if t.tempo_bpm is None else round(float(t.tempo_bpm), 2),
            "stretch": round(self.stretch, 4),
            "key": t.key,
        }


@dataclass
class PlannedTransition:
    """The join between segment ``index`` and ``index + 1`` (mix times in seconds)."""

    index: int
    kind: str  # "beatmatched" or "fade"
    style: str  # "bass-swap" or "crossfade"
    mix_start_s: float
    mix_end_s: float
    bars: int | None
    swap_s: float | None
    tempo_ratio: float | None
    key_relation: str
    parts: dict[str, float]
    cost: float
    reason: str | None
    ride_db: float = 0.0

    def to_json(self, segments: list[PlannedSegment]) -> dict:
        return {
            "index": self.index,
            "from_track": segments[self.index].track.track_id,
            "to_track": segments[self.index + 1].track.track_id,
            "kind": self.kind,
            "style": self.style,
            "mix_start_s": round(self.mix_start_s, 3),
            "mix_end_s": round(self.mix_end_s, 3),
            "bars": self.bars,
            "swap_s": None if self.swap_s is None else round(self.swap_s, 3),
            "tempo_ratio": None if self.tempo_ratio is None else round(self.tempo_ratio, 4),
            "key_relation": self.key_relation,
            "cost": round(self.cost, 4),
            "parts": {k: round(v, 4) for k, v in self.parts.items()},
            "reason": self.reason,
            "ride_db": round(self.ride_db, 2),
        }


@dataclass
class MixPlan:
    """A complete plan; :meth:`to_json` is what ``mix --json`` prints and ``mix.json`` holds."""

    segments: list[PlannedSegment]
    transitions: list[PlannedTransition]
    master_tempo_bpm: float | None
    options: MixOptions
    order_method: str
    mean_costs: dict[str, float | None]

    @property
    def duration_s(self) -> float:
        return self.segments[-1].mix_end_s if self.segments else 0.0

    def to_json(self) -> dict:
        return {
            "duration_s": round(self.duration_s, 3),
            "master_tempo_bpm": None
            if self.master_tempo_bpm is None
            else round(self.master_tempo_bpm, 2),
            "sample_rate": self.options.sample_rate,
            "order": {
                "method": self.order_method,
                "mean_cost": {
                    k: None if v is None else round(v, 4) for k, v in self.mean_costs.items()
                },
            },
            "options": self.options.to_json(),
            "segments": [s.to_json(i) for i, s in enumerate(self.segments)],
            "transitions": [t.to_json(self.segments) for t in self.transitions],
        }


def master_tempo(tempi: list[float], max_stretch: float = 0.1) -> float | None:
    """The mix's tempo, as a DJ picks it: the one that lets the most tracks be beat-matched
    (their tempo, half or double, within ``max_stretch``), and among those the one that
    stretches them least (summed ``|log2|`` ratio). Candidates are the tracks' tempi and
    their halves and doubles; the result is kept within 70–180 BPM."""
    tempi = [float(t) for t in tempi if t and np.isfinite(t) and t > 0]
    if not tempi:
        return None
    t = np.array(tempi)
    candidates = np.concatenate([t / 2, t, t * 2])
    distance = np.abs(np.log2(best_tempo_ratio(candidates[:, None], t[None, :])))
    inside = distance <= np.log2(1 + max_stretch) + 1e-12
    count = inside.sum(axis=1)
    spread = np.where(inside, distance, 0.0).sum(axis=1)
    best = float(candidates[np.lexsort((spread, -count))[0]])
    while best < 70:
        best *= 2
    while best > 180:
        best /= 2
    return best


def time_map(
    track: MixTrack,
    choice: SegmentChoice,
    beat_dst_s: float,
    head_beats: float = np.inf,
    tail_beats: float = np.inf,
    ramp_beats: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Source and target anchor times (relative to the segment start).

    The anchors are the downbeats from the first cut to the last and every beat of a bar
    that holds exactly ``beats_per_bar`` beats. In the first ``head_beats`` and the last
    ``tail_beats`` of the track's own beats (its beat-matched overlaps) each anchor lands
    on a grid of ``beat_dst_s`` seconds per beat; elsewhere the track keeps its own timing,
    reached over ``ramp_beats`` beats on each side of a grid region — a tempo ramp, as a
    DJ brings the pitch fader back after a transition. The defaults put every anchor on
    the grid.
    """
    bpb = int(track.beats_per_bar or 4)
    db = track.downbeat_times
    f, last = int(choice.first_downbeat), int(choice.last_downbeat)
    counts = bar_beat_counts(track.beat_times, db[f : last + 1])
    beats = np.asarray(track.beat_times)
    # The beats strictly inside each bar, 35 ms clear of its downbeats (beats are sorted).
    after = np.searchsorted(beats, db[f : last + 1] + 0.035, side="right")
    before = np.searchsorted(beats, db[f : last + 1] - 0.035, side="left")
    src, beat_index = [], []
    for q in range(f, last + 1):
        src.append(db[q])
        beat_index.append((q - f) * bpb)
        if q < last and counts[q - f] == bpb:
            inside = beats[after[q - f] : before[q - f + 1]]
            for j, b in enumerate(inside, start=1):
                src.append(b)
                beat_index.append((q - f) * bpb + j)
    source = np.array(src) - db[f]
    index = np.array(beat_index, dtype=float)
    on_grid = grid_weights(index, head_beats, tail_beats, ramp_beats)
    steps = on_grid * np.diff(index) * beat_dst_s + (1 - on_grid) * np.diff(source)
    return source, np.concatenate([[0.0], np.cumsum(steps)])


def grid_weights(
    beat_index: np.ndarray, head_beats: float, tail_beats: float, ramp_beats: float
) -> np.ndarray:
    """For each interval between consecutive anchors (given by their beat numbers), how
    far it follows the grid: 1 inside the first ``head_beats`` or the last ``tail_beats``
    beats, falling linearly to 0 over ``ramp_beats`` beats beyond them."""
    middle = (beat_index[:-1] + beat_index[1:]) / 2
    total = beat_index[-1]
    ramp = max(float(ramp_beats), 1e-9)
    head = np.clip(1 - (middle - head_beats) / ramp, 0.0, 1.0) if head_beats > 0 else 0 * middle
    tail_from = total - tail_beats
    tail = np.clip(1 - (tail_from - middle) / ramp, 0.0, 1.0) if tail_beats > 0 else 0 * middle
    return np.maximum(head, tail)


def plan_mix(
    tracks: list[MixTrack], options: MixOptions, start: int | None = None, end: int | None = None
) -> MixPlan:
    """Plan a mix of ``tracks`` (their given order is kept unless ``options.reorder``;
    ``start``/``end`` pin the first/last track when reordering).

    Raises
    ------
    ValueError
        Fewer than two tracks.
    """
    if len(tracks) < 2:
        raise ValueError("a mix needs at least two tracks")
    part = resolve_mode(options.segments, len(tracks))
    bars = options.bars or (8 if part == "full" else 4)
    tempo = master_tempo(
        [t.tempo_bpm for t in tracks if t.grid_problem is None], options.max_stretch
    )
    planned = [_place_track(t, part, bars, tempo, options) for t in tracks]
    features = _features(planned, bars)
    matrix = cost_matrix(features, options.weights, options.max_stretch)
    intensity = _intensity(tracks)
    arc = arc_cost(intensity, arc_targets(options.arc, len(tracks)))
    given = list(range(len(tracks)))
    n_steps = len(tracks) - 1
    mean = {
        "given": path_cost(given, matrix, arc, options.weights.arc) / n_steps,
        "random": random_order_cost(matrix, arc, options.weights.arc) / n_steps,
    }
    if options.reorder:
        order, method = order_tracks(matrix, arc, options.weights.arc, start, end)
    else:
        order, method = given, "as given"
    mean["plan"] = path_cost(order, matrix, arc, options.weights.arc) / n_steps
    segments = [planned[i] for i in order]
    transitions = layout(segments, features, order, tempo, bars, options)
    return MixPlan(segments, transitions, tempo, options, method, mean)


def _place_track(
    track: MixTrack, part: str, bars: int, tempo: float | None, options: MixOptions
) -> PlannedSegment:
    note = track.grid_problem
    multiplier, stretch = 1.0, 1.0
    if note is None and tempo is not None:
        multiplier = float(
            TEMPO_MULTIPLIERS[
                np.argmin(np.abs(np.log2(tempo / (track.tempo_bpm * TEMPO_MULTIPLIERS))))
            ]
        )
        stretch = tempo / (track.tempo_bpm * multiplier)
        if abs(np.log2(stretch)) > np.log2(1 + options.max_stretch):
            note = (
                f"{track.tempo_bpm:.0f} BPM is {100 * abs(stretch - 1):.0f} % from the mix's "
                f"{tempo:.0f} BPM (limit {100 * options.max_stretch:.0f} %)"
            )
            stretch = 1.0
    on_grid = note is None and tempo is not None
    choice = choose_segment(track, part, bars, bars, options.fade_s, on_grid)
    if on_grid and choice.bars is None:
        on_grid, note = False, "too few bars for beat-matched transitions"
    return PlannedSegment(
        track, choice, on_grid, note, multiplier, stretch if on_grid else 1.0, None, None
    )


def _features(planned: list[PlannedSegment], bars: int) -> TransitionFeatures:
    exit_db, entry_db = [], []
    for p in planned:
        t, c = p.track, p.choice
        if c.first_downbeat is not None and p.on_grid:
            db = t.downbeat_times
            entry = (db[c.first_downbeat], db[min(c.first_downbeat + bars, c.last_downbeat)])
            exit_ = (db[max(c.last_downbeat - bars, c.first_downbeat)], db[c.last_downbeat])
        else:
            span = min(8.0, c.duration_s / 3)
            entry, exit_ = (c.start_s, c.start_s + span), (c.end_s - span, c.end_s)
        entry_db.append(t.energy_at(*entry))
        exit_db.append(t.energy_at(*exit_))
    numbers, letters = camelot_codes([p.track.key for p in planned])
    dims = {len(p.track.embedding) for p in planned if p.track.embedding is not None}
    dim = dims.pop() if len(dims) == 1 else 0
    vectors = np.zeros((len(planned), max(dim, 1)), dtype=np.float32)
    for i, p in enumerate(planned):
        if dim and p.track.embedding is not None:
            vectors[i] = p.track.embedding
    return TransitionFeatures(
        tempo_bpm=np.array(
            [np.nan if p.track.tempo_bpm is None else p.track.tempo_bpm for p in planned]
        ),
        camelot_number=numbers,
        camelot_letter=letters,
        exit_db=np.array([np.nan if v is None else v for v in exit_db]),
        entry_db=np.array([np.nan if v is None else v for v in entry_db]),
        unit_embedding=unit_rows(vectors),
    )


def _intensity(tracks: list[MixTrack]) -> np.ndarray:
    """Each track's intensity in the set, 0..1: the mean rank of its loudness, tempo and
    energy variation (tracks missing a value sit in the middle for it)."""
    columns = [
        [t.loudness_lufs for t in tracks],
        [t.tempo_bpm for t in tracks],
        [float(np.percentile(t.energy_db, 90)) if len(t.energy_db) else None for t in tracks],
    ]
    ranks = []
    for col in columns:
        values = np.array([np.nan if v is None else float(v) for v in col])
        known = np.isfinite(values)
        r = np.full(len(values), 0.5)
        if known.sum() > 1:
            order = values[known].argsort().argsort()
            r[known] = order / (known.sum() - 1)
        ranks.append(r)
    return np.mean(ranks, axis=0)


def layout(
    segments: list[PlannedSegment],
    features: TransitionFeatures,
    order: list[int],
    tempo: float | None,
    bars: int,
    options: MixOptions,
) -> list[PlannedTransition]:
    """Describe each transition, give every segment its time map and place the segments
    on the mix's timeline.

    A beat-matched transition overlaps ``n_bars`` bars on the master grid; each segment
    is warped onto that grid only in its overlaps and ramps back to its own tempo over
    ``bars`` bars between them (:func:`time_map`), so a track between two fades plays
    untouched.
    """
    transitions = []
    for i in range(len(segments) - 1):
        transitions.append(_describe(segments[i], segments[i + 1], i, features, order, options))
    beat_s = 60.0 / tempo if tempo is not None else None
    for i, t in enumerate(transitions):
        if t.kind != "beatmatched":
            continue
        a, b = segments[i], segments[i + 1]
        bar_beats = _bar_beats(a, b)
        shortest = min(a.choice.duration_s / a.stretch, b.choice.duration_s / b.stretch)
        t.bars = max(1, min(bars, int(0.45 * shortest / (bar_beats * beat_s))))
    for k, seg in enumerate(segments):
        if not seg.on_grid or beat_s is None:
            continue
        # beats of this track on the grid at its head (transition k-1) and tail (k)
        head = _grid_beats(segments, transitions[k - 1], seg) if k else 0.0
        tail = _grid_beats(segments, transitions[k], seg) if k < len(transitions) else 0.0
        if head or tail:
            bpb = int(seg.track.beats_per_bar or 4)
            seg.source_anchors_s, seg.target_anchors_s = time_map(
                seg.track, seg.choice, seg.tempo_multiplier * beat_s, head, tail, bars * bpb
            )
    segments[0].mix_start_s = 0.0
    for i, t in enumerate(transitions):
        a, b = segments[i], segments[i + 1]
        if t.kind == "beatmatched":
            bar_beats = _bar_beats(a, b)
            overlap = t.bars * bar_beats * beat_s
            b.mix_start_s = a.mix_end_s - overlap
            if options.style == "bass-swap" and t.bars > 1:
                t.swap_s = b.mix_start_s + (t.bars // 2) * bar_beats * beat_s
        else:
            overlap = min(options.fade_s, 0.45 * min(a.duration_s, b.duration_s))
            b.mix_start_s = a.mix_end_s - overlap
        t.mix_start_s, t.mix_end_s = b.mix_start_s, a.mix_end_s
    for t in transitions:
        t.ride_db = loudness_ride_db(segments[t.index], segments[t.index + 1], t)
    return transitions


def _bar_beats(a: PlannedSegment, b: PlannedSegment) -> float:
    """Master beats in one bar of a beat-matched transition from ``a`` to ``b`` (the bar of
    the slower-counted track when one runs at half or double time)."""
    return int(a.track.beats_per_bar or 4) * max(a.tempo_multiplier, b.tempo_multiplier)


def _grid_beats(segments: list[PlannedSegment], t: PlannedTransition, seg: PlannedSegment) -> float:
    """How many of ``seg``'s own beats transition ``t`` puts on the master grid (0 for a
    fade)."""
    if t.kind != "beatmatched":
        return 0.0
    a, b = segments[t.index], segments[t.index + 1]
    return t.bars * _bar_beats(a, b) / seg.tempo_multiplier


def _describe(
    a: PlannedSegment,
    b: PlannedSegment,
    i: int,
    features: TransitionFeatures,
    order: list[int],
    options: MixOptions,
) -> PlannedTransition:
    """Transition ``i`` from ``a`` to ``b`` before it is placed: its kind, costs and key
    relation (times and bars are filled in by :func:`layout`)."""
    parts = {
        k: float(v)
        for k, v in cost_parts(features, order[i], order[i + 1], options.max_stretch).items()
    }
    cost = float(total_cost(parts, options.weights))
    na, nb = features.camelot_number[order[i]], features.camelot_number[order[i + 1]]
    la, lb = features.camelot_letter[order[i]], features.camelot_letter[order[i + 1]]
    relation = key_relation(int(camelot_steps(na, la, nb, lb)), la, lb, na, nb)
    ratio = best_tempo_ratio(
        np.array(a.track.tempo_bpm or np.nan), np.array(b.track.tempo_bpm or np.nan)
    )
    ratio = None if not np.isfinite(ratio) else float(ratio)
    same_meter = a.track.beats_per_bar == b.track.beats_per_bar
    if a.on_grid and b.on_grid and same_meter:
        return PlannedTransition(
            i,
            "beatmatched",
            options.style,
            0.0,
            0.0,
            None,
            None,
            ratio,
            relation,
            parts,
            cost,
            None,
        )
    reason = (
        (a.grid_note and f"outgoing: {a.grid_note}")
        or (b.grid_note and f"incoming: {b.grid_note}")
        or ("the meters differ" if not same_meter else "no tempo")
    )
    return PlannedTransition(
        i, "fade", "crossfade", 0.0, 0.0, None, None, ratio, relation, parts, cost, reason
    )


#: Seconds over which a loudness ride ramps in or out, and its largest size (dB).
RIDE_S, MAX_RIDE_DB = 6.0, 6.0
#: Level windows the ride matches (the 3 s a listener hears on each side), seconds.
RIDE_WINDOW_S = 3.0


def loudness_ride_db(a: PlannedSegment, b: PlannedSegment, t: PlannedTransition) -> float:
    """Half the level step between the outgoing segment's last moments alone and the
    incoming one's first moments alone, each relative to its whole segment (every segment
    is loudness-matched, so this is the step a listener would hear). The renderer lowers
    (or raises) the outgoing track by it before the transition and starts the incoming one
    the other way, returning to their own levels over :data:`RIDE_S` — as a DJ rides the
    faders. Positive: the outgoing part is the louder one. Source times are converted from
    mix times with each segment's stretch."""
    ca, cb = a.choice, b.choice
    exit_end = ca.end_s - (a.mix_end_s - t.mix_start_s) / a.stretch
    exit_level = a.track.level_db(exit_end - RIDE_WINDOW_S, exit_end)
    entry_start = cb.start_s + (t.mix_end_s - b.mix_start_s) / b.stretch
    entry_level = b.track.level_db(entry_start, entry_start + RIDE_WINDOW_S)
    whole_a = a.track.level_db(ca.start_s, ca.end_s)
    whole_b = b.track.level_db(cb.start_s, cb.end_s)
    if None in (exit_level, entry_level, whole_a, whole_b):
        return 0.0
    step = (exit_level - whole_a) - (entry_level - whole_b)
    return float(np.clip(step / 2, -MAX_RIDE_DB, MAX_RIDE_DB))
