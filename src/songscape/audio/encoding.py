"""How a file is encoded: lossless or lossy, and its bitrate (to rank copies of a song)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import mutagen
from mutagen import MutagenError

#: mutagen file types whose audio is lossless (PCM or a lossless codec).
LOSSLESS_TYPES = frozenset(
    {"FLAC", "OggFLAC", "WAVE", "AIFF", "WavPack", "MonkeysAudio", "TrueAudio", "DSF", "DSDIFF"}
)
#: MP4 codecs that are lossless.
LOSSLESS_MP4_CODECS = frozenset({"alac"})


@dataclass(frozen=True)
class Encoding:
    """A file's encoding.

    Attributes
    ----------
    codec : str or None
        mutagen's file type (``"MP3"``, ``"FLAC"``, ``"OggVorbis"``...) or the MP4 codec.
    lossless : bool or None
        None when the type is unknown to mutagen.
    bitrate_bps : int or None
        Mean bitrate in bits per second (the header's; for lossless files, or when the
        header has none, file size x 8 / duration).
    """

    codec: str | None
    lossless: bool | None
    bitrate_bps: int | None


def read_encoding(path: str | os.PathLike, duration_s: float | None = None) -> Encoding:
    """The encoding of an audio file (never raises for unreadable headers: fields are None)."""
    path = Path(path)
    try:
        f = mutagen.File(path)
    except (MutagenError, OSError, ValueError):
        f = None
    size = path.stat().st_size if path.exists() else None
    if f is None or getattr(f, "info", None) is None:
        fallback = int(size * 8 / duration_s) if size and duration_s else None
        return Encoding(None, None, fallback)
    kind = type(f).__name__
    codec = getattr(f.info, "codec", None) if kind in ("MP4", "M4A") else kind
    if kind in ("MP4", "M4A"):
        lossless = codec in LOSSLESS_MP4_CODECS
    else:
        lossless = kind in LOSSLESS_TYPES
    length = getattr(f.info, "length", None) or duration_s
    bitrate = int(getattr(f.info, "bitrate", 0) or 0)
    if (lossless or not bitrate) and size and length:
        bitrate = int(size * 8 / length)
    return Encoding(str(codec) if codec else kind, lossless, bitrate or None)
