"""Acoustic fingerprints and the recording links between tracks: every SQL statement.

``fingerprints`` holds one Chromaprint word sequence per track (little-endian uint32
BLOB) with the facts that rank copies of one recording (lossless or not, bitrate).
``recording_links`` holds the pairs of tracks whose fingerprints match: ``same`` (one
recording in two files) or ``related`` (a partial overlap: an edit, a medley).
``recording_checks`` records which fingerprint (by CRC) each track was last compared
with the rest of the library as, so linking is incremental.

Writers run inside the caller's transaction; times are Unix seconds.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

RELATION_SAME = "same"
RELATION_RELATED = "related"


def migrate_fingerprints(conn: sqlite3.Connection) -> None:
    """Schema migration (issue 20): ``fingerprints``, ``recording_links``, ``recording_checks``."""
    conn.executescript(
        """
        CREATE TABLE fingerprints (
            track_id     TEXT PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            algorithm    TEXT NOT NULL,
            item_hop_s   REAL NOT NULL,
            n_words      INTEGER NOT NULL,
            words        BLOB NOT NULL,
            words_crc    INTEGER NOT NULL,
            lossless     INTEGER,
            bitrate_bps  INTEGER
        );
        CREATE TABLE recording_links (
            track_a      TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            track_b      TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            relation     TEXT NOT NULL CHECK (relation IN ('same', 'related')),
            matched_s    REAL NOT NULL,
            offset_s     REAL NOT NULL,
            ber          REAL NOT NULL,
            coverage_a   REAL NOT NULL,
            coverage_b   REAL NOT NULL,
            PRIMARY KEY (track_a, track_b),
            CHECK (track_a < track_b)
        );
        CREATE INDEX recording_links_b ON recording_links(track_b);
        CREATE TABLE recording_checks (
            track_id     TEXT PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            words_crc    INTEGER NOT NULL,
            checked_at   REAL NOT NULL
        );
        """
    )


def words_crc(words: np.ndarray) -> int:
    """CRC-32 of a word sequence's little-endian bytes (changes when the fingerprint does)."""
    return zlib.crc32(np.asarray(words, dtype="<u4").tobytes())


def put_fingerprint(
    conn: sqlite3.Connection,
    track_id: str,
    words: np.ndarray,
    algorithm: str,
    item_hop_s: float,
    lossless: bool | None,
    bitrate_bps: int | None,
) -> None:
    """Store (or replace) a track's fingerprint."""
    data = np.ascontiguousarray(words, dtype="<u4")
    conn.execute(
        "INSERT INTO fingerprints(track_id, algorithm, item_hop_s, n_words, words, words_crc, "
        "lossless, bitrate_bps) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(track_id) DO UPDATE "
        "SET algorithm = excluded.algorithm, item_hop_s = excluded.item_hop_s, "
        "n_words = excluded.n_words, words = excluded.words, words_crc = excluded.words_crc, "
        "lossless = excluded.lossless, bitrate_bps = excluded.bitrate_bps",
        (
            track_id,
            algorithm,
            float(item_hop_s),
            int(len(data)),
            data.tobytes(),
            words_crc(data),
            None if lossless is None else int(bool(lossless)),
            None if bitrate_bps is None else int(bitrate_bps),
        ),
    )


@dataclass(frozen=True)
class StoredFingerprints:
    """The fingerprints of the library's live tracks, concatenated.

    Attributes
    ----------
    track_ids : list of str
    words : np.ndarray of uint32
        All tracks' words, one after another.
    starts : np.ndarray of int64, shape (len(track_ids) + 1,)
        Track ``i``'s words are ``words[starts[i]:starts[i + 1]]``.
    item_hop_s : float
        Seconds per word (the same for every track of one algorithm).
    crcs : np.ndarray of int64
        Each track's ``words_crc``.
    """

    track_ids: list[str]
    words: np.ndarray
    starts: np.ndarray
    item_hop_s: float
    crcs: np.ndarray

    def track_words(self, i: int) -> np.ndarray:
        return self.words[self.starts[i] : self.starts[i + 1]]


