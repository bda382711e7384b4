"""Find music by music: similar tracks with filters and explanations, and paths between songs.

Similarity is the cosine between track-level embeddings of one model (the library's
default unless asked), served by the model's :class:`~songscape.search.index.VectorIndex`.
Filters narrow the candidates *before* ranking (so ``k`` results come back whenever
that many tracks pass), and every result explains itself: similarity score, the top
tags it shares with the query, tempo and key closeness, same artist / album.

Filter syntax (``--filter`` on the CLI, ``filters=[...]`` in Python):

=====================  ==================================================================
``tempo=90..110``      tempo in BPM within the range (``90..`` / ``..110`` open-ended);
                       with ``half_double`` a track also passes at half or double tempo
``key=A minor``        exactly that key
``key=compatible``     keys mixable with the query's key (Camelot wheel: same, relative,
                       one fifth either way)
``tag=rock``           the tag is among the track's top 5 tags of its vocabulary (name a
                       vocabulary with ``tag=mtt:piano``)
``duration=120..300``  duration in seconds within the range
``artist=Name``        only that artist (case-insensitive)
``valence=-1..-0.3``   valence (-1...1) within the range, or ``positive``/``negative``;
                       ``arousal=0.2..`` likewise, or ``high``/``low`` (issue 19)
=====================  ==================================================================
"""

from __future__ import annotations

import math
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from songscape.catalog.store import LibraryStore
from songscape.catalog.vectors import healthy_filter_facts, healthy_tag_rows, track_facts
from songscape.errors import QueryError, UnknownModelError
from songscape.models.registry import get_spec
from songscape.notation import camelot_distance, compatible_keys, key_name, parse_key
from songscape.search.emotion_terms import parse_emotion_range, tracks_in_ranges

#: A tag passes ``tag=`` filters, and counts as shared, when it is among this many of a
#: track's most probable tags (per vocabulary).
TOP_TAGS = 5


# -- filters -------------------------------------------------------------------------


@dataclass
class Filters:
    """Parsed filters; ``None`` fields do not restrict."""

    tempo: tuple[float, float] | None = None
    half_double: bool = False
    key: str | None = None  # a key name, or "compatible"
    tags: list[tuple[str | None, str]] = field(default_factory=list)  # (source, tag)
    duration: tuple[float, float] | None = None
    artist: str | None = None
    other_artists: bool = False
    valence: tuple[float, float] | None = None  # -1..1 (issue 19)
    arousal: tuple[float, float] | None = None

    @property
    def restricts(self) -> bool:
        return any(
            (self.tempo, self.key, self.tags, self.duration, self.artist, self.other_artists,
             self.valence, self.arousal)
        )


def _range(text: str, what: str) -> tuple[float, float]:
    match = re.fullmatch(r"\s*([0-9.]*)\s*\.\.\s*([0-9.]*)\s*", text)
    if not match or not (match.group(1) or match.group(2)):
        raise QueryError(f"{what} wants a range like 90..110, 90.. or ..110, not {text!r}")
    try:
        lo = float(match.group(1)) if match.group(1) else 0.0
        hi = float(match.group(2)) if match.group(2) else math.inf
    except ValueError:
        raise QueryError(f"{what}: not a number in {text!r}") from None
    if lo > hi:
        raise QueryError(f"{what}: empty range {text!r} (low end above high end)")
    return lo, hi


def parse_filters(
    specs: list[str] | tuple[str, ...] = (), half_double: bool = False, other_artists: bool = False
) -> Filters:
    """Parse ``name=value`` filter strings (see the module docstring)."""
    out = Filters(half_double=half_double, other_artists=other_artists)
    for spec in specs:
        name, sep, value = spec.partition("=")
        name, value = name.strip().lower(), value.strip()
        if not sep or not value:
            raise QueryError(f"a filter looks like name=value (e.g. tempo=90..110), not {spec!r}")
        if name == "tempo":
            out.tempo = _range(value, "tempo")
        elif name == "duration":
            out.duration = _range(value, "duration")
        elif name == "key":
            if value.lower() == "compatible":
                out.key = "compatible"
            else:
                try:
                    tonic, mode = parse_key(value)
                    out.key = key_name(tonic, mode)
                except ValueError:
                    raise QueryError(
                        f"key wants a name like 'A minor' or 'F# major', or 'compatible', "
                        f"not {value!r}"
                    ) from None
        elif name == "tag":
            source, colon, tag = value.rpartition(":")
            out.tags.append((source.lower() if colon else None, tag.strip()))
        elif name == "artist":
            out.artist = value
        elif name in ("valence", "arousal"):
            setattr(out, name, parse_emotion_range(name, value))
        else:
            raise QueryError(
                f"unknown filter {name!r}; filters: tempo, key, tag, duration, artist, "
                "valence, arousal"
            )
    return out


