"""The window index in Milvus (issue 20): one model's window vectors as the rows of a
collection ``<prefix>_windows_<model>_<version>``, kept in step with the catalog by the
same incremental sync as :class:`~songscape.search.milvus_index.MilvusIndex`.

Each row is one window (id ``<track id>@<start ms>``) and carries its track's filter
fields, so filters are pushed down to Milvus for windows as for tracks.
"""

from __future__ import annotations

from songscape.catalog.window_reads import read_window_vectors
from songscape.catalog.windows import iter_window_blobs, split_window_id
from songscape.search.milvus_filters import track_fields
from songscape.search.milvus_index import MilvusIndex


class MilvusWindowIndex(MilvusIndex):
    """:class:`~songscape.search.milvus_index.MilvusIndex` over window vectors; open with
    :meth:`MilvusIndex.open <songscape.search.milvus_index.MilvusIndex.open>` (give a
    prefix of its own, as :func:`songscape.search.window_index.open_window_index` does)."""

    read_source = staticmethod(read_window_vectors)

    def row_fields(self, ids: list[str]) -> dict[str, dict]:
        """Each window's filter fields: those of its track."""
        tracks = {wid: split_window_id(wid)[0] for wid in ids}
        fields = track_fields(self._store, set(tracks.values()))
        return {wid: fields[tid] for wid, tid in tracks.items() if tid in fields}

    def windows_of(self, track_ids: set[str]) -> set[str]:
        """The window ids of ``track_ids`` (as the catalog holds them; the index is synced)."""
        self.sync()
        conn = self._store.conn
        rows = iter_window_blobs(conn, self._model, self._version, sorted(track_ids))
        return {wid for wid, _, _ in rows}
