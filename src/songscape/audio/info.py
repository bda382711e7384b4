"""What an audio file is (:class:`AudioInfo`), and cheap checks on what its bytes claim.

Shared by :mod:`~songscape.audio.probing` (headers), :mod:`~songscape.audio.ffmpeg`
and :mod:`~songscape.audio.decode`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: File extensions treated as audio (lower case), by ingest and by dataset scans alike.
#: Other files in a music folder (cover art, playlists, notes) are ignored; a file with
#: one of these extensions that does not decode is reported as failed.
AUDIO_EXTENSIONS = frozenset(
    ".wav .wave .flac .ogg .oga .opus .mp3 .aif .aiff .aifc .au .snd .caf .w64 .rf64 "
    ".m4a .m4b .mp4 .aac .alac .wma .asf .wv .ape .mka .webm .ac3 .mpc".split()
)

#: A file is *truncated* when the audio actually present falls short of the length its
#: header declares by more than BOTH of these. Codec priming/padding and header rounding
#: (an MP3 frame is 26 ms, an AAC frame 23 ms) stay far below; a cut download does not.
TRUNCATION_MIN_MISSING_S = 0.5
TRUNCATION_MIN_MISSING_FRACTION = 0.02

# Magic numbers of common non-audio files that end up in music folders.
_NON_AUDIO_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "a program"),
)
#: Bytes read from the start of a file to recognise what it is.
SNIFF_BYTES = 512


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, as reported by its header (:func:`~songscape.audio.decode.probe`)
    or by decoding it (:func:`~songscape.audio.decode.load_audio`).

    Attributes
    ----------
    format : str
        Container and codec, e.g. ``"WAV/PCM_16"``, ``"OGG/VORBIS"``, ``"OGG/OPUS"``,
        ``"MP3"``, ``"FLAC"``, ``"M4A/AAC"``, ``"ASF/WMAV2"``.
    sample_rate : int
        Native sampling rate, in Hz.
    channels : int
        Number of channels.
    duration_s : float
        Duration in seconds. For :func:`probe`, the header's: ``nan`` if the container
        declares none, and only an estimate from the bitrate for MP3 files without a
        Xing/Info header and raw AAC streams. For :func:`load_audio`, the decoded one.
    decoder : str
        ``"soundfile"`` or ``"ffmpeg"``.
    """

    format: str
    sample_rate: int
    channels: int
    duration_s: float
    decoder: str


def is_truncated(present_s: float, declared_s: float) -> bool:
    """Whether audio of ``present_s`` seconds falls short of ``declared_s`` by more than
    both :data:`TRUNCATION_MIN_MISSING_S` and :data:`TRUNCATION_MIN_MISSING_FRACTION`."""
    missing_s = declared_s - present_s
    return (
        missing_s > TRUNCATION_MIN_MISSING_S
        and missing_s > TRUNCATION_MIN_MISSING_FRACTION * declared_s
    )


def sniff_non_audio(head: bytes) -> str | None:
    """A reason string if the first bytes (:data:`SNIFF_BYTES` of them) show the file is
    clearly not audio, e.g. ``"not an audio file (looks like a PDF document)"``."""
    for magic, what in _NON_AUDIO_MAGIC:
        if head.startswith(magic):
            return f"not an audio file (looks like {what})"
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniff window is still text.
        if exc.start < len(head) - 3:
            return None
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "not an audio file (looks like a web page)"
    return "not an audio file (it contains text)"