def fold_name(text: str | None) -> str:
    """An artist name as the filters compare it: accent-free, case-folded, stripped."""
    text = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in text if not unicodedata.combining(c)).casefold().strip()


_norm = fold_name


def _tempo_ok(tempo: float | None, lo: float, hi: float, half_double: bool) -> bool:
    if tempo is None:
        return False
    candidates = (tempo, tempo * 2, tempo / 2) if half_double else (tempo,)
    return any(lo <= t <= hi for t in candidates)


def top_tags(by_model: dict[str, dict[str, float]], n: int = TOP_TAGS) -> dict[str, list[str]]:
    """``{source: [tag, ...]}``: the ``n`` most probable tags per vocabulary."""
    out: dict[str, list[str]] = {}
    for model, tags in by_model.items():
        try:
            source = get_spec(model).tag_source or model
        except UnknownModelError:  # tags of a model no longer registered: named as is
            source = model
        out[source] = [t for t, _ in sorted(tags.items(), key=lambda kv: -kv[1])[:n]]
    return out


def _all_top_tags(conn: sqlite3.Connection) -> dict[str, dict[str, dict[str, float]]]:
    """``{track_id: {model: {tag: p}}}`` for every healthy track (one query)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for r in healthy_tag_rows(conn):
        out.setdefault(r["track_id"], {}).setdefault(r["model"], {})[r["tag"]] = r["probability"]
    return out


def allowed_tracks(
    store: LibraryStore, filters: Filters, query: dict[str, Any] | None
) -> set[str] | None:
    """Track ids passing ``filters`` (None: no restriction).

    ``query`` is the query track's facts (``key``, ``artist``) for the relative
    filters (``key=compatible``, other artists).
    """
    if not filters.restricts:
        return None
    rows = healthy_filter_facts(store.conn)
    moods = tracks_in_ranges(store, filters.valence, filters.arousal)
    if moods is not None:
        rows = [r for r in rows if r["id"] in moods]
    keys: set[str] | None = None
    if filters.key == "compatible":
        if not query or not query.get("key"):
            raise QueryError("key=compatible needs a query with a detected key")
        keys = set(compatible_keys(query["key"]))
    elif filters.key:
        keys = {filters.key}
    query_artist = _norm(query.get("artist")) if query else ""
    tag_sets = _all_top_tags(store.conn) if filters.tags else {}
    allowed = set()
    for r in rows:
        if filters.tempo and not _tempo_ok(r["tempo_bpm"], *filters.tempo, filters.half_double):
            continue
        if filters.duration and not (
            r["duration_s"] is not None
            and filters.duration[0] <= r["duration_s"] <= filters.duration[1]
        ):
            continue
        if keys is not None and r["key"] not in keys:
            continue
        if filters.artist and _norm(r["artist"]) != _norm(filters.artist):
            continue
        if filters.other_artists and query_artist and _norm(r["artist"]) == query_artist:
            continue
        if filters.tags:
            tops = top_tags(tag_sets.get(r["id"], {}))
            if not all(
                any(tag.casefold() in map(str.casefold, tags)
                    for source, tags in tops.items() if want_source in (None, source))
                for want_source, tag in filters.tags
            ):  # fmt: skip
                continue
        allowed.add(r["id"])
    return allowed


# -- explanations --------------------------------------------------------------------


def _track_facts(store: LibraryStore, track_id: str) -> dict[str, Any]:
    facts = dict(track_facts(store.conn, track_id))
    facts["top_tags"] = top_tags(store.track_tags(track_id))
    return facts


def tempo_relation(a: float | None, b: float | None, half_double: bool = False) -> dict | None:
    """How close two tempi are: BPM difference, and the factor used (1, 2 or 0.5)."""
    if a is None or b is None:
        return None
    factors = (1.0, 2.0, 0.5) if half_double else (1.0,)
    factor = min(factors, key=lambda f: abs(b * f - a))
    return {"bpm_diff": round(abs(b * factor - a), 1), "factor": factor}


def explain(query: dict[str, Any], result: dict[str, Any], half_double: bool = False) -> dict:
    """Why ``result`` is near ``query``: shared top tags, tempo, key, artist, album."""
    shared = {
        source: [t for t in tags if t in result["top_tags"].get(source, [])]
        for source, tags in query.get("top_tags", {}).items()
    }
    key_steps = None
    if query.get("key") and result.get("key"):
        key_steps = camelot_distance(query["key"], result["key"])
    return {
        "shared_tags": [f"{s}:{t}" for s, tags in shared.items() for t in tags],
        "tempo": tempo_relation(query.get("tempo_bpm"), result.get("tempo_bpm"), half_double),
        "key": None if key_steps is None else {
            "query": query["key"], "result": result["key"], "camelot_steps": key_steps,
            "compatible": key_steps <= 1,
        },
        "same_artist": bool(query.get("artist"))
        and _norm(query.get("artist")) == _norm(result.get("artist")),
        "same_album": bool(query.get("album"))
        and _norm(query.get("album")) == _norm(result.get("album")),
    }  # fmt: skip


def _result(facts: dict[str, Any], score: float, explanation: dict) -> dict:
    return {
        "id": facts["id"],
        "path": facts["path"],
        "title": facts["title"],
        "artist": facts["artist"],
        "album": facts["album"],
        "tempo_bpm": None if facts["tempo_bpm"] is None else round(facts["tempo_bpm"], 1),
        "key": facts["key"],
        "duration_s": None if facts["duration_s"] is None else round(facts["duration_s"], 2),
        "score": round(float(score), 4),
        "explanation": explanation,
    }


# -- queries -------------------------------------------------------------------------


def similar_to_vector(
    store: LibraryStore,
    index: Any,
    vector: np.ndarray,
    query: dict[str, Any],
    k: int = 10,
    filters: Filters | None = None,
    exclude: set[str] | None = None,
) -> list[dict]:
    """The ``k`` tracks nearest ``vector`` that pass ``filters``, explained against ``query``."""
    if k < 1:
        raise QueryError(f"k must be at least 1, got {k}")
    filters = filters or Filters()
    if getattr(index, "pushes_down_filters", False):  # e.g. Milvus: scalar filters in the engine
        hits = index.search_filtered(vector, k, filters, query, exclude=exclude or set())
    else:
        allowed = allowed_tracks(store, filters, query)
        if allowed is not None and not allowed:
            return []
        hits = index.search(vector, k, exclude=exclude or set(), allowed=allowed)
    return explained_results(store, hits, query, filters.half_double)


def explained_results(
    store: LibraryStore, hits: list[tuple[str, float]], query: dict[str, Any],
    half_double: bool = False,
) -> list[dict]:
    """Result entries (facts, score, explanation against ``query``) of ``(track id,
    score)`` hits, e.g. a precomputed similar list."""
    results = []
    for track_id, score in hits:
        facts = _track_facts(store, track_id)
        results.append(_result(facts, score, explain(query, facts, half_double)))
    return results


def query_facts(store: LibraryStore, track_id: str) -> dict[str, Any]:
    """The query-side facts of a library track (tags, tempo, key, artist, album)."""
    return _track_facts(store, track_id)


def path_between(
    vectors: dict[str, np.ndarray], start: str, end: str, steps: int = 8
) -> list[tuple[str, float]]:
    """A smooth sequence of tracks from ``start`` to ``end`` through the embedding space.

    Parameters
    ----------
    vectors : dict of str to np.ndarray
        Track id → L2-normalised embedding (the candidates).
    start, end : str
        Track ids (both in ``vectors``).
    steps : int
        Tracks strictly between ``start`` and ``end``.

    Returns
    -------
    list of (track_id, similarity_to_previous)
        ``start`` first (similarity 1.0), ``end`` last; no track repeats.

    Notes
    -----
    Waypoints are placed evenly on the great circle from ``start`` to ``end``
    (spherical interpolation of the unit vectors); each waypoint takes the unused track
    nearest to it. Compared with a shortest path on a kNN graph this always yields the
    requested length and spreads the steps evenly, while every hop stays between
    neighbours in the space. With fewer candidates than ``steps`` the path is shorter.
    """
    if start not in vectors or end not in vectors:
        missing = [t for t in (start, end) if t not in vectors]
        raise QueryError(f"no vector for track(s) {missing}")
    if start == end:
        raise QueryError("the path needs two different tracks")
    if steps < 0:
        raise QueryError(f"steps must not be negative, got {steps}")
    ids = [t for t in vectors if t not in (start, end)]
    matrix = np.stack([vectors[t] for t in ids]) if ids else np.zeros((0, 1), np.float32)
    a, b = vectors[start].astype(np.float64), vectors[end].astype(np.float64)
    omega = math.acos(float(np.clip(a @ b, -1.0, 1.0)))
    used = np.zeros(len(ids), dtype=bool)
    chosen: list[str] = []
    for i in range(1, min(steps, len(ids)) + 1):
        t = i / (steps + 1)
        if omega < 1e-6:
            waypoint = a
        else:
            waypoint = (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)
        sims = matrix @ waypoint
        sims[used] = -np.inf
        best = int(np.argmax(sims))
        used[best] = True
        chosen.append(ids[best])
    order = [start, *chosen, end]
    out = [(start, 1.0)]
    for prev, cur in zip(order[:-1], order[1:], strict=True):
        out.append((cur, float(vectors[prev] @ vectors[cur])))
    return out
