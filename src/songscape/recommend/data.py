"""Listening events as a sparse user x item matrix, readers for common formats, data hygiene.

An :class:`Interactions` holds play *counts* (``matrix``, CSR, float32, users x items, every
stored value > 0) and optionally a *timestamp* per (user, item) pair (``timestamps``, CSR with
exactly the same sparsity pattern; the latest timestamp when a pair occurs several times).
Repeated (user, item) rows are merged: counts add up.

Readers raise :class:`ValueError` naming the file and line number for a malformed row.

Data hygiene (:func:`clean`, after the Clova talk: abusive or degenerate users distort CF):

* ``min_interactions`` (default 5): drop users with fewer distinct items than this;
* ``max_plays_quantile`` (default 0.999): drop "over-clickers", users whose total play count
  is above this quantile of all users' totals (``None`` keeps everyone);
* ``top_n_only`` (default 100): drop users *all* of whose items are among the N most popular
  items (by number of listeners); such users carry no taste signal (``None`` or 0 disables;
  so does an N at least the catalog size, where it would drop everyone).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

DEFAULT_MIN_INTERACTIONS = 5
DEFAULT_MAX_PLAYS_QUANTILE = 0.999
DEFAULT_TOP_N_ONLY = 100


@dataclass
class Interactions:
    users: list[str]
    items: list[str]
    matrix: sp.csr_matrix
    timestamps: sp.csr_matrix | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.matrix.shape != (len(self.users), len(self.items)):
            raise ValueError(
                f"matrix shape {self.matrix.shape} != ({len(self.users)}, {len(self.items)})"
            )
        if self.timestamps is not None and self.timestamps.nnz != self.matrix.nnz:
            raise ValueError("timestamps must have the same sparsity pattern as the matrix")

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    @classmethod
    def from_triples(
        cls,
        users: list[str],
        items: list[str],
        counts: list[float] | np.ndarray | None = None,
        timestamps: list[float] | np.ndarray | None = None,
    ) -> Interactions:
        """Build from parallel lists of user ids, item ids, counts (default 1) and timestamps."""
        if len(users) != len(items):
            raise ValueError("users and items must have the same length")
        user_ids, u = np.unique(np.asarray(users, dtype=str), return_inverse=True)
        item_ids, i = np.unique(np.asarray(items, dtype=str), return_inverse=True)
        n = len(users)
        c = np.ones(n) if counts is None else np.asarray(counts, dtype=np.float64)
        if len(c) != n:
            raise ValueError("counts must have the same length as users")
        if n and np.any(~np.isfinite(c) | (c <= 0)):
            raise ValueError("counts must be finite and > 0")
        ts = None if timestamps is None else np.asarray(timestamps, dtype=np.float64)
        shape = (len(user_ids), len(item_ids))
        key = u.astype(np.int64) * max(shape[1], 1) + i
        order = np.argsort(key, kind="stable")
        key = key[order]
        uniq, start = np.unique(key, return_index=True)
        rows, cols = uniq // max(shape[1], 1), uniq % max(shape[1], 1)
        data = np.add.reduceat(c[order], start) if n else np.zeros(0)
        matrix = sp.csr_matrix((data.astype(np.float32), (rows, cols)), shape=shape)
        tmat = None
        if ts is not None:
            tdata = np.maximum.reduceat(ts[order], start) if n else np.zeros(0)
            tmat = sp.csr_matrix((tdata, (rows, cols)), shape=shape)
        return cls([str(x) for x in user_ids], [str(x) for x in item_ids], matrix, tmat)

    def subset_users(self, keep: np.ndarray) -> Interactions:
        """Keep the users where the boolean mask ``keep`` is True, then drop unused items."""
        keep = np.asarray(keep, dtype=bool)
        m = self.matrix[keep]
        t = self.timestamps[keep] if self.timestamps is not None else None
        used = np.asarray((m > 0).sum(axis=0)).ravel() > 0
        m = m[:, used].tocsr()
        t = t[:, used].tocsr() if t is not None else None
        users = [x for x, k in zip(self.users, keep, strict=True) if k]
        items = [x for x, k in zip(self.items, used, strict=True) if k]
        return Interactions(users, items, m, t, dict(self.meta))


# -- readers -------------------------------------------------------------------------


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {what} is not a number: {text!r}") from None
    if not np.isfinite(value):
        raise ValueError(f"{where}: {what} is not finite: {text!r}")
    return value


def _count(text: str, where: str) -> float:
    value = _number(text, "count", where)
    if value <= 0:
        raise ValueError(f"{where}: count must be > 0, got {text!r}")
    return value


def read_hetrec(path: str | Path) -> Interactions:
    """Read HetRec 2011 Last.fm ``user_artists.dat``: tab-separated ``userID artistID weight``
    with a header row; weight is the play count (CRLF line ends are accepted)."""
    path = Path(path)
    users, items, counts = [], [], []
    with open(path, encoding="utf-8", newline="") as f:
        header = f.readline().strip().split("\t")
        if header[:3] != ["userID", "artistID", "weight"]:
            raise ValueError(
                f"{path}:1: expected header 'userID<TAB>artistID<TAB>weight', got {header!r}"
            )
        for lineno, line in enumerate(f, start=2):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            where = f"{path}:{lineno}"
            if len(parts) != 3:
                raise ValueError(f"{where}: expected 3 tab-separated fields, got {len(parts)}")
            if not parts[0] or not parts[1]:
                raise ValueError(f"{where}: empty user or artist id")
            users.append(parts[0])
            items.append(parts[1])
            counts.append(_count(parts[2], where))
    inter = Interactions.from_triples(users, items, counts)
    inter.meta.update(source=str(path), format="hetrec", rows=len(users))
    return inter


def read_csv(path: str | Path) -> Interactions:
    """Read a CSV with a header naming ``user,item`` and optionally ``count``, ``timestamp``
    (numeric, e.g. Unix seconds). Tab-separated files (``.tsv``) are accepted too."""
    path = Path(path)
    users, items, counts, stamps = [], [], [], []
    with open(path, encoding="utf-8", newline="") as f:
        sample = f.readline()
        f.seek(0)
        delimiter = "\t" if "\t" in sample and "," not in sample else ","
        reader = csv.reader(f, delimiter=delimiter)
        header = [h.strip().lower() for h in next(reader, [])]
        if "user" not in header or "item" not in header:
            raise ValueError(f"{path}:1: header must name 'user' and 'item' columns, got {header}")
        cu, ci = header.index("user"), header.index("item")
        cc = header.index("count") if "count" in header else None
        ct = header.index("timestamp") if "timestamp" in header else None
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if not row or all(not x.strip() for x in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"{where}: expected {len(header)} fields, got {len(row)}")
            if not row[cu].strip() or not row[ci].strip():
                raise ValueError(f"{where}: empty user or item")
            users.append(row[cu].strip())
            items.append(row[ci].strip())
            counts.append(_count(row[cc], where) if cc is not None else 1.0)
            if ct is not None:
                stamps.append(_number(row[ct], "timestamp", where))
    inter = Interactions.from_triples(users, items, counts, stamps if ct is not None else None)
    inter.meta.update(source=str(path), format="csv", rows=len(users))
    return inter


def read_jsonl(path: str | Path) -> Interactions:
    """Read JSON Lines: one object per line with ``user``, ``item`` and optionally ``count``,
    ``timestamp`` (numeric). Timestamps must be on every row or on none."""
    path = Path(path)
    users, items, counts, stamps = [], [], [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{where}: invalid JSON: {err.msg}") from None
            if not isinstance(obj, dict) or "user" not in obj or "item" not in obj:
                raise ValueError(f"{where}: expected an object with 'user' and 'item'")
            users.append(str(obj["user"]))
            items.append(str(obj["item"]))
            counts.append(_count(str(obj.get("count", 1)), where))
            if "timestamp" in obj:
                stamps.append(_number(str(obj["timestamp"]), "timestamp", where))
            if stamps and len(stamps) != len(users):
                raise ValueError(f"{where}: timestamp must be on every row or on none")
    inter = Interactions.from_triples(users, items, counts, stamps or None)
    inter.meta.update(source=str(path), format="jsonl", rows=len(users))
    return inter


READERS = {"hetrec": read_hetrec, "csv": read_csv, "jsonl": read_jsonl}


def read_events(path: str | Path, fmt: str) -> Interactions:
    if fmt not in READERS:
        raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(READERS)})")
    return READERS[fmt](path)


# -- hygiene -------------------------------------------------------------------------


def clean(
    inter: Interactions,
    min_interactions: int = DEFAULT_MIN_INTERACTIONS,
    max_plays_quantile: float | None = DEFAULT_MAX_PLAYS_QUANTILE,
    top_n_only: int | None = DEFAULT_TOP_N_ONLY,
) -> tuple[Interactions, dict]:
    """Drop degenerate users (see the module docstring); returns (cleaned, report)."""
    m = inter.matrix
    n_items_per_user = np.diff(m.indptr)
    totals = np.asarray(m.sum(axis=1)).ravel()
    keep = n_items_per_user >= min_interactions
    report = {"users_in": inter.n_users, "too_few": int((~keep).sum())}
    over = np.zeros(inter.n_users, dtype=bool)
    if max_plays_quantile is not None and inter.n_users:
        if not 0 < max_plays_quantile <= 1:
            raise ValueError("max_plays_quantile must be in (0, 1]")
        over = totals > np.quantile(totals, max_plays_quantile)
    report["over_clickers"] = int((over & keep).sum())
    keep &= ~over
    top_only = np.zeros(inter.n_users, dtype=bool)
    if top_n_only and top_n_only < inter.n_items:  # (N >= catalog would drop everyone)
        listeners = np.diff(m.tocsc().indptr)
        top = np.zeros(inter.n_items, dtype=bool)
        top[np.argsort(-listeners, kind="stable")[:top_n_only]] = True
        in_top = np.asarray(m.astype(bool).astype(np.int32) @ top.astype(np.int32)).ravel()
        top_only = (in_top == n_items_per_user) & (n_items_per_user > 0)
    report["top_n_only"] = int((top_only & keep).sum())
    keep &= ~top_only
    out = inter.subset_users(keep)
    report["users_out"] = out.n_users
    report["thresholds"] = {
        "min_interactions": min_interactions,
        "max_plays_quantile": max_plays_quantile,
        "top_n_only": top_n_only,
    }
    return out, report


def read_hetrec_artists(directory: str | Path) -> dict[str, str]:
    """``{artistID: name}`` from HetRec's ``artists.dat`` (``id name url pictureURL``,
    tab-separated, with a header). Rows without an id or a name are skipped; undecodable
    bytes are replaced. Raises OSError when the file cannot be read."""
    out = {}
    with open(Path(directory) / "artists.dat", encoding="utf-8", errors="replace",
              newline="") as f:  # fmt: skip
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader, None)
        for row in reader:
            if len(row) >= 2 and row[0].strip() and row[1].strip():
                out[row[0].strip()] = row[1].strip()
    return out
