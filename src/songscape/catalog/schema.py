"""The catalog's schema: numbered migrations, the ``meta`` table, track status values.

Schema changes are numbered migrations (:data:`MIGRATIONS`); opening a library
(:class:`~songscape.catalog.store.LibraryStore`) applies the missing ones in order,
each in its own transaction, and records ``schema_version`` in ``meta``. A migration
is never edited once released: libraries made with it must keep opening.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

#: Track status values (the ``tracks.status`` CHECK constraint).
STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_MISSING = "missing"
TRACK_STATUSES = (STATUS_OK, STATUS_FAILED, STATUS_MISSING)

#: Columns of ``tracks`` filled from the file (not from analysis stages).
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


def _migration_rhythm_method(conn: sqlite3.Connection) -> None:
    """Which beat tracker produced a track's beats and downbeats (issue 18)."""
    conn.execute("ALTER TABLE descriptors ADD COLUMN rhythm_method TEXT")


#: Ordered schema migrations; migration ``i`` brings the schema to version ``i + 1``.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _migration_1, _migration_2, _migration_rhythm_method,
]  # fmt: skip
from songscape.catalog.fingerprints import migrate_fingerprints  # noqa: E402 (issue 20)

MIGRATIONS.append(migrate_fingerprints)
from songscape.catalog.structure import migrate as migrate_structure  # noqa: E402 (issue 18)

MIGRATIONS.append(migrate_structure)
from songscape.catalog.vocals import migrate as migrate_vocals  # noqa: E402 (issue 14)

MIGRATIONS.append(migrate_vocals)
from songscape.catalog.emotion import migrate as migrate_emotion  # noqa: E402 (issue 19)

MIGRATIONS.append(migrate_emotion)
from songscape.catalog.playlists import migrate as migrate_playlists  # noqa: E402 (issue 17)

MIGRATIONS.append(migrate_playlists)
from songscape.catalog.track_labels import migrate as migrate_track_labels  # noqa: E402 (17)

MIGRATIONS.append(migrate_track_labels)
from songscape.catalog.windows import migrate as migrate_windows  # noqa: E402 (issue 20)

MIGRATIONS.append(migrate_windows)
from songscape.catalog.vocals import migrate_regions as migrate_vocal_regions  # noqa: E402 (14)

MIGRATIONS.append(migrate_vocal_regions)
SCHEMA_VERSION = len(MIGRATIONS)


def read_schema_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in ``meta`` (0 for an empty database)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row["value"]) if row else 0


def apply_migration(conn: sqlite3.Connection, version: int, now: float) -> None:
    """Run migration ``version`` (0-based) and record the version it brings the schema to.

    Parameters
    ----------
    conn : sqlite3.Connection
        Inside the caller's write transaction.
    version : int
        Index into :data:`MIGRATIONS`; the schema is at ``version`` before the call.
    now : float
        Unix time, seconds: the library's ``created_at`` when ``version`` is 0.
    """
    MIGRATIONS[version](conn)
    set_meta(conn, "schema_version", str(version + 1))
    if version == 0:
        set_meta(conn, "created_at", repr(now))
        set_meta(conn, "catalog_version", "0")


# -- meta ----------------------------------------------------------------------------


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Insert or replace one ``meta`` entry."""
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    """One ``meta`` entry, or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row["value"] if row else None


def bump_catalog_version(conn: sqlite3.Connection) -> None:
    """Mark that the set of tracks or their data changed (caches key on this)."""
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'catalog_version'")
