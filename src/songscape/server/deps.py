"""What the routes depend on: the app's settings and its :class:`ServerState` (the library
thread and the caches), given to a route by ``state: StateDep``.

Threads
    A :class:`~songscape.library.library.Library` holds one SQLite connection and
    in-memory indexes that are not thread-safe, while FastAPI runs plain ``def`` routes
    on a thread pool. Every library call therefore goes through :class:`LibraryWorker`,
    one dedicated thread that owns the library (opened there). The slow, library-free work
    (computing a map, streaming audio) runs outside it, so a UMAP computation never blocks
    the other requests.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
from fastapi import Depends, Request

from songscape.catalog import web
from songscape.errors import TrackNotFoundError
from songscape.library.library import Library
from songscape.models.registry import get_spec
from songscape.search import maps
from songscape.server import payloads
from songscape.vectors import unit_rows

T = TypeVar("T")

#: 16 hex digits, longer only after a (rare) prefix clash (see catalog.tracks.new_track_id).
TRACK_ID_RE = re.compile(r"^[0-9a-f]{16,64}$")


@dataclass(frozen=True)
class Settings:
    """How one app serves its library (the arguments of ``create_app``).

    Attributes
    ----------
    library_dir : Path
        The library directory.
    warm_up : bool
        Compute (or load) the default map and load the text-query model at startup.
    map_fit_max : int or None
        The most tracks a map's manifold is fitted on (None: ``maps.FIT_MAX``).
    """

    library_dir: Path
    warm_up: bool = False
    map_fit_max: int | None = None


class LibraryWorker:
    """Runs every call on a :class:`Library` on one dedicated thread that owns it.

    Parameters
    ----------
    root : path-like
        The library directory (must exist: raises ``LibraryError`` otherwise).
    """

    def __init__(self, root: str | os.PathLike):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="songscape-library")
        try:
            self.library = self._pool.submit(Library, root, False).result()
        except BaseException:
            self._pool.shutdown(wait=False)
            raise
        self.root = self.library.root

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(library, *args, **kwargs)`` on the library thread; returns its result."""
        return self._pool.submit(fn, self.library, *args, **kwargs).result()

    def close(self) -> None:
        try:
            self._pool.submit(self.library.close).result()
        finally:
            self._pool.shutdown(wait=True)


class ServerState:
    """What one app holds: its settings, the library thread, and in-memory caches keyed on
    the catalog version (encoded maps, per-point fields, unit vectors).

    Parameters
    ----------
    settings : Settings
        Opens the library at ``settings.library_dir`` (``LibraryError`` if there is none).
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.worker = LibraryWorker(settings.library_dir)
        self._lock = threading.Lock()
        self._map_locks: dict[tuple[str, str], threading.Lock] = {}
        self._maps: dict[tuple[str, str], tuple[int, bytes, dict]] = {}
        self._fields: tuple[int, str | None, dict[str, dict]] | None = None
        self._vectors: dict[str, tuple[int, list[str], np.ndarray, dict[str, int]]] = {}

    def close(self) -> None:
        self.worker.close()

    # -- library calls ------------------------------------------------------------
    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(library, *args, **kwargs)`` on the library thread."""
        return self.worker.call(fn, *args, **kwargs)

    def catalog_version(self) -> int:
        return self.call(lambda lib: lib.store.catalog_version)

    def check_model(self, model: str | None) -> tuple[str, str]:
        """``(name, version)`` of ``model`` (default: the library's).

        Raises ``UnknownModelError`` (400) for a model not in the registry.
        """
        spec = get_spec(model or self.call(lambda lib: lib.default_model))
        return spec.name, spec.version

    def track_row(self, track_id: str) -> dict:
        """``{"id", "path", "status", "size_bytes"}`` of a track, by exact id only.

        Raises ``TrackNotFoundError`` (404) for anything that is not the full id of a
        catalog track: no prefixes, no paths.
        """
        if not TRACK_ID_RE.fullmatch(track_id):
            raise TrackNotFoundError(f"no track {track_id!r} (ids are 16 hex digits)")
        row = self.call(lambda lib: web.track_file(lib.store.conn, track_id))
        if row is None:
            raise TrackNotFoundError(f"no track {track_id!r} in the library")
        return row

    # -- per-point fields of the map ---------------------------------------------
    def fields(self, version: int) -> tuple[str | None, dict[str, dict]]:
        """:func:`payloads.point_fields`, cached per catalog version."""
        with self._lock:
            if self._fields is not None and self._fields[0] == version:
                return self._fields[1], self._fields[2]
        tag_model, fields = self.call(payloads.point_fields)
        with self._lock:
            self._fields = (version, tag_model, fields)
        return tag_model, fields

    # -- vectors (for distances) -------------------------------------------------
    def unit_vectors(self, model: str) -> tuple[list[str], np.ndarray, dict[str, int]]:
        """``(ids, unit vectors, {id: row})`` of ``model``, cached per catalog version."""
        version = self.catalog_version()
        with self._lock:
            hit = self._vectors.get(model)
            if hit is not None and hit[0] == version:
                return hit[1], hit[2], hit[3]
        data = self.call(lambda lib: lib.embeddings(model))
        ids, x = data["ids"], unit_rows(data["vectors"])
        rows = {t: i for i, t in enumerate(ids)}
        with self._lock:
            self._vectors[model] = (version, ids, x, rows)
        return ids, x, rows

    # -- the map -----------------------------------------------------------------
    def map_json(self, model: str | None, method: str) -> bytes:
        """The encoded ``/api/map`` payload: from memory, else the disk cache, else
        computed (outside the library thread)."""
        name, version = self.check_model(model)
        key = (name, method)
        with self._lock:
            lock = self._map_locks.setdefault(key, threading.Lock())
        with lock:  # one computation per (model, method); the others wait for it
            catalog_version = self.catalog_version()
            with self._lock:
                hit = self._maps.get(key)
            if hit is not None and hit[0] == catalog_version:
                return hit[1]
            catalog_version, data = self.call(payloads.versioned_embeddings, name)
            digest = maps.vectors_digest(data["ids"], data["vectors"])
            path = maps.cache_path(self.worker.root, name, method)
            result = maps.load_map(path, name, version, method, catalog_version, digest)
            if result is None:
                result = maps.compute_map(
                    name, version, catalog_version, data["ids"], data["vectors"], method,
                    fit_max=self.settings.map_fit_max, digest=digest,
                )  # fmt: skip
                maps.save_map(path, result)
            tag_model, fields = self.fields(catalog_version)
            names = self.call(payloads.map_cluster_names, tag_model, result)
            payload = payloads.map_payload(result, tag_model, fields, names)
            body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
            with self._lock:
                self._maps[key] = (catalog_version, body, payload)
            return body


def get_state(request: Request) -> ServerState:
    """The :class:`ServerState` of the app serving ``request``."""
    return request.app.state.songscape


#: A route parameter ``state: StateDep`` receives the app's :class:`ServerState`.
StateDep = Annotated[ServerState, Depends(get_state)]
