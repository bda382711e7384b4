"""What the neural models said about a track: embeddings (per model) and tags.

Vectors are stored as raw little-endian float32 BLOBs with their model name, model
version and dimension. Writers run inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np

# -- embeddings -----------------------------------------------------------------------


def put_embedding(
    conn: sqlite3.Connection, track_id: str, model: str, model_version: str, vector: np.ndarray
) -> None:
    """Store (or replace) a track's embedding by ``model``; kept as float32."""
    vector = np.ascontiguousarray(vector, dtype="<f4")
    conn.execute(
        "INSERT INTO embeddings(track_id, model, model_version, dim, vector) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(track_id, model) DO UPDATE SET "
        "model_version = excluded.model_version, dim = excluded.dim, "
        "vector = excluded.vector",
        (track_id, model, model_version, int(vector.shape[0]), vector.tobytes()),
    )


def embedding(conn: sqlite3.Connection, track_id: str, model: str) -> tuple[np.ndarray, str] | None:
    """One track's ``(vector, model_version)`` for ``model``, or None."""
    row = conn.execute(
        "SELECT model_version, vector FROM embeddings WHERE track_id = ? AND model = ?",
        (track_id, model),
    ).fetchone()
    if row is None:
        return None
    return np.frombuffer(row["vector"], dtype="<f4").astype(np.float32), row["model_version"]


def embedding_matrix(
    conn: sqlite3.Connection, model: str, version: str | None = None
) -> tuple[list[str], list[str], np.ndarray]:
    """Every healthy track's vector of ``model``: ``(ids, paths, vectors)``, by id.

    ``version`` restricts to vectors made by that model version (stale ones are
    left out). ``vectors`` has shape (n, dim), float32.

    Raises
    ------
    ValueError
        If the stored vectors of ``model`` have different dimensions.
    """
    sql = (
        "SELECT e.track_id, t.path, e.dim, e.vector FROM embeddings e "
        "JOIN tracks t ON t.id = e.track_id WHERE t.status = 'ok' AND e.model = ?"
    )
    args: list = [model]
    if version is not None:
        sql += " AND e.model_version = ?"
        args.append(version)
    rows = conn.execute(sql + " ORDER BY e.track_id", args).fetchall()
    dims = {r["dim"] for r in rows}
    if len(dims) > 1:
        raise ValueError(f"embeddings of {model!r} have mixed dimensions {sorted(dims)}")
    dim = dims.pop() if dims else 0
    vectors = np.empty((len(rows), dim), dtype=np.float32)
    for i, r in enumerate(rows):
        vectors[i] = np.frombuffer(r["vector"], dtype="<f4")
    return [r["track_id"] for r in rows], [r["path"] for r in rows], vectors


def embedding_models(conn: sqlite3.Connection, track_id: str) -> dict[str, dict]:
    """``{model: {"version", "dim"}}`` of the vectors stored for one track."""
    return {
        r["model"]: {"version": r["model_version"], "dim": r["dim"]}
        for r in conn.execute(
            "SELECT model, model_version, dim FROM embeddings WHERE track_id = ? ORDER BY model",
            (track_id,),
        )
    }


def embedding_counts(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """``{model: {model_version: n_tracks}}`` over healthy tracks."""
    out: dict[str, dict[str, int]] = {}
    for r in conn.execute(
        "SELECT e.model, e.model_version, COUNT(*) AS n FROM embeddings e "
        "JOIN tracks t ON t.id = e.track_id WHERE t.status = 'ok' "
        "GROUP BY e.model, e.model_version ORDER BY e.model"
    ):
        out.setdefault(r["model"], {})[r["model_version"]] = r["n"]
    return out


# -- tags -----------------------------------------------------------------------------


def replace_tags(
    conn: sqlite3.Connection, track_id: str, model: str, tags: Iterable[tuple[str, float]]
) -> None:
    """Replace a track's tags by ``model`` with ``(tag, probability)`` pairs (0..1)."""
    conn.execute("DELETE FROM tags WHERE track_id = ? AND model = ?", (track_id, model))
    conn.executemany(
        "INSERT INTO tags(track_id, model, tag, probability) VALUES (?, ?, ?, ?)",
        [(track_id, model, tag, float(p)) for tag, p in tags],
    )


def track_tags(conn: sqlite3.Connection, track_id: str) -> dict[str, dict[str, float]]:
    """``{model: {tag: probability}}`` of one track, most probable first per model."""
    out: dict[str, dict[str, float]] = {}
    for r in conn.execute(
        "SELECT model, tag, probability FROM tags WHERE track_id = ? "
        "ORDER BY model, probability DESC, tag",
        (track_id,),
    ):
        out.setdefault(r["model"], {})[r["tag"]] = r["probability"]
    return out
