"""Sing: ``POST /api/sing`` — a recording of a voice in, the songs that suit it out (issue 14).

The recording is the request body (raw audio) or the ``file`` field of a multipart
form (the page's MediaRecorder upload). It is decoded from a private temporary folder
that is deleted before the answer leaves: recordings are never stored.
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import Annotated

import soundfile as sf
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from songscape.errors import AudioTooLongError, DecodeError, QueryError, VoiceCheckError
from songscape.server.deps import StateDep
from songscape.server.errors import ApiError
from songscape.server.models import JSON_ROUTE, SingOut
from songscape.sing.match import parse_weights
from songscape.sing.preview import (
    MAX_PREVIEW_S,
    MAX_PREVIEW_SEMITONES,
    PREVIEW_S,
    PREVIEW_SAMPLE_RATE,
)
from songscape.sing.preview import key_preview as preview_audio
from songscape.sing.voice import analyze_voice, load_voice

router = APIRouter(tags=["sing"])

#: Largest upload accepted, bytes (a few minutes of compressed audio).
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
#: Longest recording accepted over HTTP, seconds.
MAX_UPLOAD_S = 180.0
_SUFFIXES = {
    "audio/mpeg": ".mp3", "audio/ogg": ".ogg", "audio/flac": ".flac", "audio/wav": ".wav",
    "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/mp4": ".m4a", "audio/aac": ".m4a",
    "audio/webm": ".webm", "video/webm": ".webm", "audio/opus": ".opus",
}  # fmt: skip


def _suffix(content_type: str | None, filename: str | None) -> str:
    if filename and os.path.splitext(filename)[1]:
        return os.path.splitext(os.path.basename(filename))[1][:8]
    return _SUFFIXES.get((content_type or "").split(";")[0].strip().lower(), ".audio")


async def _upload(request: Request) -> tuple[bytes, str]:
    """The uploaded bytes and a file suffix, from a multipart ``file`` field or the body."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES + 65536:
        raise ApiError(413, f"upload larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    content_type = request.headers.get("content-type") or ""
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=8)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "the form has no 'file' field with the recording")
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        suffix = _suffix(upload.content_type, upload.filename)
    else:
        data = await request.body()
        suffix = _suffix(content_type, None)
    if not data:
        raise ApiError(400, "the upload is empty: send the recording as the body or a 'file' "
                            "form field")  # fmt: skip
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(413, f"upload larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    return data, suffix


@router.post("/api/sing", summary="Songs that suit a recording of a voice",
             response_model=SingOut, **JSON_ROUTE)  # fmt: skip
async def sing(
    request: Request,
    state: StateDep,
    k: Annotated[int, Query(ge=1, le=100, description="results wanted")] = 10,
    weights: Annotated[str | None, Query(max_length=300, description="fusion weights, "
                       "e.g. range=0.6,musicnn=0.25,mfcc=0.15")] = None,
) -> dict:  # fmt: skip
    """The body is the recording (raw audio, or a multipart form with a ``file`` field),
    5 s to 3 min of singing, at most 16 MB. Answers the object of ``songscape sing
    --json``: ``voice`` (``range_midi``, ``comfortable_midi``, ``tessitura_midi``,
    ``voiced_s``, …) and ``results`` (``id``, ``title``, ``score``, ``range_fit``,
    ``transpose_semitones``, ``sung_key``, ``timbre_similarity``, ``explanation``).
    Errors: 400 empty upload or bad weights, 413 too large or too long, 415 not audio,
    422 a recording that cannot be sung from (silent, clipped, too little singing,
    speech), 409 no song has a vocal analysis yet (`songscape vocals`)."""
    try:
        parsed_weights = parse_weights(weights)
    except QueryError as err:
        raise ApiError(400, str(err)) from err
    data, suffix = await _upload(request)
    # the trained vocal encoders the library's songs were embedded with (as the CLI does)
    encoders = await run_in_threadpool(state.call, lambda lib: lib.vocal_encoders())

    def measure() -> object:
        with tempfile.TemporaryDirectory(prefix="songscape-voice-") as tmp:
            path = os.path.join(tmp, f"voice{suffix}")
            with open(path, "wb") as f:
                f.write(data)
            y, sr = load_voice(path, max_duration_s=MAX_UPLOAD_S)
        return analyze_voice(y, sr, encoders=encoders)

    try:
        analysis = await run_in_threadpool(measure)
    except AudioTooLongError as err:
        raise ApiError(413, f"recording too long (at most {MAX_UPLOAD_S:.0f} s): {err}") from err
    except VoiceCheckError as err:
        raise ApiError(422, str(err)) from err
    except DecodeError as err:
        raise ApiError(415, f"not a recording songscape can decode: {err}") from err

    def match(lib) -> dict:
        from songscape.errors import LibraryError

        try:
            return lib.sing_analysis(analysis, k=k, weights=parsed_weights)
        except LibraryError as err:
            raise ApiError(409, str(err)) from err

    return await run_in_threadpool(state.call, match)


@router.get(
    "/api/tracks/{track_id}/key-preview",
    summary='"Hear it in my key": the highlight moved by a transposition, tempo kept',
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}}},
)  # fmt: skip
async def key_preview(
    track_id: str,
    state: StateDep,
    transpose: Annotated[int, Query(ge=-MAX_PREVIEW_SEMITONES, le=MAX_PREVIEW_SEMITONES,
                                    description="semitones (sing's transpose_semitones)")] = 0,
    duration_s: Annotated[float, Query(gt=0, le=MAX_PREVIEW_S,
                                       description="seconds from the highlight")] = PREVIEW_S,
) -> Response:  # fmt: skip
    """WAV (16-bit stereo, 22.05 kHz) of the track from its highlight (else its start),
    moved by ``transpose`` semitones at its own tempo (Rubber Band when installed). 404
    unknown track or no playable file, 415 a file that cannot be decoded."""
    row = state.track_row(track_id)
    if row["status"] != "ok":
        raise ApiError(404, f"track {track_id} has no playable file (status {row['status']})")
    start = await run_in_threadpool(state.call, lambda lib: lib.preview_start_s(track_id))

    def render() -> bytes:
        # outside the library thread: a render takes a second or two
        if not os.path.isfile(row["path"]):
            raise ApiError(404, f"the audio file of track {track_id} is missing")
        samples = preview_audio(row["path"], start, transpose, duration_s)
        buf = io.BytesIO()
        sf.write(buf, samples.T, PREVIEW_SAMPLE_RATE, format="WAV", subtype="PCM_16")
        return buf.getvalue()

    try:
        body = await run_in_threadpool(render)
    except DecodeError as err:
        raise ApiError(415, f"the audio file of track {track_id} cannot be decoded: {err}") from err
    return Response(body, media_type="audio/wav", headers={"Cache-Control": "no-cache"})