def load_fingerprints(conn: sqlite3.Connection, algorithm: str) -> StoredFingerprints:
    """Every live (status ``ok``) track's fingerprint made with ``algorithm``."""
    rows = conn.execute(
        "SELECT f.track_id, f.item_hop_s, f.words, f.words_crc FROM fingerprints f "
        "JOIN tracks t ON t.id = f.track_id WHERE t.status = 'ok' AND f.algorithm = ? "
        "ORDER BY f.track_id",
        (algorithm,),
    ).fetchall()
    ids = [r["track_id"] for r in rows]
    chunks = [np.frombuffer(r["words"], dtype="<u4") for r in rows]
    lengths = np.array([len(c) for c in chunks], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    words = np.concatenate(chunks).astype(np.uint32) if chunks else np.zeros(0, np.uint32)
    hop = float(rows[0]["item_hop_s"]) if rows else 0.0
    crcs = np.array([r["words_crc"] for r in rows], dtype=np.int64)
    return StoredFingerprints(ids, words, starts, hop, crcs)


def fingerprint_manifest(
    conn: sqlite3.Connection, algorithm: str
) -> list[tuple[str, int, int, float]]:
    """``(track_id, words_crc, n_words, item_hop_s)`` of every fingerprint that
    :func:`load_fingerprints` would load, in its order (without the words: a cheap read
    that says whether a saved copy of them is current)."""
    rows = conn.execute(
        "SELECT f.track_id, f.words_crc, f.n_words, f.item_hop_s FROM fingerprints f "
        "JOIN tracks t ON t.id = f.track_id WHERE t.status = 'ok' AND f.algorithm = ? "
        "ORDER BY f.track_id",
        (algorithm,),
    ).fetchall()
    return [(r[0], int(r[1]), int(r[2]), float(r[3])) for r in rows]


def fingerprint_state(conn: sqlite3.Connection) -> tuple[int, int]:
    """``(count, checksum)`` of the live tracks' fingerprints: changes when any does."""
    row = conn.execute(
        "SELECT COUNT(*) AS n, COALESCE(SUM(f.words_crc % 1000003 + LENGTH(f.track_id)), 0) "
        "AS s FROM fingerprints f JOIN tracks t ON t.id = f.track_id WHERE t.status = 'ok'"
    ).fetchone()
    return int(row["n"]), int(row["s"])


def fingerprint_facts(conn: sqlite3.Connection, track_ids: Iterable[str]) -> dict[str, dict]:
    """For each track: path, format, size, duration, tags, lossless, bitrate, n_words."""
    ids = list(track_ids)
    out: dict[str, dict] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            "SELECT t.id, t.path, t.format, t.size_bytes, t.duration_s, t.sample_rate, "
            "t.channels, t.title, t.artist, t.album, t.genre, t.year, t.track_number, "
            "f.lossless, f.bitrate_bps, f.n_words, f.item_hop_s FROM tracks t "
            f"LEFT JOIN fingerprints f ON f.track_id = t.id WHERE t.id IN ({marks})",
            chunk,
        ):
            out[row["id"]] = dict(row)
    return out


# -- links ----------------------------------------------------------------------------


def unchecked_tracks(conn: sqlite3.Connection) -> list[str]:
    """Live tracks whose current fingerprint has not been compared with the library."""
    return [
        r["track_id"]
        for r in conn.execute(
            "SELECT f.track_id FROM fingerprints f JOIN tracks t ON t.id = f.track_id "
            "LEFT JOIN recording_checks c ON c.track_id = f.track_id "
            "WHERE t.status = 'ok' AND (c.words_crc IS NULL OR c.words_crc != f.words_crc) "
            "ORDER BY f.track_id"
        )
    ]


def replace_links(
    conn: sqlite3.Connection, track_id: str, links: Iterable[dict], crc: int, now: float
) -> None:
    """Replace every link of ``track_id`` and mark it checked at fingerprint ``crc``.

    Each link: ``{"other", "relation", "matched_s", "offset_s", "ber", "coverage_self",
    "coverage_other"}``, with ``offset_s`` the other track's time at this track's start.
    """
    conn.execute(
        "DELETE FROM recording_links WHERE track_a = ? OR track_b = ?", (track_id, track_id)
    )
    for link in links:
        a, b = sorted((track_id, link["other"]))
        flip = a != track_id
        conn.execute(
            "INSERT OR REPLACE INTO recording_links(track_a, track_b, relation, matched_s, "
            "offset_s, ber, coverage_a, coverage_b) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                a,
                b,
                link["relation"],
                float(link["matched_s"]),
                -float(link["offset_s"]) if flip else float(link["offset_s"]),
                float(link["ber"]),
                float(link["coverage_other"] if flip else link["coverage_self"]),
                float(link["coverage_self"] if flip else link["coverage_other"]),
            ),
        )
    conn.execute(
        "INSERT INTO recording_checks(track_id, words_crc, checked_at) VALUES (?, ?, ?) "
        "ON CONFLICT(track_id) DO UPDATE SET words_crc = excluded.words_crc, "
        "checked_at = excluded.checked_at",
        (track_id, int(crc), float(now)),
    )


def recording_links(conn: sqlite3.Connection) -> list[dict]:
    """Every link between two live tracks: ``track_a`` < ``track_b``, ``offset_s`` is
    ``track_b``'s time at ``track_a``'s start."""
    return [
        dict(r)
        for r in conn.execute(
            "SELECT l.* FROM recording_links l JOIN tracks a ON a.id = l.track_a "
            "JOIN tracks b ON b.id = l.track_b WHERE a.status = 'ok' AND b.status = 'ok' "
            "ORDER BY l.track_a, l.track_b"
        )
    ]
