"""Segment-level similarity in the Python API (issue 20): ``Library.window_index``,
``Library.similar_segments``; ``Library.similar`` calls them for a clip that is not
identified (``similar --file``) and for ``by="segment"``. The logic is in
:mod:`songscape.search.window_index`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from songscape.catalog import model_outputs
from songscape.catalog import windows as window_rows
from songscape.catalog.store import LibraryStore
from songscape.errors import NoVectorError, QueryError
from songscape.search.similar import Filters, allowed_tracks, explained_results
from songscape.search.window_index import (
    WINDOW_INDEX_DIR,
    TrackMatch,
    open_window_index,
    search_tracks_by_windows,
)
from songscape.vectors import unit_rows

#: ``similar``'s ``by``: whole-track vectors, or window vectors (segments).
SIMILAR_BY = ("track", "segment")
#: How a track's windows are combined into its score (measured: docs/search.md).
DEFAULT_AGGREGATION = "max"


class SegmentsMixin:
    """The segment (window) search methods of :class:`~songscape.library.library.Library`."""

    store: LibraryStore
    _indexes: dict

    def window_index(self, model: str, backend: str | None = None, uri: str | None = None):
        """``model``'s window index, in sync, in ``backend`` (default ``index.backend``)."""
        from songscape.search.backends import configured_backend

        key = (model, f"{WINDOW_INDEX_DIR}:{configured_backend(self.store, backend)}", uri or "")
        cached = self._indexes.get(key)
        if cached is None:
            cached = self._indexes[key] = open_window_index(self.store, model, backend, uri)
        else:  # its size decides what a search fetches: in sync with other writers
            cached.sync()
        return cached

    def similar_segments(
        self,
        vectors: np.ndarray,
        query: dict[str, Any],
        model: str,
        k: int = 10,
        filters: Filters | None = None,
        exclude: set[str] | None = None,
        backend: str | None = None,
        query_starts_s: list[float] | None = None,
        how: str = DEFAULT_AGGREGATION,
        track_vector: np.ndarray | None = None,
    ) -> list[dict] | None:
        """Tracks whose windows are nearest the query vector(s), explained like
        ``similar``'s results, each with the ``window`` that matched.

        Returns
        -------
        list of dict or None
            ``similar``'s result entries plus ``window`` (``start_s``, ``end_s``,
            ``score``, and ``query_start_s`` for a query of several windows) and
            ``track_score`` (cosine of the whole-track vectors); None when the library
            has no window vectors of ``model`` (ingested before they existed).

        ``track_vector`` is the query's whole-track vector for ``track_score`` (default:
        the mean of ``vectors``).
        """
        index = self.window_index(model, backend)
        if index.n == 0:
            return None
        filters = filters or Filters()
        allowed = allowed_tracks(self.store, filters, query)
        matches = search_tracks_by_windows(
            index, vectors, k, exclude=exclude, allowed=allowed, how=how,
            query_starts_s=query_starts_s,
        )  # fmt: skip
        results = explained_results(
            self.store, [(m.track_id, m.score) for m in matches], query, filters.half_double
        )
        q = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        whole = q.mean(axis=0) if track_vector is None else np.asarray(track_vector, np.float32)
        track_vector = unit_rows(whole[None, :])[0]
        for result, match in zip(results, matches, strict=True):
            result["window"] = self._window_json(match, result["id"], model)
            stored = model_outputs.embedding(self.store.conn, result["id"], model)
            result["track_score"] = (
                None if stored is None
                else round(float(unit_rows(stored[0][None, :])[0] @ track_vector), 4)
            )  # fmt: skip
        return results

    def _window_json(self, match: TrackMatch, track_id: str, model: str) -> dict:
        stored = window_rows.window_geometry(self.store.conn, track_id, model)
        window_s = stored[0] if stored else None
        out = {
            "start_s": round(match.start_s, 2),
            "end_s": None if window_s is None else round(match.start_s + window_s, 2),
            "score": round(match.window_score, 4),
        }
        if match.query_start_s is not None:
            out["query_start_s"] = round(match.query_start_s, 2)
        return out

    def track_window_vectors(self, track_id: str, model: str, version: str) -> tuple[
            np.ndarray, np.ndarray]:  # fmt: skip
        """``(starts_s, vectors)`` of a library track's windows of ``model``.

        Raises
        ------
        NoVectorError
            The track has no window vectors of that model version yet.
        """
        stored = window_rows.track_windows(self.store.conn, track_id, model)
        if stored is None or stored[2] != version:
            raise NoVectorError(
                f"track {track_id} has no {model} window vectors yet: run "
                f"`songscape ingest --model {model}` on its folder"
            )
        return stored[0], stored[1]


def clip_query_windows(
    analysis: dict, vector: np.ndarray
) -> tuple[list[float] | None, np.ndarray]:
    """What an outside clip searches the window index with: ``(starts_s, vectors)``.

    A clip longer than one window (more than one window of its own, same length and hop
    as the library's: :mod:`songscape.models.windows`) is compared by each of its windows,
    a track scoring its best (clip window, track window) pair; a shorter clip by its mean
    vector (``(None, vector)``). bench/segments.py measures both on 30 s clips
    (docs/search.md).

    Parameters
    ----------
    analysis : dict
        :func:`~songscape.library.library.analyze_file`'s answer with ``windows=True``.
    vector : np.ndarray, shape (dim,)
        The clip's mean vector.
    """
    starts = analysis.get("window_starts_s") or []
    if len(starts) < 2:
        return None, vector
    return [float(t) for t in starts], np.asarray(analysis["window_vectors"], dtype=np.float32)


def check_by(by: str | None) -> str | None:
    """``by`` if it is one of :data:`SIMILAR_BY` (or None)."""
    if by is not None and by not in SIMILAR_BY:
        raise QueryError(f"by must be one of {', '.join(SIMILAR_BY)}, not {by!r}")
    return by


__all__ = [
    "DEFAULT_AGGREGATION", "SIMILAR_BY", "SegmentsMixin", "check_by", "clip_query_windows",
]  # fmt: skip
