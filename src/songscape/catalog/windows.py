"""Window vectors (segment-level embeddings, issue 20): every SQL statement.

``window_vectors`` holds, per track and model, the model's embedding pooled over
overlapping windows of the track (:mod:`songscape.models.windows`): the window starts
(float32 seconds) and the vectors (float32, ``n_windows x dim``, row-major) as two
BLOBs, with the model version that made them, which must be the version of the track's
own vector of that model (``songscape check`` says so when not). The rows go with their
track (``ON DELETE CASCADE``).

The window index (:mod:`songscape.search.window_index`) addresses one window by a
*window id*, ``<track id>@<start in ms>`` (:func:`window_id`); :func:`read_window_vectors`
(:mod:`songscape.catalog.window_reads`) reads them like
:func:`songscape.catalog.vectors.read_vectors` reads track vectors.

Writers run inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator

import numpy as np

#: Track ids per ``IN (...)`` list (as :data:`songscape.catalog.vectors.ID_BATCH`).
ID_BATCH = 500

#: Separates the track id from the window start (ms) in a window id.
WINDOW_ID_SEP = "@"

_HEALTHY = (
    " FROM window_vectors w JOIN tracks t ON t.id = w.track_id "
    "WHERE t.status = 'ok' AND w.model = ? AND w.model_version = ?"
)


def migrate(conn: sqlite3.Connection) -> None:
    """Schema migration (issue 20, segment-level embeddings): ``window_vectors``."""
    conn.executescript(
        """
        CREATE TABLE window_vectors (
            track_id       TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            model          TEXT NOT NULL,
            model_version  TEXT NOT NULL,
            window_s       REAL NOT NULL,
            hop_s          REAL NOT NULL,
            n_windows      INTEGER NOT NULL,
            dim            INTEGER NOT NULL,
            starts         BLOB NOT NULL,
            vectors        BLOB NOT NULL,
            PRIMARY KEY (track_id, model)
        );
        """
    )


# -- window ids ------------------------------------------------------------------------


def window_id(track_id: str, start_s: float) -> str:
    """``<track id>@<start in whole ms>``: how the window index names one window."""
    return f"{track_id}{WINDOW_ID_SEP}{int(round(float(start_s) * 1000))}"


def split_window_id(wid: str) -> tuple[str, float]:
    """``(track id, start in seconds)`` of a window id."""
    track_id, _, ms = wid.rpartition(WINDOW_ID_SEP)
    return track_id, int(ms) / 1000.0


# -- one track -------------------------------------------------------------------------


def put_windows(
    conn: sqlite3.Connection,
    track_id: str,
    model: str,
    model_version: str,
    starts_s: np.ndarray,
    vectors: np.ndarray,
    window_s: float,
    hop_s: float,
) -> None:
    """Store (or replace) a track's window vectors of ``model``.

    Raises
    ------
    ValueError
        ``starts_s`` and ``vectors`` disagree in length, or ``vectors`` is not 2-D.
    """
    starts = np.ascontiguousarray(starts_s, dtype="<f4")
    x = np.ascontiguousarray(vectors, dtype="<f4")
    if x.ndim != 2 or len(starts) != len(x):
        raise ValueError(f"{len(starts)} window starts for vectors of shape {x.shape}")
    conn.execute(
        "INSERT INTO window_vectors(track_id, model, model_version, window_s, hop_s, "
        "n_windows, dim, starts, vectors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(track_id, model) DO UPDATE SET model_version = excluded.model_version, "
        "window_s = excluded.window_s, hop_s = excluded.hop_s, "
        "n_windows = excluded.n_windows, dim = excluded.dim, starts = excluded.starts, "
        "vectors = excluded.vectors",
        (track_id, model, model_version, float(window_s), float(hop_s), len(x),
         int(x.shape[1]), starts.tobytes(), x.tobytes()),
    )  # fmt: skip


def track_windows(
    conn: sqlite3.Connection, track_id: str, model: str
) -> tuple[np.ndarray, np.ndarray, str] | None:
    """``(starts_s, vectors, model_version)`` of one track's windows of ``model``, or None."""
    row = conn.execute(
        "SELECT model_version, n_windows, dim, starts, vectors FROM window_vectors "
        "WHERE track_id = ? AND model = ?",
        (track_id, model),
    ).fetchone()
    if row is None:
        return None
    starts = np.frombuffer(row["starts"], dtype="<f4").astype(np.float32)
    x = np.frombuffer(row["vectors"], dtype="<f4").astype(np.float32)
    return starts, x.reshape(row["n_windows"], row["dim"]), row["model_version"]


def window_geometry(
    conn: sqlite3.Connection, track_id: str, model: str
) -> tuple[float, float] | None:
    """``(window_s, hop_s)`` of one track's windows of ``model``, or None."""
    row = conn.execute(
        "SELECT window_s, hop_s FROM window_vectors WHERE track_id = ? AND model = ?",
        (track_id, model),
    ).fetchone()
    return None if row is None else (float(row["window_s"]), float(row["hop_s"]))


