"""Write BPM, initial key, ReplayGain, mood and genre into audio files' tags with mutagen.

Each format gets the frames its players read (the conventions of beets, Mixxx, foobar2000
and MusicBrainz Picard):

- BPM: ID3 ``TBPM`` (integer); Vorbis ``BPM``; MP4 ``tmpo`` (integer).
- initial key (``Am``, ``F#``): ID3 ``TKEY``; Vorbis ``INITIALKEY``; MP4
  ``----:com.apple.iTunes:initialkey``.
- ReplayGain track gain and peak: ID3 ``TXXX:REPLAYGAIN_TRACK_GAIN`` and
  ``TXXX:REPLAYGAIN_TRACK_PEAK``; Vorbis ``REPLAYGAIN_TRACK_GAIN``/``_PEAK``; MP4
  ``----:com.apple.iTunes:replaygain_track_gain``/``_peak``.
- mood: ID3 ``TMOO``; Vorbis ``MOOD``; MP4 ``----:com.apple.iTunes:MOOD``.
- genre: ID3 ``TCON``; Vorbis ``GENRE``; MP4 ``©gen``.

ID3 covers MP3, WAV and AIFF (mutagen's ``id3 `` chunk); Vorbis comments cover FLAC, Ogg
Vorbis and Opus.

Opus files carry ``R128_TRACK_GAIN`` instead of the ReplayGain pair (RFC 7845: a Q7.8
integer in dB relative to -23 LUFS; players apply it on top of the header's output gain).

Only the tag blocks change: mutagen rewrites the ID3 chunk, the Vorbis comment packet or
the ``moov``/``udta`` atoms, never the audio frames. A value already in the file is kept
unless ``overwrite``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

import mutagen
from mutagen import MutagenError
from mutagen.id3 import ID3, TBPM, TCON, TKEY, TMOO, TXXX
from mutagen.mp4 import MP4, MP4FreeForm
from mutagen.oggopus import OggOpus

from songscape.errors import TagWriteError

#: ReplayGain 2.0 reference loudness (LUFS) and the Opus R128 one.
REPLAYGAIN_REFERENCE_LUFS = -18.0
R128_REFERENCE_LUFS = -23.0
_ITUNES = "----:com.apple.iTunes:"


@dataclass(frozen=True)
class TagValues:
    """What to write; None leaves a field alone.

    Attributes
    ----------
    bpm : float or None
        Tempo, beats per minute (written rounded to an integer).
    initial_key : str or None
        Short key name: ``"Am"``, ``"F#"`` (:func:`short_key`).
    loudness_lufs : float or None
        Integrated loudness (EBU R128), LUFS; the gain is the reference minus it.
    peak : float or None
        Sample peak, linear (1.0 = full scale).
    mood, genre : str or None
    """

    bpm: float | None = None
    initial_key: str | None = None
    loudness_lufs: float | None = None
    peak: float | None = None
    mood: str | None = None
    genre: str | None = None

    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


def short_key(name: str) -> str:
    """``"A minor"`` → ``"Am"``, ``"F# major"`` → ``"F#"`` (the ``TKEY`` notation)."""
    tonic, mode = name.split()
    return tonic + ("m" if mode.lower() == "minor" else "")


def replaygain_gain_db(loudness_lufs: float) -> float:
    """ReplayGain 2.0 track gain in dB: -18 LUFS minus the measured loudness."""
    return REPLAYGAIN_REFERENCE_LUFS - loudness_lufs


def r128_gain_q78(loudness_lufs: float) -> int:
    """Opus ``R128_TRACK_GAIN``: (-23 LUFS - loudness) dB as a Q7.8 integer, clipped."""
    return int(max(-32768, min(32767, round((R128_REFERENCE_LUFS - loudness_lufs) * 256))))


def tag_texts(values: TagValues, opus: bool = False) -> dict[str, str]:
    """The values as the texts written: ``{field: text}`` with the field names ``bpm``,
    ``initial_key``, ``replaygain_track_gain``, ``replaygain_track_peak`` (or
    ``r128_track_gain`` for Opus), ``mood``, ``genre``."""
    out: dict[str, str] = {}
    if values.bpm is not None and values.bpm > 0:
        out["bpm"] = str(int(round(values.bpm)))
    if values.initial_key:
        out["initial_key"] = values.initial_key
    if values.loudness_lufs is not None:
        if opus:
            out["r128_track_gain"] = str(r128_gain_q78(values.loudness_lufs))
        else:
            out["replaygain_track_gain"] = f"{replaygain_gain_db(values.loudness_lufs):.2f} dB"
            if values.peak is not None:
                out["replaygain_track_peak"] = f"{values.peak:.6f}"
    if values.mood:
        out["mood"] = values.mood
    if values.genre:
        out["genre"] = values.genre
    return out


_VORBIS_KEYS = {
    "bpm": "BPM", "initial_key": "INITIALKEY", "replaygain_track_gain": "REPLAYGAIN_TRACK_GAIN",
    "replaygain_track_peak": "REPLAYGAIN_TRACK_PEAK", "r128_track_gain": "R128_TRACK_GAIN",
    "mood": "MOOD", "genre": "GENRE",
}  # fmt: skip
_MP4_KEYS = {
    "initial_key": _ITUNES + "initialkey",
    "replaygain_track_gain": _ITUNES + "replaygain_track_gain",
    "replaygain_track_peak": _ITUNES + "replaygain_track_peak",
    "mood": _ITUNES + "MOOD",
    "genre": "\xa9gen",
}


def _id3_frame(name: str, text: str):  # noqa: ANN202 - a mutagen frame
    if name == "bpm":
        return "TBPM", TBPM(encoding=3, text=[text])
    if name == "initial_key":
        return "TKEY", TKEY(encoding=3, text=[text])
    if name == "mood":
        return "TMOO", TMOO(encoding=3, text=[text])
    if name == "genre":
        return "TCON", TCON(encoding=3, text=[text])
    desc = name.upper()
    return f"TXXX:{desc}", TXXX(encoding=3, desc=desc, text=[text])


def _write_id3(tags: ID3, texts: dict[str, str], overwrite: bool) -> dict[str, str]:
    written = {}
    for name, text in texts.items():
        key, frame = _id3_frame(name, text)
        if not overwrite and key in tags and str(tags[key]).strip():
            continue
        tags.delall(key)  # "TBPM", or "TXXX:REPLAYGAIN_TRACK_GAIN" (that TXXX only)
        tags.add(frame)
        written[name] = text
    return written


def _write_vorbis(tags, texts: dict[str, str], overwrite: bool) -> dict[str, str]:  # noqa: ANN001
    written = {}
    for name, text in texts.items():
        key = _VORBIS_KEYS[name]
        if not overwrite and any(v.strip() for v in tags.get(key, [])):
            continue
        tags[key] = [text]
        written[name] = text
    return written


def _write_mp4(tags, texts: dict[str, str], overwrite: bool) -> dict[str, str]:  # noqa: ANN001
    written = {}
    for name, text in texts.items():
        if name == "bpm":
            if not overwrite and tags.get("tmpo"):
                continue
            tags["tmpo"] = [int(text)]
        else:
            key = _MP4_KEYS[name]
            if not overwrite and tags.get(key):
                continue
            tags[key] = [text] if key == "\xa9gen" else [MP4FreeForm(text.encode("utf-8"))]
        written[name] = text
    return written


def write_tags(path: str | os.PathLike, values: TagValues, overwrite: bool = False,
               dry_run: bool = False) -> dict[str, str]:  # fmt: skip
    """Write ``values`` into the tags of the file at ``path``.

    Parameters
    ----------
    path : path-like
        MP3, WAV, AIFF (ID3), FLAC, Ogg Vorbis, Opus (Vorbis comments) or M4A/MP4.
    values : TagValues
    overwrite : bool
        Replace values the file already has (default: keep them).
    dry_run : bool
        Decide what would be written, write nothing.

    Returns
    -------
    dict
        ``{field: text}`` of what was (or would be) written.

    Raises
    ------
    TagWriteError
        A format mutagen cannot tag, or a file that cannot be read or written.
    """
    path = os.fspath(path)
    try:
        audio = mutagen.File(path)
    except (MutagenError, OSError) as err:
        raise TagWriteError(f"{path}: cannot read its tags ({err})") from err
    if audio is None:
        raise TagWriteError(f"{path}: not a format songscape can write tags into")
    texts = tag_texts(values, opus=isinstance(audio, OggOpus))
    if audio.tags is None:
        try:
            audio.add_tags()
        except (MutagenError, TypeError, ValueError) as err:
            raise TagWriteError(f"{path}: cannot add a tag block ({err})") from err
    tags = audio.tags
    if isinstance(tags, ID3):
        written = _write_id3(tags, texts, overwrite)
    elif isinstance(audio, MP4):
        written = _write_mp4(tags, texts, overwrite)
    elif hasattr(tags, "keys") and hasattr(audio, "info"):  # Vorbis comments (FLAC, Ogg)
        written = _write_vorbis(tags, texts, overwrite)
    else:
        raise TagWriteError(f"{path}: {type(audio).__name__} tags are not supported")
    if written and not dry_run:
        try:
            audio.save()
        except (MutagenError, OSError) as err:
            raise TagWriteError(f"{path}: cannot write its tags ({err})") from err
    return written
