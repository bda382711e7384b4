"""Which songs suit a voice, in which key: range fit, transposition, timbre, explanation.

For every song with a vocal analysis (its note histogram: seconds sung per semitone):

* **range fit** at transposition ``t`` (semitones, ``-6 … +6``, karaoke keys): the
  share of the song's sung time whose notes, moved by ``t``, fall inside the singer's
  comfortable range (±0.5 semitone, the width of a note). The suggested transposition
  is, among those within :data:`NEAR_BEST_FIT` of the best fit, the one that brings the
  song's tessitura nearest the singer's (then the smallest shift);
* **timbre similarity**: a weighted mean of the cosine similarities of each vocal
  embedding kind both sides have (``musicnn``, ``mfcc``, trained MoCo/TJAE models),
  each kind standardised by the library's own mean (and, for ``mfcc``, standard
  deviation) when the library has at least :data:`MIN_ROWS_TO_STANDARDISE` songs;
* **score** = ``w_range * range_fit + w_timbre * (1 + timbre_similarity) / 2``.

The weights are :data:`DEFAULT_WEIGHTS`, overridden with ``--weights
"range=0.5,musicnn=0.3,mfcc=0.2"`` (``range`` against the sum of the embedding weights
sets the balance; embedding weights are normalised among the kinds present).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from songscape.errors import QueryError
from songscape.notation import PITCH_CLASS_NAMES, key_name, parse_key

TRANSPOSITIONS = np.arange(-6, 7)
#: Default fusion weights: ``range`` against the timbre kinds.
DEFAULT_WEIGHTS = {"range": 0.6, "musicnn": 0.25, "mfcc": 0.15, "moco": 0.25, "tjae": 0.1}
MIN_ROWS_TO_STANDARDISE = 5
#: Range fits within this of a song's best are equal for choosing its key (set a priori:
#: one note in twenty of the sung time, below what the range estimate can resolve).
NEAR_BEST_FIT = 0.05


def note_name(midi: float) -> str:
    """``60 -> "C4"`` (rounded to the nearest semitone, sharps only)."""
    m = int(round(float(midi)))
    return f"{PITCH_CLASS_NAMES[m % 12]}{m // 12 - 1}"


def parse_weights(spec: str | None) -> dict[str, float]:
    """``"range=0.5,musicnn=0.3"`` over :data:`DEFAULT_WEIGHTS` (unknown names are kinds).

    Raises
    ------
    QueryError
        A malformed pair or a negative weight.
    """
    weights = dict(DEFAULT_WEIGHTS)
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        name, sep, value = (s.strip() for s in item.partition("="))
        try:
            w = float(value)
        except ValueError:
            w = -1.0
        if not sep or not name or not np.isfinite(w) or w < 0:
            raise QueryError(f"--weights: expected name=non-negative number, got {item!r}")
        weights[name] = w
    return weights


def range_fit_matrix(
    note_hist: np.ndarray, hist_low: int, comfortable: tuple[float, float]
) -> np.ndarray:
    """Share of sung time inside ``comfortable`` per song and transposition.

    Parameters
    ----------
    note_hist : np.ndarray, shape (n_songs, n_bins)
        Seconds sung per semitone, bin ``j`` = MIDI ``hist_low + j``.
    hist_low : int
    comfortable : (low, high)
        MIDI numbers.

    Returns
    -------
    np.ndarray, shape (n_songs, len(TRANSPOSITIONS))
        0-1 (0 for a song with nothing sung).
    """
    h = np.asarray(note_hist, dtype=np.float64)
    notes = hist_low + np.arange(h.shape[1])
    lo, hi = comfortable
    inside = np.stack([(notes + t >= lo - 0.5) & (notes + t <= hi + 0.5)
                       for t in TRANSPOSITIONS], axis=1).astype(np.float64)  # fmt: skip
    total = h.sum(axis=1, keepdims=True)
    return np.where(total > 0, (h @ inside) / np.maximum(total, 1e-12), 0.0)


def best_transpositions(
    fit: np.ndarray,
    song_centre_midi: np.ndarray | None = None,
    voice_centre_midi: float | None = None,
    near_best: float = NEAR_BEST_FIT,
) -> tuple[np.ndarray, np.ndarray]:
    """Per song, the suggested transposition and its fit.

    Parameters
    ----------
    fit : np.ndarray, shape (n_songs, len(TRANSPOSITIONS))
        :func:`range_fit_matrix`.
    song_centre_midi : np.ndarray, shape (n_songs,), optional
        Each song's tessitura (median sung note, MIDI; NaN when unknown).
    voice_centre_midi : float, optional
        The singer's tessitura (MIDI).
    near_best : float
        Fits within this of a song's best count as equal (0-1 share of sung time).

    Returns
    -------
    (fit, shift) : np.ndarray, np.ndarray
        Among the transpositions whose fit is within ``near_best`` of the best, the one
        that brings the song's tessitura nearest the singer's (when both are given):
        the range fit is often nearly flat over neighbouring keys, and the key that
        centres the song on the voice is the one to sing in. Remaining ties: the
        smallest shift, upwards first.
    """
    fit = np.asarray(fit, dtype=np.float64)
    order = np.argsort(np.abs(TRANSPOSITIONS) * 2 - (TRANSPOSITIONS > 0), kind="stable")
    ordered = fit[:, order]
    shifts = TRANSPOSITIONS[order]
    candidates = ordered >= ordered.max(axis=1, keepdims=True) - near_best
    if song_centre_midi is None or voice_centre_midi is None or \
            not np.isfinite(voice_centre_midi):  # fmt: skip
        candidates = ordered >= ordered.max(axis=1, keepdims=True)
        distance = np.zeros_like(ordered)
    else:
        centre = np.asarray(song_centre_midi, dtype=np.float64)[:, None] + shifts[None, :]
        distance = np.abs(np.nan_to_num(centre - voice_centre_midi, nan=0.0))
    # first candidate with the smallest distance (argmin keeps the first of equal ones)
    best = np.where(candidates, distance, np.inf).argmin(axis=1)
    return ordered[np.arange(len(fit)), best], shifts[best]


def histogram_medians(note_hist: np.ndarray, hist_low: int) -> np.ndarray:
    """Median sung note (MIDI) of each song's note histogram; NaN for an empty one."""
    h = np.asarray(note_hist, dtype=np.float64)
    total = h.sum(axis=1)
    cumulative = np.cumsum(h, axis=1)
    index = (cumulative >= total[:, None] / 2).argmax(axis=1)
    return np.where(total > 0, hist_low + index, np.nan).astype(np.float64)


