"""Query by clip: ``POST /api/identify`` names the library recording a clip was cut from
(by acoustic fingerprint), then lists similar tracks (issue 20)."""

from __future__ import annotations

import os
import tempfile
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from songscape.errors import FingerprintError
from songscape.server.deps import StateDep
from songscape.server.errors import ApiError, plain_errors_as
from songscape.server.models import JSON_ROUTE, IdentifyOut
from songscape.server.payloads import public_track

router = APIRouter(tags=["search"])

#: Largest clip accepted (bytes): a few minutes of compressed audio.
MAX_CLIP_BYTES = 32 * 1024 * 1024
#: Fields of the identified track in the answer.
TRACK_KEYS = ("id", "path", "title", "artist", "album", "duration_s", "format")
_SUFFIXES = {
    "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/ogg": ".ogg", "audio/flac": ".flac",
    "audio/x-flac": ".flac", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav",
    "audio/mp4": ".m4a", "audio/aac": ".m4a", "audio/webm": ".webm", "audio/opus": ".opus",
}  # fmt: skip


def _suffix(content_type: str | None, filename: str | None) -> str:
    if filename and os.path.splitext(filename)[1]:
        return os.path.splitext(os.path.basename(filename))[1][:8]
    return _SUFFIXES.get((content_type or "").split(";")[0].strip().lower(), ".audio")


@router.post("/api/identify", summary="Identify a clip, then similar tracks",
             response_model=IdentifyOut, **JSON_ROUTE)  # fmt: skip
async def identify(
    request: Request,
    state: StateDep,
    k: Annotated[int, Query(ge=0, le=100, description="similar tracks wanted (0: none)")] = 10,
    filename: Annotated[str | None, Query(max_length=200,
                        description="the clip's file name (its extension: the format)")] = None,
    model: Annotated[str | None, Query(description="embedding model for the similar "
                                       "tracks (default: the library's)")] = None,
) -> dict:  # fmt: skip
    """The request body is the audio file itself (any format songscape decodes; 3 s or
    more). Answers ``{"identified": {"id", "offset_s", "matched_s", "ber"} or null,
    "track": the identified track or null, "similar": [...], "model"}``; ``identified``
    is null when nothing in the library matches (music not in it, noise): the similar
    tracks are then the only answer, found by comparing the clip with every track's 10 s
    windows (``matched_by: "segment"``; each similar track has its ``window``; a clip
    longer than one window is compared by its own windows, ``window.query_start_s``
    naming the part of the clip that matched). A clip
    under 3 s, silence or an undecodable body is a 400. A library without fingerprints
    answers the similar tracks with a ``note`` saying why nothing was identified (a 409
    when ``k=0``)."""
    body = await request.body()
    if not body:
        raise ApiError(400, "the request body is empty: send the audio file as the body")
    if len(body) > MAX_CLIP_BYTES:
        raise ApiError(413, f"clip larger than {MAX_CLIP_BYTES // (1024 * 1024)} MB")
    name = None
    if k:
        name, _ = await run_in_threadpool(state.check_model, model)
    suffix = _suffix(request.headers.get("content-type"), filename)
    with tempfile.TemporaryDirectory(prefix="songscape-clip-") as tmp:
        path = os.path.join(tmp, f"clip{suffix}")
        with open(path, "wb") as f:
            f.write(body)

        def work(lib) -> dict:
            out: dict = {"model": name, "similar": []}
            try:
                found = lib.identify(path)
            except FingerprintError as err:
                if not k:
                    raise  # nothing else to answer with: 409
                # No fingerprints (yet): the similar tracks still answer, and say why.
                found, out["note"] = None, str(err)
            out["identified"] = found
            if found is not None:
                row = lib.store.get_track(found["id"])
                out["track"] = public_track({key: row[key] for key in TRACK_KEYS})
                out["identified"] = {k_: found[k_] for k_ in ("id", "offset_s", "matched_s",
                                                               "ber")}  # fmt: skip
            else:
                out["track"] = None
            if k:
                result = lib.similar(file=path, k=k, model=name)
                out["similar"] = [public_track(r) for r in result["results"]]
                # "segment": compared with 10 s windows (each result says which, issue 20)
                out["matched_by"] = result["matched_by"]
            return out

        with plain_errors_as({LookupError: 404}):
            return await run_in_threadpool(state.call, work)
