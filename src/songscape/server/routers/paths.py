"""``/api/path``: a smooth sequence of songs from one track to another (``Library.path``),
what the page's path mode draws through the map and plays as a queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from songscape.server.deps import StateDep
from songscape.server.errors import plain_errors_as
from songscape.server.models import JSON_ROUTE, PathOut
from songscape.server.payloads import public_track

router = APIRouter(tags=["search"])


@router.get("/api/path", summary="A path of similar songs from one track to another",
            response_model=PathOut, **JSON_ROUTE)  # fmt: skip
def path(
    state: StateDep,
    start: Annotated[str, Query(alias="from", min_length=1, max_length=200,
                                description="the first track's id")],
    end: Annotated[str, Query(alias="to", min_length=1, max_length=200,
                              description="the last track's id")],
    steps: Annotated[int, Query(ge=1, le=50, description="songs between the two")] = 8,
    model: Annotated[str | None, Query(description="embedding model (default: the "
                                       "library's)")] = None,
) -> dict:  # fmt: skip
    """`path`: `from`, up to `steps` tracks between (fewer in a small library), `to`;
    each with `similarity` to the one before; see `songscape path`."""
    state.track_row(start)
    state.track_row(end)
    name, _ = state.check_model(model)
    with plain_errors_as({LookupError: 404}):
        result = state.call(lambda lib: lib.path(start, end, steps=steps, model=name))
    result["path"] = [public_track(t) for t in result["path"]]
    return result
