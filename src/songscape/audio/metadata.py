"""Read track tags (title, artist, album, genre, year, track number, lyrics) with mutagen.

Handles ID3 (MP3, and AIFF/WAV files carrying an ID3 chunk), Vorbis comments (FLAC,
Ogg Vorbis, Ogg Opus), MP4 atoms (M4A), ASF attributes (WMA) and APEv2 (WavPack,
Monkey's Audio, Musepack). Tags are optional metadata: a file without tags, or with
broken ones, gives empty fields (the broken ones are logged as a warning); only a bug
in this module raises.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

import mutagen
from mutagen import MutagenError
from mutagen.apev2 import APEv2
from mutagen.asf import ASFTags
from mutagen.id3 import ID3
from mutagen.mp4 import MP4Tags
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggtheora import OggTheora
from mutagen.oggvorbis import OggVorbis

__all__ = ["TrackTags", "read_tags"]

GENRE_SEPARATOR = "; "
ARTIST_SEPARATOR = "; "

log = logging.getLogger(__name__)

# What unreadable or malformed tags raise: mutagen's own errors (it wraps OSError in
# them when opening), plain OSError, and ValueError from a value that does not parse
# (UnicodeDecodeError included). Anything else is a bug and propagates.
_BAD_TAG_ERRORS = (MutagenError, OSError, ValueError)
# Odd types or shapes of tag values that the conversion below meets in the wild.
_BAD_VALUE_ERRORS = (ValueError, TypeError)

_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_LEADING_NUMBER = re.compile(r"^\s*(\d+)")


@dataclass
class TrackTags:
    """A track's descriptive tags; ``None`` where the file has no usable value.

    Attributes
    ----------
    title, artist, album, genre : str or None
        Several artists or genres are joined with ``"; "``.
    year : int or None
        Release year, e.g. 2004 from a ``"2004-05-01"`` date.
    track_number : int or None
        Position on the album, e.g. 3 from ``"3/12"``.
    lyrics : str or None
        Unsynchronised lyrics.
    """

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    genre: str | None = None
    year: int | None = None
    track_number: int | None = None
    lyrics: str | None = None


def read_tags(path: str | os.PathLike[str]) -> TrackTags:
    """Read a file's tags.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file in any format mutagen recognises.

    Returns
    -------
    TrackTags
        All fields ``None`` if the file has no tags, unreadable tags, or cannot be
        opened at all (decoding problems are :mod:`songscape.audio.decode`'s to report;
        a tag block mutagen cannot parse is logged as a warning).
    """
    try:
        audio = mutagen.File(os.fspath(path))  # None if mutagen does not know the format
    except _BAD_TAG_ERRORS as err:
        log.warning("no tags read from %s: %s: %s", path, type(err).__name__, err)
        return TrackTags()
    tags = getattr(audio, "tags", None)
    if isinstance(audio, OggTheora):
        # mutagen describes an Ogg file by its first stream, which for files with a
        # Theora cover picture is the video; the song's own comments are in the audio
        # stream (the video's may just say "Cover").
        tags = _ogg_audio_tags(path) or tags
    if not tags:
        return TrackTags()
    try:
        return _from_tags(tags)
    except _BAD_VALUE_ERRORS as err:  # a malformed frame must not fail the ingest
        log.warning("malformed tags in %s ignored: %s: %s", path, type(err).__name__, err)
        return TrackTags()


def _ogg_audio_tags(path: str | os.PathLike[str]) -> object | None:
    """Comments of the first audio stream of a multiplexed Ogg file, if it has any."""
    for kind in (OggVorbis, OggOpus, OggFLAC, OggSpeex):
        try:
            tags = kind(os.fspath(path)).tags
        except _BAD_TAG_ERRORS:  # no stream of this kind (or not readable as one)
            continue
        if tags:
            return tags
    return None


def _from_tags(tags: object) -> TrackTags:
    if isinstance(tags, ID3):
        return _from_id3(tags)
    if isinstance(tags, MP4Tags):
        return _build(
            title=tags.get("\xa9nam"),
            artist=tags.get("\xa9ART") or tags.get("aART"),
            album=tags.get("\xa9alb"),
            genre=tags.get("\xa9gen"),  # mutagen maps the numeric 'gnre' atom to this
            date=tags.get("\xa9day"),
            track=[str(n) for n, _total in tags.get("trkn", []) if n],
            lyrics=tags.get("\xa9lyr"),
        )
    if isinstance(tags, ASFTags):
        def asf(*keys: str) -> list[str]:
            return [str(v.value) for k in keys for v in tags.get(k, [])]

        return _build(
            title=asf("Title"),
            artist=asf("Author", "WM/AlbumArtist"),
            album=asf("WM/AlbumTitle"),
            genre=asf("WM/Genre"),
            date=asf("WM/Year", "WM/OriginalReleaseYear"),
            track=asf("WM/TrackNumber", "WM/Track"),
            lyrics=asf("WM/Lyrics"),
        )
    if isinstance(tags, APEv2):
        def ape(*keys: str) -> list[str]:
            return [v for k in keys if k in tags for v in tags[k]]  # case-insensitive keys

        return _build(
            title=ape("Title"),
            artist=ape("Artist"),
            album=ape("Album"),
            genre=ape("Genre"),
            date=ape("Year", "Date"),
            track=ape("Track"),
            lyrics=ape("Lyrics", "Unsyncedlyrics"),
        )
    if hasattr(tags, "get") and hasattr(tags, "keys"):
        # Vorbis comments (FLAC, Ogg Vorbis/Opus/FLAC/Speex): case-insensitive keys.
        def vc(*keys: str) -> list[str]:
            return [v for k in keys for v in (tags.get(k) or [])]  # type: ignore[attr-defined]

        return _build(
            title=vc("title"),
            artist=vc("artist"),
            album=vc("album"),
            genre=vc("genre"),
            date=vc("date", "year", "originaldate"),
            track=vc("tracknumber"),
            lyrics=vc("lyrics", "unsyncedlyrics"),
        )
    return TrackTags()


def _from_id3(tags: ID3) -> TrackTags:
    def text(frame_id: str) -> list[str]:
        frame = tags.get(frame_id)
        return [str(t) for t in frame.text] if frame is not None else []

    genre_frame = tags.get("TCON")
    # .genres resolves ID3v1 references such as "(17)" to "Rock".
    genres = list(genre_frame.genres) if genre_frame is not None else []
    # mutagen upgrades v2.3 TYER/TDAT to v2.4 TDRC on load; TDOR is the original date.
    lyrics = [frame.text for frame in tags.getall("USLT")]
    lyrics += [t for key in ("TXXX:LYRICS", "TXXX:UNSYNCEDLYRICS") for t in text(key)]
    return _build(
        title=text("TIT2"),
        artist=text("TPE1") or text("TPE2"),
        album=text("TALB"),
        genre=genres,
        date=text("TDRC") + text("TDOR") + text("TYER"),
        track=text("TRCK"),
        lyrics=lyrics,
    )


def _build(
    title: Iterable[str] | None,
    artist: Iterable[str] | None,
    album: Iterable[str] | None,
    genre: Iterable[str] | None,
    date: Iterable[str] | None,
    track: Iterable[str] | None,
    lyrics: Iterable[str] | None,
) -> TrackTags:
    return TrackTags(
        title=_first(title),
        artist=_joined(artist, ARTIST_SEPARATOR),
        album=_first(album),
        genre=_joined(genre, GENRE_SEPARATOR),
        year=_first_match(date, _YEAR, lo=1000, hi=2999),
        track_number=_first_match(track, _LEADING_NUMBER, lo=1, hi=9999),
        lyrics=_first(lyrics),
    )


def _clean(values: Iterable[str] | None) -> list[str]:
    """Stripped, non-empty values, in order, without duplicates."""
    out: list[str] = []
    for value in values or []:
        # ID3 text is sometimes NUL-padded; multi-value Vorbis fields may repeat.
        cleaned = str(value).replace("\x00", "").strip()
        if cleaned and cleaned not in out:
            out.append(cleaned)
    return out


def _first(values: Iterable[str] | None) -> str | None:
    cleaned = _clean(values)
    return cleaned[0] if cleaned else None


def _joined(values: Iterable[str] | None, separator: str) -> str | None:
    cleaned = _clean(values)
    return separator.join(cleaned) if cleaned else None


def _first_match(
    values: Iterable[str] | None, pattern: re.Pattern[str], lo: int, hi: int
) -> int | None:
    """The first integer ``pattern`` captures within [lo, hi], over all values."""
    for value in _clean(values):
        match = pattern.search(value)
        if match and lo <= int(match.group(1)) <= hi:
            return int(match.group(1))
    return None
