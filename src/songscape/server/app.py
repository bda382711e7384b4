"""The songscape web app: an HTTP API over a library, and the 3D map page.

``create_app(library_dir)`` returns a FastAPI application; ``songscape serve`` runs it
with uvicorn. The endpoints are listed in docs/web.md and at ``/docs`` (OpenAPI).

Threads
    A :class:`~songscape.library.library.Library` holds one SQLite connection and
    in-memory indexes that are not thread-safe, while FastAPI runs plain ``def``
    endpoints on a thread pool. Every library call therefore goes through
    :class:`LibraryWorker`, one dedicated thread that owns the library (opened there).
    The slow, library-free work (computing a map, streaming audio) runs outside it, so
    a UMAP computation never blocks the other requests.

Files
    Audio is served by track id only: the path comes from the catalog row of a healthy
    track, never from the request, so there is no way to name another file. Responses
    carry no absolute paths of the server's disk (``filename`` is the base name).
"""

from __future__ import annotations

import email.utils
import json
import logging
import mimetypes
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from songscape import __version__
from songscape.search import maps

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
# 16 hex digits, longer only after a (rare) prefix clash (see library.pipeline._new_track_id).
TRACK_ID_RE = re.compile(r"^[0-9a-f]{16,64}$")
CHUNK_BYTES = 256 * 1024
#: Colour fields of the map, and how the page draws them.
COLOUR_FIELDS = (
    ("genre", "genre (file tag)", "categorical"),
    ("top_tag", "top tag", "categorical"),
    ("album", "album", "categorical"),
    ("artist", "artist", "categorical"),
    ("tempo", "tempo (BPM)", "continuous"),
    ("key", "key", "categorical"),
    ("cluster", "cluster (k-means)", "categorical"),
)
#: Content types by file extension (browsers need them to pick a decoder).
AUDIO_TYPES = {
    ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg",
    ".wav": "audio/wav", ".flac": "audio/flac", ".m4a": "audio/mp4", ".m4b": "audio/mp4",
    ".mp4": "audio/mp4", ".aac": "audio/aac", ".alac": "audio/mp4", ".aif": "audio/aiff",
    ".aiff": "audio/aiff", ".aifc": "audio/aiff", ".au": "audio/basic", ".snd": "audio/basic",
    ".caf": "audio/x-caf", ".w64": "audio/wav", ".rf64": "audio/wav", ".wma": "audio/x-ms-wma",
    ".asf": "audio/x-ms-asf", ".wv": "audio/wavpack", ".ape": "audio/ape",
    ".mka": "audio/x-matroska", ".webm": "audio/webm", ".ac3": "audio/ac3",
    ".mpc": "audio/musepack",
}  # fmt: skip

T = TypeVar("T")


class ApiError(Exception):
    """An error answered as ``{"error": message}`` with an HTTP status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class RangeNotSatisfiable(ValueError):
    """A ``Range`` header that is malformed or outside the file."""


# -- the library thread --------------------------------------------------------------


class LibraryWorker:
    """Runs every call on a :class:`Library` on one dedicated thread that owns it.

    Parameters
    ----------
    root : path-like
        The library directory (must exist: raises ``LibraryError`` otherwise).
    """

    def __init__(self, root: str | os.PathLike):
        from songscape.library.library import Library

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


# -- helpers -------------------------------------------------------------------------


def _public(track: dict) -> dict:
    """A track dict for the API: no server paths, plus ``filename`` and ``audio_url``."""
    out = {k: v for k, v in track.items() if k != "path"}
    if "path" in track:
        out["filename"] = os.path.basename(track["path"]) if track["path"] else None
        if "title" in track:
            out["display_title"] = _display_title(track["title"], track["path"])
    if track.get("id"):
        out["audio_url"] = f"/api/tracks/{track['id']}/audio"
    return out


def _display_title(title: str | None, path: str | None) -> str:
    if title:
        return title
    return os.path.splitext(os.path.basename(path or ""))[0] or "(untitled)"


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The byte range ``(first, last)`` (inclusive) asked for by a ``Range`` header.

    Returns None when the header asks for several ranges (the whole file is sent, as
    RFC 9110 allows). Raises :class:`RangeNotSatisfiable` for a malformed header, a
    start beyond the end of the file, a reversed range or an empty suffix.
    """
    text = header.strip()
    unit, _, spec = text.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        raise RangeNotSatisfiable(f"unsupported range {header!r} (only bytes=first-last)")
    if "," in spec:
        return None
    m = re.fullmatch(r"\s*(\d*)\s*-\s*(\d*)\s*", spec)
    if not m or (not m.group(1) and not m.group(2)):
        raise RangeNotSatisfiable(f"malformed range {header!r}")
    first, last = m.group(1), m.group(2)
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable(f"empty suffix range {header!r}")
        return max(0, size - n), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable(f"range {header!r} not satisfiable for {size} bytes")
    return start, end


