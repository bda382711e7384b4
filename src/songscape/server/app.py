"""The songscape web app: an HTTP API over a library, and the 3D map page.

``create_app(library_dir)`` returns a FastAPI application; ``songscape serve`` runs it
with uvicorn. The endpoints are listed in docs/web.md and at ``/docs`` (OpenAPI).

Where things are
    ``routers/``, one module per resource; ``deps.py``, what a route gets (the
    :class:`~songscape.server.deps.ServerState` with the library thread and the caches);
    ``errors.py``, how exceptions become HTTP statuses; ``payloads.py``, the JSON shapes
    of tracks and of the map.

Files
    Audio is served by track id only: the path comes from the catalog row of a healthy
    track, never from the request, so there is no way to name another file. Responses
    carry no absolute paths of the server's disk (``filename`` is the base name).
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from songscape import __version__
from songscape.search.text_query import get_text_encoder
from songscape.server.contract import install_contract
from songscape.server.deps import ServerState, Settings
from songscape.server.errors import install_error_handlers
from songscape.server.rate_limits import install_rate_limits
from songscape.server.routers import audio, maps, page, recommend, search, stats, tracks
from songscape.server.routers import identify as identify_routes
from songscape.server.routers import mixes as mix_routes
from songscape.server.routers import paths as path_routes
from songscape.server.routers import playlists as playlist_routes
from songscape.server.routers import sing as sing_routes
from songscape.server.routers import taggram as taggram_routes
from songscape.server.routers import users as user_routes

log = logging.getLogger(__name__)


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
        An existing library (raises ``songscape.errors.LibraryError`` if there is none).
    warm_up : bool
        At startup, compute (or load) the default map and load the text-query model in
        a background thread, so the page's first requests are fast (``songscape serve``).
    map_fit_max : int, optional
        Override the most tracks the map's manifold is fitted on (tests, benchmarks).

    Returns
    -------
    FastAPI
        ``app.state.songscape`` is the :class:`~songscape.server.deps.ServerState`.
    """
    settings = Settings(Path(library_dir), warm_up=warm_up, map_fit_max=map_fit_max)
    state = ServerState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.warm_up:
            threading.Thread(target=_warm_up, args=(state,), daemon=True).start()
        try:
            yield
        finally:
            mix_routes.close_jobs(app)
            state.close()

    app = FastAPI(
        title="songscape",
        version=__version__,
        description="A music library as an HTTP API: tracks, audio, similar tracks, text "
        'search and a 3D map. Errors are JSON objects `{"error": message}`.',
        lifespan=lifespan,
    )
    app.state.songscape = state
    install_error_handlers(app)
    install_rate_limits(app)  # per-client limits (off unless `serve` sets them)
    install_contract(app)  # errors in OpenAPI, HEAD, headers, gzip, offline docs, auth
    # The order of the routes is the order of /openapi.json.
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=page.STATIC_DIR), name="static")
    for module in (stats, tracks, audio, search, maps, recommend):
        app.include_router(module.router)
    app.include_router(path_routes.router)
    app.include_router(playlist_routes.router)
    app.include_router(user_routes.router)
    app.include_router(taggram_routes.router)
    app.include_router(identify_routes.router)
    app.include_router(sing_routes.router)
    app.include_router(mix_routes.router)
    return app


def _warm_up(state: ServerState) -> None:
    """Compute (or load) the default map, then load the sentence model of text queries.

    Runs in a background thread: the map's UMAP and the model load happen outside the
    library thread, so requests arriving meanwhile are served (the map request waits for
    the computation in progress instead of starting another).
    """
    try:
        state.map_json(None, "umap")
        get_text_encoder().encode(["warm up"])
        state.call(lambda lib: lib.search("just play", k=1))
    except Exception as err:  # noqa: BLE001 - a failed warm-up only costs speed
        log.warning("warm-up failed: %s", err)
