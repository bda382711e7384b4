"""The catalog store: one SQLite database (WAL mode) inside the library directory.

Every write goes through a short transaction, so a process killed at any moment
leaves a consistent catalog: a track is either fully recorded (row, descriptors,
arrays, stage versions) or not at all.

This module owns the connection, the writer lock and transactions; the SQL of each
table family lives beside it (:mod:`~songscape.catalog.schema` for migrations and
``meta``, :mod:`~songscape.catalog.tracks`, :mod:`~songscape.catalog.analysis`,
:mod:`~songscape.catalog.model_outputs`). :class:`LibraryStore`'s methods are the
read API most callers need.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from songscape.catalog import analysis, model_outputs, schema, tracks
from songscape.catalog.schema import (
    STATUS_FAILED,
    STATUS_MISSING,
    STATUS_OK,
    TRACK_FILE_COLUMNS,
    TRACK_STATUSES,
)
from songscape.errors import LibraryError, TrackNotFoundError
from songscape.models.registry import DEFAULT_MODEL

__all__ = [
    "CATALOG_FILE",
    "LOCK_FILE",
    "STATUS_FAILED",
    "STATUS_MISSING",
    "STATUS_OK",
    "TRACK_FILE_COLUMNS",
    "TRACK_STATUSES",
    "LibraryError",
    "LibraryStore",
    "TrackNotFoundError",
]

CATALOG_FILE = "catalog.sqlite"
LOCK_FILE = ".write.lock"


def _connect(path: Path, readonly: bool = False, immutable: bool = False) -> sqlite3.Connection:
    if immutable:  # a read-only file system: no -wal/-shm files can be made
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True, timeout=30.0)
    elif readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    else:
        conn = sqlite3.connect(path, timeout=30.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    if not readonly and not immutable:
        # WAL: readers (the server, other CLI calls) never block the ingest writer, and
        # a killed writer leaves only uncommitted frames, discarded on next open.
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def folder_read_only(root: Path) -> bool:
    """Is ``root`` on a read-only file system, or not writable by this process?"""
    try:
        if os.statvfs(root).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(root, os.W_OK)


#: Free bytes below which a failed write is put down to a full disk.
LOW_SPACE_BYTES = 1 << 20


def free_bytes(root: Path) -> int:
    """Bytes free to this process on the file system holding ``root`` (large if unknown)."""
    try:
        st = os.statvfs(root)
    except OSError:
        return 1 << 62
    return st.f_bavail * st.f_frsize


def read_only_message(root: Path) -> str:
    return (
        f"library {root} is read-only (a read-only file system, or no write permission): "
        "it can be read but not changed"
    )


def write_error(root: Path, err: BaseException) -> BaseException:
    """A clear :class:`LibraryError` for a write that failed because the disk is full or the
    library is read-only; ``err`` itself for any other failure."""
    text = str(err)
    if (
        "disk is full" in text
        or getattr(err, "errno", None) == errno.ENOSPC
        or ("disk I/O error" in text and free_bytes(root) < LOW_SPACE_BYTES)
    ):
        return LibraryError(
            f"no space left on the device holding library {root} ({text}); nothing is "
            "corrupted and what was saved is kept: free some space and run the command again"
        )
    if "readonly" in text or getattr(err, "errno", None) in (errno.EROFS, errno.EACCES,
                                                             errno.EPERM):  # fmt: skip
        return LibraryError(read_only_message(root) + f" ({text})")
    return err


class LibraryStore:
    """A library directory: the SQLite catalog plus room for array/index files.

    Parameters
    ----------
    root : path-like
        The library directory. Created (with its catalog) when ``create`` is true.
    create : bool
        Create the directory and catalog if they do not exist; otherwise a missing
        library raises :class:`LibraryError`.
    readonly : bool
        Open the catalog read-only (no migrations, no writes).
    """

    def __init__(self, root: str | os.PathLike, create: bool = True, readonly: bool = False):
        self.root = Path(root).expanduser().absolute()
        self.catalog_path = self.root / CATALOG_FILE
        if not self.catalog_path.exists():
            if not create or readonly:
                raise LibraryError(f"no library at {self.root} (run `songscape ingest DIR` first)")
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise LibraryError(f"cannot create library at {self.root}: {err}") from err
        #: True when the library's folder cannot be written (a read-only file system, or
        #: no permission): it can be read, and every write raises LibraryError.
        self.read_only = False
        try:
            try:
                self.conn = _connect(self.catalog_path, readonly=readonly)
                if not readonly:
                    self._migrate()
            except sqlite3.DatabaseError:
                if not folder_read_only(self.root):
                    raise
                self.read_only = True
                self.conn = _connect(self.catalog_path, immutable=True)
            self.schema_version = schema.read_schema_version(self.conn)
        except sqlite3.DatabaseError as err:
            clear = write_error(self.root, err)
            if clear is not err and not self.read_only:
                raise clear from err
            raise LibraryError(f"cannot open catalog {self.catalog_path}: {err}") from err
        if self.read_only and self.schema_version < schema.SCHEMA_VERSION:
            raise LibraryError(
                f"library {self.root} needs upgrading to schema version {schema.SCHEMA_VERSION} "
                "but is read-only; open it once where it can be written"
            )
        # Read through the module so a test can add a migration.
        if self.schema_version > schema.SCHEMA_VERSION:
            raise LibraryError(
                f"library schema version {self.schema_version} is newer than this songscape "
                f"supports ({schema.SCHEMA_VERSION}); upgrade songscape"
            )
        self._lock_fd: int | None = None

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        self.release_write_lock()
        self.conn.close()

    def __enter__(self) -> LibraryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        current = schema.read_schema_version(self.conn)
        for version in range(current, schema.SCHEMA_VERSION):
            with self.transaction() as conn:
                schema.apply_migration(conn, version, now=time.time())

    def acquire_write_lock(self) -> None:
        """Take the library's writer lock (one ingest/remove at a time), or raise."""
        if self._lock_fd is not None:
            return
        if self.read_only:
            raise LibraryError(read_only_message(self.root))
        try:
            fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise write_error(self.root, err) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LibraryError(
                f"library {self.root} is being modified by another songscape process"
            ) from None
        self._lock_fd = fd

    def release_write_lock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on success, rolled back on any exception.

        Raises
        ------
        LibraryError
            When the disk is full or the library cannot be written (the transaction is
            rolled back: nothing of it is kept, nothing earlier is lost).
        """
        if self.read_only:
            raise LibraryError(read_only_message(self.root))
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            clear = write_error(self.root, err)
            if clear is not err:
                raise clear from err
            raise
        try:
            yield self.conn
            self.conn.commit()
        except BaseException as err:
            if self.conn.in_transaction:
                self.conn.rollback()
            clear = write_error(self.root, err)
            if clear is not err:
                raise clear from err
            raise

    # -- meta ----------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        return schema.get_meta(self.conn, key)

    def default_model(self) -> str:
        """The embedding model this library searches and maps with (meta ``default_model``)."""
        return self.meta("default_model") or DEFAULT_MODEL

    def set_default_model(self, name: str) -> None:
        with self.transaction() as conn:
            schema.set_meta(conn, "default_model", name)

    #: Mark that the set of tracks or their data changed (caches key on this); call
    #: inside a transaction with its connection.
    bump_catalog_version = staticmethod(schema.bump_catalog_version)

    @property
    def catalog_version(self) -> int:
        return int(self.meta("catalog_version") or 0)

    # -- tracks --------------------------------------------------------------------
    def track_by_path(self, path: str) -> sqlite3.Row | None:
        return tracks.track_by_path(self.conn, path)

    def track_by_hash(self, content_hash: str) -> sqlite3.Row | None:
        return tracks.track_by_hash(self.conn, content_hash)

    def get_track(self, ref: str) -> sqlite3.Row:
        """A track by id, unique id prefix (>= 4 characters), or file path.

        Raises
        ------
        TrackNotFoundError
            When nothing (or more than one track, for a short prefix) matches.
        """
        return tracks.find_track(self.conn, ref)

    def list_tracks(self, status: str | None = None) -> list[sqlite3.Row]:
        """Tracks joined with their scalar descriptors, ordered by artist/album/number/path."""
        return tracks.list_tracks(self.conn, status)

    def duplicates(self, track_id: str) -> list[str]:
        """Paths of the recorded copies of a track's file, sorted."""
        return tracks.duplicate_paths(self.conn, track_id)

    def remove_track(self, track_id: str) -> None:
        """Forget a track and everything derived from it (the audio file is untouched)."""
        with self.transaction() as conn:
            if not tracks.delete_track(conn, track_id):
                raise TrackNotFoundError(f"no track {track_id!r} in the library")
            self.bump_catalog_version(conn)

    # -- stage data ----------------------------------------------------------------
    def stage_versions(self) -> dict[str, dict[str, tuple[int, str]]]:
        """``{track_id: {stage: (version, status)}}`` for every recorded stage run."""
        return analysis.stage_versions(self.conn)

    def stage_runs(self, track_id: str) -> list[sqlite3.Row]:
        return analysis.stage_runs(self.conn, track_id)

    @staticmethod
    def put_array(conn: sqlite3.Connection, track_id: str, name: str, values: np.ndarray) -> None:
        analysis.put_array(conn, track_id, name, values)

    def get_arrays(self, track_id: str) -> dict[str, np.ndarray]:
        return analysis.get_arrays(self.conn, track_id)

    @staticmethod
    def clear_track_data(conn: sqlite3.Connection, track_id: str) -> None:
        """Delete everything the stages derived for a track (kept: the track row)."""
        analysis.clear_track_data(conn, track_id)

    def descriptors(self, track_id: str) -> sqlite3.Row | None:
        return analysis.get_descriptors(self.conn, track_id)

    # -- model outputs -------------------------------------------------------------
    def embedding_matrix(
        self, model: str, version: str | None = None
    ) -> tuple[list[str], list[str], np.ndarray]:
        """Every healthy track's vector of ``model``: ``(ids, paths, vectors)``, by id.

        ``version`` restricts to vectors made by that model version (stale ones are
        left out). ``vectors`` has shape (n, dim), float32.
        """
        return model_outputs.embedding_matrix(self.conn, model, version)

    def embedding(self, track_id: str, model: str) -> tuple[np.ndarray, str] | None:
        """One track's ``(vector, model_version)`` for ``model``, or None."""
        return model_outputs.embedding(self.conn, track_id, model)

    def embedding_models(self, track_id: str) -> dict[str, dict]:
        """``{model: {"version", "dim"}}`` of the vectors stored for one track."""
        return model_outputs.embedding_models(self.conn, track_id)

    def track_tags(self, track_id: str) -> dict[str, dict[str, float]]:
        """``{model: {tag: probability}}`` of one track, most probable first per model."""
        return model_outputs.track_tags(self.conn, track_id)

    def embedding_counts(self) -> dict[str, dict[str, int]]:
        """``{model: {model_version: n_tracks}}`` over healthy tracks."""
        return model_outputs.embedding_counts(self.conn)

    # -- summaries -----------------------------------------------------------------
    def stats(self) -> dict:
        """Counts and totals over the catalog (what ``songscape stats`` prints)."""
        q = self.conn.execute
        by_status = {s: 0 for s in TRACK_STATUSES}
        for row in q("SELECT status, COUNT(*) AS n FROM tracks GROUP BY status"):
            by_status[row["status"]] = row["n"]
        totals = q(
            "SELECT COUNT(*) AS n, COALESCE(SUM(duration_s), 0) AS dur, "
            "COALESCE(SUM(size_bytes), 0) AS size FROM tracks WHERE status = 'ok'"
        ).fetchone()
        formats = {
            row["format"] or "unknown": row["n"]
            for row in q(
                "SELECT format, COUNT(*) AS n FROM tracks WHERE status = 'ok' "
                "GROUP BY format ORDER BY n DESC"
            )
        }
        keys = {
            row["key"]: row["n"]
            for row in q(
                "SELECT d.key, COUNT(*) AS n FROM descriptors d JOIN tracks t ON t.id = d.track_id "
                "WHERE t.status = 'ok' AND d.key IS NOT NULL GROUP BY d.key ORDER BY n DESC"
            )
        }
        tempo = q(
            "SELECT MIN(tempo_bpm) AS lo, AVG(tempo_bpm) AS mean, MAX(tempo_bpm) AS hi "
            "FROM descriptors d JOIN tracks t ON t.id = d.track_id WHERE t.status = 'ok'"
        ).fetchone()
        genres = {
            row["genre"]: row["n"]
            for row in q(
                "SELECT genre, COUNT(*) AS n FROM tracks WHERE status = 'ok' AND genre IS NOT NULL "
                "GROUP BY genre ORDER BY n DESC"
            )
        }
        n_artists = q(
            "SELECT COUNT(DISTINCT artist) AS n FROM tracks WHERE status = 'ok'"
        ).fetchone()["n"]
        stages = {
            row["stage"]: {"done": row["done"], "failed": row["failed"]}
            for row in q(
                "SELECT stage, SUM(status = 'done') AS done, SUM(status = 'failed') AS failed "
                "FROM stage_runs GROUP BY stage ORDER BY stage"
            )
        }
        n_dups = q("SELECT COUNT(*) AS n FROM duplicates").fetchone()["n"]

        def _round(v: float | None) -> float | None:
            return None if v is None else round(float(v), 2)

        return {
            "library": str(self.root),
            "schema_version": self.schema_version,
            "catalog_version": self.catalog_version,
            "tracks": sum(by_status.values()),
            "by_status": by_status,
            "duplicates": n_dups,
            "total_duration_s": round(float(totals["dur"]), 2),
            "total_size_bytes": int(totals["size"]),
            "artists": n_artists,
            "formats": formats,
            "genres": genres,
            "keys": keys,
            "tempo_bpm": {
                "min": _round(tempo["lo"]),
                "mean": _round(tempo["mean"]),
                "max": _round(tempo["hi"]),
            },
            "stages": stages,
            "default_model": self.default_model(),
            "embeddings": self.embedding_counts(),
            "catalog_bytes": sum(
                p.stat().st_size for p in self.root.glob(CATALOG_FILE + "*") if p.is_file()
            ),
        }
