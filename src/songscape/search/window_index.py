"""The window index: nearest-neighbour search over every track's *window* vectors
(segment-level embeddings, issue 20), and per-track scores from window hits.

A window vector is one model's embedding pooled over 10 s of a track, every 5 s
(:mod:`songscape.models.windows`, stored by the ``windows:<model>`` ingest stage in
``window_vectors``). The index is the faiss :class:`~songscape.search.index.VectorIndex`
reading those rows instead of the track vectors (:func:`songscape.catalog.window_reads.
read_window_vectors`), so it is persisted, synced incrementally, checked and rebuilt
exactly like the track index; its rows are *window ids* ``<track id>@<start ms>``. Its
files live in ``<library>/index/windows/<model>/``. A Milvus collection
(``<prefix>_windows_<model>_<version>``) serves the same rows when the library's
``index.backend`` is ``milvus`` (:class:`MilvusWindowIndex`).

Size: a 4-minute track has ~47 windows, so the window index holds ~47 times the track
index's rows (10,000 tracks: ~470,000 rows, ~380 MB of float32 at 200-d). It is searched
exactly up to :data:`WINDOW_EXACT_MAX` rows (brute force stays fast: see docs/search.md)
and with HNSW above.

Scoring a track from window hits (:func:`track_scores`): the best window's cosine
(``"max"``, the default, chosen by bench/segments.py) or the mean of the track's best
two windows (``"top2"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from songscape.catalog.settings import get_setting
from songscape.catalog.store import LibraryStore
from songscape.catalog.window_reads import read_window_vectors
from songscape.catalog.windows import iter_window_blobs, split_window_id
from songscape.errors import QueryError
from songscape.search.index import VectorIndex
from songscape.search.index_files import INDEX_DIR, index_dir
from songscape.search.index_params import IndexParams

#: The index folder holding one sub-folder per model's window index.
WINDOW_INDEX_DIR = "windows"
#: Exact (brute-force) search up to this many windows (~20,000 4-minute tracks).
WINDOW_EXACT_MAX = 1_000_000
#: How per-track scores are made from window hits; the default is ``"max"``.
AGGREGATIONS = ("max", "top2")
#: Windows fetched per wanted track at first (more when too few tracks come back).
WINDOWS_PER_TRACK = 20


def window_index_dir(store: LibraryStore, model: str) -> Path:
    """``<library>/index/windows/<model>/``."""
    return store.root / INDEX_DIR / WINDOW_INDEX_DIR / index_dir(store, model).name


def window_index_params() -> IndexParams:
    """The window index's parameters: exact search up to :data:`WINDOW_EXACT_MAX` rows."""
    return IndexParams(exact_max=WINDOW_EXACT_MAX)


class WindowIndex(VectorIndex):
    """A :class:`~songscape.search.index.VectorIndex` over one model's window vectors.

    Create with :meth:`open`; rows are window ids (:func:`songscape.catalog.windows.
    window_id`). :meth:`windows_of` maps track ids to their indexed window ids (for
    filters that name tracks).
    """

    read_source = staticmethod(read_window_vectors)
    folder_of = staticmethod(window_index_dir)

    @classmethod
    def open(  # noqa: D102 - as VectorIndex.open, with the window parameters by default
        cls,
        store: LibraryStore,
        model: str,
        params: IndexParams | None = None,
        *,
        version: str | None = None,
        persist: bool = True,
    ) -> WindowIndex:
        index = super().open(store, model, params or window_index_params(), version=version,
                             persist=persist)  # fmt: skip
        assert isinstance(index, WindowIndex)
        return index

    def windows_of(self, track_ids: set[str]) -> set[str]:
        """The window ids of ``track_ids`` (as the catalog holds them; the index is synced)."""
        self.sync()
        rows = iter_window_blobs(self._store.conn, self.model, self.model_version,
                                 sorted(track_ids))  # fmt: skip
        return {wid for wid, _, _ in rows}

    def window_ids(self) -> list[str]:
        """Every indexed window id."""
        return [w for w in self._table.row_ids if w]


# -- Milvus ------------------------------------------------------------------------------


def milvus_window_index(store: LibraryStore, model: str, uri: str | None = None) -> Any:
    """The window rows of ``model`` in Milvus (the library's ``index.*`` settings)."""
    from songscape.search.milvus_windows import MilvusWindowIndex

    return MilvusWindowIndex.open(
        store, model,
        uri=uri or get_setting(store, "index.uri"),
        index_type=get_setting(store, "index.milvus_index") or "FLAT",
        prefix=(get_setting(store, "index.milvus_prefix") or "songscape") + "_windows",
    )  # fmt: skip