def standardised_cosine(query: np.ndarray, rows: np.ndarray, scale: bool) -> np.ndarray:
    """Cosine of ``query`` with each row after removing the rows' mean (and scaling by
    their standard deviation when ``scale``); raw cosine for fewer than
    :data:`MIN_ROWS_TO_STANDARDISE` rows."""
    q = np.asarray(query, dtype=np.float64)
    r = np.asarray(rows, dtype=np.float64)
    if len(r) >= MIN_ROWS_TO_STANDARDISE:
        mu = r.mean(axis=0)
        sd = r.std(axis=0) + 1e-6 if scale else 1.0
        q, r = (q - mu) / sd, (r - mu) / sd
    qn = q / max(np.linalg.norm(q), 1e-12)
    rn = r / np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-12)
    return rn @ qn


def weight_for(kind: str, weights: dict[str, float]) -> float:
    """A kind's weight: its own name, else its family (``moco:…`` -> ``moco``), else 0."""
    if kind in weights:
        return weights[kind]
    return weights.get(kind.split(":")[0].split("-")[0], 0.0)


def fused_timbre(
    query: dict[str, np.ndarray],
    songs: dict[str, tuple[np.ndarray, np.ndarray]],
    weights: dict[str, float],
    n_songs: int,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Weighted mean cosine over the kinds both sides have.

    Parameters
    ----------
    query : dict of kind to vector
    songs : dict of kind to (matrix (n_songs, dim), found mask (n_songs,))
    weights : dict

    Returns
    -------
    fused : np.ndarray, shape (n_songs,)
        -1..1; 0 where no kind is available.
    per_kind : dict of kind to np.ndarray (nan where the song lacks the kind)
    """
    total = np.zeros(n_songs)
    wsum = np.zeros(n_songs)
    per_kind: dict[str, np.ndarray] = {}
    for kind, vec in query.items():
        if kind not in songs:
            continue
        matrix, found = songs[kind]
        if not found.any() or matrix.shape[1] != len(vec):
            continue
        sims = np.full(n_songs, np.nan)
        sims[found] = standardised_cosine(vec, matrix[found], scale=(kind == "mfcc"))
        per_kind[kind] = sims
        w = weight_for(kind, weights)
        total[found] += w * sims[found]
        wsum[found] += w
    return np.where(wsum > 0, total / np.maximum(wsum, 1e-12), 0.0), per_kind


def transposed_key(key: str | None, semitones: int) -> str | None:
    """``"C major"`` moved by ``semitones`` (None when the key is unknown)."""
    if not key:
        return None
    try:
        tonic, mode = parse_key(key)
    except (ValueError, IndexError):
        return None
    return key_name((tonic + semitones) % 12, mode)


@dataclass
class SongVocals:
    """What matching needs of the library: per song its id, title, key, sung range."""

    ids: list[str]
    titles: list[str | None]
    artists: list[str | None]
    keys: list[str | None]
    ranges: np.ndarray  # (n, 2) sung range low/high, nan when unknown
    note_hist: np.ndarray  # (n, bins)
    hist_low: int
    embeddings: dict[str, tuple[np.ndarray, np.ndarray]]


def explain(
    comfortable: tuple[float, float], song_range: np.ndarray, shift: int, fit: float,
    key: str | None, timbre: float | None,
) -> str:  # fmt: skip
    """One sentence: the singer's range, the song's, the suggested key and the fit."""
    parts = [f"your comfortable range {note_name(comfortable[0])}–{note_name(comfortable[1])}"]
    if np.all(np.isfinite(song_range)):
        parts.append(f"this song's vocal line {note_name(song_range[0])}–"
                     f"{note_name(song_range[1])}")  # fmt: skip
    new_key = transposed_key(key, shift)
    move = "in the original key" if shift == 0 else f"sing it {shift:+d} semitones"
    if new_key and shift:
        move += f" (in {new_key})"
    elif new_key:
        move += f" ({new_key})"
    parts.append(f"{move}: {fit:.0%} of its notes fit")
    if timbre is not None:
        parts.append(f"timbre similarity {timbre:.2f}")
    return "; ".join(parts)


def match_songs(
    comfortable: tuple[float, float],
    query_embeddings: dict[str, np.ndarray],
    songs: SongVocals,
    k: int = 10,
    weights: dict[str, float] | None = None,
    tessitura_midi: float | None = None,
) -> list[dict]:
    """The ``k`` best songs for a voice, best first (see the module docstring).

    ``tessitura_midi`` is the singer's median sung note (default: the middle of the
    comfortable range); it chooses among near-equal keys.

    Songs in which no singing was found (an empty note histogram) are left out.

    Returns
    -------
    list of dict
        ``id``, ``title``, ``artist``, ``score``, ``range_fit``, ``transpose_semitones``,
        ``key``, ``sung_key``, ``timbre_similarity``, ``timbre_by_kind``,
        ``vocal_range_midi``, ``explanation``.
    """
    weights = DEFAULT_WEIGHTS if weights is None else weights
    n = len(songs.ids)
    if n == 0:
        return []
    fit_matrix = range_fit_matrix(songs.note_hist, songs.hist_low, comfortable)
    voice_centre = (sum(comfortable) / 2) if tessitura_midi is None else tessitura_midi
    fit, shift = best_transpositions(
        fit_matrix, histogram_medians(songs.note_hist, songs.hist_low), voice_centre
    )  # fmt: skip
    timbre, per_kind = fused_timbre(query_embeddings, songs.embeddings, weights, n)
    has_timbre = np.zeros(n, dtype=bool)
    for sims in per_kind.values():
        has_timbre |= np.isfinite(sims)
    w_range = weights.get("range", 0.0)
    w_timbre = sum(weight_for(kind, weights) for kind in per_kind) if per_kind else 0.0
    w_total = max(w_range + w_timbre, 1e-12)
    score = (w_range * fit + w_timbre * np.where(has_timbre, (1 + timbre) / 2, 0.0)) / w_total
    sung = np.asarray(songs.note_hist).sum(axis=1) > 0  # a song nobody sings is not offered
    order = [i for i in np.lexsort((np.arange(n), -score)) if sung[i]][:k]
    results = []
    for i in order:
        t = float(timbre[i]) if has_timbre[i] else None
        results.append({
            "id": songs.ids[i], "title": songs.titles[i], "artist": songs.artists[i],
            "score": round(float(score[i]), 4), "range_fit": round(float(fit[i]), 4),
            "transpose_semitones": int(shift[i]), "key": songs.keys[i],
            "sung_key": transposed_key(songs.keys[i], int(shift[i])),
            "timbre_similarity": None if t is None else round(t, 4),
            "timbre_by_kind": {kind: round(float(s[i]), 4) for kind, s in per_kind.items()
                               if np.isfinite(s[i])},
            "vocal_range_midi": [None if not np.isfinite(v) else round(float(v), 2)
                                 for v in songs.ranges[i]],
            "explanation": explain(comfortable, songs.ranges[i], int(shift[i]), float(fit[i]),
                                   songs.keys[i], t),
        })  # fmt: skip
    return results
