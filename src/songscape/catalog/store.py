"""The catalog store: one SQLite database (WAL mode) inside the library directory.

Every write goes through a short transaction, so a process killed at any moment
leaves a consistent catalog: a track is either fully recorded (row, descriptors,
arrays, stage versions) or not at all. Arrays (beat times, energy curves, later
embeddings) are stored as raw little-endian BLOBs with dtype and shape, never as
JSON text.

Schema changes are numbered migrations (:data:`MIGRATIONS`); opening a library
applies the missing ones in order and records ``schema_version`` in ``meta``.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from songscape.errors import LibraryError, TrackNotFoundError
from songscape.models.registry import DEFAULT_MODEL

CATALOG_FILE = "catalog.sqlite"
LOCK_FILE = ".write.lock"

#: Track status values.
STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_MISSING = "missing"
TRACK_STATUSES = (STATUS_OK, STATUS_FAILED, STATUS_MISSING)

# Columns of ``tracks`` filled from the file (not from analysis stages).
TRACK_FILE_COLUMNS = (
    "content_hash", "path", "size_bytes", "mtime", "format", "decoder",
    "sample_rate", "channels", "duration_s",
    "title", "artist", "album", "genre", "year", "track_number", "lyrics",
)  # fmt: skip


def _migration_1(conn: sqlite3.Connection) -> None:
    conn.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

        -- One row per distinct audio content. `id` is fixed at first ingest and never
        -- changes; `content_hash` (BLAKE2b of the file bytes) follows the file's content,
        -- so a moved file keeps its id and a re-encoded/re-tagged file is re-analysed.
        CREATE TABLE tracks (
            id            TEXT PRIMARY KEY,
            content_hash  TEXT UNIQUE,
            path          TEXT NOT NULL,
            size_bytes    INTEGER,
            mtime         REAL,
            format        TEXT,
            decoder       TEXT,
            sample_rate   INTEGER,
            channels      INTEGER,
            duration_s    REAL,
            title         TEXT,
            artist        TEXT,
            album         TEXT,
            genre         TEXT,
            year          INTEGER,
            track_number  INTEGER,
            lyrics        TEXT,
            status        TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'missing')),
            error         TEXT,
            added_at      REAL NOT NULL,
            updated_at    REAL NOT NULL
        );
        -- A path holds one live track; a 'missing' track keeps its last path for display
        -- even after another track's file has moved onto that path.
        CREATE UNIQUE INDEX tracks_live_path ON tracks(path) WHERE status != 'missing';
        CREATE INDEX tracks_path ON tracks(path);
        CREATE INDEX tracks_status ON tracks(status);
        CREATE INDEX tracks_artist ON tracks(artist);

        -- Identical copies of a track's file found at other paths.
        CREATE TABLE duplicates (
            path        TEXT PRIMARY KEY,
            track_id    TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            size_bytes  INTEGER NOT NULL,
            mtime       REAL NOT NULL
        );

        -- Which version of each pipeline stage produced a track's data, or why it failed.
        CREATE TABLE stage_runs (
            track_id    TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            stage       TEXT NOT NULL,
            version     INTEGER NOT NULL,
            status      TEXT NOT NULL CHECK (status IN ('done', 'failed')),
            error       TEXT,
            updated_at  REAL NOT NULL,
            PRIMARY KEY (track_id, stage)
        );

        CREATE TABLE descriptors (
            track_id              TEXT PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            analysis_sample_rate  INTEGER NOT NULL,
            tempo_bpm             REAL,
            beats_per_bar         INTEGER,
            key                   TEXT,
            key_confidence        REAL,
            loudness_lufs         REAL,
            energy_rate_hz        REAL,
            spectral_centroid_hz  REAL,
            onset_rate_hz         REAL
        );
        CREATE INDEX descriptors_tempo ON descriptors(tempo_bpm);
        CREATE INDEX descriptors_key ON descriptors(key);

        -- Per-track arrays as raw little-endian bytes (beat_times, energy_curve, ...).
        CREATE TABLE arrays (
            track_id  TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            name      TEXT NOT NULL,
            dtype     TEXT NOT NULL,
            shape     TEXT NOT NULL,
            data      BLOB NOT NULL,
            PRIMARY KEY (track_id, name)
        );

        -- Room for the later stages: embeddings per model, tags, listening data.
        CREATE TABLE embeddings (
            track_id       TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            model          TEXT NOT NULL,
            model_version  TEXT NOT NULL,
            dim            INTEGER NOT NULL,
            vector         BLOB NOT NULL,
            PRIMARY KEY (track_id, model)
        );
        CREATE TABLE tags (
            track_id     TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            model        TEXT NOT NULL,
            tag          TEXT NOT NULL,
            probability  REAL NOT NULL,
            PRIMARY KEY (track_id, model, tag)
        );
        CREATE TABLE users (
            id        TEXT PRIMARY KEY,
            name      TEXT,
            added_at  REAL NOT NULL
        );
        CREATE TABLE events (
            user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            item       TEXT NOT NULL,
            track_id   TEXT REFERENCES tracks(id) ON DELETE SET NULL,
            count      REAL NOT NULL DEFAULT 1,
            timestamp  REAL
        );
        CREATE INDEX events_user ON events(user_id);
        CREATE TABLE playlists (
            id     TEXT PRIMARY KEY,
            title  TEXT,
            tags   TEXT
        );
        CREATE TABLE playlist_items (
            playlist_id  TEXT NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
            position     INTEGER NOT NULL,
            item         TEXT NOT NULL,
            track_id     TEXT REFERENCES tracks(id) ON DELETE SET NULL,
            PRIMARY KEY (playlist_id, position)
        );
        """
    )


