"""A track's structure and highlights: the ``sections``, ``structure`` and ``highlights`` tables.

* ``structure``: one row per analysed track: the chorus candidate's label, the frame
  grid the analysis used (``beats``, ``fixed``, ``none``) and, for a trivial result, why.
* ``sections``: the track's sections in order: start and end (seconds) and repeat label.
* ``highlights``: one row per method (``signal``, ``attention``, ``fused``) that was
  computed, with ``is_default`` marking the one the app shows; times in seconds,
  ``score`` 0..1.

Writers run inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

#: Tables holding data derived from a track's audio (cleared when the file changes).
STRUCTURE_TABLES = ("sections", "structure", "highlights")


def migrate(conn: sqlite3.Connection) -> None:
    """Create the tables (issue 18)."""
    conn.execute(
        """CREATE TABLE structure (
            track_id  TEXT PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            chorus    TEXT,
            grid      TEXT NOT NULL,
            reason    TEXT
        )"""
    )
    conn.execute(
        """CREATE TABLE sections (
            track_id  TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            idx       INTEGER NOT NULL,
            start_s   REAL NOT NULL,
            end_s     REAL NOT NULL,
            label     TEXT NOT NULL,
            PRIMARY KEY (track_id, idx)
        )"""
    )
    conn.execute(
        """CREATE TABLE highlights (
            track_id    TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            method      TEXT NOT NULL,
            start_s     REAL NOT NULL,
            end_s       REAL NOT NULL,
            score       REAL NOT NULL,
            is_default  INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (track_id, method)
        )"""
    )


def clear(conn: sqlite3.Connection, track_id: str) -> None:
    """Delete a track's structure, sections and highlights."""
    for table in STRUCTURE_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE track_id = ?", (track_id,))


def put_structure(
    conn: sqlite3.Connection,
    track_id: str,
    sections: Sequence[tuple[float, float, str]],
    chorus: str | None,
    grid: str,
    reason: str | None,
) -> None:
    """Replace a track's structure row and sections (``(start_s, end_s, label)`` in order)."""
    conn.execute("DELETE FROM structure WHERE track_id = ?", (track_id,))
    conn.execute("DELETE FROM sections WHERE track_id = ?", (track_id,))
    conn.execute(
        "INSERT INTO structure(track_id, chorus, grid, reason) VALUES (?, ?, ?, ?)",
        (track_id, chorus, grid, reason),
    )
    conn.executemany(
        "INSERT INTO sections(track_id, idx, start_s, end_s, label) VALUES (?, ?, ?, ?, ?)",
        [(track_id, i, float(s), float(e), str(label))
         for i, (s, e, label) in enumerate(sections)],  # fmt: skip
    )


def get_structure(conn: sqlite3.Connection, track_id: str) -> dict | None:
    """``{"sections": [{start_s, end_s, label}], "chorus", "grid", "reason"}`` or None."""
    row = conn.execute(
        "SELECT chorus, grid, reason FROM structure WHERE track_id = ?", (track_id,)
    ).fetchone()
    if row is None:
        return None
    sections = [
        {"start_s": r["start_s"], "end_s": r["end_s"], "label": r["label"]}
        for r in conn.execute(
            "SELECT start_s, end_s, label FROM sections WHERE track_id = ? ORDER BY idx",
            (track_id,),
        )
    ]
    return {"sections": sections, "chorus": row["chorus"], "grid": row["grid"],
            "reason": row["reason"]}  # fmt: skip


def put_highlights(
    conn: sqlite3.Connection,
    track_id: str,
    highlights: Sequence[dict],
    default_method: str,
) -> None:
    """Replace a track's highlights: dicts with ``method, start_s, end_s, score``."""
    conn.execute("DELETE FROM highlights WHERE track_id = ?", (track_id,))
    conn.executemany(
        "INSERT INTO highlights(track_id, method, start_s, end_s, score, is_default) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(track_id, h["method"], float(h["start_s"]), float(h["end_s"]), float(h["score"]),
          int(h["method"] == default_method)) for h in highlights],  # fmt: skip
    )


def get_highlights(conn: sqlite3.Connection, track_id: str) -> dict[str, dict]:
    """``{method: {start_s, end_s, method, score, is_default}}`` of a track."""
    return {
        r["method"]: {"start_s": r["start_s"], "end_s": r["end_s"], "method": r["method"],
                      "score": r["score"], "is_default": bool(r["is_default"])}  # fmt: skip
        for r in conn.execute(
            "SELECT method, start_s, end_s, score, is_default FROM highlights "
            "WHERE track_id = ?", (track_id,)  # fmt: skip
        )
    }


def default_highlight(conn: sqlite3.Connection, track_id: str) -> dict | None:
    """The highlight the app shows (``{start_s, end_s, method, score}``), or None."""
    row = conn.execute(
        "SELECT method, start_s, end_s, score FROM highlights WHERE track_id = ? "
        "ORDER BY is_default DESC, method LIMIT 1", (track_id,)  # fmt: skip
    ).fetchone()
    if row is None:
        return None
    return {"start_s": row["start_s"], "end_s": row["end_s"], "method": row["method"],
            "score": row["score"]}  # fmt: skip


def all_default_highlights(conn: sqlite3.Connection) -> dict[str, dict]:
    """``{track_id: {start_s, end_s, method, score}}`` of every track's default highlight."""
    out: dict[str, dict] = {}
    for r in conn.execute(
        "SELECT track_id, method, start_s, end_s, score FROM highlights "
        "ORDER BY track_id, is_default DESC, method"
    ):
        out.setdefault(r["track_id"], {"start_s": r["start_s"], "end_s": r["end_s"],
                                       "method": r["method"], "score": r["score"]})  # fmt: skip
    return out
