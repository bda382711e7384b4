"""A persistent nearest-neighbour index over one model's track embeddings (faiss).

The catalog (:class:`~songscape.catalog.store.LibraryStore`) stays the source of truth;
the index is a cache beside it, at ``<library>/index/<model>/``, that is kept in step
with the catalog and rebuilt from it whenever it cannot be trusted.

Similarity
    Every vector (catalog rows and queries) is L2-normalised, so the inner product the
    index ranks by is the cosine similarity, and that is the score :meth:`VectorIndex.search`
    returns (a float in [-1, 1], higher is more similar). Zero vectors stay zero.

Kinds (:class:`IndexParams`, ``kind="auto"`` picks by the number ``n`` of vectors)
    ``"exact"``
        ``IndexIDMap2(IndexFlatIP)``: brute force, exact, 4 bytes per dimension. Chosen for
        ``n <= exact_max`` (50,000: a query then scans 40 MB at 200-d, ~2 ms on one core,
        ~9 ms at 753-d; building is free). Removal is real (``remove_ids``).
    ``"hnsw"``
        ``IndexHNSWFlat`` (inner product) for ``exact_max < n <= ivfpq_min``. Defaults
        ``M=32, efConstruction=80, efSearch=96`` come from ``bench/search.py``: on 1M
        clustered 200-d vectors, one query per call on one core, recall@10 0.992 at
        ~2,400 queries/s (p99 0.84 ms) in 1,072 bytes per vector; efSearch=64 gives
        ~3,600 queries/s at recall 0.984 (``set_search_params``). M=16 saves 128 bytes
        per vector but needs efSearch > 128 for 0.99; efConstruction=200 did not move the
        recall/speed curve at 100k. HNSW graphs cannot delete, so removed rows become
        *tombstones*, filtered at query time with a faiss ``IDSelectorBitmap`` and
        persisted; past ``rebuild_fraction`` (20 %) tombstoned rows the index is rebuilt
        from the catalog (inside the sync that crosses it: minutes at 1M vectors).
    ``"ivfpq"``
        ``IVF{nlist},PQ{m}x{nbits}np`` (L2 on unit vectors, which ranks like cosine), for
        ``n > ivfpq_min`` (5,000,000) or on request. Only the PQ codes (``m`` bytes, about
        ``dim / 8``) and ids live in RAM; the float32 vectors are kept in an append-only
        row file beside the index (``vectors.<gen>.f32``, memory-mapped, paged in by the
        OS), from which the ``rerank * k`` PQ candidates of each query are re-scored
        exactly. Removal is real (``remove_ids``); the dead rows of the row file are
        reclaimed by the same 20 % rebuild rule. With fewer than
        :data:`IVFPQ_MIN_VECTORS` vectors there is too little to train on and an exact
        index is built instead (the requested kind is kept and used once there is enough).

    Auto switches use a 20 % hysteresis band, so a catalog hovering near a threshold does
    not rebuild back and forth.

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
    ``meta.json`` is the commit point: new generation files (``index.<gen>.faiss``,
    ``rows.<gen>.npz``) are written to temporary names, fsync'ed and renamed, then
    ``meta.json`` (which names them and holds their checksums) is replaced the same way,
    and only then are older generations deleted. A missing, truncated or corrupt file, a
    checksum mismatch, or a meta whose model version or dimension differs from the
    catalog's leads to a rebuild from the catalog, never to a crash or stale results.
    ``index/<model>/.lock`` (``fcntl.flock``) is taken shared while loading and
    exclusive (non-blocking) while writing; a process that cannot write (read-only
    library, another writer busy) keeps its synced index in memory and tries again at the
    next sync.

Threads
    faiss's OpenMP thread count is process-wide: searches run with ``IndexParams.threads``
    (default 1, predictable latency next to other work), builds with
    ``IndexParams.build_threads``.

An instance is not thread-safe; use one per thread or guard it with a lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import logging
import math
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from songscape.catalog.store import LibraryStore
from songscape.errors import VectorIndexError
from songscape.vectors import unit_rows

log = logging.getLogger(__name__)

INDEX_DIR = "index"
META_FILE = "meta.json"
LOCK_FILE = ".lock"
FORMAT_VERSION = 1

KINDS = ("auto", "exact", "hnsw", "ivfpq")
#: Fewest vectors an IVF-PQ index is trained on; below this an exact index is built.
IVFPQ_MIN_VECTORS = 1000
#: Candidate sets up to this size are searched exactly (brute force over their vectors)
#: instead of through a filtered ANN search, whose recall collapses on narrow filters.
EXACT_SUBSET_MAX = 20_000
#: At most this many excluded ids are handled by over-fetching; more become a selector.
EXCLUDE_OVERFETCH_MAX = 64
#: Seconds a reader waits for a writer to finish before building in memory instead.
LOCK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class IndexParams:
    """How the index is built and searched.

    Attributes
    ----------
    kind : {"auto", "exact", "hnsw", "ivfpq"}
        ``"auto"`` picks by the number of vectors ``n``: exact for ``n <= exact_max``,
        HNSW up to ``ivfpq_min``, IVF-PQ above.
    exact_max : int
        Largest ``n`` (vectors) that ``"auto"`` serves with the exact index.
    ivfpq_min : int
        ``n`` (vectors) above which ``"auto"`` uses IVF-PQ.
    hnsw_m : int
        HNSW graph degree ``M`` (links per node; level 0 has ``2 M``). Memory is about
        ``4 dim + 8 M`` bytes per vector.
    hnsw_ef_construction : int
        Candidate-list size while building (higher: better graph, slower build).
    hnsw_ef_search : int
        Candidate-list size while searching (higher: better recall, slower queries);
        raised to ``k`` when ``k`` is larger.
    ivf_nlist : int
        IVF cells; 0 chooses ``~4 sqrt(n)`` (a power of two, at most ``n / 39``).
    ivf_nprobe : int
        Cells visited per query; 0 chooses ``max(32, nlist / 64)``.
    pq_m : int
        PQ sub-quantizers (code bytes per vector at 8 bits); 0 chooses ``dim / 8``
        (8-dimensional sub-vectors: faiss trains those far faster than narrower ones, and
        the exact re-ranking recovers the precision), ``dim / 4`` with 4-bit codes. When
        it does not divide ``dim`` the vectors are first PCA-rotated to the largest
        multiple of it.
    pq_nbits : int
        Bits per sub-quantizer code; 0 chooses 8 (4 under 10,000 vectors, too few to
        train 256 centroids per sub-quantizer).
    rerank : int
        IVF-PQ returns ``rerank * k`` candidates, re-scored exactly from the float vectors.
    rebuild_fraction : float
        Rebuild when removed/tombstoned rows exceed this fraction of all rows.
    threads : int
        faiss OpenMP threads for searches (process-wide setting).
    build_threads : int
        faiss OpenMP threads for builds; 0 uses every core.
    """

    kind: str = "auto"
    exact_max: int = 50_000
    ivfpq_min: int = 5_000_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 96
    ivf_nlist: int = 0
    ivf_nprobe: int = 0
    pq_m: int = 0
    pq_nbits: int = 0
    rerank: int = 10
    rebuild_fraction: float = 0.2
    threads: int = 1
    build_threads: int = 0

    #: Fields that change the stored structure; the others only change how it is searched.
    STRUCTURAL = (
        "hnsw_m", "hnsw_ef_construction", "ivf_nlist", "pq_m", "pq_nbits",
    )  # fmt: skip

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise VectorIndexError(f"unknown index kind {self.kind!r}; choose one of {KINDS}")
        positive = ("exact_max", "ivfpq_min", "hnsw_m", "hnsw_ef_construction",
                    "hnsw_ef_search", "rerank", "threads")  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise VectorIndexError(f"index parameter {name} must be >= 1")
        for name in ("ivf_nlist", "ivf_nprobe", "pq_m", "pq_nbits", "build_threads"):
            if getattr(self, name) < 0:
                raise VectorIndexError(f"index parameter {name} must be >= 0 (0 = automatic)")
        if self.pq_nbits > 16:
            raise VectorIndexError("index parameter pq_nbits must be <= 16")
        if not 0.0 < self.rebuild_fraction <= 1.0:
            raise VectorIndexError("index parameter rebuild_fraction must be in (0, 1]")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IndexParams:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def index_dir(store: LibraryStore, model: str) -> Path:
    """The folder holding ``model``'s index files: ``<library>/index/<model>/``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model)
    if not safe.strip("."):
        raise VectorIndexError(f"model name {model!r} cannot name an index folder")
    return store.root / INDEX_DIR / safe


