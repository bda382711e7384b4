"""The SQL of ``songscape check``: finding (and removing) inconsistent catalog rows.

Plain functions on a :class:`sqlite3.Connection`. The finders only read; the
``delete_*``/``set_*`` repairs run inside the caller's transaction
(:meth:`~songscape.catalog.store.LibraryStore.transaction`). What counts as a problem
and what to do about it is decided by :mod:`songscape.library.check`.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass

import numpy as np

#: Stage name (or ``family:`` prefix) -> the table its ``done`` record promises rows in,
#: and the column that must equal the stage's argument (``embed:musicnn-msd`` -> model).
STAGE_DATA_TABLES: dict[str, tuple[str, str | None]] = {
    "descriptors": ("descriptors", None),
    "embed:": ("embeddings", "model"),
    "tag:": ("tags", "model"),
    "windows:": ("window_vectors", "model"),  # issue 20
}


@dataclass(frozen=True)
class ForeignKeyViolation:
    """A row whose reference to another table points at nothing.

    Attributes
    ----------
    table : str
        The table holding the row.
    rowid : int
        Its rowid.
    parent : str
        The table it refers to.
    column : str
        The referring column.
    on_delete : str
        The constraint's ``ON DELETE`` action (``CASCADE``, ``SET NULL``, ...).
    """

    table: str
    rowid: int
    parent: str
    column: str
    on_delete: str


# -- SQLite's own checks ------------------------------------------------------------------


def integrity_errors(conn: sqlite3.Connection, limit: int = 100) -> list[str]:
    """SQLite's ``PRAGMA integrity_check`` messages (empty when the file is sound)."""
    rows = [r[0] for r in conn.execute(f"PRAGMA integrity_check({int(limit)})")]
    return [] if rows == ["ok"] else rows


def foreign_key_violations(conn: sqlite3.Connection) -> list[ForeignKeyViolation]:
    """Every row of every table whose foreign key points at a missing parent row."""
    out = []
    actions: dict[tuple[str, int], tuple[str, str]] = {}
    for table, rowid, parent, fkid in conn.execute("PRAGMA foreign_key_check").fetchall():
        key = (table, fkid)
        if key not in actions:
            for fk in conn.execute(f"PRAGMA foreign_key_list({quote(table)})"):
                if fk["id"] == fkid:
                    actions[key] = (fk["from"], fk["on_delete"])
                    break
            else:
                actions[key] = ("?", "NO ACTION")
        column, on_delete = actions[key]
        out.append(ForeignKeyViolation(table, rowid, parent, column, on_delete))
    return out


def reindex(conn: sqlite3.Connection) -> None:
    """Rebuild every index from its table (repairs index-only damage)."""
    conn.execute("REINDEX")


def quote(name: str) -> str:
    """``name`` as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def repair_foreign_key(conn: sqlite3.Connection, violation: ForeignKeyViolation) -> str:
    """Apply the constraint's own ``ON DELETE`` action to an orphan row: set its reference
    to NULL (``SET NULL``), else delete the row. Returns ``"nulled"`` or ``"deleted"``."""
    table = quote(violation.table)
    if violation.on_delete == "SET NULL" and violation.column != "?":
        conn.execute(
            f"UPDATE {table} SET {quote(violation.column)} = NULL WHERE rowid = ?",
            (violation.rowid,),
        )
        return "nulled"
    conn.execute(f"DELETE FROM {table} WHERE rowid = ?", (violation.rowid,))
    return "deleted"


# -- stored arrays and vectors --------------------------------------------------------------


def array_shape_problem(dtype: str, shape: str, n_bytes: int) -> str | None:
    """Why an ``arrays`` row's bytes cannot be its recorded dtype and shape, or None."""
    try:
        item = np.dtype(dtype).itemsize
        dims = [int(s) for s in shape.split(",") if s != ""]
    except (TypeError, ValueError) as err:
        return f"unreadable dtype/shape {dtype!r}/{shape!r} ({err})"
    if any(d < 0 for d in dims):
        return f"negative dimension in shape {shape!r}"
    expected = math.prod(dims) * item
    if expected != n_bytes:
        return f"{n_bytes} bytes, shape ({shape}) of {dtype} needs {expected}"
    return None


