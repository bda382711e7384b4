"""The catalog reads search needs, and the text-embedding cache table.

Plain functions over a :class:`sqlite3.Connection` (``store.conn`` of a
:class:`~songscape.catalog.store.LibraryStore`): the vectors of one model for the vector
index (:mod:`songscape.search.index`), the tag probabilities and metadata strings the
text query ranks by (:mod:`songscape.search.text_query`), the descriptor facts of
similar-track search (:mod:`songscape.search.similar`), and the small SQLite file that
caches sentence embeddings of metadata strings (``<library>/text/``).

Only healthy tracks (status ``'ok'``) are ever returned, except by :func:`track_facts`,
which reads the one track asked for.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from songscape.catalog.store import LibraryStore
from songscape.vectors import unit_rows

log = logging.getLogger(__name__)

#: Track ids per ``IN (...)`` list: well under SQLite's bound-parameter limit.
ID_BATCH = 500

_HEALTHY_VECTORS = (
    " FROM embeddings e JOIN tracks t ON t.id = e.track_id "
    "WHERE t.status = 'ok' AND e.model = ? AND e.model_version = ?"
)


# -- one read snapshot -------------------------------------------------------------------


@contextlib.contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """A read transaction, so a catalog version and the rows read with it come from one
    snapshot. Inside a transaction already, that transaction is the snapshot."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as err:  # nothing was written: the snapshot just ends
            log.warning("ending a catalog read snapshot failed: %s", err)


# -- embeddings of one model (the vector index) ----------------------------------------


def dominant_vector_dim(conn: sqlite3.Connection, model: str, version: str) -> int:
    """The most common dimension of ``model``'s healthy vectors of ``version`` (0: none)."""
    row = conn.execute(
        "SELECT length(e.vector) / 4, COUNT(*) AS c" + _HEALTHY_VECTORS
        + " GROUP BY 1 ORDER BY c DESC LIMIT 1", (model, version),
    ).fetchone()  # fmt: skip
    return int(row[0]) if row else 0


def count_vectors(conn: sqlite3.Connection, model: str, version: str) -> int:
    """How many healthy tracks have a vector of ``model`` made by ``version``."""
    return int(conn.execute("SELECT COUNT(*)" + _HEALTHY_VECTORS, (model, version)).fetchone()[0])


def iter_vectors(
    conn: sqlite3.Connection, model: str, version: str, track_ids: Sequence[str] | None = None
) -> Iterator[tuple[str, bytes]]:
    """``(track_id, vector bytes)`` of the healthy tracks' vectors of ``model`` and
    ``version`` (raw little-endian float32, of whatever length was stored).

    ``track_ids`` restricts the rows to those tracks (read in batches of
    :data:`ID_BATCH`, in the order given); None reads them all.
    """
    args = (model, version)
    if track_ids is None:
        yield from conn.execute("SELECT e.track_id, e.vector" + _HEALTHY_VECTORS, args)
        return
    for i in range(0, len(track_ids), ID_BATCH):
        chunk = track_ids[i : i + ID_BATCH]
        yield from conn.execute(
            "SELECT e.track_id, e.vector" + _HEALTHY_VECTORS
            + f" AND e.track_id IN ({','.join('?' * len(chunk))})", (*args, *chunk),
        )  # fmt: skip


def vector_checksum(blob: bytes) -> int:
    """64-bit BLAKE2b of a vector's stored bytes (how the vector index sees a change)."""
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little")


@dataclass
class VectorSnapshot:
    """One consistent read of a model's healthy vectors (:func:`read_vectors`).

    Attributes
    ----------
    catalog_version : int
        The catalog version the rows were read at.
    dim : int
        The dimension kept; rows of other dimensions are skipped.
    ids : list of str
        Track ids, in the order read.
    sums : np.ndarray of uint64
        :func:`vector_checksum` of each track's vector bytes, by ``ids``.
    vectors : np.ndarray or None
        Unit rows, float32, shape (len(ids), dim), when asked for.
    skipped : int
        Rows of another dimension.
    """

    catalog_version: int
    dim: int
    ids: list[str]
    sums: np.ndarray
    vectors: np.ndarray | None
    skipped: int


def read_vectors(
    store: LibraryStore,
    model: str,
    version: str,
    dim: int,
    want: set[str] | None = None,
    vectors: bool = False,
) -> VectorSnapshot:
    """Read ``model``'s healthy vectors of ``version`` and the catalog version in one
    snapshot.

    Parameters
    ----------
    store : LibraryStore
        The library.
    model, version : str
        Whose vectors.
    dim : int
        Keep vectors of this dimension (others are counted in ``skipped``); 0 keeps the
        most common dimension.
    want : set of str, optional
        Read only these tracks (in batches); None reads all.
    vectors : bool
        Also return the vectors (L2-normalised); else only ids and checksums.
    """
    conn = store.conn
    with read_snapshot(conn):
        catalog_version = store.catalog_version
        dim = dim or dominant_vector_dim(conn, model, version)
        wanted = None if want is None else sorted(want)
        n_max = count_vectors(conn, model, version) if wanted is None else len(wanted)
        rows = ((tid, blob if len(blob) == 4 * dim else None)
                for tid, blob in iter_vectors(conn, model, version, wanted))  # fmt: skip
        return snapshot_from_rows(catalog_version, dim, n_max, rows, vectors)


