"""``/api/tracks/{id}/audio``: a track's audio file, with HTTP Range requests (RFC 9110).

Audio is served by track id only: the path comes from the catalog row of a healthy track,
never from the request, so there is no way to name another file. The file is streamed in
chunks outside the library thread.
"""

from __future__ import annotations

import email.utils
import mimetypes
import os
import re
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from songscape.errors import RangeNotSatisfiableError
from songscape.server.deps import StateDep
from songscape.server.errors import ApiError

#: Bytes read from the file per chunk of the response.
CHUNK_BYTES = 256 * 1024
#: Content types by file extension (browsers need them to pick a decoder).
AUDIO_TYPES = {
    ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg",
    ".wav": "audio/wav", ".flac": "audio/flac", ".m4a": "audio/mp4", ".m4b": "audio/mp4",
    ".mp4": "audio/mp4", ".aac": "audio/aac", ".alac": "audio/mp4", ".aif": "audio/aiff",
    ".aiff": "audio/aiff", ".aifc": "audio/aiff", ".au": "audio/basic", ".snd": "audio/basic",
    ".caf": "audio/x-caf", ".w64": "audio/wav", ".rf64": "audio/wav", ".wma": "audio/x-ms-wma",
    ".asf": "audio/x-ms-asf", ".wv": "audio/wavpack", ".ape": "audio/ape",
    ".mka": "audio/x-matroska", ".webm": "audio/webm", ".ac3": "audio/ac3",
    ".mpc": "audio/musepack",
}  # fmt: skip

router = APIRouter(tags=["tracks"])


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The byte range ``(first, last)`` (inclusive) asked for by a ``Range`` header.

    Parameters
    ----------
    header : str
        ``bytes=first-last``, ``bytes=first-`` or ``bytes=-suffix_length``.
    size : int
        The file's size in bytes.

    Returns
    -------
    tuple of int or None
        None when the header asks for several ranges or uses another unit than bytes (the
        whole file is sent, as RFC 9110 allows). A last byte beyond the file is clipped to
        the file.

    Raises
    ------
    RangeNotSatisfiableError
        A malformed header, a start beyond the end of the file, a reversed range or an
        empty suffix.
    """
    text = header.strip()
    unit, _, spec = text.partition("=")
    if unit.strip().lower() != "bytes":
        return None  # a range unit we do not know is ignored (RFC 9110, 14.2): whole file
    if not spec.strip():
        raise RangeNotSatisfiableError(f"malformed range {header!r} (only bytes=first-last)")
    if "," in spec:
        return None
    m = re.fullmatch(r"\s*(\d*)\s*-\s*(\d*)\s*", spec)
    if not m or (not m.group(1) and not m.group(2)):
        raise RangeNotSatisfiableError(f"malformed range {header!r}")
    first, last = m.group(1), m.group(2)
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiableError(f"empty suffix range {header!r}")
        return max(0, size - n), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiableError(f"range {header!r} not satisfiable for {size} bytes")
    return start, end


def file_chunks(path: str, start: int, length: int) -> Iterator[bytes]:
    """``length`` bytes of the file from byte ``start``, in chunks of :data:`CHUNK_BYTES`."""
    with open(path, "rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            chunk = fh.read(min(CHUNK_BYTES, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


def audio_type(path: str) -> str:
    """The content type of an audio file, by extension."""
    ext = os.path.splitext(path)[1].lower()
    return AUDIO_TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"


@router.head("/api/tracks/{track_id}/audio", include_in_schema=False)
@router.get(
    "/api/tracks/{track_id}/audio",
    summary="The track's audio file (HTTP Range supported; HEAD too)",
    response_class=StreamingResponse,
    responses={200: {"content": {"audio/*": {}}},
               206: {"description": "Partial content"},
               304: {"description": "Not modified (If-None-Match matches the ETag)"},
               416: {"description": "Range not satisfiable"}},
)  # fmt: skip
def audio(track_id: str, request: Request, state: StateDep) -> Response:
    """The file of a healthy catalog track, by id only. `Range: bytes=a-b`,
    `bytes=a-` and `bytes=-n` answer 206 with `Content-Range`; a malformed or
    unsatisfiable range answers 416."""
    row = state.track_row(track_id)
    if row["status"] != "ok":
        raise ApiError(404, f"track {track_id} has no playable file (status {row['status']})")
    return file_response(row["path"], request, f"the audio file of track {track_id} is missing")


def file_response(path: str, request: Request, missing: str) -> Response:
    """The answer to a GET or HEAD of the audio file at ``path`` (a path the server chose,
    never one from the request): ``Range`` (206/416), ``If-None-Match`` (304), ``ETag``
    and ``Last-Modified``; the body streamed in chunks. ``missing``: the 404 message when
    the file is not there (the track audio and the mix audio routes share this)."""
    try:
        st = os.stat(path)
    except OSError:
        raise ApiError(404, missing) from None
    if not os.path.isfile(path):
        raise ApiError(404, missing)
    size = st.st_size
    etag = f'"{st.st_size:x}-{int(st.st_mtime_ns):x}"'
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True),
        "Cache-Control": "no-cache",
    }
    media_type = audio_type(path)
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and (if_none_match.strip() == "*" or etag in
                          [t.strip().removeprefix("W/") for t in if_none_match.split(",")]):
        return Response(status_code=304, headers={k: headers[k] for k in ("ETag", "Cache-Control",
                                                                          "Last-Modified")})
    span: tuple[int, int] | None = None
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if range_header and (if_range is None or if_range == etag):
        try:
            span = parse_range(range_header, size)
        except RangeNotSatisfiableError as err:
            raise ApiError(416, str(err), headers={"Content-Range": f"bytes */{size}"}) from err
    if span is None:
        start, length, status = 0, size, 200
    else:
        start, length, status = span[0], span[1] - span[0] + 1, 206
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_type)
    return StreamingResponse(
        file_chunks(path, start, length), status_code=status, headers=headers,
        media_type=media_type,
    )  # fmt: skip
