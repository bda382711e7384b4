"""The vector index's parameters and kinds: :class:`IndexParams`, which kind a catalog of
``n`` vectors gets, and how each kind's faiss index is made.

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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import faiss
import numpy as np

from songscape.errors import VectorIndexError

KINDS = ("auto", "exact", "hnsw", "ivfpq")
#: Fewest vectors an IVF-PQ index is trained on; below this an exact index is built.
IVFPQ_MIN_VECTORS = 1000
#: Auto switches to a smaller kind only below this fraction of the threshold crossed on
#: the way up, so a catalog hovering near a threshold does not rebuild back and forth.
KIND_HYSTERESIS = 0.8


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


def desired_kind(params: IndexParams, n: int, current: str | None) -> str:
    """The kind (``"exact"``, ``"hnsw"`` or ``"ivfpq"``) for ``n`` vectors.

    ``current`` is the kind built now (None: building anew); a smaller kind replaces it
    only below :data:`KIND_HYSTERESIS` of the threshold it crossed.
    """
    if params.kind == "ivfpq":
        return "ivfpq" if n >= IVFPQ_MIN_VECTORS else "exact"
    if params.kind != "auto":
        return params.kind
    kind = "exact" if n <= params.exact_max else "hnsw" if n <= params.ivfpq_min else "ivfpq"
    order = {"exact": 0, "hnsw": 1, "ivfpq": 2}
    if current in order and order[kind] < order[current]:
        lower = params.exact_max if current == "hnsw" else params.ivfpq_min
        if n >= KIND_HYSTERESIS * lower:
            return current
    return kind


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


def new_faiss_index(kind: str, dim: int, vectors: np.ndarray, params: IndexParams) -> Any:
    """An empty faiss index of ``kind`` over ``dim`` dimensions; IVF-PQ is trained on a
    seeded sample of ``vectors`` (unit rows, shape (n, dim)) first.

    ``"exact"`` is ``IndexIDMap2(IndexFlatIP)`` and ``"hnsw"`` ``IndexHNSWFlat`` (both
    inner product); ``"ivfpq"`` is :func:`ivfpq_factory_key`'s index with metric L2.
    """
    if kind == "exact":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.hnsw_ef_construction
        return index
    n = len(vectors)
    key = ivfpq_factory_key(n, dim, params)
    nlist = ivfpq_layout(n, dim, params)[0]
    index = faiss.index_factory(dim, key, faiss.METRIC_L2)
    n_train = ivfpq_train_size(n, nlist)
    rng = np.random.default_rng(0)
    index.train(vectors[np.sort(rng.choice(n, n_train, replace=False))])
    return index
