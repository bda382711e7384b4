"""Listening data in the catalog: users, events, playlists, the imported items' display
names, the import records and the precomputed recommendation lists.

Plain functions over a :class:`sqlite3.Connection` (``store.conn``, or the connection a
``store.transaction()`` yields); the ``write_*``/``replace_*``/``upsert_*``/``record_*``
functions expect to run inside such a transaction, which :func:`in_transaction` opens and
retries as a whole.

A busy catalog
    SQLite answers ``SQLITE_BUSY``/``SQLITE_LOCKED`` when another connection holds a lock
    it needs: a second writer (``BEGIN IMMEDIATE`` while another write transaction is
    open), or a reader during a rollback-journal commit. The connection's busy timeout
    (30 s for a :class:`~songscape.catalog.store.LibraryStore`) already waits inside
    SQLite, but some conflicts are answered at once (a WAL snapshot gone stale, a
    deadlock SQLite breaks by refusing), so the unit of work is retried
    :data:`BUSY_ATTEMPTS` times with a doubling pause (:func:`retry_busy`); when the lock
    is still held a :class:`~songscape.errors.CatalogBusyError` says so. A locked catalog
    is never mistaken for an old one.

An old catalog
    A catalog opened read-only is not migrated, so it may lack the tables of migration 2
    (``items``, ``recommendations``): :func:`item_names` then knows no names and
    :func:`precomputed_list` no lists (both logged). Any other database error is raised.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from songscape.catalog.store import LibraryStore
from songscape.errors import CatalogBusyError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Tries of a unit of work on a busy catalog (each one may already wait the busy timeout).
BUSY_ATTEMPTS = 3
#: Pause before the first retry, in seconds; it doubles before each further one.
BUSY_DELAY_S = 0.1
#: Rows per ``IN (...)`` query: well under SQLite's limit on bound parameters.
CHUNK = 500


# -- errors and retries ----------------------------------------------------------------


def is_busy(err: sqlite3.Error) -> bool:
    """Whether ``err`` means another connection holds a lock (SQLITE_BUSY or SQLITE_LOCKED,
    extended codes included)."""
    code = getattr(err, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def retry_busy(
    work: Callable[[], T],
    what: str,
    attempts: int = BUSY_ATTEMPTS,
    delay_s: float = BUSY_DELAY_S,
) -> T:
    """Run ``work()``, again after a pause while the catalog is busy (see the module
    docstring); other errors propagate at once.

    Parameters
    ----------
    work : callable
        The unit of work: a whole read, or a whole transaction (:func:`in_transaction`).
    what : str
        What it does, for the log and the error ("reading listening events").
    attempts : int
        Tries in all (>= 1).
    delay_s : float
        Seconds before the first retry; doubled before each further one.

    Raises
    ------
    CatalogBusyError
        The catalog was still locked at the last try.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except sqlite3.OperationalError as err:
            if not is_busy(err):
                raise
            if attempt == attempts:
                raise CatalogBusyError(
                    f"the catalog is locked by another connection ({err}) while {what}; "
                    f"gave up after {attempts} tries: try again when the other songscape "
                    f"process (an import, ingest or precompute) is done"
                ) from err
            pause = delay_s * 2 ** (attempt - 1)
            log.warning("catalog busy while %s (%s): retry %d/%d in %.2f s",
                        what, err, attempt, attempts - 1, pause)  # fmt: skip
            time.sleep(pause)
    raise ValueError(f"attempts must be >= 1, got {attempts}")


def in_transaction(store: LibraryStore, work: Callable[[sqlite3.Connection], T], what: str) -> T:
    """``work(conn)`` inside one write transaction of ``store``, the whole transaction
    retried while the catalog is busy (:func:`retry_busy`); rolled back on any error."""

    def attempt() -> T:
        with store.transaction() as conn:
            return work(conn)

    return retry_busy(attempt, what)


def _fetchall(conn: sqlite3.Connection, sql: str, args: Sequence, what: str) -> list:
    return retry_busy(lambda: conn.execute(sql, args).fetchall(), what)


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the catalog has a table ``name`` (an old catalog lacks the newer ones)."""
    rows = _fetchall(conn, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                     (name,), "reading the schema")  # fmt: skip
    return bool(rows)


# -- events and users ------------------------------------------------------------------


def event_rows(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every event as ``(user_id, item, count, timestamp)`` where ``item`` is the linked
    track id when there is one, else the raw item; ordered by user, item, insertion."""
    return _fetchall(
        conn,
        "SELECT user_id, COALESCE(track_id, item) AS item, count, timestamp FROM events "
        "ORDER BY user_id, item, rowid",
        (),
        "reading listening events",
    )


