"""The window index's catalog reads: every healthy track's window vectors of one model,
in one snapshot, shaped like the track vectors of :mod:`songscape.catalog.vectors`
(a separate module from :mod:`songscape.catalog.windows`, which the schema imports)."""

from __future__ import annotations

from songscape.catalog.store import LibraryStore
from songscape.catalog.vectors import VectorSnapshot, read_snapshot, snapshot_from_rows
from songscape.catalog.windows import (
    count_windows,
    dominant_window_dim,
    iter_window_blobs,
    split_window_id,
)


def read_window_vectors(
    store: LibraryStore,
    model: str,
    version: str,
    dim: int,
    want: set[str] | None = None,
    vectors: bool = False,
) -> VectorSnapshot:
    """The healthy tracks' windows of ``model`` and ``version`` in one snapshot, shaped as
    :func:`songscape.catalog.vectors.read_vectors` shapes track vectors: ``ids`` are window
    ids, ``sums`` checksums of each window's bytes, ``vectors`` unit rows when asked for.

    Parameters
    ----------
    store : LibraryStore
    model, version : str
    dim : int
        Keep windows of this dimension (others are counted in ``skipped``); 0 keeps the
        most common.
    want : set of str, optional
        Window ids to read (their tracks' rows are read, in batches); None reads all.
    vectors : bool
        Also return the vectors (L2-normalised).
    """
    conn = store.conn
    with read_snapshot(conn):
        catalog_version = store.catalog_version
        dim = dim or dominant_window_dim(conn, model, version)
        tracks = None if want is None else sorted({split_window_id(w)[0] for w in want})
        n_max = count_windows(conn, model, version) if want is None else len(want)
        rows = ((wid, blob if row_dim == dim else None)
                for wid, row_dim, blob in iter_window_blobs(conn, model, version, tracks)
                if want is None or wid in want)  # fmt: skip
        return snapshot_from_rows(catalog_version, dim, n_max, rows, vectors)
