"""``/api/tracks``: the library's tracks, paged and filtered, and one track in full."""

from __future__ import annotations

import os
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from songscape.library.library import Library
from songscape.server.deps import StateDep
from songscape.server.models import JSON_ROUTE, TrackDetail, TrackPage
from songscape.server.payloads import display_title, public_track

router = APIRouter(tags=["tracks"])


def track_detail(lib: Library, track_id: str) -> dict:
    """``Library.track`` for the API: public fields, ``display_title``, the number of
    duplicates, the 10 most probable tags of both vocabularies, and
    :meth:`Library.timeline`'s ``highlight`` (``{start_s, end_s, method, score}``),
    ``sections``, ``energy_curve`` (``{times_s, values}``, values 0..1), ``beat_times``
    and ``downbeat_times`` (each None when not computed). Runs on the library thread."""
    track = lib.track(track_id)
    tags = lib.tags(track_id)["tags"]
    out = public_track(track)
    out["display_title"] = display_title(track["title"], track["path"])
    out["duplicates"] = len(track["duplicates"])
    out["top_tags"] = tags[:10]
    # highlight, sections, energy_curve, beat_times, downbeat_times (issue 18)
    out.update(lib.timeline(track_id))
    return out


@router.get("/api/tracks", summary="List tracks (paged, filtered)", response_model=TrackPage,
            **JSON_ROUTE)  # fmt: skip
def tracks(
    state: StateDep,
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
        "tracks": [public_track(r) for r in page],
    }


@router.get("/api/tracks/{track_id}", summary="One track", response_model=TrackDetail,
            **JSON_ROUTE)  # fmt: skip
def track(track_id: str, state: StateDep) -> dict:
    """Summary, descriptors (beats, downbeats, energy curve), top tags (both
    vocabularies, most probable first), highlight (or null) and the audio URL."""
    state.track_row(track_id)
    return state.call(track_detail, track_id)