def _file_chunks(path: str, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            chunk = fh.read(min(CHUNK_BYTES, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


def _audio_type(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    return AUDIO_TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"


# -- the app state -------------------------------------------------------------------


class ServerState:
    """What one app holds: the library thread and the in-memory caches keyed on
    ``catalog_version`` (maps, per-point fields, unit vectors)."""

    def __init__(self, library_dir: str | os.PathLike, map_fit_max: int | None = None):
        self.worker = LibraryWorker(library_dir)
        self.map_fit_max = map_fit_max
        self._lock = threading.Lock()
        self._map_locks: dict[tuple[str, str], threading.Lock] = {}
        self._maps: dict[tuple[str, str], tuple[int, bytes, dict]] = {}
        self._fields: tuple[int, str | None, dict[str, dict]] | None = None
        self._vectors: dict[str, tuple[int, list[str], np.ndarray, dict[str, int]]] = {}

    def close(self) -> None:
        self.worker.close()

    # -- library calls ------------------------------------------------------------
    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.worker.call(fn, *args, **kwargs)

    def catalog_version(self) -> int:
        return self.call(lambda lib: lib.store.catalog_version)

    def check_model(self, model: str | None) -> tuple[str, str]:
        """``(name, version)`` of ``model`` (default: the library's); 400 if unknown."""
        from songscape.models.registry import UnknownModelError, get_spec

        name = model or self.call(lambda lib: lib.default_model)
        try:
            spec = get_spec(name)
        except (UnknownModelError, KeyError) as err:
            raise ApiError(400, str(err.args[0] if err.args else err)) from err
        return spec.name, spec.version

    def track_row(self, track_id: str) -> dict:
        """The catalog row of a track id (exact ids only); 404 otherwise."""
        if not TRACK_ID_RE.fullmatch(track_id):
            raise ApiError(404, f"no track {track_id!r} (ids are 16 hex digits)")
        row = self.call(
            lambda lib: lib.store.conn.execute(
                "SELECT id, path, status, size_bytes FROM tracks WHERE id = ?", (track_id,)
            ).fetchone()
        )
        if row is None:
            raise ApiError(404, f"no track {track_id!r} in the library")
        return dict(row)

    # -- per-point fields of the map ---------------------------------------------
    def fields(self, version: int) -> tuple[str | None, dict[str, dict]]:
        """``(tag_model, {track_id: fields})`` of healthy tracks, cached per version."""
        with self._lock:
            if self._fields is not None and self._fields[0] == version:
                return self._fields[1], self._fields[2]
        tag_model, fields = self.call(_read_fields)
        with self._lock:
            self._fields = (version, tag_model, fields)
        return tag_model, fields

    # -- vectors (for distances) -------------------------------------------------
    def unit_vectors(self, model: str) -> tuple[list[str], np.ndarray, dict[str, int]]:
        version = self.catalog_version()
        with self._lock:
            hit = self._vectors.get(model)
            if hit is not None and hit[0] == version:
                return hit[1], hit[2], hit[3]
        data = self.call(lambda lib: lib.embeddings(model))
        ids, x = data["ids"], maps.unit_rows(data["vectors"])
        rows = {t: i for i, t in enumerate(ids)}
        with self._lock:
            self._vectors[model] = (version, ids, x, rows)
        return ids, x, rows

    # -- the map -----------------------------------------------------------------
    def map_json(self, model: str | None, method: str) -> bytes:
        """The encoded ``/api/map`` payload (memory, then disk cache, then computed)."""
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
            catalog_version, data = self.call(_versioned_embeddings, name)
            digest = maps.vectors_digest(data["ids"], data["vectors"])
            path = maps.cache_path(self.worker.root, name, method)
            result = maps.load_map(path, name, version, method, catalog_version, digest)
            if result is None:
                result = maps.compute_map(
                    name, version, catalog_version, data["ids"], data["vectors"], method,
                    fit_max=self.map_fit_max, digest=digest,
                )  # fmt: skip
                maps.save_map(path, result)
            tag_model, fields = self.fields(catalog_version)
            payload = _map_payload(result, tag_model, fields)
            body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
            with self._lock:
                self._maps[key] = (catalog_version, body, payload)
            return body


def _versioned_embeddings(lib: Any, model: str) -> tuple[int, dict]:
    """``(catalog_version, embeddings)`` read consistently (retried if a write landed)."""
    for _ in range(5):
        before = lib.store.catalog_version
        data = lib.embeddings(model)
        if lib.store.catalog_version == before:
            return before, data
    return lib.store.catalog_version, lib.embeddings(model)


def _read_fields(lib: Any) -> tuple[str | None, dict[str, dict]]:
    """Title, artist, album, genre, tempo, key and top tag of every healthy track."""
    from songscape.models.registry import get_spec

    conn = lib.store.conn
    rows = conn.execute(
        "SELECT t.id, t.path, t.title, t.artist, t.album, t.genre, d.tempo_bpm, d.key "
        "FROM tracks t LEFT JOIN descriptors d ON d.track_id = t.id WHERE t.status = 'ok'"
    ).fetchall()
    fields = {
        r["id"]: {
            "title": _display_title(r["title"], r["path"]),
            "artist": r["artist"],
            "album": r["album"],
            "genre": r["genre"],
            "tempo": None if r["tempo_bpm"] is None else round(float(r["tempo_bpm"]), 1),
            "key": r["key"],
            "top_tag": None,
        }
        for r in rows
    }
    # The top tag comes from one vocabulary: the default model's if it tags, else the
    # tagging model with the most tracks.
    tag_models = [
        r["model"]
        for r in conn.execute(
            "SELECT model, COUNT(DISTINCT track_id) AS n FROM tags GROUP BY model ORDER BY n DESC"
        )
    ]
    tag_model = None
    default = lib.default_model
    try:
        default_tags = bool(get_spec(default).labels)
    except KeyError:
        default_tags = False
    if default_tags and default in tag_models:
        tag_model = default
    elif tag_models:
        tag_model = tag_models[0]
    if tag_model is not None:
        # SQLite returns the bare column `tag` of the row holding MAX(probability).
        for r in conn.execute(
            "SELECT track_id, tag, MAX(probability) AS p FROM tags WHERE model = ? "
            "GROUP BY track_id",
            (tag_model,),
        ):
            if r["track_id"] in fields:
                fields[r["track_id"]]["top_tag"] = r["tag"]
    return tag_model, fields


def _map_payload(result: maps.MapResult, tag_model: str | None, fields: dict[str, dict]) -> dict:
    """The JSON of ``/api/map``: columns, one entry per point (see docs/web.md)."""
    coords = np.round(result.coords.astype(np.float64), 4)
    empty: dict[str, Any] = {}
    per = [fields.get(t, empty) for t in result.ids]

    def column(name: str) -> list:
        return [f.get(name) for f in per]

    source = None
    if tag_model:
        try:
            from songscape.models.registry import get_spec

            source = get_spec(tag_model).tag_source
        except KeyError:
            source = None
    return {
        "model": result.model,
        "version": result.version,
        "method": result.method,
        "method_used": result.method_used,
        "catalog_version": result.catalog_version,
        "n": result.n,
        "fit_size": result.fit_size,
        "subsampled": result.fit_size < result.n,
        "notes": result.notes,
        "compute_s": result.compute_s,
        "source": result.source,
        "n_clusters": result.n_clusters,
        "top_tag_model": tag_model,
        "top_tag_source": source,
        "colour_fields": [
            {"name": n, "label": label, "kind": kind} for n, label, kind in COLOUR_FIELDS
        ],
        "ids": list(result.ids),
        "x": coords[:, 0].tolist(),
        "y": coords[:, 1].tolist(),
        "z": coords[:, 2].tolist(),
        "fields": {
            "title": column("title"),
            "artist": column("artist"),
            "album": column("album"),
            "genre": column("genre"),
            "top_tag": column("top_tag"),
            "tempo": column("tempo"),
            "key": column("key"),
            "cluster": [int(c) for c in result.clusters],
        },
    }


def _track_detail(lib: Any, track_id: str) -> dict:
    track = lib.track(track_id)
    tags = lib.tags(track_id)["tags"]
    arrays = lib.store.get_arrays(track_id)
    highlight = None
    hl = arrays.get("highlight")
    if hl is not None and np.size(hl) >= 2:
        highlight = {"start_s": round(float(hl.flat[0]), 3), "end_s": round(float(hl.flat[1]), 3)}
    out = _public(track)
    out["display_title"] = _display_title(track["title"], track["path"])
    out["duplicates"] = len(track["duplicates"])
    out["top_tags"] = tags[:10]
    out["highlight"] = highlight
    return out


# -- the app -------------------------------------------------------------------------


def create_app(
    library_dir: str | os.PathLike,
    *,
    warm_up: bool = False,
    map_fit_max: int | None = None,
) -> FastAPI:
    """The web app of the library at ``library_dir``.

    Parameters
    ----------
    library_dir : path-like
        An existing library (raises ``songscape.catalog.store.LibraryError`` if there is
        none).
    warm_up : bool
        At startup, compute (or load) the default map and load the text-query model in
        a background thread, so the page's first requests are fast (``songscape serve``).
    map_fit_max : int, optional
        Override the most tracks the map's manifold is fitted on (tests, benchmarks).

    Returns
    -------
    FastAPI
        ``app.state.songscape`` is the :class:`ServerState`.
    """
    state = ServerState(library_dir, map_fit_max=map_fit_max)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm_up:
            threading.Thread(target=_warm_up, args=(state,), daemon=True).start()
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="songscape",
        version=__version__,
        description="A music library as an HTTP API: tracks, audio, similar tracks, text "
        "search and a 3D map. Errors are JSON objects `{\"error\": message}`.",
        lifespan=lifespan,
    )
    app.state.songscape = state

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404:
            message = f"not found: {request.url.path}"
        return JSONResponse(
            {"error": message}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ())[1:]) or "request"
            problems.append(f"{where}: {e.get('msg')}")
        return JSONResponse(
            {"error": "bad parameter — " + "; ".join(problems),
             "detail": [{k: e.get(k) for k in ("loc", "msg", "type")} for e in exc.errors()]},
            status_code=422,
        )  # fmt: skip

    # -- the page -------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        path = _plotly_js()
        if path is None:
            raise ApiError(404, "plotly.js not found: install the `plotly` Python package")
        return FileResponse(
            path, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    # -- the API --------------------------------------------------------------------
    @app.get("/api/stats", tags=["library"], summary="Library summary")
    def stats() -> dict:
        """Counts, durations, formats, genres, keys, tempo range, models and vectors."""
        out = state.call(lambda lib: lib.stats())
        out.pop("library", None)
        out["map_methods"] = list(maps.METHODS)
        return out

    @app.get("/api/tracks", tags=["tracks"], summary="List tracks (paged, filtered)")
    def tracks(
        offset: Annotated[int, Query(ge=0, description="first track to return")] = 0,
        limit: Annotated[int, Query(ge=1, le=500, description="tracks per page")] = 50,
        q: Annotated[str | None, Query(max_length=200, description="substring of title, "
                                       "artist, album, genre or file name")] = None,
        genre: Annotated[str | None, Query(max_length=200, description="exact genre "
                                           "(case-insensitive)")] = None,
        artist: Annotated[str | None, Query(max_length=200, description="exact artist "
                                            "(case-insensitive)")] = None,
        status: Annotated[Literal["ok", "failed", "missing", "all"], Query()] = "ok",
    ) -> dict:  # fmt: skip
        """Track summaries (see `songscape tracks --json`), ordered by artist, album,
        track number and file; `total` counts the matches before paging."""
        rows = state.call(lambda lib: lib.tracks(status=None if status == "all" else status))
        if q:
            needle = q.casefold()
            rows = [
                r for r in rows
                if any(needle in (v or "").casefold() for v in (
                    r["title"], r["artist"], r["album"], r["genre"],
                    os.path.basename(r["path"] or ""),
                ))
            ]  # fmt: skip
        if genre:
            rows = [r for r in rows if (r["genre"] or "").casefold() == genre.casefold()]
        if artist:
            rows = [r for r in rows if (r["artist"] or "").casefold() == artist.casefold()]
        page = rows[offset : offset + limit]
        return {
            "total": len(rows),
            "offset": offset,
            "limit": limit,
            "tracks": [_public(r) for r in page],
        }

    @app.get("/api/tracks/{track_id}", tags=["tracks"], summary="One track")
    def track(track_id: str) -> dict:
        """Summary, descriptors (beats, downbeats, energy curve), top tags (both
        vocabularies, most probable first), highlight (or null) and the audio URL."""
        state.track_row(track_id)
        return state.call(_track_detail, track_id)

    @app.head("/api/tracks/{track_id}/audio", include_in_schema=False)
    @app.get(
        "/api/tracks/{track_id}/audio", tags=["tracks"],
        summary="The track's audio file (HTTP Range supported; HEAD too)",
        response_class=StreamingResponse,
        responses={200: {"content": {"audio/*": {}}},
                   206: {"description": "Partial content"},
                   416: {"description": "Range not satisfiable"}},
    )  # fmt: skip
    def audio(track_id: str, request: Request) -> Response:
        """The file of a healthy catalog track, by id only. `Range: bytes=a-b`,
        `bytes=a-` and `bytes=-n` answer 206 with `Content-Range`; a malformed or
        unsatisfiable range answers 416."""
        row = state.track_row(track_id)
        if row["status"] != "ok":
            raise ApiError(404, f"track {track_id} has no playable file (status {row['status']})")
        path = row["path"]
        try:
            st = os.stat(path)
        except OSError:
            raise ApiError(404, f"the audio file of track {track_id} is missing") from None
        if not os.path.isfile(path):
            raise ApiError(404, f"the audio file of track {track_id} is missing")
        size = st.st_size
        etag = f'"{st.st_size:x}-{int(st.st_mtime_ns):x}"'
        headers = {
            "Accept-Ranges": "bytes",
            "ETag": etag,
            "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True),
            "Cache-Control": "no-cache",
        }
        media_type = _audio_type(path)
        span: tuple[int, int] | None = None
        range_header = request.headers.get("range")
        if_range = request.headers.get("if-range")
        if range_header and (if_range is None or if_range == etag):
            try:
                span = parse_range(range_header, size)
            except RangeNotSatisfiable as err:
                raise ApiError(416, str(err), headers={"Content-Range": f"bytes */{size}"}) from err
        if span is None:
            start, length, status = 0, size, 200
        else:
            start, length, status = span[0], span[1] - span[0] + 1, 206
            headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{size}"
        headers["Content-Length"] = str(length)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers, media_type=media_type)
        return StreamingResponse(
            _file_chunks(path, start, length), status_code=status, headers=headers,
            media_type=media_type,
        )  # fmt: skip

    @app.get("/api/tracks/{track_id}/similar", tags=["search"], summary="Similar tracks")
    def similar(
        track_id: str,
        k: Annotated[int, Query(ge=1, le=100, description="results wanted")] = 10,
        filter: Annotated[list[str] | None, Query(
            description="repeatable: tempo=90..110, key=compatible, key=A minor, tag=rock, "
            "tag=mtt:piano, duration=120..300, artist=Name")] = None,
        model: Annotated[str | None, Query(description="embedding model (default: the "
                                           "library's)")] = None,
        other_artists: bool = False,
        half_double: bool = False,
    ) -> dict:  # fmt: skip
        """Nearest tracks by cosine similarity of embeddings, with explanations
        (shared tags, tempo, key, same artist/album); see docs/search.md."""
        from songscape.search.similar import QueryError

        state.track_row(track_id)
        name, _ = state.check_model(model)
        filters = list(filter or [])
        try:
            result = state.call(
                lambda lib: lib.similar(
                    track_id, k=k, model=name, filters=filters,
                    other_artists=other_artists, half_double=half_double,
                )
            )  # fmt: skip
        except QueryError as err:
            raise ApiError(400, str(err)) from err
        except LookupError as err:
            raise ApiError(404, str(err.args[0] if err.args else err)) from err
        result["query"] = _public(result["query"])
        result["results"] = [_public(r) for r in result["results"]]
        return result

    @app.get("/api/tracks/{track_id}/distances", tags=["search"],
             summary="Cosine distance from a track to every track")  # fmt: skip
    def distances(
        track_id: str,
        model: Annotated[str | None, Query(description="embedding model")] = None,
    ) -> dict:
        """`1 - cosine similarity` of embeddings (0 = same direction, 2 = opposite), for
        every healthy track with a vector; what the page's distance slider filters on."""
        state.track_row(track_id)
        name, _ = state.check_model(model)
        ids, x, rows = state.unit_vectors(name)
        row = rows.get(track_id)
        if row is None:
            raise ApiError(404, f"track {track_id} has no {name} vector yet")
        dist = np.clip(1.0 - x @ x[row], 0.0, 2.0)
        return {
            "id": track_id,
            "model": name,
            "ids": ids,
            "distance": np.round(dist.astype(np.float64), 4).tolist(),
        }

    @app.get("/api/search", tags=["search"], summary="Text search")
    def search(
        q: Annotated[str, Query(min_length=1, max_length=300,
                                description="e.g. 'calm piano', 'play Kevin MacLeod'")],
        k: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> dict:  # fmt: skip
        """Words to tracks: catalog names, moods/activities, tag names and an offline
        sentence model (see docs/search.md); `intent` says how the query was read."""
        if not q.strip():
            raise ApiError(422, "bad parameter — q: the query is empty")
        result = state.call(lambda lib: lib.search(q, k=k))
        result["results"] = [_public(r) for r in result["results"]]
        return result

    @app.get("/api/map", tags=["map"], summary="3D map of the library")
    def map_(
        model: Annotated[str | None, Query(description="embedding model (default: the "
                                           "library's)")] = None,
        method: Annotated[Literal["umap", "tsne"], Query()] = "umap",
    ) -> Response:  # fmt: skip
        """One point per healthy track with a vector: `ids`, `x`, `y`, `z` (unit cube)
        and colour fields (`fields.title/artist/album/genre/top_tag/tempo/key/cluster`),
        as columns. Cached per model, method and catalog version (memory and
        `<library>/maps/`); `notes` says when PCA or subsampling was used."""
        t0 = time.perf_counter()
        body = state.map_json(model, method)
        return Response(
            body, media_type="application/json",
            headers={"Server-Timing": f"map;dur={(time.perf_counter() - t0) * 1000:.1f}"},
        )  # fmt: skip

    @app.get("/api/recommend", tags=["recommend"],
             summary="Recommendations from listening history")  # fmt: skip
    def recommend(
        user: Annotated[str | None, Query(max_length=200, description="a user of the "
                                          "imported events")] = None,
        seed: Annotated[list[str] | None, Query(description="repeatable: a new user's "
                                                "liked track ids or items")] = None,
        words: Annotated[str | None, Query(max_length=500, description="words of the "
                                           "playlists' titles and tags, e.g. 'autumn "
                                           "rain'")] = None,
        k: Annotated[int, Query(ge=1, le=200, description="results wanted")] = 20,
        model: Annotated[Literal["als", "bpr", "bpr-pop", "item2vec", "hybrid",
                                 "popularity"], Query()] = "als",
    ) -> dict:  # fmt: skip
        """Top-k items for a user (a fresh precomputed list when there is one, see
        `songscape recommend --precompute`), for seed tracks (ALS fold-in) or for words
        (item2vec over the playlists with their titles and tags). Items linked to library
        tracks carry `track_id`, `title`, `artist` and `audio_url`; other items carry the
        `artist`/`title` recorded on import, if any. 404 for an unknown user, seed or
        words, or a library without listening events (for words: without playlists or
        events)."""
        from songscape.recommend import service

        if sum((user is not None, bool(seed), words is not None)) != 1:
            raise ApiError(422, "bad parameter — give exactly one of user, seed, words")
        try:
            if user is not None:
                result = state.call(lambda lib: service.recommend_user(lib.store, user, k, model))
            elif words is not None:
                text = words
                result = state.call(lambda lib: service.recommend_words(lib.store, text, k))
            else:
                seeds = list(seed or [])
                result = state.call(lambda lib: service.recommend_seed(lib.store, seeds, k))
        except (LookupError, service.NoEventsError) as err:
            raise ApiError(404, str(err.args[0] if err.args else err)) from err
        except ValueError as err:
            raise ApiError(400, str(err)) from err
        for r in result["results"]:
            r["audio_url"] = f"/api/tracks/{r['track_id']}/audio" if r["track_id"] else None
        return result

    return app


def _plotly_js() -> Path | None:
    try:
        import plotly
    except ImportError:
        return None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


def _warm_up(state: ServerState) -> None:
    """Compute (or load) the default map, then load the sentence model of text queries.

    Runs in a background thread: the map's UMAP and the model load happen outside the
    library thread, so requests arriving meanwhile are served (the map request waits for
    the computation in progress instead of starting another).
    """
    try:
        state.map_json(None, "umap")
        from songscape.search.text_query import get_text_encoder

        get_text_encoder().encode(["warm up"])
        state.call(lambda lib: lib.search("just play", k=1))
    except Exception as err:  # noqa: BLE001 - a failed warm-up only costs speed
        log.warning("warm-up failed: %s", err)
