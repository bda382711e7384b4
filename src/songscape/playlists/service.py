"""Saved playlists: save any list of library tracks under a name, show, export, import and
delete them. Called by the ``Library`` (:class:`songscape.library.playlists.PlaylistsMixin`),
the CLI (``songscape playlist …``, ``--save NAME``) and the API (``/api/playlists``).

Import matching
    An entry is the library track whose file (or recorded duplicate copy) is at the
    entry's path; else, when the entry names "artist - title" (``#EXTINF``, XSPF
    ``<creator>``/``<title>``), the one library track with that artist and title
    (compared after :func:`songscape.text.normalize_text`). Entries matching nothing —
    files elsewhere, URLs, songs not in the library — are reported back, not fatal.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from songscape.catalog import playlists as repo
from songscape.catalog import tracks
from songscape.catalog.store import LibraryStore
from songscape.errors import PlaylistFormatError, PlaylistNotFoundError, TrackNotFoundError
from songscape.playlists.formats import (
    FORMATS,
    Entry,
    ExportTrack,
    m3u8_text,
    read_playlist,
    xspf_text,
)
from songscape.text import normalize_text

MAX_NAME = 200


def check_name(name: str) -> str:
    """A playlist name stripped of outer spaces.

    Raises
    ------
    PlaylistFormatError
        Empty, longer than :data:`MAX_NAME` characters, or with a line break or a slash.
    """
    text = (name or "").strip()
    if not text or len(text) > MAX_NAME or any(c in text for c in "\r\n\t/\\"):
        raise PlaylistFormatError(
            f"bad playlist name {name!r}: 1 to {MAX_NAME} characters, no line breaks or slashes"
        )
    return text


def _playlist_id(store: LibraryStore, name: str) -> int:
    row = repo.playlist_row(store.conn, name)
    if row is None:
        raise PlaylistNotFoundError(
            f"no playlist {name!r} in the library (`songscape playlist list` shows them)"
        )
    return int(row["id"])


def save(store: LibraryStore, name: str, refs: Iterable[str], source: str | None = None) -> dict:
    """Save tracks (ids, id prefixes or paths, in order) as playlist ``name``, replacing
    a playlist of that name; returns :func:`show` of it.

    Raises
    ------
    PlaylistFormatError
        A bad name.
    TrackNotFoundError
        A reference that is no library track (nothing is saved).
    """
    name = check_name(name)
    ids = [tracks.find_track(store.conn, ref)["id"] for ref in refs]
    with store.transaction() as conn:
        repo.save_playlist(conn, name, ids, source, time.time())
    return show(store, name)


def list_all(store: LibraryStore) -> list[dict]:
    """Every saved playlist: ``name, source, n_tracks, duration_s, created_at, updated_at``."""
    return [dict(r) for r in repo.list_playlists(store.conn)]


def show(store: LibraryStore, name: str) -> dict:
    """A playlist and its tracks (``position, id, path, status, title, artist, album,
    duration_s``)."""
    playlist_id = _playlist_id(store, name)
    row = repo.playlist_row(store.conn, name)
    items = [dict(r) for r in repo.playlist_tracks(store.conn, playlist_id)]
    return {
        "name": row["name"], "source": row["source"], "created_at": row["created_at"],
        "updated_at": row["updated_at"], "n_tracks": len(items),
        "duration_s": round(sum(t["duration_s"] or 0 for t in items), 2), "tracks": items,
    }  # fmt: skip


def delete(store: LibraryStore, name: str) -> None:
    """Delete a playlist (its tracks stay in the library)."""
    with store.transaction() as conn:
        if not repo.delete_playlist(conn, name):
            raise PlaylistNotFoundError(f"no playlist {name!r} in the library")


def export_text(
    store: LibraryStore, name: str, fmt: str, base: Path | None
) -> tuple[str, int]:
    """``(text, n_tracks)`` of playlist ``name`` as ``fmt`` (``"m3u8"`` or ``"xspf"``),
    with paths relative to ``base`` (a folder) or absolute (None)."""
    if fmt not in FORMATS:
        raise PlaylistFormatError(f"unknown playlist format {fmt!r} (one of {', '.join(FORMATS)})")
    playlist = show(store, name)
    items = [
        ExportTrack(t["path"], t["title"], t["artist"], t["album"], t["duration_s"])
        for t in playlist["tracks"]
    ]
    writer = m3u8_text if fmt == "m3u8" else xspf_text
    return writer(playlist["name"], items, base), len(items)


def export(
    store: LibraryStore, name: str, dest: str | os.PathLike, fmt: str | None = None,
    absolute: bool = False,
) -> dict:  # fmt: skip
    """Write playlist ``name`` to ``dest`` (a file, or a folder to write ``NAME.m3u8`` in).

    ``fmt`` defaults to the file's extension (``.m3u``/``.m3u8`` → M3U8, ``.xspf``);
    paths are relative to the playlist file's folder unless ``absolute``. Returns
    ``{"path", "format", "n_tracks"}``.
    """
    dest = Path(dest).expanduser()
    if dest.is_dir():
        dest = dest / f"{check_name(name)}.{fmt or 'm3u8'}"
    if fmt is None:
        ext = dest.suffix.lower().lstrip(".")
        fmt = "m3u8" if ext in ("m3u", "m3u8") else ext
    text, n = export_text(store, name, fmt, None if absolute else dest.parent)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, dest)
    return {"path": str(dest), "format": fmt, "n_tracks": n}


def match_entries(store: LibraryStore, entries: list[Entry]) -> tuple[list[str], list[str]]:
    """``(track_ids, unknown_locations)``: each entry's library track, in order."""
    by_name: dict[tuple[str, str], list[str]] = {}
    for r in tracks.list_tracks(store.conn, "ok"):
        if r["title"]:
            key = (normalize_text(r["artist"] or ""), normalize_text(r["title"]))
            by_name.setdefault(key, []).append(r["id"])
    ids, unknown = [], []
    for e in entries:
        found = None
        if "://" not in e.location:
            try:
                found = tracks.find_track(store.conn, e.location)["id"]
            except TrackNotFoundError:
                found = None
        if found is None and e.title:
            same = by_name.get((normalize_text(e.artist or ""), normalize_text(e.title)), [])
            found = same[0] if len(same) == 1 else None
        if found is None:
            unknown.append(e.location)
        else:
            ids.append(found)
    return ids, unknown


def import_file(store: LibraryStore, path: str | os.PathLike, name: str | None = None) -> dict:
    """Import an M3U/M3U8 or XSPF file as a saved playlist (replacing one of that name).

    The name is ``name``, else the file's own (``#PLAYLIST``, XSPF ``<title>``), else the
    file name without extension. Returns ``{"name", "entries", "matched", "unknown"}``
    (``unknown``: the locations that matched no library track).

    Raises
    ------
    PlaylistFormatError
        An unreadable file, or one whose entries match no library track at all.
    """
    own_name, entries = read_playlist(path)
    name = check_name(name or own_name or Path(path).stem)
    ids, unknown = match_entries(store, entries)
    if not ids:
        raise PlaylistFormatError(
            f"{path}: none of its {len(entries)} entries is a track of the library"
        )
    with store.transaction() as conn:
        repo.save_playlist(conn, name, ids, f"import:{Path(path).name}", time.time())
    return {"name": name, "entries": len(entries), "matched": len(ids), "unknown": unknown}
