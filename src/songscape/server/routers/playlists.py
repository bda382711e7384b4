"""``/api/playlists``: saved playlists (:mod:`songscape.playlists.service`) — list, one
with its tracks, save (create or replace), delete, and export as M3U8 or XSPF."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from songscape.playlists import service
from songscape.server.deps import StateDep
from songscape.server.models import JSON_ROUTE, DeletedPlaylist, PlaylistList, PlaylistOut
from songscape.server.payloads import public_track

router = APIRouter(tags=["playlists"])

#: Content types of the exported files.
EXPORT_TYPES = {"m3u8": "audio/x-mpegurl", "xspf": "application/xspf+xml"}


class PlaylistIn(BaseModel):
    """A playlist to save: its name and the track ids in play order."""

    name: str = Field(min_length=1, max_length=service.MAX_NAME)
    track_ids: list[str] = Field(max_length=10_000)
    source: str | None = Field(default=None, max_length=300,
                               description="what produced the list, e.g. 'queue', 'path'")


def _public(playlist: dict) -> dict:
    out = dict(playlist)
    out["tracks"] = [public_track(t) for t in playlist["tracks"]]
    return out


@router.get("/api/playlists", summary="Saved playlists", response_model=PlaylistList,
            **JSON_ROUTE)  # fmt: skip
def playlists(state: StateDep) -> dict:
    """Each saved playlist: `name`, `source`, `n_tracks`, `duration_s` (s), times."""
    return {"playlists": state.call(lambda lib: lib.playlists())}


@router.get("/api/playlists/{name}", summary="One saved playlist", response_model=PlaylistOut,
            **JSON_ROUTE)  # fmt: skip
def playlist(name: str, state: StateDep) -> dict:
    """The playlist and its tracks in order (404 when there is none of that name)."""
    return _public(state.call(lambda lib: lib.playlist(name)))


@router.post("/api/playlists", summary="Save a playlist (create or replace)",
             response_model=PlaylistOut, **JSON_ROUTE)  # fmt: skip
def save(body: PlaylistIn, state: StateDep) -> dict:
    """Saves `track_ids` (library track ids) as `name`, replacing a playlist of that
    name; 404 for an unknown track, 400 for a bad name."""
    return _public(state.call(
        lambda lib: lib.save_playlist(body.name, body.track_ids, body.source or "web")
    ))  # fmt: skip


@router.delete("/api/playlists/{name}", summary="Delete a saved playlist",
               response_model=DeletedPlaylist, **JSON_ROUTE)  # fmt: skip
def delete(name: str, state: StateDep) -> dict:
    """The tracks stay in the library."""
    state.call(lambda lib: lib.delete_playlist(name))
    return {"deleted": name}


@router.get("/api/playlists/{name}/export", summary="A saved playlist as an M3U8 or XSPF file",
            response_class=Response,
            responses={200: {"content": {t: {} for t in EXPORT_TYPES.values()}}})  # fmt: skip
def export(
    name: str,
    state: StateDep,
    format: Annotated[Literal["m3u8", "xspf"], Query()] = "m3u8",
) -> Response:  # fmt: skip
    """The file for a player on this machine: absolute paths of the library's files,
    `#EXTINF` with duration and artist – title (M3U8), or `file://` locations (XSPF)."""
    text, _ = state.call(lambda lib: service.export_text(lib.store, name, format, None))
    filename = f"{service.check_name(name)}.{format}".replace('"', "'")
    return Response(
        text.encode("utf-8"), media_type=EXPORT_TYPES[format],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}"},
    )  # fmt: skip

