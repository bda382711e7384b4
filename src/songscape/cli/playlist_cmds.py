"""Saved playlists: ``songscape playlist list|show|save|export|import|delete``, and the
``--save NAME`` flag that the list-producing commands (similar, search, path, recommend)
share."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from songscape.cli import render
from songscape.cli.errors import EXIT_OK
from songscape.cli.options import AddCommand, open_library
from songscape.playlists.formats import FORMATS

if TYPE_CHECKING:
    from songscape.library.library import Library


def add_save_flag(p: argparse.ArgumentParser) -> None:
    """``--save NAME``: keep the listed tracks as a playlist of the library."""
    p.add_argument("--save", metavar="NAME",
                   help="also save the tracks listed as playlist NAME (replacing one of that "
                   "name; `songscape playlist export NAME FILE.m3u8` writes it out)")  # fmt: skip


def save_if_asked(args: argparse.Namespace, lib: Library, ids: Iterable[str | None],
                  source: str) -> None:  # fmt: skip
    """Save ``ids`` (library track ids; None entries are skipped) as ``args.save``, and
    say so on stderr (stdout stays the command's own output, JSON included)."""
    name = getattr(args, "save", None)
    if not name:
        return
    kept = [i for i in ids if i]
    playlist = lib.save_playlist(name, kept, source)
    print(f"saved playlist {playlist['name']!r}: {playlist['n_tracks']} tracks",
          file=sys.stderr)  # fmt: skip


def _minutes(seconds: float | None) -> str:
    s = int(round(seconds or 0))
    return f"{s // 60}:{s % 60:02d}"


def cmd_list(args: argparse.Namespace) -> int:
    """The saved playlists."""
    with open_library(args) as lib:
        rows = lib.playlists()
    if args.json:
        render.print_json(rows)
        return EXIT_OK
    if not rows:
        print("no saved playlists (save one with --save NAME, or `songscape playlist import`)")
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["updated_at"]))
        print(f"{r['name']}  ({r['n_tracks']} tracks, {_minutes(r['duration_s'])}; "
              f"{r['source'] or 'saved'}; {when})")  # fmt: skip
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    """One playlist's tracks in order."""
    with open_library(args) as lib:
        playlist = lib.playlist(args.name)
    if args.json:
        render.print_json(playlist)
        return EXIT_OK
    print(f"{playlist['name']}: {playlist['n_tracks']} tracks, "
          f"{_minutes(playlist['duration_s'])}")  # fmt: skip
    for k, t in enumerate(playlist["tracks"], 1):
        name = t["title"] or t["path"]
        artist = f" — {t['artist']}" if t["artist"] else ""
        flag = "" if t["status"] == "ok" else f"  [{t['status']}]"
        print(f"{k:>3}. {name}{artist}  ({_minutes(t['duration_s'])})  {t['id']}{flag}")
    return EXIT_OK


def cmd_save(args: argparse.Namespace) -> int:
    """Save tracks (ids, id prefixes or paths) as a playlist."""
    with open_library(args) as lib:
        playlist = lib.save_playlist(args.name, args.tracks, "manual")
    if args.json:
        render.print_json(playlist)
    else:
        print(f"saved playlist {playlist['name']!r}: {playlist['n_tracks']} tracks")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write a playlist as M3U8 or XSPF."""
    with open_library(args) as lib:
        out = lib.export_playlist(args.name, args.dest, args.format, args.absolute)
    if args.json:
        render.print_json(out)
    else:
        print(f"wrote {out['path']} ({out['format']}, {out['n_tracks']} tracks)")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    """Import an M3U/M3U8/XSPF file; entries not in the library are listed, not fatal."""
    with open_library(args) as lib:
        out = lib.import_playlist(args.file, args.name)
    if args.json:
        render.print_json(out)
        return EXIT_OK
    print(f"imported playlist {out['name']!r}: {out['matched']} of {out['entries']} entries "
          "are library tracks")  # fmt: skip
    for location in out["unknown"][:20]:
        print(f"  not in the library: {location}")
    if len(out["unknown"]) > 20:
        print(f"  … and {len(out['unknown']) - 20} more")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete a saved playlist (the tracks stay in the library)."""
    with open_library(args) as lib:
        lib.delete_playlist(args.name)
    if not args.json:
        print(f"deleted playlist {args.name!r}")
    else:
        render.print_json({"deleted": args.name})
    return EXIT_OK


def add_parsers(add: AddCommand) -> None:
    """playlist list|show|save|export|import|delete."""
    p = add("playlist", cmd_list, "saved playlists: list, show, save, export (M3U8, XSPF), "
            "import (M3U, M3U8, XSPF), delete")  # fmt: skip
    sub = p.add_subparsers(dest="playlist_command", metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--library", metavar="DIR", default=argparse.SUPPRESS,
                        help="library directory")  # fmt: skip
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output")  # fmt: skip

    def action(name: str, func, help: str) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=help, description=help, parents=[common])
        q.set_defaults(func=func)
        return q

    action("list", cmd_list, "the saved playlists")
    q = action("show", cmd_show, "one playlist's tracks")
    q.add_argument("name", metavar="NAME")
    q = action("save", cmd_save, "save tracks (ids, id prefixes or paths) as a playlist")
    q.add_argument("name", metavar="NAME")
    q.add_argument("tracks", nargs="+", metavar="TRACK")
    q = action("export", cmd_export, "write a playlist as M3U8 or XSPF")
    q.add_argument("name", metavar="NAME")
    q.add_argument("dest", metavar="FILE", help="FILE.m3u8, FILE.m3u, FILE.xspf, or a folder")
    q.add_argument("--format", choices=FORMATS, help="default: from FILE's extension")
    q.add_argument("--absolute", action="store_true",
                   help="absolute paths (default: relative to the playlist file's folder)")
    q = action("import", cmd_import, "import an M3U, M3U8 or XSPF file as a playlist")
    q.add_argument("file", metavar="FILE")
    q.add_argument("--name", help="default: the file's playlist name, else its file name")
    q = action("delete", cmd_delete, "delete a saved playlist")
    q.add_argument("name", metavar="NAME")