def user_summaries(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every user: ``id``, ``events`` (rows), ``items`` (distinct), ``plays`` (sum of
    counts, 0 without events); by id."""
    return _fetchall(
        conn,
        "SELECT u.id, COUNT(e.rowid) AS events, COUNT(DISTINCT COALESCE(e.track_id, e.item)) "
        "AS items, COALESCE(SUM(e.count), 0) AS plays FROM users u "
        "LEFT JOIN events e ON e.user_id = u.id GROUP BY u.id ORDER BY u.id",
        (),
        "reading users",
    )


def user_has_events(conn: sqlite3.Connection, user: str) -> bool:
    """Whether ``user`` has at least one event."""
    rows = _fetchall(conn, "SELECT 1 FROM events WHERE user_id = ? LIMIT 1", (user,),
                     "reading listening events")  # fmt: skip
    return bool(rows)


def user_item_plays(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """``(user_id, item, plays)`` per user and item (linked track id, else raw item), each
    user's most played first (ties by item)."""
    return _fetchall(
        conn,
        "SELECT user_id, COALESCE(track_id, item) AS item, SUM(count) AS plays FROM events "
        "GROUP BY user_id, COALESCE(track_id, item) ORDER BY user_id, plays DESC, item",
        (),
        "reading listening events",
    )


def timestamped_event_rows(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """The events with a timestamp as ``(user_id, item, track_id, timestamp, artist)``
    (``artist`` of the linked track, else None), by user, time and insertion."""
    return _fetchall(
        conn,
        "SELECT e.user_id, e.item, e.track_id, e.timestamp, t.artist FROM events e "
        "LEFT JOIN tracks t ON t.id = e.track_id WHERE e.timestamp IS NOT NULL "
        "ORDER BY e.user_id, e.timestamp, e.rowid",
        (),
        "reading listening events",
    )


def has_listening_data(conn: sqlite3.Connection) -> bool:
    """Whether the catalog has any event or playlist entry."""
    rows = _fetchall(
        conn,
        "SELECT EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM playlist_items)",
        (),
        "reading listening data",
    )
    return bool(rows[0][0])


# -- playlists -------------------------------------------------------------------------


def playlist_item_rows(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every playlist entry as ``(id, title, tags, item, track_id, artist)`` (``id``,
    ``title``, ``tags`` of the playlist; ``artist`` of the linked track, else None), by
    playlist and position."""
    return _fetchall(
        conn,
        "SELECT p.id, p.title, p.tags, i.item, i.track_id, t.artist FROM playlists p "
        "JOIN playlist_items i ON i.playlist_id = p.id LEFT JOIN tracks t ON t.id = i.track_id "
        "ORDER BY p.id, i.position",
        (),
        "reading playlists",
    )


# -- tracks and item names ---------------------------------------------------------------


def link_candidates(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every track as ``(id, path, artist, title, status)``, healthy ones first, then by id:
    what items are linked against."""
    return _fetchall(
        conn,
        "SELECT id, path, artist, title, status FROM tracks ORDER BY status != 'ok', id",
        (),
        "reading tracks",
    )


def tracks_by_id(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, sqlite3.Row]:
    """``{id: (id, title, artist, album, path)}`` of the given ids that are library tracks
    (exact ids; others are left out)."""
    unique = list(dict.fromkeys(ids))
    out: dict[str, sqlite3.Row] = {}
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        for r in _fetchall(conn, f"SELECT id, title, artist, album, path FROM tracks "
                           f"WHERE id IN ({marks})", chunk, "reading tracks"):  # fmt: skip
            out[r["id"]] = r
    return out


def item_names(
    conn: sqlite3.Connection, items: Iterable[str]
) -> dict[str, tuple[str | None, str | None]]:
    """``{item: (artist, title)}`` from the ``items`` table (names recorded on import) for
    the items that have one; empty for a catalog from before that table (logged)."""
    unique = list(dict.fromkeys(items))
    out: dict[str, tuple[str | None, str | None]] = {}
    if not unique:
        return out
    if not has_table(conn, "items"):
        log.info("the catalog predates the items table (schema migration 2): results that "
                 "are not library tracks show no names")  # fmt: skip
        return out
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        for r in _fetchall(conn, f"SELECT item, artist, title FROM items WHERE item IN ({marks})",
                           chunk, "reading item names"):  # fmt: skip
            out[r["item"]] = (r["artist"], r["title"])
    return out


# -- imports (inside a transaction) ------------------------------------------------------


def replace_events(
    conn: sqlite3.Connection,
    source: str,
    users: Iterable[str],
    rows: Sequence[tuple],
    now: float,
) -> int:
    """Delete the events of ``source``, add the missing ``users`` and insert ``rows`` of
    ``(user_id, item, track_id, count, timestamp, source)``; returns the rows deleted."""
    replaced = conn.execute("DELETE FROM events WHERE source = ?", (source,)).rowcount
    conn.executemany(
        "INSERT OR IGNORE INTO users(id, added_at) VALUES (?, ?)", [(u, now) for u in users]
    )
    conn.executemany(
        "INSERT INTO events(user_id, item, track_id, count, timestamp, source) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return replaced


def replace_playlists(
    conn: sqlite3.Connection,
    source: str,
    playlists: Sequence[tuple[str, str | None, str | None]],
    entries: Sequence[tuple[str, int, str, str | None]],
) -> int:
    """Delete the playlists of ``source`` and those with an id in ``playlists`` (from any
    file), then insert ``playlists`` as ``(id, title, tags)`` and their ``entries`` as
    ``(playlist_id, position, item, track_id)``; returns the playlists deleted."""
    old = {r[0] for r in conn.execute("SELECT id FROM playlists WHERE source = ?", (source,))}
    old |= {p for p, _title, _tags in playlists
            if conn.execute("SELECT 1 FROM playlists WHERE id = ?", (p,)).fetchone()}  # fmt: skip
    conn.executemany("DELETE FROM playlists WHERE id = ?", [(p,) for p in old])
    conn.executemany(
        "INSERT INTO playlists(id, title, tags, source) VALUES (?, ?, ?, ?)",
        [(p, title, tags, source) for p, title, tags in playlists],
    )
    conn.executemany(
        "INSERT INTO playlist_items(playlist_id, position, item, track_id) VALUES (?, ?, ?, ?)",
        entries,
    )
    return len(old)


def upsert_item_names(
    conn: sqlite3.Connection, names: dict[str, tuple[str | None, str | None]], source: str
) -> None:
    """Record ``{item: (artist, title)}``: a non-null part replaces the stored one, a null
    keeps it."""
    conn.executemany(
        "INSERT INTO items(item, artist, title, source) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(item) DO UPDATE SET artist = COALESCE(excluded.artist, items.artist), "
        "title = COALESCE(excluded.title, items.title), source = excluded.source",
        [(item, a, t, source) for item, (a, t) in names.items()],
    )


def record_import(
    conn: sqlite3.Connection,
    source: str,
    kind: str,
    sha256: str,
    rows: int,
    matched: int,
    now: float,
) -> None:
    """Record (or update) the import of file ``source`` as ``kind`` (events, playlists)."""
    conn.execute(
        "INSERT INTO imports(source, kind, sha256, rows, matched, imported_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(source, kind) DO UPDATE SET "
        "sha256 = excluded.sha256, rows = excluded.rows, matched = excluded.matched, "
        "imported_at = excluded.imported_at",
        (source, kind, sha256, rows, matched, now),
    )


# -- precomputed recommendations ----------------------------------------------------------


def replace_recommendations(
    conn: sqlite3.Connection, model: str, rows: Sequence[tuple[str, int, str, str, float]]
) -> None:
    """Replace every stored list of ``model`` by ``rows`` of ``(user_id, k, items,
    events_digest, created_at)`` (``items``: JSON text); inside a transaction."""
    conn.execute("DELETE FROM recommendations WHERE model = ?", (model,))
    conn.executemany(
        "INSERT INTO recommendations(user_id, model, k, items, events_digest, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(user, model, k, items, digest, created) for user, k, items, digest, created in rows],
    )


def precomputed_list(conn: sqlite3.Connection, user: str, model: str) -> sqlite3.Row | None:
    """The stored ``(k, items, events_digest)`` of ``user`` and ``model``, or None (also for
    a catalog from before the recommendations table, logged)."""
    if not has_table(conn, "recommendations"):
        log.info("the catalog predates the recommendations table: no precomputed lists")
        return None
    rows = _fetchall(
        conn,
        "SELECT k, items, events_digest FROM recommendations WHERE user_id = ? AND model = ?",
        (user, model),
        "reading precomputed recommendations",
    )
    return rows[0] if rows else None
