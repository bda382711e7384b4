"""The catalog store: schema, migrations, arrays, lookups, locking."""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pytest

from songscape.catalog import schema
from songscape.catalog import store as store_mod
from songscape.catalog.analysis import StoredArray
from songscape.catalog.schema import SCHEMA_VERSION
from songscape.catalog.store import LibraryError, LibraryStore, TrackNotFoundError


def _add_track(store: LibraryStore, track_id: str, path: str, **extra) -> None:
    now = time.time()
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO tracks(id, content_hash, path, status, added_at, updated_at, artist) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (track_id, extra.get("content_hash", track_id * 4), path,
             extra.get("status", "ok"), now, now, extra.get("artist")),
        )  # fmt: skip


def test_new_library_has_schema_and_wal(tmp_path):
    with LibraryStore(tmp_path / "lib") as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {
            r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        for table in ("tracks", "descriptors", "arrays", "stage_runs", "embeddings", "tags",
                      "users", "events", "playlists", "playlist_items", "duplicates",
                      "imports", "recommendations", "items"):  # fmt: skip
            assert table in tables
    # Reopening does not re-run migrations.
    with LibraryStore(tmp_path / "lib") as store:
        assert store.schema_version == SCHEMA_VERSION


def test_missing_library_is_an_error_when_not_creating(tmp_path):
    with pytest.raises(LibraryError, match="no library"):
        LibraryStore(tmp_path / "nothing", create=False)


def test_unreadable_catalog_is_a_library_error(tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    (root / store_mod.CATALOG_FILE).write_bytes(b"this is not a database" * 100)
    with pytest.raises(LibraryError, match="cannot open catalog"):
        LibraryStore(root)


def test_newer_schema_is_refused(tmp_path):
    with LibraryStore(tmp_path / "lib") as store, store.transaction() as conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(LibraryError, match="newer"):
        LibraryStore(tmp_path / "lib")


def test_migrations_apply_in_order(tmp_path, monkeypatch):
    with LibraryStore(tmp_path / "lib"):
        pass

    def add_column(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE tracks ADD COLUMN bpm_hint REAL")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, add_column])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with LibraryStore(tmp_path / "lib") as store:
        assert store.schema_version == SCHEMA_VERSION + 1
        cols = [r[1] for r in store.conn.execute("PRAGMA table_info(tracks)")]
        assert "bpm_hint" in cols


@pytest.mark.parametrize(
    "values",
    [np.arange(5, dtype=np.float64) / 3, np.ones((3, 4), dtype=np.float32), np.array([], float)],
)
def test_array_roundtrip(values):
    stored = StoredArray.from_array(values)
    back = stored.to_array()
    assert back.dtype == values.dtype and back.shape == values.shape
    np.testing.assert_array_equal(back, values)


def test_arrays_are_blobs_not_json(tmp_path):
    with LibraryStore(tmp_path / "lib") as store:
        _add_track(store, "a" * 16, "/music/a.ogg")
        beats = np.linspace(0.5, 10.0, 20)
        with store.transaction() as conn:
            store.put_array(conn, "a" * 16, "beat_times", beats)
        row = store.conn.execute("SELECT typeof(data), length(data) FROM arrays").fetchone()
        assert row[0] == "blob" and row[1] == beats.nbytes
        np.testing.assert_array_equal(store.get_arrays("a" * 16)["beat_times"], beats)


def test_transaction_rolls_back_on_error(tmp_path):
    with LibraryStore(tmp_path / "lib") as store:
        with pytest.raises(RuntimeError), store.transaction() as conn:
            conn.execute(
                "INSERT INTO tracks(id, path, status, added_at, updated_at) "
                "VALUES ('x', '/x', 'ok', 0, 0)"
            )
            raise RuntimeError("boom")
        assert store.conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == 0


def test_get_track_by_id_prefix_and_path(tmp_path):
    with LibraryStore(tmp_path / "lib") as store:
        _add_track(store, "abcdef0123456789", "/music/one.ogg")
        _add_track(store, "abcd999999999999", "/music/two.ogg")
        assert store.get_track("abcdef0123456789")["path"] == "/music/one.ogg"
        assert store.get_track("abcdef")["path"] == "/music/one.ogg"
        assert store.get_track("/music/two.ogg")["id"] == "abcd999999999999"
        with pytest.raises(TrackNotFoundError, match="ambiguous"):
            store.get_track("abcd")
        with pytest.raises(TrackNotFoundError, match="no track"):
            store.get_track("ffff0000")


def test_one_live_track_per_path(tmp_path):
    with LibraryStore(tmp_path / "lib") as store:
        _add_track(store, "1" * 16, "/music/a.ogg")
        with pytest.raises(sqlite3.IntegrityError):
            _add_track(store, "2" * 16, "/music/a.ogg")
        # A missing track may keep a path that a live track now has.
        _add_track(store, "3" * 16, "/music/a.ogg", status="missing")
        assert store.track_by_path("/music/a.ogg")["id"] == "1" * 16


def test_remove_cascades(tmp_path):
    with LibraryStore(tmp_path / "lib") as store:
        _add_track(store, "a" * 16, "/music/a.ogg")
        with store.transaction() as conn:
            store.put_array(conn, "a" * 16, "energy_curve", np.zeros(4, np.float32))
            conn.execute(
                "INSERT INTO stage_runs VALUES (?, 'descriptors', 1, 'done', NULL, 0)", ("a" * 16,)
            )
        version = store.catalog_version
        store.remove_track("a" * 16)
        assert store.catalog_version == version + 1
        for table in ("tracks", "arrays", "stage_runs"):
            assert store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
        with pytest.raises(TrackNotFoundError):
            store.remove_track("a" * 16)


def test_write_lock_is_exclusive(tmp_path):
    with LibraryStore(tmp_path / "lib") as first, LibraryStore(tmp_path / "lib") as second:
        first.acquire_write_lock()
        with pytest.raises(LibraryError, match="another songscape process"):
            second.acquire_write_lock()
        first.release_write_lock()
        second.acquire_write_lock()


def test_stats_on_empty_library(tmp_path):
    with LibraryStore(tmp_path / "lib") as store:
        stats = store.stats()
    assert stats["tracks"] == 0
    assert stats["by_status"] == {"ok": 0, "failed": 0, "missing": 0}
    assert stats["tempo_bpm"] == {"min": None, "mean": None, "max": None}