def _migration_2(conn: sqlite3.Connection) -> None:
    """Listening data (issue 6): which file each event/playlist came from, so re-importing a
    file replaces its rows; the imported files; precomputed recommendations; display names
    of the imported items."""
    for sql in (
        "ALTER TABLE events ADD COLUMN source TEXT",
        "ALTER TABLE playlists ADD COLUMN source TEXT",
        "CREATE INDEX events_source ON events(source)",
        "CREATE INDEX events_track ON events(track_id)",
        "CREATE INDEX playlists_source ON playlists(source)",
        """CREATE TABLE imports (
            source       TEXT NOT NULL,
            kind         TEXT NOT NULL CHECK (kind IN ('events', 'playlists')),
            sha256       TEXT NOT NULL,
            rows         INTEGER NOT NULL,
            matched      INTEGER NOT NULL,
            imported_at  REAL NOT NULL,
            PRIMARY KEY (source, kind)
        )""",
        # Top-k per user and model; `events_digest` says which events they were computed
        # from (a row is fresh while it equals the digest of the current events).
        """CREATE TABLE recommendations (
            user_id        TEXT NOT NULL,
            model          TEXT NOT NULL,
            k              INTEGER NOT NULL,
            items          TEXT NOT NULL,
            events_digest  TEXT NOT NULL,
            created_at     REAL NOT NULL,
            PRIMARY KEY (user_id, model)
        )""",
        # Display names of imported items (raw item strings of events / playlists), so a
        # result that is not a library track can show "artist - title" instead of an id.
        # Upserted by the importers: a later non-null value replaces, null never erases.
        """CREATE TABLE items (
            item    TEXT PRIMARY KEY,
            artist  TEXT,
            title   TEXT,
            source  TEXT
        )""",
    ):
        conn.execute(sql)


#: Ordered schema migrations; migration ``i`` brings the schema to version ``i + 1``.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migration_1, _migration_2]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class StoredArray:
    """An array as stored: dtype string, shape and raw bytes."""

    dtype: str
    shape: tuple[int, ...]
    data: bytes

    @classmethod
    def from_array(cls, values: np.ndarray) -> StoredArray:
        arr = np.ascontiguousarray(values)
        # Fixed little-endian byte order so a library is portable between machines.
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        return cls(arr.dtype.str, tuple(arr.shape), arr.tobytes())

    def to_array(self) -> np.ndarray:
        return np.frombuffer(self.data, dtype=np.dtype(self.dtype)).reshape(self.shape).copy()