def ivfpq_layout(n: int, dim: int, params: IndexParams) -> tuple[int, int, int, int]:
    """``(nlist, m, nbits, dim_in)`` of the IVF-PQ index songscape builds over ``n``
    vectors of ``dim`` dimensions: IVF cells, PQ bytes, bits per code, and the dimension
    PQ sees (``m * (dim // m)``, reached by a PCA rotation when below ``dim``)."""
    if params.ivf_nlist:
        nlist = params.ivf_nlist
    else:
        nlist = 2 ** round(math.log2(max(16.0, 4 * math.sqrt(max(n, 1)))))
        nlist = max(1, min(nlist, n // 39))
    nbits = params.pq_nbits or (8 if n >= 10_000 else 4)
    # 8-bit codes on 8-d sub-vectors; 4-bit codes (small catalogs) on 4-d ones.
    m = max(1, min(dim, params.pq_m or round(dim / (8 if nbits >= 8 else 4))))
    return nlist, m, nbits, m * (dim // m)


def ivfpq_factory_key(n: int, dim: int, params: IndexParams) -> str:
    """The faiss ``index_factory`` string of songscape's IVF-PQ index (metric L2)."""
    nlist, m, nbits, dim_in = ivfpq_layout(n, dim, params)
    # "np": no polysemous training (a slow code reordering only Hamming filtering uses).
    key = f"IVF{nlist},PQ{m}x{nbits}np"
    if dim_in != dim:  # PQ needs m | dim: PCA-rotate onto the largest multiple of m
        key = f"PCAR{dim_in},{key}"
    return key


def ivfpq_train_size(n: int, nlist: int) -> int:
    """Vectors the IVF-PQ quantizers are trained on: ``min(n, max(100,000, 40 nlist))``."""
    return min(n, max(100_000, 40 * nlist))


def ivfpq_nprobe(nlist: int, params: IndexParams) -> int:
    """IVF cells visited per query: ``params.ivf_nprobe`` or ``max(32, nlist / 64)``."""
    return min(nlist, params.ivf_nprobe or max(32, nlist // 64))


def vector_checksum(blob: bytes) -> int:
    """64-bit BLAKE2b of a vector's stored bytes (how :meth:`VectorIndex.sync` sees change)."""
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little")


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _atomic_write(path: Path, write: Any) -> None:
    """Write ``path`` through ``write(fh)`` into a temporary file, fsync, rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def _omp_threads(n: int) -> Iterator[None]:
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n if n > 0 else (os.cpu_count() or 1))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


@contextlib.contextmanager
def _read_snapshot(store: LibraryStore) -> Iterator[None]:
    """A read transaction, so the catalog version and the rows come from one snapshot."""
    conn = store.conn
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")


_CATALOG_FROM = (
    " FROM embeddings e JOIN tracks t ON t.id = e.track_id "
    "WHERE t.status = 'ok' AND e.model = ? AND e.model_version = ?"
)


@dataclass
class _Snapshot:
    """One consistent read of a model's healthy vectors."""

    catalog_version: int
    dim: int  # the dimension kept (rows of other dimensions are skipped)
    ids: list[str]
    sums: np.ndarray  # uint64 checksums, by ids
    vectors: np.ndarray | None  # normalised float32 (n, dim), when asked for
    skipped: int  # rows of another dimension


class _RowFile:
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
class _Selector:
    """A faiss IDSelectorBitmap over row labels (the bit array must outlive it)."""

    sel: Any
    bits: np.ndarray
    count: int

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> _Selector:
        bits = np.packbits(mask, bitorder="little")
        return cls(faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), bits, int(mask.sum()))


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
        self._dir = index_dir(store, model)
        self._persist_wanted = persist
        self._writable = True  # False once the folder proved unwritable
        self._next_persist_try = 0.0
        self._kind = "exact"
        self._dim = expected_dim or 0
        self._index: Any = None
        self._row_ids: list[str] = []
        self._row_sums = np.zeros(0, np.uint64)
        self._live = np.zeros(0, bool)
        self._label_of: dict[str, int] = {}
        self._removed = 0
        self._rows: _RowFile | None = None
        self._ntrain = 0
        self._catalog_version = -1
        self._generation = 0
        self._persisted_generation = -1
        self._dirty = False
        self._live_sel: _Selector | None = None
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
        from songscape.models.registry import UnknownModelError, get_spec

        expected_dim: int | None = None
        try:
            spec = get_spec(model)
        except UnknownModelError as err:
            if version is None:
                raise VectorIndexError(
                    f"{err}; pass version= to index vectors of an unregistered model"
                ) from None
        else:
            if version is None or version == spec.version:
                version, expected_dim = spec.version, spec.embedding_dim
        assert version is not None
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
        return self._kind

    @property
    def n(self) -> int:
        """Number of searchable vectors (live rows)."""
        return len(self._label_of)

    @property
    def dim(self) -> int:
        """Vector dimension (0 while unknown: unregistered model with no vectors yet)."""
        return self._dim

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
        return self._dir

    @property
    def catalog_version(self) -> int:
        """The catalog version the index was last synced with (-1: never)."""
        return self._catalog_version

    @property
    def removed_rows(self) -> int:
        """Rows removed or replaced since the last build (HNSW: tombstones)."""
        return self._removed

    # -- catalog reads -----------------------------------------------------------------
    def _read_catalog(self, want: set[str] | None = None, vectors: bool = False) -> _Snapshot:
        """Read this model's healthy vectors in one snapshot.

        ``want`` restricts the rows read (by id, in batches); ``vectors`` also returns
        the (normalised) vectors, else only ids and checksums.
        """
        store = self._store
        args = (self._model, self._version)
        with _read_snapshot(store):
            version = store.catalog_version
            dim = self._dim
            if not dim:
                row = store.conn.execute(
                    "SELECT length(e.vector) / 4, COUNT(*) AS c" + _CATALOG_FROM
                    + " GROUP BY 1 ORDER BY c DESC LIMIT 1", args,
                ).fetchone()  # fmt: skip
                dim = int(row[0]) if row else 0
            if want is None:
                n_max = store.conn.execute("SELECT COUNT(*)" + _CATALOG_FROM, args).fetchone()[0]
                cursors: Iterable = [
                    store.conn.execute("SELECT e.track_id, e.vector" + _CATALOG_FROM, args)
                ]
            else:
                wanted = sorted(want)
                n_max = len(wanted)
                cursors = (
                    store.conn.execute(
                        "SELECT e.track_id, e.vector"
                        + _CATALOG_FROM
                        + f" AND e.track_id IN ({','.join('?' * len(chunk))})",
                        (*args, *chunk),
                    )  # fmt: skip
                    for chunk in (wanted[i : i + 500] for i in range(0, len(wanted), 500))
                )
            ids: list[str] = []
            sums: list[int] = []
            out = np.empty((n_max, dim), np.float32) if vectors else None
            skipped = 0
            nbytes = 4 * dim
            for cursor in cursors:
                for tid, blob in cursor:
                    if len(blob) != nbytes:
                        skipped += 1
                        continue
                    if out is not None:
                        out[len(ids)] = np.frombuffer(blob, dtype="<f4")
                    ids.append(tid)
                    sums.append(vector_checksum(blob))
        if skipped:
            log.warning(
                "%d %s vectors in the catalog do not have dimension %d and are not indexed",
                skipped, self._model, dim,
            )  # fmt: skip
        if out is not None:
            out = unit_rows(out[: len(ids)]) if ids else out[:0]
        return _Snapshot(version, dim, ids, np.array(sums, dtype=np.uint64), out, skipped)

    # -- kinds ------------------------------------------------------------------------
    def _desired_kind(self, n: int, current: str | None) -> str:
        """The kind for ``n`` vectors; ``current`` adds a 20 % hysteresis downwards."""
        p = self._params
        if p.kind == "ivfpq":
            return "ivfpq" if n >= IVFPQ_MIN_VECTORS else "exact"
        if p.kind != "auto":
            return p.kind
        kind = "exact" if n <= p.exact_max else "hnsw" if n <= p.ivfpq_min else "ivfpq"
        order = {"exact": 0, "hnsw": 1, "ivfpq": 2}
        if current in order and order[kind] < order[current]:
            lower = p.exact_max if current == "hnsw" else p.ivfpq_min
            if n >= 0.8 * lower:
                return current
        return kind

    def _new_index(self, kind: str, vectors: np.ndarray) -> Any:
        d = self._dim
        if kind == "exact":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(d))
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, self._params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self._params.hnsw_ef_construction
            return index
        n = len(vectors)
        key = ivfpq_factory_key(n, d, self._params)
        nlist = ivfpq_layout(n, d, self._params)[0]
        index = faiss.index_factory(d, key, faiss.METRIC_L2)
        n_train = ivfpq_train_size(n, nlist)
        rng = np.random.default_rng(0)
        index.train(vectors[np.sort(rng.choice(n, n_train, replace=False))])
        self._ntrain = n
        return index

    # -- build / load ------------------------------------------------------------------
    def _build(self, reason: str) -> None:
        """Build from the catalog's current vectors (in memory; the caller persists)."""
        started = time.perf_counter()
        if self._expected_dim is None:
            self._dim = 0  # unregistered model: take the catalog's dimension
        snap = self._read_catalog(vectors=True)
        assert snap.vectors is not None
        self._dim = snap.dim
        kind = self._desired_kind(len(snap.ids), None)
        self._row_ids = []
        self._row_sums = np.zeros(0, np.uint64)
        self._live = np.zeros(0, bool)
        self._label_of = {}
        self._removed = 0
        self._live_sel = None
        self._kind = kind
        self._rows = _RowFile(self._dim) if kind == "ivfpq" else None
        with _omp_threads(self._params.build_threads):
            self._index = self._new_index(kind, snap.vectors) if self._dim else None
            self._add(snap.ids, snap.sums, snap.vectors)
        self._catalog_version = snap.catalog_version
        self._generation = max(self._generation, self._persisted_generation) + 1
        self._dirty = False
        self.builds += 1
        self.last_build_reason = reason
        log.info(
            "built %s index of %s (%d vectors) in %.1f s: %s",
            kind, self._model, len(snap.ids), time.perf_counter() - started, reason,
        )  # fmt: skip

    def _add(self, ids: list[str], sums: np.ndarray, vectors: np.ndarray) -> None:
        if not ids:
            return
        start = len(self._row_ids)
        labels = np.arange(start, start + len(ids), dtype=np.int64)
        if self._kind == "hnsw":
            if self._index.ntotal != start:  # labels are positions in an HNSW graph
                raise VectorIndexError("HNSW index rows are out of step with its id table")
            self._index.add(vectors)
        else:
            self._index.add_with_ids(vectors, labels)
            if self._rows is not None:
                self._rows.append(vectors)
        self._row_ids.extend(ids)
        self._row_sums = np.concatenate([self._row_sums, sums.astype(np.uint64)])
        self._live = np.concatenate([self._live, np.ones(len(ids), bool)])
        self._label_of.update(zip(ids, labels.tolist(), strict=True))
        self._live_sel = None

    def _remove(self, labels: list[int]) -> None:
        if not labels:
            return
        arr = np.array(labels, dtype=np.int64)
        if self._kind != "hnsw":
            self._index.remove_ids(faiss.IDSelectorBatch(arr))
        # HNSW: the row stays in the graph as a tombstone, filtered out at query time.
        for label in labels:
            self._label_of.pop(self._row_ids[label], None)
            self._row_ids[label] = ""
        self._live[arr] = False
        self._removed += len(labels)
        self._live_sel = None

    def _read_meta(self) -> dict[str, Any] | None:
        try:
            return json.loads((self._dir / META_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise ValueError(f"unreadable {META_FILE}: {err}") from None

    def _load_or_build(self) -> None:
        try:
            with self._lock(exclusive=False) as locked:
                if locked is None:
                    reason = "index folder is busy (another process is writing it)"
                else:
                    reason = self._load()
        except Exception as err:  # any unreadable file means: rebuild, never crash
            reason = f"unusable index on disk ({type(err).__name__}: {err})"
        if reason is not None:
            if reason != "no index on disk":
                log.warning("rebuilding the %s index: %s", self._model, reason)
            self._build(reason)
            self._persist()

    def _load(self) -> str | None:
        """Load the persisted index; return why it cannot be used, or None when loaded."""
        meta = self._read_meta()
        if meta is None:
            return "no index on disk"
        if meta.get("format") != FORMAT_VERSION:
            return f"index format {meta.get('format')} is not {FORMAT_VERSION}"
        if meta.get("model") != self._model:
            return f"index is of model {meta.get('model')!r}"
        if meta.get("model_version") != self._version:
            return f"model version changed ({meta.get('model_version')!r} -> {self._version!r})"
        dim = int(meta["dim"])
        if self._expected_dim and dim != self._expected_dim:
            return f"dimension changed ({dim} -> {self._expected_dim})"
        stored = IndexParams.from_json(meta["params"])
        if self._explicit_params:
            changed = [
                f for f in ("kind", *IndexParams.STRUCTURAL)
                if getattr(stored, f) != getattr(self._params, f)
            ]  # fmt: skip
            if changed:
                return f"index parameters changed ({', '.join(changed)})"
        files = meta["files"]
        if files.get("index") is None:  # nothing was indexable when it was written
            return "no index on disk"
        index_path = self._dir / files["index"]
        rows_path = self._dir / files["rows"]
        data = np.fromfile(index_path, dtype=np.uint8)
        if _digest(data) != meta["digests"]["index"]:
            return f"corrupt index file {index_path.name} (checksum mismatch)"
        if _digest(rows_path.read_bytes()) != meta["digests"]["rows"]:
            return f"corrupt index file {rows_path.name} (checksum mismatch)"
        index = faiss.deserialize_index(data)
        del data
        with np.load(rows_path, allow_pickle=False) as npz:
            row_ids = [b.decode("utf-8") for b in npz["ids"].tolist()]
            sums = npz["sums"].astype(np.uint64)
        n_rows = int(meta["rows"])
        kind = meta["kind"]
        live = np.fromiter((bool(t) for t in row_ids), dtype=bool, count=len(row_ids))
        n_live = int(live.sum())
        if len(row_ids) != n_rows or len(sums) != n_rows or n_live != int(meta["n"]):
            return "index id table does not match meta.json"
        if index.ntotal != (n_rows if kind == "hnsw" else n_live) or index.d != dim:
            return "index file does not match meta.json"
        rows = None
        if kind == "ivfpq":
            vpath = self._dir / files["vectors"]
            if vpath.stat().st_size < n_rows * dim * 4:
                return f"vector file {vpath.name} is truncated"
            rows = _RowFile(dim, _map_rows(vpath, n_rows, dim), vpath)
        if not self._explicit_params:
            self._params = stored
        self._kind = kind
        self._dim = dim
        self._index = index
        self._row_ids = row_ids
        self._row_sums = sums
        self._live = live
        self._label_of = {t: i for i, t in enumerate(row_ids) if t}
        self._removed = n_rows - n_live
        self._rows = rows
        self._ntrain = int(meta.get("ntrain", 0))
        self._catalog_version = int(meta["catalog_version"])
        self._generation = self._persisted_generation = int(meta["generation"])
        self._live_sel = None
        return None

    # -- persistence ---------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self, exclusive: bool) -> Iterator[bool | None]:
        """Lock the index folder. Yields True when locked; False for a shared lock where
        no lock file can be opened (a read-only folder nobody can write either); None
        when the lock cannot be had (exclusive: at once; shared: in LOCK_TIMEOUT_S)."""
        try:
            if exclusive:
                self._dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(self._dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            else:
                fd = os.open(self._dir / LOCK_FILE, os.O_RDONLY)
        except OSError:
            yield None if exclusive else False
            return
        try:
            flags = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            deadline = time.monotonic() + (0.0 if exclusive else LOCK_TIMEOUT_S)
            while True:
                try:
                    fcntl.flock(fd, flags | fcntl.LOCK_NB)
                    break
                except OSError as err:
                    if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise
                    if time.monotonic() >= deadline:
                        yield None
                        return
                    time.sleep(0.05)
            yield True
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _persist(self, now: bool = False) -> bool:
        """Write the in-memory index to disk when allowed and possible; True if written.
        After a failed attempt the next one waits 5 s unless ``now``."""
        if not self._persist_wanted or not self._writable:
            return False
        if not now and time.monotonic() < self._next_persist_try:
            return False
        written = False
        try:
            with self._lock(exclusive=True) as locked:
                if locked:
                    written = self._write()
                elif not self._dir.is_dir() or not os.access(self._dir, os.W_OK):
                    self._writable = False  # read-only library: stay in memory
        except OSError as err:
            log.info("cannot write the %s index (%s); keeping it in memory", self._model, err)
        if not written:  # busy, or a newer state on disk: retry at a sync after 5 s
            self._next_persist_try = time.monotonic() + 5.0
        return written

    def _write(self) -> bool:
        try:
            on_disk = self._read_meta()
        except ValueError:
            on_disk = None
        same = on_disk is not None and on_disk.get("model_version") == self._version
        if same and int(on_disk.get("catalog_version", -1)) > self._catalog_version:
            return False  # another process already wrote a newer state
        d = self._dir
        if (
            same
            and int(on_disk.get("generation", -1)) == self._generation == self._persisted_generation
        ):
            # Same rows as on disk (an unrelated catalog change): only the version moves.
            meta = {**on_disk, "catalog_version": self._catalog_version, "written_at": time.time()}
            payload = json.dumps(meta, indent=2).encode("utf-8")
            _atomic_write(d / META_FILE, lambda fh: fh.write(payload))
            return True
        gen = max(self._generation, int(on_disk.get("generation", 0)) + 1 if same else 0)
        files: dict[str, str | None] = {"index": None, "rows": None}
        digests = {}
        if self._index is not None:
            files = {"index": f"index.{gen}.faiss", "rows": f"rows.{gen}.npz"}
            data = faiss.serialize_index(self._index)
            digests["index"] = _digest(data)
            _atomic_write(d / files["index"], lambda fh: fh.write(data.data))
            del data
            width = max([len(t.encode("utf-8")) for t in self._row_ids] + [1])
            ids_arr = np.array([t.encode("utf-8") for t in self._row_ids], dtype=f"S{width}")
            buf = io.BytesIO()
            np.savez(buf, ids=ids_arr, sums=self._row_sums)
            rows_bytes = buf.getvalue()
            digests["rows"] = _digest(rows_bytes)
            _atomic_write(d / files["rows"], lambda fh: fh.write(rows_bytes))
            if self._kind == "ivfpq":
                files["vectors"] = self._write_vectors(on_disk if same else None, gen)
        meta = {
            "format": FORMAT_VERSION,
            "model": self._model,
            "model_version": self._version,
            "kind": self._kind,
            "params": self._params.to_json(),
            "dim": self._dim,
            "n": self.n,
            "rows": len(self._row_ids),
            "removed": self._removed,
            "catalog_version": self._catalog_version,
            "generation": gen,
            "ntrain": self._ntrain,
            "files": files,
            "digests": digests,
            "written_at": time.time(),
            "faiss_version": faiss.__version__,
        }
        payload = json.dumps(meta, indent=2).encode("utf-8")
        _atomic_write(d / META_FILE, lambda fh: fh.write(payload))
        _fsync_dir(d)
        self._generation = self._persisted_generation = gen
        keep = {f for f in files.values() if f} | {META_FILE, LOCK_FILE}
        for path in d.iterdir():  # older generations and a crashed writer's leftovers
            if path.name not in keep and path.name.startswith(("index.", "rows.", "vectors.", ".")):
                with contextlib.suppress(OSError):
                    path.unlink()
        return True

    def _write_vectors(self, on_disk: dict[str, Any] | None, gen: int) -> str:
        """Write the IVF-PQ row file: append to the current one when it is the one on
        disk (rows never change once written), else write it anew."""
        rows = self._rows
        assert rows is not None
        n_base = len(rows.base)
        if (
            rows.path is not None
            and on_disk is not None
            and on_disk.get("files", {}).get("vectors") == rows.path.name
            and int(on_disk.get("rows", -1)) == n_base
        ):
            with rows.path.open("r+b") as fh:
                fh.truncate(n_base * self._dim * 4)  # drop a crashed writer's tail
                fh.seek(0, os.SEEK_END)
                for block in rows.extra:
                    fh.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
                fh.flush()
                os.fsync(fh.fileno())
            path = rows.path
        else:
            path = self._dir / f"vectors.{gen}.f32"

            def write_all(fh: Any) -> None:
                for s in range(0, n_base, 65536):
                    fh.write(np.ascontiguousarray(rows.base[s : s + 65536], "<f4").tobytes())
                for block in rows.extra:
                    fh.write(np.ascontiguousarray(block, dtype="<f4").tobytes())

            _atomic_write(path, write_all)
        self._rows = _RowFile(self._dim, _map_rows(path, rows.n, self._dim), path)
        return path.name

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
            if self._generation != self._persisted_generation:  # an earlier write failed
                out["persisted"] = self._persist()
            out.update(n=self.n, catalog_version=current)
            return out
        snap = self._read_catalog()
        reason = None
        if self._index is None and snap.ids:
            reason = "first vectors in the catalog"
        elif self._expected_dim is None and snap.skipped and not snap.ids:
            reason = "vector dimension changed in the catalog"
        catalog = dict(zip(snap.ids, snap.sums.tolist(), strict=True))
        gone, changed = [], []
        for tid, label in self._label_of.items():
            s = catalog.get(tid)
            if s is None:
                gone.append(label)
            elif int(self._row_sums[label]) != s:
                changed.append(label)
        new = [tid for tid in snap.ids if tid not in self._label_of]
        out.update(added=len(new), removed=len(gone), updated=len(changed))
        rows_after = len(self._row_ids) + len(new) + len(changed)
        removed_after = self._removed + len(gone) + len(changed)
        desired = self._desired_kind(len(snap.ids), self._kind)
        if reason is not None:
            pass
        elif desired != self._kind:
            reason = f"{len(snap.ids)} vectors call for a {desired} index (not {self._kind})"
        elif removed_after > self._params.rebuild_fraction * max(rows_after, 1):
            reason = (
                f"{removed_after} of {rows_after} rows removed or replaced "
                f"(more than {self._params.rebuild_fraction:.0%})"
            )
        elif self._kind == "ivfpq" and len(snap.ids) > 4 * max(self._ntrain, 1):
            reason = f"{len(snap.ids)} vectors: 4x the {self._ntrain} the IVF-PQ was trained for"
        if reason is not None:
            self._build(reason)
            out["rebuilt"] = True
        else:
            readd = [self._row_ids[label] for label in changed]
            self._remove(gone + changed)
            fresh = self._read_catalog(want=set(new) | set(readd), vectors=True)
            assert fresh.vectors is not None
            with _omp_threads(self._params.build_threads):
                self._add(fresh.ids, fresh.sums, fresh.vectors)
            # The snapshot's version: anything that changed after it is seen next time.
            self._catalog_version = snap.catalog_version
            self._dirty = False
            if gone or changed or new:
                self._generation = max(self._generation, self._persisted_generation) + 1
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
        label_of, row_sums = self._label_of, self._row_sums
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
            "kind": self._kind,
            "n_index": self.n,
            "n_catalog": len(catalog),
            "missing": missing,
            "extra": extra,
            "stale": stale,
            "in_sync": in_sync,
            "catalog_version": snap.catalog_version,
            "index_catalog_version": self._catalog_version,
            "path": str(self._dir),
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
            :data:`EXACT_SUBSET_MAX` of them are searched exactly; larger sets go through
            the ANN index with a faiss ``IDSelector`` and queries that come back short are
            redone exactly.

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
        if self._dim and q.shape[1] != self._dim:
            raise VectorIndexError(
                f"query has dimension {q.shape[1]} but {self._model} vectors have {self._dim}"
            )
        if self.n == 0 or len(q) == 0:
            return [] if single else [[] for _ in range(len(q))]
        D, I = self._search_labels(unit_rows(q), k, exclude, allowed)  # noqa: E741
        row_ids = self._row_ids
        results = [
            [(row_ids[i], float(s)) for s, i in zip(drow.tolist(), irow.tolist(), strict=True)
             if i >= 0]
            for drow, irow in zip(D, I, strict=True)
        ]  # fmt: skip
        return results[0] if single else results

    def _search_labels(
        self, q: np.ndarray, k: int, exclude: set[str] | None, allowed: set[str] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        excl = self._labels(exclude) if exclude else np.zeros(0, np.int64)
        tombstones = self._kind == "hnsw" and self._removed > 0
        with _omp_threads(self._params.threads):
            if allowed is not None:
                cand = self._labels(allowed)
                if len(excl):
                    cand = np.setdiff1d(cand, excl, assume_unique=True)
                if len(cand) <= EXACT_SUBSET_MAX:
                    return self._exact_over(q, cand, k)
                mask = np.zeros(len(self._row_ids), bool)
                mask[cand] = True
                return self._filtered(q, k, _Selector.from_mask(mask), cand)
            if len(excl) > EXCLUDE_OVERFETCH_MAX or (tombstones and len(excl)):
                mask = self._live.copy()
                mask[excl] = False
                return self._filtered(q, k, _Selector.from_mask(mask), None)
            if tombstones:
                if self._live_sel is None:
                    self._live_sel = _Selector.from_mask(self._live)
                return self._filtered(q, k, self._live_sel, None)
            kk = min(k + len(excl), self.n)
            D, I = self._ann(q, kk, None)  # noqa: E741
            if len(excl):
                drop = np.isin(I, excl)
                order = np.argsort(drop, axis=1, kind="stable")  # kept ones first, in order
                D = np.where(drop, -np.inf, D)
                I = np.where(drop, -1, I)  # noqa: E741
                D = np.take_along_axis(D, order, axis=1)
                I = np.take_along_axis(I, order, axis=1)  # noqa: E741
            return _pad(D[:, :k], I[:, :k], k)

    def _labels(self, ids: Iterable[str]) -> np.ndarray:
        get = self._label_of.get
        labels = [label for label in map(get, ids) if label is not None]
        return np.array(sorted(labels), dtype=np.int64)

    def _vectors_of(self, labels: np.ndarray) -> np.ndarray:
        if len(labels) == 0:
            return np.empty((0, self._dim), np.float32)
        if self._rows is not None:
            return self._rows.get(labels)
        return self._index.reconstruct_batch(labels)

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
            D = np.concatenate([D, q @ self._vectors_of(part).T], axis=1)
            I = np.concatenate([I, np.broadcast_to(part, (nq, len(part)))], axis=1)  # noqa: E741
            if D.shape[1] > kk:
                top = np.argpartition(-D, kk - 1, axis=1)[:, :kk]
                D = np.take_along_axis(D, top, axis=1)
                I = np.take_along_axis(I, top, axis=1)  # noqa: E741
        order = np.argsort(-D, axis=1, kind="stable")
        return _pad(np.take_along_axis(D, order, axis=1), np.take_along_axis(I, order, axis=1), k)

    def _ann(self, q: np.ndarray, k: int, sel: _Selector | None) -> tuple[np.ndarray, ...]:
        """faiss search for ``k`` rows per query (by inner product), only among the rows
        ``sel`` lets through; IVF-PQ candidates are re-scored exactly."""
        s = sel.sel if sel is not None else None
        if self._kind == "exact":
            return self._index.search(q, k, params=faiss.SearchParameters(sel=s) if s else None)
        if self._kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self._params.hnsw_ef_search, k))
            params.bounded_queue = True  # an unbounded queue ignores sel (faiss#5504)
            if s is not None:
                params.sel = s
            return self._index.search(q, k, params=params)
        ivf = faiss.extract_index_ivf(self._index)
        params = faiss.SearchParametersIVF(nprobe=ivfpq_nprobe(ivf.nlist, self._params))
        if s is not None:
            params.sel = s
        _, cand = self._index.search(q, k * self._params.rerank, params=params)
        D = np.full((len(q), k), -np.inf, np.float32)
        I = np.full((len(q), k), -1, np.int64)  # noqa: E741
        for i in range(len(q)):
            c = cand[i][cand[i] >= 0]
            if len(c):
                sims = self._vectors_of(c) @ q[i]
                order = np.argsort(-sims, kind="stable")[:k]
                D[i, : len(order)] = sims[order]
                I[i, : len(order)] = c[order]
        return D, I

    def _filtered(
        self, q: np.ndarray, k: int, sel: _Selector, cand: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """ANN search among the rows ``sel`` lets through; queries that come back with
        fewer than ``min(k, |rows|)`` results are redone exactly."""
        kk = min(k, sel.count)
        if kk == 0:
            return _pad(np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64), k)
        D, I = self._ann(q, kk, sel)  # noqa: E741
        D, I = np.array(D[:, :kk]), np.array(I[:, :kk])  # noqa: E741
        short = np.flatnonzero((I >= 0).sum(axis=1) < kk)
        if len(short):
            if cand is None:
                cand = np.flatnonzero(np.unpackbits(sel.bits, bitorder="little")[: len(self._live)])
            D2, I2 = self._exact_over(q[short], cand.astype(np.int64), kk)
            D[short], I[short] = D2, I2
        return _pad(D, I, k)

    def __repr__(self) -> str:
        return (
            f"VectorIndex(model={self._model!r}, kind={self._kind!r}, n={self.n}, "
            f"dim={self._dim}, catalog_version={self._catalog_version})"
        )


def _pad(D: np.ndarray, I: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: E741
    """Pad result arrays to ``k`` columns with (-inf, -1)."""
    if D.shape[1] >= k:
        return D, I
    pad = ((0, 0), (0, k - D.shape[1]))
    return np.pad(D, pad, constant_values=-np.inf), np.pad(I, pad, constant_values=-1)


def _map_rows(path: Path, n: int, dim: int) -> np.ndarray:
    if n == 0 or dim == 0:
        return np.empty((n, dim), np.float32)
    return np.memmap(path, dtype="<f4", mode="r", shape=(n, dim))


def _digest(data: bytes | np.ndarray) -> str:
    return hashlib.blake2b(memoryview(data).cast("B"), digest_size=16).hexdigest()
