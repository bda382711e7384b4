"""Playlist files: writing M3U8 and XSPF, reading M3U/M3U8 and XSPF.

M3U8 (the UTF-8 M3U of Winamp, VLC, foobar2000, Mixxx, beets' ``playlist`` plugin)::

    #EXTM3U
    #PLAYLIST:name
    #EXTINF:213,Artist - Title
    ../Music/Artist/Album/01 Title.flac

``#EXTINF`` carries the duration in whole seconds (``-1`` when unknown) and "artist –
title". Paths are relative to the playlist file's folder (portable: the playlist can move
with the music) or absolute.

XSPF (https://xspf.org/spec, version 1): ``<location>`` holds a ``file://`` URI (absolute)
or a relative URI reference resolved against the playlist's own location; ``<duration>``
is in milliseconds.

Reading accepts both, plus plain M3U (one path per line, Latin-1 when not UTF-8), ``file://``
URIs and Windows separators. An entry is an :class:`Entry`; which track of the library it
is, is decided by :mod:`songscape.playlists.service`.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from songscape.errors import PlaylistFormatError

#: Export formats by name.
FORMATS = ("m3u8", "xspf")
XSPF_NS = "http://xspf.org/ns/0/"


@dataclass(frozen=True)
class Entry:
    """One playlist entry.

    Attributes
    ----------
    location : str
        The path (absolute, or resolved against the playlist's folder) or URL as written.
    title, artist : str or None
        From ``#EXTINF`` ("artist - title") or XSPF ``<title>``/``<creator>``.
    duration_s : float or None
        Seconds, when the file says.
    """

    location: str
    title: str | None = None
    artist: str | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class ExportTrack:
    """What an exported entry needs: the file's absolute path and its display facts."""

    path: str
    title: str | None
    artist: str | None
    album: str | None
    duration_s: float | None


def entry_path(path: str, base: Path | None) -> str:
    """``path`` as written into a playlist: relative to ``base`` (a folder), else absolute.

    Falls back to the absolute path when no relative one exists (another drive).
    """
    if base is None:
        return os.path.abspath(path)
    try:
        return os.path.relpath(os.path.abspath(path), base.resolve())
    except ValueError:
        return os.path.abspath(path)


def display_name(t: ExportTrack) -> str:
    """"artist - title", or the title, or the file name without extension."""
    title = t.title or os.path.splitext(os.path.basename(t.path))[0]
    return f"{t.artist} - {title}" if t.artist else title


def m3u8_text(name: str, tracks: list[ExportTrack], base: Path | None) -> str:
    """The M3U8 text of a playlist (``base``: the folder relative paths start from, or None
    for absolute paths)."""
    lines = ["#EXTM3U", f"#PLAYLIST:{_one_line(name)}"]
    for t in tracks:
        seconds = -1 if t.duration_s is None else int(round(t.duration_s))
        lines.append(f"#EXTINF:{seconds},{_one_line(display_name(t))}")
        lines.append(entry_path(t.path, base))
    return "\n".join(lines) + "\n"


def xspf_text(name: str, tracks: list[ExportTrack], base: Path | None) -> str:
    """The XSPF (version 1) document of a playlist; locations are ``file://`` URIs, or URI
    references relative to ``base`` when it is given."""
    ET.register_namespace("", XSPF_NS)
    root = ET.Element(f"{{{XSPF_NS}}}playlist", {"version": "1"})
    ET.SubElement(root, f"{{{XSPF_NS}}}title").text = name
    ET.SubElement(root, f"{{{XSPF_NS}}}creator").text = "songscape"
    track_list = ET.SubElement(root, f"{{{XSPF_NS}}}trackList")
    for t in tracks:
        el = ET.SubElement(track_list, f"{{{XSPF_NS}}}track")
        if base is None:
            location = Path(os.path.abspath(t.path)).as_uri()
        else:
            location = quote(entry_path(t.path, base).replace(os.sep, "/"))
        ET.SubElement(el, f"{{{XSPF_NS}}}location").text = location
        for tag, value in (("title", t.title), ("creator", t.artist), ("album", t.album)):
            if value:
                ET.SubElement(el, f"{{{XSPF_NS}}}{tag}").text = value
        if t.duration_s is not None:
            ET.SubElement(el, f"{{{XSPF_NS}}}duration").text = str(int(round(t.duration_s * 1000)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# -- reading ---------------------------------------------------------------------------


def _decode(data: bytes, source: str) -> str:
    if b"\x00" in data[:4096]:
        raise PlaylistFormatError(f"{source}: not a text playlist (binary data)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # legacy .m3u


def resolve_location(location: str, base: Path) -> str:
    """A playlist location as an absolute path (``file://`` URIs decoded, relative paths
    joined to ``base``, Windows separators turned around); URLs of other schemes as they
    are."""
    text = location.strip()
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return os.path.normpath(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # http://, smb://… (not a drive letter)
        return text
    text = text.replace("\\", "/") if "\\" in text and "/" not in text else text
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        path = base / path
    return os.path.normpath(str(path))


def read_m3u(path: str | os.PathLike) -> tuple[str | None, list[Entry]]:
    """``(name, entries)`` of an M3U/M3U8 file (name from ``#PLAYLIST``, else None).

    Raises
    ------
    PlaylistFormatError
        A binary file, or one that is neither extended M3U nor a list of paths.
    """
    path = Path(path)
    text = _decode(path.read_bytes(), str(path))
    base = path.resolve().parent
    name = None
    pending: tuple[float | None, str | None, str | None] | None = None
    entries = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.upper().startswith("#PLAYLIST:"):
                name = line.split(":", 1)[1].strip() or None
            elif line.upper().startswith("#EXTINF:"):
                pending = _extinf(line)
            continue
        duration, artist, title = pending or (None, None, None)
        entries.append(Entry(resolve_location(line, base), title, artist, duration))
        pending = None
    return name, entries


def _extinf(line: str) -> tuple[float | None, str | None, str | None]:
    """``(duration_s, artist, title)`` of an ``#EXTINF:seconds[ attrs],artist - title`` line."""
    head, _, display = line.split(":", 1)[1].partition(",")
    try:
        seconds = float(head.split()[0]) if head.split() else None
    except ValueError:
        seconds = None
    if seconds is not None and seconds < 0:
        seconds = None
    artist, sep, title = display.partition(" - ")
    if not sep:
        return seconds, None, display.strip() or None
    return seconds, artist.strip() or None, title.strip() or None


def read_xspf(path: str | os.PathLike) -> tuple[str | None, list[Entry]]:
    """``(name, entries)`` of an XSPF file.

    Raises
    ------
    PlaylistFormatError
        Not well-formed XML, or not an XSPF playlist.
    """
    path = Path(path)
    try:
        root = ET.fromstring(path.read_bytes())
    except ET.ParseError as err:
        raise PlaylistFormatError(f"{path}: not a readable XSPF file ({err})") from None
    if root.tag not in (f"{{{XSPF_NS}}}playlist", "playlist"):
        raise PlaylistFormatError(f"{path}: not an XSPF playlist (root element {root.tag!r})")
    ns = {"x": XSPF_NS} if root.tag.startswith("{") else {}
    p = "x:" if ns else ""
    base = path.resolve().parent
    name = root.findtext(f"{p}title", namespaces=ns)
    entries = []
    for track in root.iterfind(f"{p}trackList/{p}track", namespaces=ns):
        location = track.findtext(f"{p}location", namespaces=ns)
        if not location:
            continue
        text = location.strip()
        if not urlparse(text).scheme:
            text = unquote(text)
        duration = track.findtext(f"{p}duration", namespaces=ns)
        try:
            seconds = float(duration) / 1000 if duration else None
        except ValueError:
            seconds = None
        entries.append(Entry(
            resolve_location(text, base), track.findtext(f"{p}title", namespaces=ns),
            track.findtext(f"{p}creator", namespaces=ns), seconds,
        ))  # fmt: skip
    return name, entries


def read_playlist(path: str | os.PathLike) -> tuple[str | None, list[Entry]]:
    """An M3U/M3U8 or XSPF file, told apart by its extension (``.xspf``) or content."""
    path = Path(path)
    if not path.is_file():
        raise PlaylistFormatError(f"no such playlist file: {path}")
    if path.suffix.lower() == ".xspf" or path.read_bytes()[:200].lstrip().startswith(b"<?xml"):
        return read_xspf(path)
    return read_m3u(path)