def snapshot_from_rows(
    catalog_version: int,
    dim: int,
    n_max: int,
    rows: Iterable[tuple[str, bytes | None]],
    vectors: bool,
) -> VectorSnapshot:
    """A :class:`VectorSnapshot` from ``(id, float32 blob)`` rows (at most ``n_max``); a
    ``None`` blob is a row of another dimension, counted as skipped. Shared by the track
    vectors and the window vectors (:mod:`songscape.catalog.window_reads`)."""
    ids: list[str] = []
    sums: list[int] = []
    out = np.empty((n_max, dim), np.float32) if vectors else None
    skipped = 0
    for item_id, blob in rows:
        if blob is None:
            skipped += 1
            continue
        if out is not None:
            out[len(ids)] = np.frombuffer(blob, dtype="<f4")
        ids.append(item_id)
        sums.append(vector_checksum(blob))
    if out is not None:
        out = unit_rows(out[: len(ids)]) if ids else out[:0]
    return VectorSnapshot(catalog_version, dim, ids, np.array(sums, dtype=np.uint64), out, skipped)


# -- tags and metadata (text queries, similar-track filters) ---------------------------


def healthy_tag_rows(
    conn: sqlite3.Connection, models: Sequence[str] | None = None
) -> Iterator[sqlite3.Row]:
    """Every tag probability of the healthy tracks: rows of ``track_id, model, tag,
    probability`` (in no particular order), of the given ``models`` only when given."""
    sql = (
        "SELECT g.track_id, g.model, g.tag, g.probability FROM tags g "
        "JOIN tracks t ON t.id = g.track_id WHERE t.status = 'ok'"
    )
    if models is None:
        return iter(conn.execute(sql))
    return iter(conn.execute(sql + f" AND g.model IN ({','.join('?' * len(models))})", models))


def healthy_track_metadata(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """``id, title, artist, album, genre`` of every healthy track, by id."""
    return conn.execute(
        "SELECT id, title, artist, album, genre FROM tracks WHERE status = 'ok' ORDER BY id"
    ).fetchall()


def healthy_filter_facts(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """What similar-track filters look at, per healthy track: ``id, artist, duration_s,
    tempo_bpm, key`` (descriptors are NULL for a track not analysed yet)."""
    return conn.execute(
        "SELECT t.id, t.artist, t.duration_s, d.tempo_bpm, d.key FROM tracks t "
        "LEFT JOIN descriptors d ON d.track_id = t.id WHERE t.status = 'ok'"
    ).fetchall()


def track_facts(conn: sqlite3.Connection, track_id: str) -> sqlite3.Row | None:
    """``id, path, title, artist, album, duration_s, tempo_bpm, key`` of one track (any
    status), or None."""
    return conn.execute(
        "SELECT t.id, t.path, t.title, t.artist, t.album, t.duration_s, d.tempo_bpm, d.key "
        "FROM tracks t LEFT JOIN descriptors d ON d.track_id = t.id WHERE t.id = ?",
        (track_id,),
    ).fetchone()


# -- the text-embedding cache (its own SQLite file, not the catalog) ---------------------


def open_text_embedding_cache(path: Path) -> sqlite3.Connection:
    """Open (creating it and its table when missing) the cache file at ``path``.

    Raises
    ------
    sqlite3.Error
        When the file cannot be opened or created for writing.
    """
    conn = sqlite3.connect(path, timeout=30.0)
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS text_embeddings (model TEXT NOT NULL, "
            "text TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, text))"
        )
        conn.commit()
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def open_text_embedding_cache_readonly(path: Path) -> sqlite3.Connection:
    """Open an existing cache file at ``path`` for reading only.

    Raises
    ------
    sqlite3.Error
        When it cannot be opened.
    """
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)


def read_text_embeddings(
    conn: sqlite3.Connection, model: str, texts: Sequence[str]
) -> Iterator[tuple[str, bytes]]:
    """``(text, vector bytes)`` of those ``texts`` that the cache holds for ``model``."""
    for i in range(0, len(texts), ID_BATCH):
        chunk = texts[i : i + ID_BATCH]
        marks = ",".join("?" * len(chunk))
        yield from conn.execute(
            f"SELECT text, vector FROM text_embeddings WHERE model = ? AND text IN ({marks})",
            (model, *chunk),
        )


def write_text_embeddings(
    conn: sqlite3.Connection, model: str, items: Iterable[tuple[str, bytes]]
) -> None:
    """Store ``(text, vector bytes)`` pairs for ``model`` in one transaction; texts already
    stored keep their vector.

    Raises
    ------
    sqlite3.Error
        When the cache cannot be written (nothing is then stored).
    """
    with conn:
        conn.executemany(
            "INSERT OR IGNORE INTO text_embeddings(model, text, vector) VALUES (?, ?, ?)",
            [(model, text, blob) for text, blob in items],
        )
