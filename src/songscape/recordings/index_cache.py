"""The fingerprint index saved in the library, so that a command does not rebuild it.

Building the :class:`~songscape.recordings.index.FingerprintIndex` reads every track's
fingerprint from the catalog and sorts all their words (10,000 tracks: 19 million words,
tens of seconds); a server does it once, but each ``songscape identify`` or ``similar
--file`` command did it again. The built index is therefore kept in
``<library>/fingerprints/index.npz``: the concatenated words, each track's start, id and
CRC, and the words' sort order.

**Never stale.** The file records a *content key*: a digest of the algorithm and of each
indexed track's id, fingerprint CRC, length and word hop, in catalog order. Before use,
the key is computed again from the catalog (:func:`~songscape.catalog.fingerprints.
fingerprint_manifest`, one cheap query without the words); any difference (a new,
removed, re-fingerprinted or missing track) means the file is ignored and rebuilt.

**Never corrupt.** It is written to a temporary name in the same folder, fsync'ed and
renamed over the old one (``os.replace``), so a reader sees the old file or the new one.
A file that cannot be read (truncated, bad zip CRC, missing or inconsistent arrays, words
not sorted by the saved order) is ignored and rebuilt, with a warning in the log. A
library that cannot be written (read-only) keeps working from the catalog.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from songscape.catalog import fingerprints as fp_catalog
from songscape.catalog.fingerprints import StoredFingerprints
from songscape.recordings.index import FingerprintIndex

log = logging.getLogger(__name__)

#: Folder of the library holding the saved index.
CACHE_DIR = "fingerprints"
#: The saved index's file name.
CACHE_FILE = "index.npz"
#: Layout version of the file (a new layout ignores old files).
CACHE_FORMAT = 1
_ARRAYS = ("format", "key", "track_ids", "words", "starts", "crcs", "hop", "order")


def cache_path(root: str | os.PathLike) -> Path:
    """``<library>/fingerprints/index.npz``."""
    return Path(root) / CACHE_DIR / CACHE_FILE


def content_key(algorithm: str, manifest: list[tuple[str, int, int, float]]) -> str:
    """Digest of ``(track_id, words_crc, n_words, item_hop_s)`` rows, in order.

    Parameters
    ----------
    algorithm : str
        The fingerprint algorithm (and version) the words were made with.
    manifest : list of tuple
        As :func:`songscape.catalog.fingerprints.fingerprint_manifest` returns it.
    """
    h = hashlib.blake2b(f"{CACHE_FORMAT}|{algorithm}".encode(), digest_size=16)
    for track_id, crc, n_words, hop in manifest:
        h.update(f"\n{track_id}|{crc}|{n_words}|{hop!r}".encode())
    return h.hexdigest()


def stored_key(algorithm: str, stored: StoredFingerprints) -> str:
    """:func:`content_key` of fingerprints as loaded (what a file of them holds)."""
    lengths = np.diff(stored.starts).tolist()
    rows = zip(stored.track_ids, stored.crcs.tolist(), lengths, strict=True)
    manifest = [(t, int(c), int(n), float(stored.item_hop_s)) for t, c, n in rows]
    return content_key(algorithm, manifest)


def write_index(path: Path, key: str, index: FingerprintIndex) -> None:
    """Save ``index`` under ``key`` at ``path`` atomically (temporary file, fsync, rename).

    Raises ``OSError`` when the folder cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    s = index.stored
    fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".npz.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f, format=np.int64(CACHE_FORMAT), key=np.str_(key),
                track_ids=np.array(s.track_ids, dtype=np.str_), words=s.words,
                starts=s.starts, crcs=s.crcs, hop=np.float64(s.item_hop_s),
                order=index.sort_order,
            )  # fmt: skip
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # the rename itself survives a crash once the folder is synced
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def read_index(path: Path, key: str) -> FingerprintIndex | None:
    """The index saved at ``path`` if it is readable, consistent and made for ``key``;
    None otherwise (missing, stale, corrupt: the caller rebuilds it)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if set(_ARRAYS) - set(z.files):
                raise ValueError(f"arrays missing: {sorted(set(_ARRAYS) - set(z.files))}")
            if int(z["format"]) != CACHE_FORMAT or str(z["key"]) != key:
                log.info("fingerprint index %s is stale: rebuilding it", path)
                return None
            track_ids = [str(t) for t in z["track_ids"].tolist()]
            words = z["words"].astype(np.uint32, copy=False)
            starts = z["starts"].astype(np.int64, copy=False)
            crcs = z["crcs"].astype(np.int64, copy=False)
            order = z["order"]
            hop = float(z["hop"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        log.warning("fingerprint index %s is unreadable (%s): rebuilding it", path, err)
        return None
    consistent = (
        len(starts) == len(track_ids) + 1 == len(crcs) + 1 and len(order) == len(words)
        and (len(starts) == 0 or (starts[0] == 0 and starts[-1] == len(words)))
        and (len(order) == 0 or (int(order.min()) >= 0 and int(order.max()) < len(words)))
    )  # fmt: skip
    try:
        if not consistent:
            raise ValueError("its arrays do not fit together")
        return FingerprintIndex(StoredFingerprints(track_ids, words, starts, hop, crcs), order)
    except ValueError as err:  # includes an order that does not sort the words
        log.warning("fingerprint index %s is inconsistent (%s): rebuilding it", path, err)
        return None


def cached_fingerprint_index(
    conn: sqlite3.Connection, root: str | os.PathLike, algorithm: str
) -> FingerprintIndex:
    """The library's fingerprint index: from ``<library>/fingerprints/index.npz`` when it
    is current, else built from the catalog and saved there (when the library is
    writable).

    Parameters
    ----------
    conn : sqlite3.Connection
        The library's catalog.
    root : path-like
        The library folder.
    algorithm : str
        The fingerprint algorithm of the indexed words.
    """
    path = cache_path(root)
    manifest = fp_catalog.fingerprint_manifest(conn, algorithm)
    index = read_index(path, content_key(algorithm, manifest))
    if index is not None:
        return index
    stored = fp_catalog.load_fingerprints(conn, algorithm)
    index = FingerprintIndex(stored)
    try:  # keyed by what was loaded, so a concurrent ingest leaves no wrong key behind
        write_index(path, stored_key(algorithm, stored), index)
    except OSError as err:
        log.info("fingerprint index not saved in %s: %s", path.parent, err)
    return index


__all__ = ["CACHE_DIR", "CACHE_FILE", "cache_path", "cached_fingerprint_index", "content_key",
           "read_index", "stored_key", "write_index"]  # fmt: skip
