"""The library map: 3D coordinates of every healthy track, and k-means cluster labels.

Coordinates come from the track-level embeddings of one model (the library's default
unless asked), L2-normalised, so that every method works on cosine geometry:

``"umap"`` (default)
    ``umap.UMAP(n_components=3, metric="cosine", n_neighbors=min(15, n - 1),
    min_dist=0.1, random_state=42)``, given the exact cosine k-nearest-neighbour graph
    computed with faiss (``precomputed_knn``) instead of building it with umap's
    NN-descent. The fixed seed makes the map reproducible (and makes umap-learn run
    single-threaded).
``"tsne"``
    ``sklearn.manifold.TSNE(n_components=3, metric="cosine", init="pca",
    perplexity=min(30, (n - 1) / 3), random_state=42)`` (Barnes-Hut).
``"pca"``
    Used instead of either when the library has fewer than :data:`MIN_MANIFOLD_TRACKS`
    tracks (a neighbour graph of a handful of points means nothing); the response says so
    in ``notes`` and ``method_used``.

Large libraries
    The manifold is fitted on a fixed random subsample of at most ``fit_max`` tracks
    (:data:`FIT_MAX`: 50,000 for UMAP, 10,000 for t-SNE). The other tracks are then
    placed into the fitted map at the similarity-weighted mean position of their 10
    nearest fitted tracks (cosine, exact, faiss): a level-of-detail scheme that costs one
    nearest-neighbour search per track, where ``UMAP.transform`` would cost minutes, and
    that works for t-SNE too (which has no out-of-sample transform). ``fit_size`` and
    ``notes`` report it, and the page shows the note.

Coordinates are centred and scaled by one factor (the largest axis range) into the unit
cube ``[0, 1]^3``, so map distances keep their proportions on every axis.

Cache
    ``<library>/maps/<model>-<method>.npz`` holds the ids, coordinates and cluster labels
    with the key they were computed for: the map format, the model name and version, the
    method, ``store.catalog_version`` (bumped by every write to the catalog) and a BLAKE2b
    digest of the ids and vector bytes. A cache whose key differs from the current
    library is ignored and replaced, so a stale map is never served. Writes are atomic
    (temporary file, then rename); a read-only library just recomputes in memory.

Numba
    umap-learn compiles its kernels with numba at first use, and several of them are not
    cached by umap-learn itself, which costs ~15 s in every new process. :func:`_umap`
    switches on numba's on-disk cache for those kernels, so only the very first map on a
    machine pays for the compilation (NN-descent, whose kernels are built at run time and
    cannot be cached, is not used).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from songscape.vectors import unit_rows

log = logging.getLogger(__name__)

#: Bumped when the computation changes, so older cache files are recomputed.
MAP_FORMAT = 1
#: Methods a client may ask for.
METHODS = ("umap", "tsne")
#: Below this many tracks the map falls back to PCA.
MIN_MANIFOLD_TRACKS = 15
#: Most tracks a method is fitted on; the rest are placed into the fitted map.
FIT_MAX = {"umap": 50_000, "tsne": 10_000}
RANDOM_STATE = 42
MAPS_DIR = "maps"


def map_threads() -> int:
    """Threads for the map's numeric libraries: all cores but one (at least 1)."""
    return max(1, (os.cpu_count() or 1) - 1)


