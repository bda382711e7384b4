"""The listening tables: a busy catalog is retried then reported, an old one (without the
tables of migration 2) answers without names or lists, any other error is raised."""

from __future__ import annotations

import sqlite3

import pytest

from songscape.catalog import listening
from songscape.catalog.store import LibraryStore
from songscape.errors import CatalogBusyError, LibraryError


@pytest.fixture
def store(tmp_path):
    s = LibraryStore(tmp_path / "lib")

    def fill(conn: sqlite3.Connection) -> None:
        listening.replace_events(conn, "a.csv", ["u1", "u2"],
                                 [("u1", "x", None, 2.0, 10.0, "a.csv"),
                                  ("u2", "y", None, 1.0, 20.0, "a.csv")], now=0.0)  # fmt: skip
        listening.upsert_item_names(conn, {"x": ("Band X", None)}, "a.csv")

    listening.in_transaction(s, fill, "filling the test catalog")
    # no waiting inside SQLite: a lock held by another connection shows at once
    s.conn.execute("PRAGMA busy_timeout = 0")
    yield s
    s.close()


@pytest.fixture
def sleeps(monkeypatch):
    """The pauses retry_busy takes (recorded, not slept)."""
    taken: list[float] = []
    monkeypatch.setattr(listening.time, "sleep", taken.append)
    return taken


def other_connection(store: LibraryStore) -> sqlite3.Connection:
    return sqlite3.connect(store.catalog_path, timeout=0, isolation_level=None)


def test_reads(store):
    assert [tuple(r) for r in listening.event_rows(store.conn)] == [
        ("u1", "x", 2.0, 10.0), ("u2", "y", 1.0, 20.0)]  # fmt: skip
    assert listening.user_has_events(store.conn, "u1")
    assert not listening.user_has_events(store.conn, "nobody")
    assert listening.item_names(store.conn, ["x", "y", "x"]) == {"x": ("Band X", None)}
    assert listening.has_listening_data(store.conn)
    assert listening.precomputed_list(store.conn, "u1", "als") is None


def test_write_waiting_on_another_writer_is_retried_then_reported(store, sleeps):
    other = other_connection(store)
    other.execute("BEGIN IMMEDIATE")  # another process's write transaction
    try:
        with pytest.raises(CatalogBusyError, match="locked by another connection") as err:
            listening.in_transaction(
                store, lambda conn: listening.replace_recommendations(conn, "als", []),
                "storing lists",
            )  # fmt: skip
        assert isinstance(err.value, LibraryError)  # the CLI and server map it as such
        assert "storing lists" in str(err.value) and "3 tries" in str(err.value)
        assert sleeps == [listening.BUSY_DELAY_S, 2 * listening.BUSY_DELAY_S]
    finally:
        other.rollback()
        other.close()
    # the lock gone, the same write goes through (nothing was left half-done)
    listening.in_transaction(
        store,
        lambda conn: listening.replace_recommendations(conn, "als", [("u1", 5, "[]", "d", 0.0)]),
        "storing lists",
    )
    assert listening.precomputed_list(store.conn, "u1", "als")["events_digest"] == "d"


def test_lock_released_during_the_backoff(store, monkeypatch):
    other = other_connection(store)
    other.execute("BEGIN IMMEDIATE")
    taken = []

    def release(seconds: float) -> None:
        taken.append(seconds)
        other.rollback()

    monkeypatch.setattr(listening.time, "sleep", release)
    try:
        replaced = listening.in_transaction(
            store, lambda conn: listening.replace_events(conn, "a.csv", [], [], 0.0), "importing"
        )
    finally:
        other.close()
    assert replaced == 2 and len(taken) == 1


def test_read_under_an_exclusive_lock_is_busy_not_an_old_catalog(store, sleeps):
    # In WAL mode readers never wait; a rollback-journal catalog locked for a commit
    # makes them wait, and that must not look like a catalog without the items table.
    store.conn.execute("PRAGMA journal_mode = DELETE")
    other = other_connection(store)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(CatalogBusyError, match="reading"):
            listening.item_names(store.conn, ["x"])
        assert len(sleeps) == listening.BUSY_ATTEMPTS - 1
    finally:
        other.rollback()
        other.close()
    assert listening.item_names(store.conn, ["x"]) == {"x": ("Band X", None)}


def test_old_catalog_without_the_newer_tables(store, caplog):
    with store.transaction() as conn:
        conn.execute("DROP TABLE items")
        conn.execute("DROP TABLE recommendations")
    with caplog.at_level("INFO", logger=listening.__name__):
        assert listening.item_names(store.conn, ["x"]) == {}
        assert listening.precomputed_list(store.conn, "u1", "als") is None
    assert "predates the items table" in caplog.text


def test_other_errors_are_raised(store):
    with store.transaction() as conn:
        conn.execute("ALTER TABLE items RENAME COLUMN artist TO performer")
    with pytest.raises(sqlite3.OperationalError, match="no such column"):
        listening.item_names(store.conn, ["x"])


def test_retry_busy_passes_other_errors_through_at_once(sleeps):
    calls = []

    def broken():
        calls.append(1)
        raise sqlite3.OperationalError("near 'SELEC': syntax error")

    with pytest.raises(sqlite3.OperationalError, match="syntax error"):
        listening.retry_busy(broken, "testing")
    assert calls == [1] and sleeps == []
