"""Search: tracks similar to a track, its distance to every track, and text search."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Query

from songscape.errors import NoVectorError
from songscape.server.deps import StateDep
from songscape.server.errors import ApiError, plain_errors_as
from songscape.server.models import JSON_ROUTE, DistancesOut, SearchOut, SimilarOut
from songscape.server.payloads import public_track

router = APIRouter(tags=["search"])


@router.get("/api/tracks/{track_id}/similar", summary="Similar tracks",
            response_model=SimilarOut, **JSON_ROUTE)  # fmt: skip
def similar(
    track_id: str,
    state: StateDep,
    k: Annotated[int, Query(ge=1, le=100, description="results wanted")] = 10,
    filter: Annotated[list[str] | None, Query(
        description="repeatable: tempo=90..110, key=compatible, key=A minor, tag=rock, "
        "tag=mtt:piano, duration=120..300, artist=Name")] = None,
    model: Annotated[str | None, Query(description="embedding model (default: the "
                                       "library's)")] = None,
    other_artists: bool = False,
    half_double: bool = False,
    by: Annotated[Literal["track", "segment"] | None, Query(
        description="compare whole tracks (default) or 10 s segments")] = None,
) -> dict:  # fmt: skip
    """Nearest tracks by cosine similarity of embeddings, with explanations
    (shared tags, tempo, key, same artist/album); see docs/search.md. With
    ``by=segment`` each of the track's 10 s windows is compared with every track's
    windows, and each result says which ``window`` matched."""
    state.track_row(track_id)
    name, _ = state.check_model(model)
    filters = list(filter or [])
    # Library.similar says "no vector for this track" with a plain LookupError.
    with plain_errors_as({LookupError: 404}):
        result = state.call(
            lambda lib: lib.similar(
                track_id, k=k, model=name, filters=filters,
                other_artists=other_artists, half_double=half_double, by=by,
            )
        )  # fmt: skip
    result["query"] = public_track(result["query"])
    result["results"] = [public_track(r) for r in result["results"]]
    return result


@router.get("/api/tracks/{track_id}/distances",
            summary="Cosine distance from a track to every track",
            response_model=DistancesOut, **JSON_ROUTE)  # fmt: skip
def distances(
    track_id: str,
    state: StateDep,
    model: Annotated[str | None, Query(description="embedding model")] = None,
) -> dict:
    """`1 - cosine similarity` of embeddings (0 = same direction, 2 = opposite), for
    every healthy track with a vector; what the page's distance slider filters on."""
    state.track_row(track_id)
    name, _ = state.check_model(model)
    ids, x, rows = state.unit_vectors(name)
    row = rows.get(track_id)
    if row is None:
        raise NoVectorError(f"track {track_id} has no {name} vector yet")
    dist = np.clip(1.0 - x @ x[row], 0.0, 2.0)
    return {
        "id": track_id,
        "model": name,
        "ids": ids,
        "distance": np.round(dist.astype(np.float64), 4).tolist(),
    }


@router.get("/api/search", summary="Text search", response_model=SearchOut, **JSON_ROUTE)
def search(
    state: StateDep,
    q: Annotated[str, Query(min_length=1, max_length=300,
                            description="e.g. 'calm piano', 'play Kevin MacLeod'")],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict:  # fmt: skip
    """Words to tracks: catalog names, moods/activities, tag names and an offline
    sentence model (see docs/search.md); `intent` says how the query was read."""
    if not q.strip():
        raise ApiError(422, "bad parameter — q: the query is empty")
    result = state.call(lambda lib: lib.search(q, k=k))
    result["results"] = [public_track(r) for r in result["results"]]
    return result
