"""A persistent nearest-neighbour index over one model's track embeddings (faiss).

The catalog (:class:`~songscape.catalog.store.LibraryStore`) stays the source of truth;
the index is a cache beside it, at ``<library>/index/<model>/``, that is kept in step
with the catalog and rebuilt from it whenever it cannot be trusted.

Similarity
    Every vector (catalog rows and queries) is L2-normalised, so the inner product the
    index ranks by is the cosine similarity, and that is the score :meth:`VectorIndex.search`
    returns (a float in [-1, 1], higher is more similar). Zero vectors stay zero.

Kinds (:class:`IndexParams`, ``kind="auto"`` picks by the number ``n`` of vectors)
    ``"exact"`` (brute force, up to 50,000 vectors), ``"hnsw"`` (a graph, up to
    5,000,000; removed rows stay as *tombstones* until a rebuild) and ``"ivfpq"`` (PQ codes
    in RAM, exact re-ranking from a memory-mapped row file); see
    :mod:`~songscape.search.index_params` for what each costs and where the defaults come
    from. Past ``rebuild_fraction`` (20 %) removed or replaced rows the index is rebuilt
    from the catalog, inside the sync that crosses it.

Labels and change detection
    Each added vector gets a new row number (the faiss label); ``rows.<gen>.npz`` maps row
    -> track id ("" once removed) and keeps a 64-bit BLAKE2b checksum of the vector's
    catalog bytes. :meth:`VectorIndex.sync` reads the catalog's current vectors of this
    model and version (tracks with status 'ok') and diffs by track id *and* checksum:
    new tracks are added, gone ones removed, and a track whose vector bytes changed
    (re-analysed file) is removed and re-added under a new row. The diff only runs when
    ``store.catalog_version`` moved (or when forced, or after :meth:`VectorIndex.check`
    found drift), so an unchanged catalog costs one ``SELECT``.

Persistence and concurrency
    Crash-safe generations of files committed by replacing ``meta.json``, a
    ``fcntl.flock`` lock per folder, and a rebuild from the catalog whenever a file is
    missing, corrupt or of another model version: :mod:`~songscape.search.index_files`.
    A process that cannot write (read-only library, another writer busy) keeps its
    synced index in memory and tries again at the next sync.

Threads
    faiss's OpenMP thread count is process-wide: searches run with ``IndexParams.threads``
    (default 1, predictable latency next to other work), builds with
    ``IndexParams.build_threads``.

An instance is not thread-safe; use one per thread or guard it with a lock.

Modules
    This module keeps the index in step with the catalog (:class:`VectorIndex`);
    :mod:`~songscape.search.index_params` holds the parameters and kinds,
    :mod:`~songscape.search.index_rows` the faiss index and its row table (the searches),
    :mod:`~songscape.search.index_files` the files on disk, and
    :mod:`songscape.catalog.vectors` the catalog reads.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from songscape.catalog.store import LibraryStore
from songscape.catalog.vectors import VectorSnapshot, read_vectors
from songscape.errors import UnknownModelError, VectorIndexError
from songscape.models.registry import get_spec
from songscape.search.index_files import IndexFolder, index_dir
from songscape.search.index_params import IndexParams, desired_kind
from songscape.search.index_rows import RowIndex, omp_threads
from songscape.vectors import unit_rows

log = logging.getLogger(__name__)

__all__ = ["IndexParams", "VectorIndex", "VectorIndexError", "index_dir"]



def model_version_and_dim(model: str, version: str | None) -> tuple[str, int | None]:
    """The version to index ``model`` at (default: the registry's) and, when that is the
    registered version, its embedding size.

    Raises
    ------
    VectorIndexError
        An unregistered model without ``version``.
    """
    try:
        spec = get_spec(model)
    except UnknownModelError as err:
        if version is None:
            raise VectorIndexError(
                f"{err}; pass version= to index vectors of an unregistered model"
            ) from None
        return version, None
    if version is None or version == spec.version:
        return spec.version, spec.embedding_dim
    return version, None

class VectorIndex:
    """Nearest-neighbour search over one model's track embeddings, kept in step with
    the catalog and persisted beside it. Create with :meth:`open`.

    Attributes
    ----------
    last_build_reason : str or None
        Why this instance last built its index from the catalog (``"no index on disk"``,
        ``"corrupt index file ..."``, ``"model version changed ..."``, ``"... rows removed
        ..."``), or None when it was loaded from disk and never rebuilt.
    builds : int
        How many times this instance built its index from the catalog.
    """

    #: How rows are read from the catalog (``read_vectors``' signature) and where the
    #: files live; the window index (:mod:`~songscape.search.window_index`) swaps both.
    read_source = staticmethod(read_vectors)
    folder_of = staticmethod(index_dir)

    def __init__(
        self,
        store: LibraryStore,
        model: str,
        version: str,
        params: IndexParams,
        expected_dim: int | None,
        persist: bool,
        explicit_params: bool,
    ):
        self._store = store
        self._model = model
        self._version = version
        self._params = params
        self._explicit_params = explicit_params
        self._expected_dim = expected_dim
        self._folder = IndexFolder(self.folder_of(store, model), model, version, persist)
        self._table = RowIndex.empty(expected_dim or 0)
        self._catalog_version = -1
        self._generation = 0
        self._dirty = False
        self.last_build_reason: str | None = None
        self.builds = 0

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        store: LibraryStore,
        model: str,
        params: IndexParams | None = None,
        *,
        version: str | None = None,
        persist: bool = True,
    ) -> VectorIndex:
        """Load ``model``'s index from the library (or build it), then sync it.

        Parameters
        ----------
        store : LibraryStore
            The library (may be opened read-only).
        model : str
            Embedding model name, e.g. ``"musicnn-msd"``.
        params : IndexParams, optional
            None keeps the persisted parameters (the defaults for a new index). Given
            parameters that change the structure (``kind`` and
            :attr:`IndexParams.STRUCTURAL`) rebuild the index; search-time ones
            (``hnsw_ef_search``, ``ivf_nprobe``, ``rerank``, ``threads``) apply at once.
        version : str, optional
            Model version whose vectors are indexed; defaults to the registry's
            (``get_spec(model).version``). Required for models not in the registry.
        persist : bool
            Write the index beside the catalog when possible (default). False keeps it
            in memory only (a persisted index is still loaded).

        Raises
        ------
        VectorIndexError
            Unknown model without ``version``, or invalid parameters.
        """
        version, expected_dim = model_version_and_dim(model, version)
        self = cls(
            store, model, version, params or IndexParams(), expected_dim, persist,
            explicit_params=params is not None,
        )  # fmt: skip
        self._load_or_build()
        self.sync()
        return self

    # -- properties ------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """The kind actually built: ``"exact"``, ``"hnsw"`` or ``"ivfpq"``."""
        return self._table.kind

    @property
    def n(self) -> int:
        """Number of searchable vectors (live rows)."""
        return self._table.n

    @property
    def dim(self) -> int:
        """Vector dimension (0 while unknown: unregistered model with no vectors yet)."""
        return self._table.dim

    @property
    def model(self) -> str:
        return self._model

    @property
    def model_version(self) -> str:
        return self._version

    @property
    def params(self) -> IndexParams:
        return self._params

    @property
    def path(self) -> Path:
        """The index folder, ``<library>/index/<model>/``."""
        return self._folder.path

    @property
    def catalog_version(self) -> int:
        """The catalog version the index was last synced with (-1: never)."""
        return self._catalog_version

    @property
    def removed_rows(self) -> int:
        """Rows removed or replaced since the last build (HNSW: tombstones)."""
        return self._table.removed

    # -- catalog reads -----------------------------------------------------------------
    def _read_catalog(
        self, want: set[str] | None = None, vectors: bool = False, dim: int | None = None
    ) -> VectorSnapshot:
        """Read this model's healthy vectors in one snapshot (see
        :func:`~songscape.catalog.vectors.read_vectors`); rows of another dimension than
        ``dim`` (default: the index's; 0: the catalog's most common) are skipped."""
        snap = self.read_source(
            self._store, self._model, self._version,
            self._table.dim if dim is None else dim, want, vectors,
        )  # fmt: skip
        if snap.skipped:
            log.warning(
                "%d %s vectors in the catalog do not have dimension %d and are not indexed",
                snap.skipped, self._model, snap.dim,
            )  # fmt: skip
        return snap

    # -- build / load ------------------------------------------------------------------
    def _build(self, reason: str) -> None:
        """Build from the catalog's current vectors (in memory; the caller persists)."""
        started = time.perf_counter()
        # An unregistered model (no expected dimension) takes the catalog's.
        snap = self._read_catalog(vectors=True, dim=self._expected_dim or 0)
        assert snap.vectors is not None
        kind = desired_kind(self._params, len(snap.ids), None)
        self._table = RowIndex.build(
            kind, snap.dim, snap.ids, snap.sums, snap.vectors, self._params
        )
        self._catalog_version = snap.catalog_version
        self._generation = max(self._generation, self._folder.generation) + 1
        self._dirty = False
        self.builds += 1
        self.last_build_reason = reason
        log.info(
            "built %s index of %s (%d vectors) in %.1f s: %s",
            kind, self._model, len(snap.ids), time.perf_counter() - started, reason,
        )  # fmt: skip

    def _load_or_build(self) -> None:
        try:
            loaded = self._folder.load(
                self._expected_dim, self._params if self._explicit_params else None
            )
        except Exception as err:  # any unreadable file means: rebuild (logged), never crash
            loaded = f"unusable index on disk ({type(err).__name__}: {err})"
        if isinstance(loaded, str):
            if loaded != "no index on disk":
                log.warning("rebuilding the %s index: %s", self._model, loaded)
            self._build(loaded)
            self._persist()
            return
        if not self._explicit_params:
            self._params = loaded.params
        self._table = loaded.table
        self._catalog_version = loaded.catalog_version
        self._generation = loaded.generation

    def _persist(self, now: bool = False) -> bool:
        """Write the index to disk when allowed and possible; True if written now."""
        gen = self._folder.save(
            self._table, self._params, self._catalog_version, self._generation, now=now
        )
        if gen is None:
            return False
        self._generation = gen
        return True

    # -- sync / check --------------------------------------------------------------------
    def sync(self, force: bool = False) -> dict[str, Any]:
        """Bring the index in step with the catalog, and persist it when possible.

        The diff runs only when ``store.catalog_version`` moved since the last sync, when
        :meth:`check` found drift, or when ``force`` is true; otherwise this costs one
        ``SELECT``.

        Returns
        -------
        dict
            ``added``, ``removed``, ``updated`` (vectors re-added because their bytes
            changed), ``rebuilt`` (bool), ``persisted`` (written to disk now), ``n``
            (vectors) and ``catalog_version``.
        """
        out: dict[str, Any] = {"added": 0, "removed": 0, "updated": 0, "rebuilt": False,
                               "persisted": False}  # fmt: skip
        current = self._store.catalog_version
        if not force and not self._dirty and current == self._catalog_version:
            if self._generation != self._folder.generation:  # an earlier write failed
                out["persisted"] = self._persist()
            out.update(n=self.n, catalog_version=current)
            return out
        snap = self._read_catalog()
        table = self._table
        reason = None
        if table.index is None and snap.ids:
            reason = "first vectors in the catalog"
        elif self._expected_dim is None and snap.skipped and not snap.ids:
            reason = "vector dimension changed in the catalog"
        catalog = dict(zip(snap.ids, snap.sums.tolist(), strict=True))
        gone, changed = [], []
        for tid, label in table.label_of.items():
            s = catalog.get(tid)
            if s is None:
                gone.append(label)
            elif int(table.row_sums[label]) != s:
                changed.append(label)
        new = [tid for tid in snap.ids if tid not in table.label_of]
        out.update(added=len(new), removed=len(gone), updated=len(changed))
        rows_after = len(table.row_ids) + len(new) + len(changed)
        removed_after = table.removed + len(gone) + len(changed)
        desired = desired_kind(self._params, len(snap.ids), table.kind)
        if reason is not None:
            pass
        elif desired != table.kind:
            reason = f"{len(snap.ids)} vectors call for a {desired} index (not {table.kind})"
        elif removed_after > self._params.rebuild_fraction * max(rows_after, 1):
            reason = (
                f"{removed_after} of {rows_after} rows removed or replaced "
                f"(more than {self._params.rebuild_fraction:.0%})"
            )
        elif table.kind == "ivfpq" and len(snap.ids) > 4 * max(table.ntrain, 1):
            reason = f"{len(snap.ids)} vectors: 4x the {table.ntrain} the IVF-PQ was trained for"
        if reason is not None:
            self._build(reason)
            out["rebuilt"] = True
        else:
            readd = [table.row_ids[label] for label in changed]
            table.remove(gone + changed)
            fresh = self._read_catalog(want=set(new) | set(readd), vectors=True)
            assert fresh.vectors is not None
            with omp_threads(self._params.build_threads):
                table.add(fresh.ids, fresh.sums, fresh.vectors)
            # The snapshot's version: anything that changed after it is seen next time.
            self._catalog_version = snap.catalog_version
            self._dirty = False
            if gone or changed or new:
                self._generation = max(self._generation, self._folder.generation) + 1
        out["persisted"] = self._persist()
        out.update(n=self.n, catalog_version=self._catalog_version)
        return out

    def check(self) -> dict[str, Any]:
        """Compare the index's track ids and checksums with the catalog's, row by row.

        Nothing is changed, but drift found here makes the next :meth:`sync` run its full
        diff even when the catalog version did not move (a change behind its back).

        Returns
        -------
        dict
            ``model``, ``kind``, ``n_index`` and ``n_catalog`` (vectors), ``missing`` (in
            the catalog, not in the index), ``extra`` (in the index, gone from the
            catalog), ``stale`` (vector bytes changed since indexed), ``in_sync`` (all
            three zero), ``catalog_version``, ``index_catalog_version``, ``path``.
        """
        snap = self._read_catalog()
        catalog = dict(zip(snap.ids, snap.sums.tolist(), strict=True))
        label_of, row_sums = self._table.label_of, self._table.row_sums
        missing = sum(1 for tid in catalog if tid not in label_of)
        extra = sum(1 for tid in label_of if tid not in catalog)
        stale = sum(
            1 for tid, label in label_of.items()
            if tid in catalog and catalog[tid] != int(row_sums[label])
        )  # fmt: skip
        in_sync = missing == 0 and extra == 0 and stale == 0
        if not in_sync:
            self._dirty = True
        return {
            "model": self._model,
            "kind": self.kind,
            "n_index": self.n,
            "n_catalog": len(catalog),
            "missing": missing,
            "extra": extra,
            "stale": stale,
            "in_sync": in_sync,
            "catalog_version": snap.catalog_version,
            "index_catalog_version": self._catalog_version,
            "path": str(self.path),
        }

    def rebuild(self) -> dict[str, Any]:
        """Rebuild the index from the catalog (kind chosen anew) and persist it.

        Returns
        -------
        dict
            As :meth:`sync`, with ``rebuilt`` true and ``added`` the number of vectors.
        """
        self._build("rebuild requested")
        persisted = self._persist(now=True)
        return {"added": self.n, "removed": 0, "updated": 0, "rebuilt": True,
                "persisted": persisted, "n": self.n,
                "catalog_version": self._catalog_version}  # fmt: skip

    def set_search_params(self, **changes: Any) -> None:
        """Change search-time parameters (``hnsw_ef_search``, ``ivf_nprobe``, ``rerank``,
        ``threads``) in place; structural ones need :meth:`open` with new params.

        Raises
        ------
        VectorIndexError
            For a structural parameter or an invalid value.
        """
        bad = [c for c in changes if c in ("kind", *IndexParams.STRUCTURAL)]
        if bad:
            raise VectorIndexError(
                f"{', '.join(bad)} change the index structure: reopen with new IndexParams"
            )
        try:
            self._params = replace(self._params, **changes)
        except TypeError as err:
            raise VectorIndexError(f"unknown index parameter: {err}") from None

    # -- search ------------------------------------------------------------------------
    def search(
        self,
        vectors: np.ndarray,
        k: int = 10,
        *,
        exclude: set[str] | None = None,
        allowed: set[str] | None = None,
    ) -> list[tuple[str, float]] | list[list[tuple[str, float]]]:
        """The ``k`` most similar tracks of each query vector, best first.

        The index is first synced when the catalog changed (kept in memory when it cannot
        be written), so removed, missing and failed tracks are never returned.

        Parameters
        ----------
        vectors : ndarray, shape (dim,) or (q, dim)
            Query vector(s) in the model's embedding space; normalised here.
        k : int
            Results per query (>= 1).
        exclude : set of str, optional
            Track ids never to return (e.g. the query's own track).
        allowed : set of str, optional
            Only return these track ids (e.g. the tracks of a tempo range). Up to
            :data:`~songscape.search.index_rows.EXACT_SUBSET_MAX` of them are searched
            exactly; larger sets go through the ANN index with a faiss ``IDSelector`` and
            queries that come back short are redone exactly.

        Returns
        -------
        list
            For a 1-D query, a list of ``(track_id, cosine similarity)`` pairs; for a 2-D
            query, one such list per query row. Fewer than ``k`` pairs only when fewer
            tracks can be returned.

        Raises
        ------
        VectorIndexError
            ``k < 1``, a query of the wrong shape or dimension, or non-finite values.
        """
        if not isinstance(k, int | np.integer) or k < 1:
            raise VectorIndexError(f"k must be an integer >= 1 (got {k!r})")
        k = int(k)
        try:
            q = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise VectorIndexError(f"query vectors must be numeric: {err}") from None
        single = q.ndim == 1
        if single:
            q = q[None, :]
        if q.ndim != 2:
            raise VectorIndexError(f"query must have shape (dim,) or (q, dim), not {q.shape}")
        if not np.all(np.isfinite(q)):
            raise VectorIndexError("query vectors contain NaN or infinite values")
        self.sync()
        if self.dim and q.shape[1] != self.dim:
            raise VectorIndexError(
                f"query has dimension {q.shape[1]} but {self._model} vectors have {self.dim}"
            )
        if self.n == 0 or len(q) == 0:
            return [] if single else [[] for _ in range(len(q))]
        D, I = self._table.search(unit_rows(q), k, exclude, allowed, self._params)  # noqa: E741
        row_ids = self._table.row_ids
        results = [
            [(row_ids[i], float(s)) for s, i in zip(drow.tolist(), irow.tolist(), strict=True)
             if i >= 0]
            for drow, irow in zip(D, I, strict=True)
        ]  # fmt: skip
        return results[0] if single else results

    def __repr__(self) -> str:
        return (
            f"VectorIndex(model={self._model!r}, kind={self.kind!r}, n={self.n}, "
            f"dim={self.dim}, catalog_version={self._catalog_version})"
        )