def delete_windows(conn: sqlite3.Connection, track_id: str, model: str) -> None:
    conn.execute("DELETE FROM window_vectors WHERE track_id = ? AND model = ?", (track_id, model))


# -- all tracks (the window index) -------------------------------------------------------


def _rows(
    conn: sqlite3.Connection, model: str, version: str, track_ids: list[str] | None
) -> Iterator[sqlite3.Row]:
    cols = "SELECT w.track_id, w.n_windows, w.dim, w.starts, w.vectors"
    if track_ids is None:
        yield from conn.execute(cols + _HEALTHY + " ORDER BY w.track_id", (model, version))
        return
    for i in range(0, len(track_ids), ID_BATCH):
        chunk = track_ids[i : i + ID_BATCH]
        yield from conn.execute(
            cols + _HEALTHY + f" AND w.track_id IN ({','.join('?' * len(chunk))})",
            (model, version, *chunk),
        )


def iter_window_blobs(
    conn: sqlite3.Connection, model: str, version: str, track_ids: list[str] | None = None
) -> Iterator[tuple[str, int, bytes]]:
    """``(window id, dim, vector bytes)`` of every window of the healthy tracks' rows of
    ``model`` and ``version`` (of ``track_ids`` only, when given)."""
    for r in _rows(conn, model, version, track_ids):
        dim, n = int(r["dim"]), int(r["n_windows"])
        starts = np.frombuffer(r["starts"], dtype="<f4")
        blob = r["vectors"]
        if len(starts) != n or len(blob) != 4 * n * dim:
            continue  # a damaged row: `songscape check` reports it
        step = 4 * dim
        for j in range(n):
            yield window_id(r["track_id"], starts[j]), dim, blob[j * step : (j + 1) * step]


def count_windows(conn: sqlite3.Connection, model: str, version: str) -> int:
    """How many windows the healthy tracks have of ``model`` made by ``version``."""
    row = conn.execute("SELECT COALESCE(SUM(w.n_windows), 0)" + _HEALTHY, (model, version))
    return int(row.fetchone()[0])


def dominant_window_dim(conn: sqlite3.Connection, model: str, version: str) -> int:
    """The most common dimension of ``model``'s healthy window rows (0: none)."""
    row = conn.execute(
        "SELECT w.dim, COUNT(*) AS c" + _HEALTHY + " GROUP BY 1 ORDER BY c DESC LIMIT 1",
        (model, version),
    ).fetchone()
    return int(row[0]) if row else 0


def window_stats(conn: sqlite3.Connection) -> dict[str, dict[str, dict[str, int]]]:
    """``{model: {model_version: {"tracks", "windows"}}}`` over healthy tracks."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for r in conn.execute(
        "SELECT w.model, w.model_version, COUNT(*) AS n, SUM(w.n_windows) AS windows "
        "FROM window_vectors w JOIN tracks t ON t.id = w.track_id WHERE t.status = 'ok' "
        "GROUP BY w.model, w.model_version ORDER BY w.model"
    ):
        out.setdefault(r["model"], {})[r["model_version"]] = {
            "tracks": int(r["n"]), "windows": int(r["windows"])}  # fmt: skip
    return out


# -- consistency (songscape check) ---------------------------------------------------------


def mismatched_windows(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """``(track_id, model, problem)`` of window rows that disagree with their track: no
    track vector of that model, another model version or dimension than the track
    vector, or bytes that do not fit ``n_windows x dim`` float32s."""
    out = []
    for r in conn.execute(
        "SELECT w.track_id, w.model, w.model_version, w.dim, w.n_windows, "
        "length(w.starts) AS ns, length(w.vectors) AS nv, e.model_version AS ev, "
        "e.dim AS ed FROM window_vectors w LEFT JOIN embeddings e "
        "ON e.track_id = w.track_id AND e.model = w.model ORDER BY w.track_id, w.model"
    ):
        if r["ev"] is None:
            problem = "window vectors without a track vector of that model"
        elif r["ev"] != r["model_version"]:
            problem = f"window vectors of version {r['model_version']}, track vector {r['ev']}"
        elif r["ed"] != r["dim"]:
            problem = f"window vectors of dimension {r['dim']}, track vector {r['ed']}"
        elif r["n_windows"] < 1 or r["ns"] != 4 * r["n_windows"] or (
            r["nv"] != 4 * r["n_windows"] * r["dim"]
        ):
            problem = f"{r['nv']} bytes for {r['n_windows']} windows of dimension {r['dim']}"
        else:
            continue
        out.append((r["track_id"], r["model"], problem))
    return out


def delete_window_rows(conn: sqlite3.Connection, rows: Iterable[tuple[str, str]]) -> None:
    """Delete the ``(track_id, model)`` window rows."""
    conn.executemany("DELETE FROM window_vectors WHERE track_id = ? AND model = ?", list(rows))