@contextlib.contextmanager
def _thread_limit() -> Iterator[None]:
    """Cap the BLAS/OpenMP pools (t-SNE, k-means, faiss) at :func:`map_threads`.

    OpenMP threads spin-wait at barriers: with as many threads as cores, one core busy
    elsewhere (the server, another job) slows them down by an order of magnitude.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=map_threads()):
        yield


@dataclass
class MapResult:
    """A computed (or cached) map of a library.

    Attributes
    ----------
    model, version : str
        Embedding model and model version the map was computed from.
    method : str
        The method asked for (``"umap"`` or ``"tsne"``).
    method_used : str
        What actually ran: ``"umap"``, ``"tsne"``, ``"pca"`` (tiny library) or ``"none"``
        (empty library).
    catalog_version : int
        ``store.catalog_version`` the map belongs to.
    digest : str
        BLAKE2b digest of the ids and vector bytes the map was computed from.
    ids : list of str
        Track ids, one per point, in the order of ``coords``.
    coords : np.ndarray
        ``(n, 3)`` float32 in the unit cube.
    clusters : np.ndarray
        ``(n,)`` int32 k-means labels of the embeddings (cosine), 0-based.
    fit_size : int
        Tracks the method was fitted on (``< n`` when subsampled).
    notes : list of str
        Human-readable remarks (fallbacks, subsampling) for the page.
    compute_s : float
        Seconds the computation took (0 when loaded from the cache file).
    source : str
        ``"computed"`` or ``"disk"``.
    """

    model: str
    version: str
    method: str
    method_used: str
    catalog_version: int
    digest: str
    ids: list[str]
    coords: np.ndarray
    clusters: np.ndarray
    fit_size: int
    notes: list[str] = field(default_factory=list)
    compute_s: float = 0.0
    source: str = "computed"

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def n_clusters(self) -> int:
        return int(self.clusters.max()) + 1 if len(self.clusters) else 0


# -- computation ---------------------------------------------------------------------


def normalise_unit_cube(coords: np.ndarray) -> np.ndarray:
    """Centre ``coords`` and scale them by one factor into ``[0, 1]^3``.

    Parameters
    ----------
    coords : np.ndarray
        ``(n, d)`` coordinates.

    Returns
    -------
    np.ndarray
        float32, same shape; the largest axis spans exactly [0, 1], the others are
        centred on 0.5 (aspect ratio kept). A single point (or all equal) maps to 0.5.
    """
    c = np.asarray(coords, dtype=np.float64)
    if c.size == 0:
        return c.astype(np.float32).reshape(len(c), -1)
    lo, hi = c.min(axis=0), c.max(axis=0)
    scale = float((hi - lo).max())
    if not np.isfinite(scale) or scale <= 0:
        return np.full(c.shape, 0.5, dtype=np.float32)
    return ((c - (lo + hi) / 2) / scale + 0.5).astype(np.float32)


def _pca(x: np.ndarray, n_components: int = 3) -> np.ndarray:
    """PCA coordinates, padded with zeros to ``n_components`` columns."""
    n, dim = x.shape
    out = np.zeros((n, n_components), dtype=np.float64)
    if n < 2:
        return out
    centred = x - x.mean(axis=0)
    # SVD of the centred data: the right singular vectors are the principal axes.
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(n_components, len(s))
    out[:, :k] = centred @ vt[:k].T
    return out


_CACHED_NUMBA = False


def _umap() -> Any:
    """``umap.UMAP``, with numba's on-disk cache switched on for umap's kernels."""
    global _CACHED_NUMBA
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import umap

    if not _CACHED_NUMBA:
        _CACHED_NUMBA = True
        try:
            import sys

            from numba.core.dispatcher import Dispatcher

            for name, module in list(sys.modules.items()):
                if not (name.startswith("umap.") or name.startswith("pynndescent.")):
                    continue
                for obj in list(vars(module).values()):
                    if isinstance(obj, Dispatcher) and type(obj._cache).__name__ == "NullCache":
                        obj.enable_caching()
        except Exception as err:  # noqa: BLE001 - an optimisation only
            log.debug("could not enable numba caching for umap: %s", err)
    return umap.UMAP


def knn_cosine(x: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest rows of ``x`` for each query row, by cosine (faiss, inner product).

    Both arguments must be L2-normalised. Returns ``(indices, distances)`` with
    ``distance = 1 - cosine``, nearest first.
    """
    import faiss

    index = faiss.IndexFlatIP(x.shape[1])
    index.add(np.ascontiguousarray(x, dtype=np.float32))
    sims, idx = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return idx.astype(np.int64), np.clip(1.0 - sims, 0.0, 2.0).astype(np.float32)