def open_window_index(
    store: LibraryStore, model: str, backend: str | None = None, uri: str | None = None
) -> Any:
    """Open (and sync) ``model``'s window index in ``backend`` (default: the configured
    one, as :func:`songscape.search.backends.open_index`)."""
    from songscape.search.backends import configured_backend

    if configured_backend(store, backend) == "milvus":
        return milvus_window_index(store, model, uri)
    return WindowIndex.open(store, model)


# -- from window hits to tracks ------------------------------------------------------------


@dataclass(frozen=True)
class TrackMatch:
    """One track found through its windows.

    Attributes
    ----------
    track_id : str
    score : float
        The track's score (see :func:`track_scores`).
    start_s : float
        Start (seconds) of the track's best-matching window.
    window_score : float
        That window's cosine similarity.
    query_start_s : float or None
        Start of the query window it matched (queries of several windows), else None.
    """

    track_id: str
    score: float
    start_s: float
    window_score: float
    query_start_s: float | None = None


def track_scores(
    hits: Sequence[Sequence[tuple[str, float]]],
    how: str = "max",
    query_starts_s: Sequence[float] | None = None,
) -> list[TrackMatch]:
    """Per-track scores from window hits, best first.

    Parameters
    ----------
    hits : sequence of sequences of (window id, cosine)
        One list of hits per query vector.
    how : {"max", "top2"}
        ``"max"``: a track scores its best window's cosine; ``"top2"``: the mean of its
        best two windows hit by one query (its best alone when only one was hit).
        Over several query vectors a track keeps its best score.
    query_starts_s : sequence of float, optional
        Start of each query vector's window (a track's windows as the query).

    Returns
    -------
    list of TrackMatch
        Sorted by score (ties: track id).
    """
    if how not in AGGREGATIONS:
        raise QueryError(f"unknown window aggregation {how!r}; choose one of {AGGREGATIONS}")
    best: dict[str, TrackMatch] = {}
    for qi, query_hits in enumerate(hits):
        per_track: dict[str, list[tuple[float, float]]] = {}
        for wid, score in query_hits:
            tid, start = split_window_id(wid)
            per_track.setdefault(tid, []).append((float(score), start))
        for tid, found in per_track.items():
            found.sort(key=lambda p: -p[0])
            top = found[0]
            score = top[0] if how == "max" else float(np.mean([s for s, _ in found[:2]]))
            q_start = None if query_starts_s is None else float(query_starts_s[qi])
            match = TrackMatch(tid, score, top[1], top[0], q_start)
            if tid not in best or score > best[tid].score:
                best[tid] = match
    return sorted(best.values(), key=lambda m: (-m.score, m.track_id))


def search_tracks_by_windows(
    index: Any,
    vectors: np.ndarray,
    k: int,
    *,
    exclude: set[str] | None = None,
    allowed: set[str] | None = None,
    how: str = "max",
    query_starts_s: Sequence[float] | None = None,
) -> list[TrackMatch]:
    """The ``k`` best tracks for query vector(s) by their windows.

    Asks the window index for ``WINDOWS_PER_TRACK * k`` windows per query (a track's
    best windows cluster, so many hits share a track) and four times more until ``k``
    tracks come back or the index is exhausted.

    Parameters
    ----------
    index : WindowIndex or MilvusWindowIndex
    vectors : np.ndarray, shape (dim,) or (q, dim)
        Query vector(s) in the model's space.
    k : int
        Tracks wanted.
    exclude : set of str, optional
        Track ids never returned.
    allowed : set of str, optional
        Only these track ids (filters).
    how : {"max", "top2"}
    query_starts_s : sequence of float, optional
        Starts of the query windows (reported with each match).
    """
    if k < 1:
        raise QueryError(f"k must be at least 1, got {k}")
    q = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    n = index.n
    if n == 0 or (allowed is not None and not allowed):
        return []
    allowed_windows = None
    if allowed is not None:
        allowed_windows = index.windows_of(set(allowed) - (exclude or set()))
        if not allowed_windows:
            return []
    fetch = min(n, WINDOWS_PER_TRACK * k)
    while True:
        raw = index.search(q, fetch, allowed=allowed_windows)
        hits = [[h for h in row if split_window_id(h[0])[0] not in (exclude or ())]
                for row in raw]  # fmt: skip
        matches = track_scores(hits, how, query_starts_s)
        if len(matches) >= k or fetch >= n:
            return matches[:k]
        fetch = min(n, fetch * 4)


__all__ = [
    "AGGREGATIONS", "WINDOW_EXACT_MAX", "TrackMatch", "WindowIndex", "open_window_index",
    "search_tracks_by_windows", "track_scores", "window_index_dir",
]  # fmt: skip
