"""``/api/stats``: a summary of the library."""

from __future__ import annotations

from fastapi import APIRouter

from songscape.search import maps
from songscape.server.deps import StateDep
from songscape.server.models import JSON_ROUTE, StatsOut

router = APIRouter(tags=["library"])


@router.get("/api/stats", summary="Library summary", response_model=StatsOut, **JSON_ROUTE)
def stats(state: StateDep) -> dict:
    """Counts, durations, formats, genres, keys, tempo range, models and vectors."""
    out = state.call(lambda lib: lib.stats())
    out.pop("library", None)  # the library's path on the server's disk
    out["map_methods"] = list(maps.METHODS)
    return out
