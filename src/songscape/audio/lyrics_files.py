"""Lyrics that sit beside an audio file: ``song.lrc`` or ``song.txt`` next to ``song.ogg``.

:func:`sidecar_lyrics` reads the first of ``<stem>.lrc``, ``<stem>.txt`` (also
``<stem>.lyrics.txt``) that exists, as UTF-8 (UTF-8 with a byte-order mark, else
Latin-1 when it is not UTF-8). What the text means is for
:mod:`songscape.models.lyrics`; this module only finds and reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Sidecar suffixes, in the order they are tried.
SIDECAR_SUFFIXES = (".lrc", ".lyrics.txt", ".txt")
#: Larger sidecar files are not lyrics (bytes).
MAX_LYRICS_BYTES = 512 * 1024


def sidecar_path(audio_path: str | os.PathLike[str]) -> Path | None:
    """The lyrics file beside ``audio_path``, or None."""
    audio = Path(audio_path)
    for suffix in SIDECAR_SUFFIXES:
        candidate = audio.with_name(audio.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def read_lyrics_file(path: str | os.PathLike[str]) -> str | bytes:
    """The text of a lyrics file; the raw bytes when it is neither UTF-8 nor plausible
    Latin-1 (control bytes), so that the caller can report binary junk.

    Raises
    ------
    OSError
        Unreadable file; ``ValueError`` when larger than :data:`MAX_LYRICS_BYTES`.
    """
    data = Path(path).read_bytes()
    if len(data) > MAX_LYRICS_BYTES:
        raise ValueError(f"{path}: {len(data)} bytes is too large for a lyrics file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if any(b < 32 and b not in (9, 10, 13) for b in data):
            return data
        return data.decode("latin-1")


def sidecar_lyrics(audio_path: str | os.PathLike[str]) -> tuple[str | bytes | None, str | None]:
    """``(text, file path)`` of the sidecar lyrics of ``audio_path``; ``(None, None)``
    when there is none or it cannot be read."""
    path = sidecar_path(audio_path)
    if path is None:
        return None, None
    try:
        return read_lyrics_file(path), str(path)
    except (OSError, ValueError):
        return None, None
