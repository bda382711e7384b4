"""``/api/recommend``: recommendations from imported listening events and playlists
(:mod:`songscape.recommend.service`; docs/recommend.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from songscape.recommend import service
from songscape.server.deps import StateDep
from songscape.server.errors import ApiError, plain_errors_as
from songscape.server.models import JSON_ROUTE, RecommendOut
from songscape.server.payloads import audio_url

router = APIRouter(tags=["recommend"])


@router.get("/api/recommend", summary="Recommendations from listening history",
            response_model=RecommendOut, **JSON_ROUTE)  # fmt: skip
def recommend(
    state: StateDep,
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
    if sum((user is not None, bool(seed), words is not None)) != 1:
        # 400, not 422: the schema cannot say "exactly one of"; every value was well-formed
        raise ApiError(400, "bad parameter — give exactly one of user, seed, words")
    # The service's own errors answer by ERROR_STATUS (404); its plain ValueErrors are
    # input it cannot use (no words, ...), a LookupError something it could not find.
    with plain_errors_as({LookupError: 404, ValueError: 400}):
        if user is not None:
            result = state.call(lambda lib: service.recommend_user(lib.store, user, k, model))
        elif words is not None:
            text = words
            result = state.call(lambda lib: service.recommend_words(lib.store, text, k))
        else:
            seeds = list(seed or [])
            result = state.call(lambda lib: service.recommend_seed(lib.store, seeds, k))
    for r in result["results"]:
        r["audio_url"] = audio_url(r["track_id"]) if r["track_id"] else None
    return result
