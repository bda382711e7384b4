"""The in-memory half of the vector index: a faiss index whose labels are row numbers,
the table saying which track each row is, and the searches over it (exact, ANN, filtered).

:class:`RowIndex` knows nothing of the catalog or of files; :class:`~songscape.search.
index.VectorIndex` keeps it in step with the catalog and :mod:`songscape.search.
index_files` persists it. Queries reach it as unit rows, so inner product = cosine.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from songscape.errors import VectorIndexError
from songscape.search.index_params import IndexParams, ivfpq_nprobe, new_faiss_index

#: Candidate sets up to this size are searched exactly (brute force over their vectors)
#: instead of through a filtered ANN search, whose recall collapses on narrow filters.
EXACT_SUBSET_MAX = 20_000
#: At most this many excluded ids are handled by over-fetching; more become a selector.
EXCLUDE_OVERFETCH_MAX = 64


@contextlib.contextmanager
def omp_threads(n: int) -> Iterator[None]:
    """Run faiss with ``n`` OpenMP threads (0: every core) inside the block.

    The setting is process-wide, so it is restored afterwards.
    """
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n if n > 0 else (os.cpu_count() or 1))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class RowFile:
    """Float32 vectors by row (label) for IVF-PQ re-ranking: a memory-mapped file prefix
    (``base``) plus rows appended in memory since it was written (``extra``)."""

    def __init__(self, dim: int, base: np.ndarray | None = None, path: Path | None = None):
        self.dim = dim
        self.base = base if base is not None else np.empty((0, dim), np.float32)
        self.path = path  # the file ``base`` maps (None: in memory only)
        self.extra: list[np.ndarray] = []
        self._extra_arr: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.base) + sum(len(e) for e in self.extra)

    def append(self, x: np.ndarray) -> None:
        if len(x):
            self.extra.append(np.ascontiguousarray(x, dtype=np.float32))
            self._extra_arr = None

    def get(self, labels: np.ndarray) -> np.ndarray:
        nb = len(self.base)
        if not self.extra or (len(labels) and labels.max() < nb):
            return np.asarray(self.base[labels], dtype=np.float32)
        if self._extra_arr is None:
            self._extra_arr = np.concatenate(self.extra)
        out = np.empty((len(labels), self.dim), np.float32)
        low = labels < nb
        out[low] = self.base[labels[low]]
        out[~low] = self._extra_arr[labels[~low] - nb]
        return out


@dataclass
class Selector:
    """A faiss IDSelectorBitmap over row labels (the bit array must outlive it)."""

    sel: Any
    bits: np.ndarray
    count: int

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> Selector:
        bits = np.packbits(mask, bitorder="little")
        return cls(faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), bits, int(mask.sum()))


def pad_results(D: np.ndarray, I: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: E741
    """Pad result arrays to ``k`` columns with (-inf, -1)."""
    if D.shape[1] >= k:
        return D, I
    pad = ((0, 0), (0, k - D.shape[1]))
    return np.pad(D, pad, constant_values=-np.inf), np.pad(I, pad, constant_values=-1)


class RowIndex:
    """A faiss index over rows ``0..len(row_ids)-1`` and the track id of each row.

    Each added vector gets the next row number as its faiss label. Removing a row
    blanks its track id (``""``); exact and IVF-PQ indexes drop it from faiss too, an HNSW
    graph cannot, so there the row stays as a *tombstone* filtered out at query time.

    Attributes
    ----------
    kind : str
        ``"exact"``, ``"hnsw"`` or ``"ivfpq"``.
    dim : int
        Vector dimension.
    index : faiss.Index or None
        None while nothing could be indexed (no dimension known).
    row_ids : list of str
        Track id by row ("" once removed).
    row_sums : np.ndarray of uint64
        Checksum of each row's catalog bytes (how a changed vector is seen).
    live : np.ndarray of bool
        Rows not removed.
    label_of : dict of str to int
        Row of each indexed track.
    removed : int
        Rows removed since the build.
    rows : RowFile or None
        The float vectors by row (IVF-PQ only: its codes are lossy).
    ntrain : int
        Vectors the IVF-PQ index was built over (0 for other kinds).
    """

    def __init__(
        self,
        kind: str,
        dim: int,
        index: Any,
        row_ids: list[str],
        row_sums: np.ndarray,
        rows: RowFile | None = None,
        ntrain: int = 0,
    ):
        self.kind = kind
        self.dim = dim
        self.index = index
        self.row_ids = row_ids
        self.row_sums = row_sums
        self.live = np.fromiter((bool(t) for t in row_ids), dtype=bool, count=len(row_ids))
        self.label_of = {t: i for i, t in enumerate(row_ids) if t}
        self.removed = len(row_ids) - int(self.live.sum())
        self.rows = rows
        self.ntrain = ntrain
        self._live_sel: Selector | None = None

    @classmethod
    def empty(cls, dim: int) -> RowIndex:
        """Nothing indexed yet (an exact index of dimension ``dim`` once built)."""
        return cls("exact", dim, None, [], np.zeros(0, np.uint64))

    @classmethod
    def build(
        cls,
        kind: str,
        dim: int,
        ids: list[str],
        sums: np.ndarray,
        vectors: np.ndarray,
        params: IndexParams,
    ) -> RowIndex:
        """A new index of ``kind`` holding ``vectors`` (unit rows) of tracks ``ids``, built
        with ``params.build_threads`` threads."""
        rows = RowFile(dim) if kind == "ivfpq" else None
        with omp_threads(params.build_threads):
            index = new_faiss_index(kind, dim, vectors, params) if dim else None
            ntrain = len(vectors) if kind == "ivfpq" and dim else 0
            table = cls(kind, dim, index, [], np.zeros(0, np.uint64), rows, ntrain)
            table.add(ids, sums, vectors)
        return table

    @property
    def n(self) -> int:
        """Number of searchable vectors (live rows)."""
        return len(self.label_of)

    # -- changes -----------------------------------------------------------------------
    def add(self, ids: list[str], sums: np.ndarray, vectors: np.ndarray) -> None:
        """Append rows for tracks ``ids`` with their checksums and unit vectors."""
        if not ids:
            return
        start = len(self.row_ids)
        labels = np.arange(start, start + len(ids), dtype=np.int64)
        if self.kind == "hnsw":
            if self.index.ntotal != start:  # labels are positions in an HNSW graph
                raise VectorIndexError("HNSW index rows are out of step with its id table")
            self.index.add(vectors)
        else:
            self.index.add_with_ids(vectors, labels)
            if self.rows is not None:
                self.rows.append(vectors)
        self.row_ids.extend(ids)
        self.row_sums = np.concatenate([self.row_sums, sums.astype(np.uint64)])
        self.live = np.concatenate([self.live, np.ones(len(ids), bool)])
        self.label_of.update(zip(ids, labels.tolist(), strict=True))
        self._live_sel = None

    def remove(self, labels: list[int]) -> None:
        """Remove rows (HNSW: tombstone them)."""
        if not labels:
            return
        arr = np.array(labels, dtype=np.int64)
        if self.kind != "hnsw":
            self.index.remove_ids(faiss.IDSelectorBatch(arr))
        # HNSW: the row stays in the graph as a tombstone, filtered out at query time.
        for label in labels:
            self.label_of.pop(self.row_ids[label], None)
            self.row_ids[label] = ""
        self.live[arr] = False
        self.removed += len(labels)
        self._live_sel = None

    # -- search ------------------------------------------------------------------------
    def search(
        self,
        q: np.ndarray,
        k: int,
        exclude: set[str] | None,
        allowed: set[str] | None,
        params: IndexParams,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows of each query (unit rows, shape (nq, dim)): ``(scores, labels)``,
        both (nq, k), padded with (-inf, -1). ``exclude`` and ``allowed`` are track ids
        (see :meth:`VectorIndex.search <songscape.search.index.VectorIndex.search>`)."""
        excl = self.labels(exclude) if exclude else np.zeros(0, np.int64)
        tombstones = self.kind == "hnsw" and self.removed > 0
        with omp_threads(params.threads):
            if allowed is not None:
                cand = self.labels(allowed)
                if len(excl):
                    cand = np.setdiff1d(cand, excl, assume_unique=True)
                if len(cand) <= EXACT_SUBSET_MAX:
                    return self._exact_over(q, cand, k)
                mask = np.zeros(len(self.row_ids), bool)
                mask[cand] = True
                return self._filtered(q, k, Selector.from_mask(mask), cand, params)
            if len(excl) > EXCLUDE_OVERFETCH_MAX or (tombstones and len(excl)):
                mask = self.live.copy()
                mask[excl] = False
                return self._filtered(q, k, Selector.from_mask(mask), None, params)
            if tombstones:
                if self._live_sel is None:
                    self._live_sel = Selector.from_mask(self.live)
                return self._filtered(q, k, self._live_sel, None, params)
            kk = min(k + len(excl), self.n)
            D, I = self._ann(q, kk, None, params)  # noqa: E741
            if len(excl):
                drop = np.isin(I, excl)
                order = np.argsort(drop, axis=1, kind="stable")  # kept ones first, in order
                D = np.where(drop, -np.inf, D)
                I = np.where(drop, -1, I)  # noqa: E741
                D = np.take_along_axis(D, order, axis=1)
                I = np.take_along_axis(I, order, axis=1)  # noqa: E741
            return pad_results(D[:, :k], I[:, :k], k)

    def labels(self, ids: Iterable[str]) -> np.ndarray:
        """The rows of those track ids that are indexed, sorted."""
        get = self.label_of.get
        labels = [label for label in map(get, ids) if label is not None]
        return np.array(sorted(labels), dtype=np.int64)

    def vectors_of(self, labels: np.ndarray) -> np.ndarray:
        """The float vectors of rows ``labels``, shape (len(labels), dim)."""
        if len(labels) == 0:
            return np.empty((0, self.dim), np.float32)
        if self.rows is not None:
            return self.rows.get(labels)
        return self.index.reconstruct_batch(labels)

    def _exact_over(
        self, q: np.ndarray, labels: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Brute-force top-``k`` of each query over the given rows."""
        nq = len(q)
        kk = min(k, len(labels))
        D = np.zeros((nq, 0), np.float32)
        I = np.zeros((nq, 0), np.int64)  # noqa: E741
        step = max(1024, (1 << 24) // max(nq, 1))  # <= 64 MB of scores at a time
        for s in range(0, len(labels), step):
            part = labels[s : s + step]
            D = np.concatenate([D, q @ self.vectors_of(part).T], axis=1)
            I = np.concatenate([I, np.broadcast_to(part, (nq, len(part)))], axis=1)  # noqa: E741
            if D.shape[1] > kk:
                top = np.argpartition(-D, kk - 1, axis=1)[:, :kk]
                D = np.take_along_axis(D, top, axis=1)
                I = np.take_along_axis(I, top, axis=1)  # noqa: E741
        order = np.argsort(-D, axis=1, kind="stable")
        return pad_results(
            np.take_along_axis(D, order, axis=1), np.take_along_axis(I, order, axis=1), k
        )

    def _ann(
        self, q: np.ndarray, k: int, sel: Selector | None, params: IndexParams
    ) -> tuple[np.ndarray, ...]:
        """faiss search for ``k`` rows per query (by inner product), only among the rows
        ``sel`` lets through; IVF-PQ candidates are re-scored exactly."""
        s = sel.sel if sel is not None else None
        if self.kind == "exact":
            return self.index.search(q, k, params=faiss.SearchParameters(sel=s) if s else None)
        if self.kind == "hnsw":
            hnsw = faiss.SearchParametersHNSW(efSearch=max(params.hnsw_ef_search, k))
            hnsw.bounded_queue = True  # an unbounded queue ignores sel (faiss#5504)
            if s is not None:
                hnsw.sel = s
            return self.index.search(q, k, params=hnsw)
        ivf = faiss.extract_index_ivf(self.index)
        ivf_params = faiss.SearchParametersIVF(nprobe=ivfpq_nprobe(ivf.nlist, params))
        if s is not None:
            ivf_params.sel = s
        _, cand = self.index.search(q, k * params.rerank, params=ivf_params)
        D = np.full((len(q), k), -np.inf, np.float32)
        I = np.full((len(q), k), -1, np.int64)  # noqa: E741
        for i in range(len(q)):
            c = cand[i][cand[i] >= 0]
            if len(c):
                sims = self.vectors_of(c) @ q[i]
                order = np.argsort(-sims, kind="stable")[:k]
                D[i, : len(order)] = sims[order]
                I[i, : len(order)] = c[order]
        return D, I

    def _filtered(
        self,
        q: np.ndarray,
        k: int,
        sel: Selector,
        cand: np.ndarray | None,
        params: IndexParams,
    ) -> tuple[np.ndarray, np.ndarray]:
        """ANN search among the rows ``sel`` lets through; queries that come back with
        fewer than ``min(k, |rows|)`` results are redone exactly."""
        kk = min(k, sel.count)
        if kk == 0:
            empty = np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
            return pad_results(*empty, k)
        D, I = self._ann(q, kk, sel, params)  # noqa: E741
        D, I = np.array(D[:, :kk]), np.array(I[:, :kk])  # noqa: E741
        short = np.flatnonzero((I >= 0).sum(axis=1) < kk)
        if len(short):
            if cand is None:
                cand = np.flatnonzero(np.unpackbits(sel.bits, bitorder="little")[: len(self.live)])
            D2, I2 = self._exact_over(q[short], cand.astype(np.int64), kk)
            D[short], I[short] = D2, I2
        return pad_results(D, I, k)