def bad_arrays(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """``(track_id, name, problem)`` of every array whose bytes disagree with its shape."""
    out = []
    for row in conn.execute(
        "SELECT track_id, name, dtype, shape, length(data) AS n FROM arrays"
    ):
        problem = array_shape_problem(row["dtype"], row["shape"], row["n"])
        if problem:
            out.append((row["track_id"], row["name"], problem))
    return out


def bad_vectors(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """``(track_id, model, problem)`` of every embedding whose length is not ``dim`` float32s."""
    return [
        (r["track_id"], r["model"], f"{r['n']} bytes for dim {r['dim']} (float32)")
        for r in conn.execute(
            "SELECT track_id, model, dim, length(vector) AS n FROM embeddings "
            "WHERE dim <= 0 OR length(vector) != 4 * dim"
        )
    ]


def delete_array(conn: sqlite3.Connection, track_id: str, name: str) -> None:
    conn.execute("DELETE FROM arrays WHERE track_id = ? AND name = ?", (track_id, name))


def delete_embedding(conn: sqlite3.Connection, track_id: str, model: str) -> None:
    conn.execute("DELETE FROM embeddings WHERE track_id = ? AND model = ?", (track_id, model))


# -- stage records ------------------------------------------------------------------------


def stage_data_table(stage: str) -> tuple[str, str | None, str | None] | None:
    """``(table, column, value)`` that a ``done`` run of ``stage`` promises a row in, or
    None for a stage whose data this check does not know."""
    for name, (table, column) in STAGE_DATA_TABLES.items():
        if name.endswith(":") and stage.startswith(name):
            return table, column, stage[len(name):]
        if stage == name:
            return table, None, None
    return None


def done_stages_without_data(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """``(track_id, stage)`` of ``done`` stage runs of healthy tracks whose data is absent."""
    out = []
    runs = conn.execute(
        "SELECT s.track_id, s.stage FROM stage_runs s JOIN tracks t ON t.id = s.track_id "
        "WHERE s.status = 'done' AND t.status = 'ok' ORDER BY s.track_id, s.stage"
    ).fetchall()
    for row in runs:
        where = stage_data_table(row["stage"])
        if where is None:
            continue
        table, column, value = where
        sql = f"SELECT 1 FROM {quote(table)} WHERE track_id = ?"
        args: tuple = (row["track_id"],)
        if column is not None:
            sql += f" AND {quote(column)} = ?"
            args += (value,)
        if conn.execute(sql + " LIMIT 1", args).fetchone() is None:
            out.append((row["track_id"], row["stage"]))
    return out


def tracks_lacking_stage(conn: sqlite3.Connection, stage: str) -> list[str]:
    """Ids of healthy tracks with no ``done`` run of ``stage``."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT t.id FROM tracks t WHERE t.status = 'ok' AND NOT EXISTS ("
            "SELECT 1 FROM stage_runs s WHERE s.track_id = t.id AND s.stage = ? "
            "AND s.status = 'done') ORDER BY t.id",
            (stage,),
        )
    ]


def delete_stage_run(conn: sqlite3.Connection, track_id: str, stage: str) -> None:
    """Forget a stage run, so the next ingest runs the stage again."""
    conn.execute("DELETE FROM stage_runs WHERE track_id = ? AND stage = ?", (track_id, stage))


def delete_stage_runs(conn: sqlite3.Connection, track_id: str) -> None:
    """Forget every stage run of a track, so the next ingest recomputes all of it."""
    conn.execute("DELETE FROM stage_runs WHERE track_id = ?", (track_id,))


# -- track rows and duplicates -------------------------------------------------------------


def healthy_tracks_without_hash(conn: sqlite3.Connection) -> list[str]:
    """Ids of ``ok`` tracks with no content hash (moves and copies match on it)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT id FROM tracks WHERE status = 'ok' AND content_hash IS NULL ORDER BY id"
        )
    ]


def duplicates_of_unhealthy(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """``(path, track_id, status)`` of duplicates recorded as copies of a track that is not
    ``ok`` (a copy of a broken file is a broken file, not a duplicate)."""
    return [
        (r["path"], r["track_id"], r["status"])
        for r in conn.execute(
            "SELECT d.path, d.track_id, t.status FROM duplicates d "
            "JOIN tracks t ON t.id = d.track_id WHERE t.status != 'ok' ORDER BY d.path"
        )
    ]


def file_rows(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """``kind, id, path, status`` of every track that is not missing (kind ``"track"``)
    and every duplicate (kind ``"duplicate"``, id = its track's id): the files the
    catalog expects to exist."""
    return conn.execute(
        "SELECT 'track' AS kind, id, path, status FROM tracks WHERE status != 'missing' "
        "UNION ALL SELECT 'duplicate', track_id, path, 'duplicate' FROM duplicates "
        "ORDER BY path"
    ).fetchall()


def forget_file_stat(conn: sqlite3.Connection, track_id: str) -> None:
    """Clear a track's recorded size and mtime, so the next ingest fingerprints its file."""
    conn.execute("UPDATE tracks SET size_bytes = NULL, mtime = NULL WHERE id = ?", (track_id,))


def set_content_hash(conn: sqlite3.Connection, track_id: str, digest: str) -> None:
    """Record the content hash of a track's file."""
    conn.execute("UPDATE tracks SET content_hash = ? WHERE id = ?", (digest, track_id))
