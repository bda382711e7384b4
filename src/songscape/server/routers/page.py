"""The map page: ``/`` and the plotly.js of the installed ``plotly`` package (no CDN).

The page's own files are served from ``static/`` by the ``StaticFiles`` mount of
:func:`songscape.server.app.create_app`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from songscape.server.errors import ApiError

#: The page's HTML, JavaScript and CSS.
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

router = APIRouter()


def plotly_js_path() -> Path | None:
    """``plotly.min.js`` of the installed ``plotly`` Python package, or None."""
    try:
        import plotly
    except ImportError:
        return None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


@router.get("/", include_in_schema=False)
def index(
    track: Annotated[str | None, Query(max_length=200)] = None,
    colour: Annotated[str | None, Query(max_length=100)] = None,
) -> FileResponse:
    """The page. ``?track=ID`` (a shared link) selects that song, ``?colour=FIELD`` colours
    the map by that field; the page's script reads them, declared here so that the strict
    query check of :mod:`songscape.server.contract` lets them through."""
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/vendor/plotly.min.js", include_in_schema=False)
def plotly_js() -> FileResponse:
    path = plotly_js_path()
    if path is None:
        raise ApiError(404, "plotly.js not found: install the `plotly` Python package")
    return FileResponse(
        path, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
    )