def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    else:
        conn = sqlite3.connect(path, timeout=30.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    if not readonly:
        # WAL: readers (the server, other CLI calls) never block the ingest writer, and
        # a killed writer leaves only uncommitted frames, discarded on next open.
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


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
        try:
            self.conn = _connect(self.catalog_path, readonly=readonly)
            if not readonly:
                self._migrate()
            self.schema_version = self._schema_version()
        except sqlite3.DatabaseError as err:
            raise LibraryError(f"cannot open catalog {self.catalog_path}: {err}") from err
        if self.schema_version > SCHEMA_VERSION:
            raise LibraryError(
                f"library schema version {self.schema_version} is newer than this songscape "
                f"supports ({SCHEMA_VERSION}); upgrade songscape"
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

    def _schema_version(self) -> int:
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not exists:
            return 0
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row["value"]) if row else 0

    def _migrate(self) -> None:
        current = self._schema_version()
        for version in range(current, SCHEMA_VERSION):
            with self.transaction() as conn:
                MIGRATIONS[version](conn)
                self._set_meta(conn, "schema_version", str(version + 1))
                if version == 0:
                    self._set_meta(conn, "created_at", repr(time.time()))
                    self._set_meta(conn, "catalog_version", "0")

    def acquire_write_lock(self) -> None:
        """Take the library's writer lock (one ingest/remove at a time), or raise."""
        if self._lock_fd is not None:
            return
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
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
        """A write transaction: committed on success, rolled back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.rollback()
            raise
        else:
            self.conn.commit()

    # -- meta ----------------------------------------------------------------------
    @staticmethod
    def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def default_model(self) -> str:
        """The embedding model this library searches and maps with (meta ``default_model``)."""
        return self.meta("default_model") or DEFAULT_MODEL

    def set_default_model(self, name: str) -> None:
        with self.transaction() as conn:
            self._set_meta(conn, "default_model", name)

    @staticmethod
    def bump_catalog_version(conn: sqlite3.Connection) -> None:
        """Mark that the set of tracks or their data changed (caches key on this)."""
        conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'catalog_version'"
        )

    @property
    def catalog_version(self) -> int:
        return int(self.meta("catalog_version") or 0)

    # -- tracks --------------------------------------------------------------------
    def track_by_path(self, path: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM tracks WHERE path = ? ORDER BY status = 'missing' LIMIT 1", (path,)
        ).fetchone()

    def track_by_hash(self, content_hash: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM tracks WHERE content_hash = ?", (content_hash,)
        ).fetchone()

    def get_track(self, ref: str) -> sqlite3.Row:
        """A track by id, unique id prefix (>= 4 characters), or file path.

        Raises
        ------
        TrackNotFoundError
            When nothing (or more than one track, for a short prefix) matches.
        """
        row = self.conn.execute("SELECT * FROM tracks WHERE id = ?", (ref,)).fetchone()
        if row:
            return row
        candidates = {ref}
        try:
            candidates.add(str(Path(ref).expanduser().resolve()))
        except (OSError, RuntimeError):
            pass
        for path in candidates:
            row = self.track_by_path(path)
            if row:
                return row
            dup = self.conn.execute(
                "SELECT track_id FROM duplicates WHERE path = ?", (path,)
            ).fetchone()
            if dup:
                return self.get_track(dup["track_id"])
        if len(ref) >= 4 and all(c in "0123456789abcdef" for c in ref.lower()):
            rows = self.conn.execute(
                "SELECT * FROM tracks WHERE id LIKE ? LIMIT 2", (ref.lower() + "%",)
            ).fetchall()
            if len(rows) == 1:
                return rows[0]
            if len(rows) > 1:
                raise TrackNotFoundError(f"track id prefix {ref!r} is ambiguous")
        raise TrackNotFoundError(f"no track {ref!r} in the library (id, id prefix or path)")

    def list_tracks(self, status: str | None = None) -> list[sqlite3.Row]:
        """Tracks joined with their scalar descriptors, ordered by artist/album/number/path."""
        sql = (
            "SELECT t.*, d.tempo_bpm, d.key, d.key_confidence, d.loudness_lufs, "
            "d.beats_per_bar, d.spectral_centroid_hz, d.onset_rate_hz "
            "FROM tracks t LEFT JOIN descriptors d ON d.track_id = t.id"
        )
        args: tuple = ()
        if status is not None:
            sql += " WHERE t.status = ?"
            args = (status,)
        sql += " ORDER BY t.artist IS NULL, t.artist, t.album, t.track_number, t.path"
        return self.conn.execute(sql, args).fetchall()

    def remove_track(self, track_id: str) -> None:
        """Forget a track and everything derived from it (the audio file is untouched)."""
        with self.transaction() as conn:
            deleted = conn.execute("DELETE FROM tracks WHERE id = ?", (track_id,)).rowcount
            if not deleted:
                raise TrackNotFoundError(f"no track {track_id!r} in the library")
            self.bump_catalog_version(conn)

    # -- stage data ----------------------------------------------------------------
    def stage_versions(self) -> dict[str, dict[str, tuple[int, str]]]:
        """``{track_id: {stage: (version, status)}}`` for every recorded stage run."""
        out: dict[str, dict[str, tuple[int, str]]] = {}
        for row in self.conn.execute("SELECT track_id, stage, version, status FROM stage_runs"):
            out.setdefault(row["track_id"], {})[row["stage"]] = (row["version"], row["status"])
        return out

    def stage_runs(self, track_id: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT stage, version, status, error, updated_at FROM stage_runs "
            "WHERE track_id = ? ORDER BY stage",
            (track_id,),
        ).fetchall()

    @staticmethod
    def put_array(conn: sqlite3.Connection, track_id: str, name: str, values: np.ndarray) -> None:
        stored = StoredArray.from_array(np.asarray(values))
        conn.execute(
            "INSERT INTO arrays(track_id, name, dtype, shape, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(track_id, name) DO UPDATE SET dtype = excluded.dtype, "
            "shape = excluded.shape, data = excluded.data",
            (track_id, name, stored.dtype, ",".join(map(str, stored.shape)), stored.data),
        )

    def get_arrays(self, track_id: str) -> dict[str, np.ndarray]:
        out = {}
        for row in self.conn.execute(
            "SELECT name, dtype, shape, data FROM arrays WHERE track_id = ?", (track_id,)
        ):
            shape = tuple(int(s) for s in row["shape"].split(",") if s != "")
            out[row["name"]] = StoredArray(row["dtype"], shape, row["data"]).to_array()
        return out

    @staticmethod
    def clear_track_data(conn: sqlite3.Connection, track_id: str) -> None:
        """Delete everything the stages derived for a track (kept: the track row)."""
        for table in ("stage_runs", "descriptors", "arrays", "embeddings", "tags"):
            conn.execute(f"DELETE FROM {table} WHERE track_id = ?", (track_id,))

    def descriptors(self, track_id: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM descriptors WHERE track_id = ?", (track_id,)
        ).fetchone()

    # -- summaries -----------------------------------------------------------------
    def embedding_matrix(
        self, model: str, version: str | None = None
    ) -> tuple[list[str], list[str], np.ndarray]:
        """Every healthy track's vector of ``model``: ``(ids, paths, vectors)``, by id.

        ``version`` restricts to vectors made by that model version (stale ones are
        left out). ``vectors`` has shape (n, dim), float32.
        """
        sql = (
            "SELECT e.track_id, t.path, e.dim, e.vector FROM embeddings e "
            "JOIN tracks t ON t.id = e.track_id WHERE t.status = 'ok' AND e.model = ?"
        )
        args: list = [model]
        if version is not None:
            sql += " AND e.model_version = ?"
            args.append(version)
        rows = self.conn.execute(sql + " ORDER BY e.track_id", args).fetchall()
        dims = {r["dim"] for r in rows}
        if len(dims) > 1:
            raise ValueError(f"embeddings of {model!r} have mixed dimensions {sorted(dims)}")
        dim = dims.pop() if dims else 0
        vectors = np.empty((len(rows), dim), dtype=np.float32)
        for i, r in enumerate(rows):
            vectors[i] = np.frombuffer(r["vector"], dtype="<f4")
        return [r["track_id"] for r in rows], [r["path"] for r in rows], vectors

    def embedding(self, track_id: str, model: str) -> tuple[np.ndarray, str] | None:
        """One track's ``(vector, model_version)`` for ``model``, or None."""
        row = self.conn.execute(
            "SELECT model_version, vector FROM embeddings WHERE track_id = ? AND model = ?",
            (track_id, model),
        ).fetchone()
        if row is None:
            return None
        return np.frombuffer(row["vector"], dtype="<f4").astype(np.float32), row["model_version"]

    def embedding_models(self, track_id: str) -> dict[str, dict]:
        """``{model: {"version", "dim"}}`` of the vectors stored for one track."""
        return {
            r["model"]: {"version": r["model_version"], "dim": r["dim"]}
            for r in self.conn.execute(
                "SELECT model, model_version, dim FROM embeddings WHERE track_id = ? "
                "ORDER BY model",
                (track_id,),
            )
        }

    def track_tags(self, track_id: str) -> dict[str, dict[str, float]]:
        """``{model: {tag: probability}}`` of one track, most probable first per model."""
        out: dict[str, dict[str, float]] = {}
        for r in self.conn.execute(
            "SELECT model, tag, probability FROM tags WHERE track_id = ? "
            "ORDER BY model, probability DESC, tag",
            (track_id,),
        ):
            out.setdefault(r["model"], {})[r["tag"]] = r["probability"]
        return out

    def embedding_counts(self) -> dict[str, dict[str, int]]:
        """``{model: {model_version: n_tracks}}`` over healthy tracks."""
        out: dict[str, dict[str, int]] = {}
        for r in self.conn.execute(
            "SELECT e.model, e.model_version, COUNT(*) AS n FROM embeddings e "
            "JOIN tracks t ON t.id = e.track_id WHERE t.status = 'ok' "
            "GROUP BY e.model, e.model_version ORDER BY e.model"
        ):
            out.setdefault(r["model"], {})[r["model_version"]] = r["n"]
        return out

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
