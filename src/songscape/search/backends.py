"""The vector-index backends and the one function that opens the configured one.

Every backend keeps one model's track embeddings in step with the catalog and answers
nearest-neighbour queries with the same methods (:class:`IndexBackend`):

=========  ===================================================  =======================
backend    where the vectors live                               filters
=========  ===================================================  =======================
faiss      files beside the catalog, ``<library>/index/``       allowed-set (songscape)
           (:class:`~songscape.search.index.VectorIndex`)
milvus     a Milvus Lite file or a Milvus server                pushed down to Milvus
           (:class:`~songscape.search.milvus_index.MilvusIndex`)
=========  ===================================================  =======================

The library's configuration chooses (``songscape config set index.backend milvus``,
``index.uri``, ``index.milvus_index``); ``similar``, ``path`` and ``index`` take
``--backend`` to override it for one call.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from songscape.catalog.settings import check_value, get_setting
from songscape.catalog.store import LibraryStore
from songscape.errors import QueryError

BACKENDS = ("faiss", "milvus")


class IndexBackend(Protocol):
    """What :func:`~songscape.search.similar.similar_to_vector`, ``Library.path`` and
    ``songscape index`` use of a vector index."""

    @property
    def kind(self) -> str: ...

    @property
    def n(self) -> int: ...

    def sync(self, force: bool = False) -> dict[str, Any]: ...

    def check(self) -> dict[str, Any]: ...

    def rebuild(self) -> dict[str, Any]: ...

    def search(
        self,
        vectors: np.ndarray,
        k: int = 10,
        *,
        exclude: set[str] | None = None,
        allowed: set[str] | None = None,
    ) -> Any: ...


def configured_backend(store: LibraryStore, backend: str | None = None) -> str:
    """``backend`` when given (checked), else the library's ``index.backend``."""
    if backend is not None:
        return check_value("index.backend", backend)
    return get_setting(store, "index.backend") or "faiss"


def open_index(
    store: LibraryStore, model: str, backend: str | None = None, uri: str | None = None
) -> IndexBackend:
    """Open (and sync) ``model``'s index in ``backend`` (default: the configured one);
    ``uri`` overrides the configured Milvus URI."""
    name = configured_backend(store, backend)
    if name == "milvus":
        from songscape.search.milvus_index import MilvusIndex

        return MilvusIndex.open(
            store, model,
            uri=uri or get_setting(store, "index.uri"),
            index_type=get_setting(store, "index.milvus_index") or "FLAT",
            prefix=get_setting(store, "index.milvus_prefix") or "songscape",
        )  # fmt: skip
    from songscape.search.index import VectorIndex

    return VectorIndex.open(store, model)


def path_through_index(
    index: IndexBackend, vectors: dict[str, np.ndarray], start: str, end: str, steps: int = 8
) -> list[str]:
    """The tracks of a smooth path from ``start`` to ``end``, each waypoint answered by
    ``index`` (any backend).

    The waypoints are those of :func:`~songscape.search.similar.path_between` (evenly
    spaced on the great circle between the two unit vectors); each takes its nearest
    track not used yet, found by one index query that excludes the used ones.

    Parameters
    ----------
    index : IndexBackend
    vectors : dict of str to np.ndarray
        Unit vectors of ``start`` and ``end``.
    start, end : str
        Track ids.
    steps : int
        Tracks strictly between them (fewer when the index holds fewer).

    Returns
    -------
    list of str
        ``[start, ..., end]``, no track twice.
    """
    if start == end:
        raise QueryError("the path needs two different tracks")
    if steps < 0:
        raise QueryError(f"steps must not be negative, got {steps}")
    a, b = vectors[start].astype(np.float64), vectors[end].astype(np.float64)
    omega = math.acos(float(np.clip(a @ b, -1.0, 1.0)))
    used = {start, end}
    chosen: list[str] = []
    for i in range(1, steps + 1):
        t = i / (steps + 1)
        if omega < 1e-6:
            waypoint = a
        else:
            waypoint = (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)
        hits = index.search(waypoint.astype(np.float32), 1, exclude=set(used))
        if not hits:
            break
        track = hits[0][0]
        used.add(track)
        chosen.append(track)
    return [start, *chosen, end]
