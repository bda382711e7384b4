"""The window index's catalog reads: every healthy track's window vectors of one model,
in one snapshot, shaped like the track vectors of :mod:`songscape.catalog.vectors`
(a separate module from :mod:`songscape.catalog.windows`, which the schema imports)."""

from __future__ import annotations

import numpy as np

from songscape.catalog.store import LibraryStore
from songscape.catalog.vectors import VectorSnapshot, read_snapshot, vector_checksum
from songscape.catalog.windows import (
    count_windows,
    dominant_window_dim,
    iter_window_blobs,
    split_window_id,
)
from songscape.vectors import unit_rows


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
        ids: list[str] = []
        sums: list[int] = []
        out = np.empty((n_max, dim), np.float32) if vectors else None
        skipped = 0
        for wid, row_dim, blob in iter_window_blobs(conn, model, version, tracks):
            if want is not None and wid not in want:
                continue
            if row_dim != dim:
                skipped += 1
                continue
            if out is not None:
                out[len(ids)] = np.frombuffer(blob, dtype="<f4")
            ids.append(wid)
            sums.append(vector_checksum(blob))
    if out is not None:
        out = unit_rows(out[: len(ids)]) if ids else out[:0]
    return VectorSnapshot(catalog_version, dim, ids, np.array(sums, dtype=np.uint64), out, skipped)