def _fit_umap(x: np.ndarray, fit_idx: np.ndarray, random_state: int) -> np.ndarray:
    umap_cls = _umap()
    fitted = x[fit_idx]
    k = min(15, len(fit_idx) - 1)
    # Exact neighbours from faiss instead of umap's NN-descent: faster at these sizes, and
    # NN-descent's kernels are compiled afresh in every process (they cannot be cached).
    knn = knn_cosine(fitted, fitted, k)
    reducer = umap_cls(
        n_components=3,
        metric="cosine",
        n_neighbors=k,
        min_dist=0.1,
        random_state=random_state,
        precomputed_knn=(knn[0], knn[1]),
    )
    out = np.empty((len(x), 3), dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out[fit_idx] = reducer.fit_transform(fitted)
    rest = np.setdiff1d(np.arange(len(x)), fit_idx)
    if len(rest):
        out[rest] = _place_by_neighbours(fitted, out[fit_idx], x[rest])
    return out


def _fit_tsne(x: np.ndarray, fit_idx: np.ndarray, random_state: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    n_fit = len(fit_idx)
    tsne = TSNE(
        n_components=3,
        metric="cosine",
        init="pca",
        perplexity=float(min(30.0, max(2.0, (n_fit - 1) / 3))),
        random_state=random_state,
    )
    out = np.empty((len(x), 3), dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out[fit_idx] = tsne.fit_transform(x[fit_idx])
    rest = np.setdiff1d(np.arange(len(x)), fit_idx)
    if len(rest):
        out[rest] = _place_by_neighbours(x[fit_idx], out[fit_idx], x[rest])
    return out


def _place_by_neighbours(
    fitted: np.ndarray, fitted_coords: np.ndarray, others: np.ndarray, k: int = 10
) -> np.ndarray:
    """Positions of ``others``: similarity-weighted mean of their k nearest fitted points."""
    k = min(k, len(fitted))
    out = np.empty((len(others), fitted_coords.shape[1]))
    for start in range(0, len(others), 20_000):
        idx, dist = knn_cosine(fitted, others[start : start + 20_000], k)
        w = np.maximum(1.0 - dist, 1e-6)[:, :, None]
        out[start : start + len(idx)] = (w * fitted_coords[idx]).sum(1) / w.sum(1)
    return out


def embed_3d(
    vectors: np.ndarray,
    method: str = "umap",
    random_state: int = RANDOM_STATE,
    fit_max: int | None = None,
) -> tuple[np.ndarray, str, int, list[str]]:
    """3D coordinates of embedding rows, in the unit cube.

    Parameters
    ----------
    vectors : np.ndarray
        ``(n, dim)`` embeddings (normalised here).
    method : {"umap", "tsne"}
        Manifold method; PCA is used instead below :data:`MIN_MANIFOLD_TRACKS` rows.
    random_state : int
        Seed of the method and of the subsample.
    fit_max : int, optional
        Most rows to fit on (default :data:`FIT_MAX` of the method).

    Returns
    -------
    coords : np.ndarray
        ``(n, 3)`` float32 in ``[0, 1]^3``.
    method_used : str
        ``"umap"``, ``"tsne"``, ``"pca"`` or ``"none"``.
    fit_size : int
        Rows the method was fitted on.
    notes : list of str
        Remarks for the user (fallback, subsampling).
    """
    if method not in METHODS:
        raise ValueError(f"unknown map method {method!r} (choose from {', '.join(METHODS)})")
    x = unit_rows(vectors)
    n = len(x)
    notes: list[str] = []
    if n == 0:
        return np.zeros((0, 3), np.float32), "none", 0, ["the library has no vectors yet"]
    if n < MIN_MANIFOLD_TRACKS:
        notes.append(
            f"only {n} track(s): PCA instead of {method.upper()} "
            f"(which needs at least {MIN_MANIFOLD_TRACKS})"
        )
        return normalise_unit_cube(_pca(x)), "pca", n, notes
    fit_max = fit_max or FIT_MAX[method]
    rng = np.random.default_rng(random_state)
    if n > fit_max:
        fit_idx = np.sort(rng.choice(n, size=fit_max, replace=False))
        notes.append(
            f"{method.upper()} fitted on a random {fit_max:,} of {n:,} tracks; the other "
            f"{n - fit_max:,} placed among their 10 nearest fitted neighbours"
        )
    else:
        fit_idx = np.arange(n)
    fit = _fit_umap if method == "umap" else _fit_tsne
    try:
        with _thread_limit():
            coords = fit(x, fit_idx, random_state)
        if not np.all(np.isfinite(coords)):
            raise FloatingPointError("non-finite coordinates")
    except Exception as err:  # noqa: BLE001 - a map is better than none
        log.warning("%s failed (%s); falling back to PCA", method, err)
        notes.append(f"{method.upper()} failed ({err}); PCA shown instead")
        return normalise_unit_cube(_pca(x)), "pca", n, notes
    return normalise_unit_cube(coords), method, len(fit_idx), notes


def cluster_labels(
    vectors: np.ndarray, n_clusters: int | None = None, random_state: int = RANDOM_STATE
) -> np.ndarray:
    """k-means labels of the L2-normalised embeddings (spherical-ish k-means).

    ``n_clusters`` defaults to ``round(sqrt(n / 4))`` clipped to [2, 12] (1 below 3 rows).
    Labels are renumbered by cluster size, largest first. Above 20,000 rows
    ``MiniBatchKMeans`` is used.
    """
    x = unit_rows(vectors)
    n = len(x)
    if n == 0:
        return np.zeros(0, np.int32)
    if n_clusters is None:
        n_clusters = 1 if n < 3 else int(np.clip(round(np.sqrt(n / 4)), 2, 12))
    n_clusters = max(1, min(n_clusters, n))
    if n_clusters == 1:
        return np.zeros(n, np.int32)
    from sklearn.cluster import KMeans, MiniBatchKMeans

    with warnings.catch_warnings(), _thread_limit():
        warnings.simplefilter("ignore")
        if n > 20_000:
            km = MiniBatchKMeans(n_clusters, random_state=random_state, n_init=3, batch_size=4096)
        else:
            km = KMeans(n_clusters, random_state=random_state, n_init=3)
        labels = km.fit_predict(x)
    order = np.argsort(-np.bincount(labels, minlength=n_clusters), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[labels].astype(np.int32)


def vectors_digest(ids: list[str], vectors: np.ndarray) -> str:
    """BLAKE2b digest of the ids and vector bytes (what a cached map must match)."""
    h = hashlib.blake2b(digest_size=16)
    h.update("\n".join(ids).encode())
    h.update(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
    return h.hexdigest()


def compute_map(
    model: str,
    version: str,
    catalog_version: int,
    ids: list[str],
    vectors: np.ndarray,
    method: str = "umap",
    fit_max: int | None = None,
    digest: str | None = None,
) -> MapResult:
    """Compute a map (coordinates and clusters) from a library's vectors."""
    t0 = time.perf_counter()
    coords, used, fit_size, notes = embed_3d(vectors, method, fit_max=fit_max)
    clusters = cluster_labels(vectors)
    return MapResult(
        model=model,
        version=version,
        method=method,
        method_used=used,
        catalog_version=catalog_version,
        digest=digest or vectors_digest(ids, vectors),
        ids=list(ids),
        coords=coords,
        clusters=clusters,
        fit_size=fit_size,
        notes=notes,
        compute_s=round(time.perf_counter() - t0, 3),
    )


# -- cache ---------------------------------------------------------------------------


def cache_path(root: str | os.PathLike, model: str, method: str) -> Path:
    """``<library>/maps/<model>-<method>.npz`` (the model name made file-safe)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", model)
    return Path(root) / MAPS_DIR / f"{safe}-{method}.npz"


def _key(result: MapResult) -> dict[str, Any]:
    return {
        "format": MAP_FORMAT,
        "model": result.model,
        "version": result.version,
        "method": result.method,
        "catalog_version": result.catalog_version,
        "digest": result.digest,
    }


def save_map(path: Path, result: MapResult) -> bool:
    """Write ``result`` atomically to ``path`` (a temp file, then a rename) and delete the
    temp files that killed writers of the same cache left; False (and a log line) if it
    cannot."""
    meta = {
        **_key(result),
        "method_used": result.method_used,
        "fit_size": result.fit_size,
        "notes": result.notes,
        "compute_s": result.compute_s,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".partial.npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(
                    fh,
                    ids=np.array(result.ids, dtype=str),
                    coords=result.coords.astype(np.float32),
                    clusters=result.clusters.astype(np.int32),
                    meta=np.array(json.dumps(meta)),
                )
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as err:
        log.warning("cannot write the map cache %s: %s", path, err)
        return False
    # A writer killed mid-write (issue 16) left its temp file: the cache is whole now, so
    # the leftovers of this cache go (a writer still busy loses only its own write).
    for leftover in path.parent.glob(f"{path.stem}*.partial.npz"):
        with contextlib.suppress(OSError):
            leftover.unlink()
    return True


def load_map(
    path: Path,
    model: str,
    version: str,
    method: str,
    catalog_version: int,
    digest: str | None = None,
) -> MapResult | None:
    """The cached map at ``path`` if its key matches exactly, else None (never stale)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            ids = [str(i) for i in data["ids"]]
            coords = data["coords"].astype(np.float32)
            clusters = data["clusters"].astype(np.int32)
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    want = {
        "format": MAP_FORMAT,
        "model": model,
        "version": version,
        "method": method,
        "catalog_version": catalog_version,
    }
    if any(meta.get(k) != v for k, v in want.items()):
        return None
    if digest is not None and meta.get("digest") != digest:
        return None
    if coords.shape != (len(ids), 3) or clusters.shape != (len(ids),):
        return None
    return MapResult(
        model=model,
        version=version,
        method=method,
        method_used=meta.get("method_used", method),
        catalog_version=catalog_version,
        digest=meta.get("digest", ""),
        ids=ids,
        coords=coords,
        clusters=clusters,
        fit_size=int(meta.get("fit_size", len(ids))),
        notes=list(meta.get("notes", [])),
        compute_s=0.0,
        source="disk",
    )


def library_map(library: Any, model: str | None = None, method: str = "umap") -> MapResult:
    """The map of a :class:`~songscape.library.library.Library`: cached, or computed and cached.

    Parameters
    ----------
    library : Library
        An open library.
    model : str, optional
        Embedding model (default: the library's default model).
    method : {"umap", "tsne"}
        Manifold method.
    """
    if method not in METHODS:
        raise ValueError(f"unknown map method {method!r} (choose from {', '.join(METHODS)})")
    catalog_version = library.store.catalog_version
    data = library.embeddings(model)
    digest = vectors_digest(data["ids"], data["vectors"])
    path = cache_path(library.root, data["model"], method)
    cached = load_map(path, data["model"], data["version"], method, catalog_version, digest)
    if cached is not None:
        return cached
    result = compute_map(
        data["model"], data["version"], catalog_version, data["ids"], data["vectors"],
        method, digest=digest,
    )  # fmt: skip
    save_map(path, result)
    return result
