"""Recognising recordings: ``identify`` (which library track a clip is) and ``duplicates``
(copies of one recording in several files, with a dry-run-first move of the extra copies)."""

from __future__ import annotations

import argparse
import os

from songscape.cli import render
from songscape.cli.errors import EXIT_OK
from songscape.cli.options import AddCommand, open_library
from songscape.errors import UsageError


def identified_line(identified: dict | None) -> str:
    """One line saying which track a clip is, or that it is not in the library."""
    if identified is None:
        return "not identified in the library (no fingerprint match): similar tracks instead"
    name = identified.get("title") or identified.get("path") or identified["id"]
    artist = f" — {identified['artist']}" if identified.get("artist") else ""
    return (
        f"identified: {name}{artist} [{identified['id'][:8]}] at "
        f"{render.duration(identified['offset_s'])} ({identified['matched_s']:.1f} s matched)"
    )


def cmd_identify(args: argparse.Namespace) -> int:
    """Which library recording a clip comes from, and where in it."""
    if not os.path.isfile(os.path.expanduser(args.clip)):
        raise UsageError(f"no such file: {args.clip}")
    with open_library(args) as lib:
        found = lib.identify(os.path.expanduser(args.clip))
    if args.json:
        render.print_json({"identified": found})
    else:
        print(identified_line(found).replace(": similar tracks instead", ""))
    return EXIT_OK


def _kbps(copy: dict) -> str:
    if copy["lossless"]:
        return "lossless"
    return f"{copy['bitrate_kbps']:.0f} kbps" if copy["bitrate_kbps"] else "? kbps"


def _print_report(report: dict) -> None:
    groups, related = report["groups"], report["related"]
    print(f"{len(groups)} recordings held in more than one file "
          f"({report['tracks_fingerprinted']} tracks fingerprinted)")  # fmt: skip
    for n, group in enumerate(groups, start=1):
        print(f"\nrecording {n}:")
        for c in group["copies"]:
            mark = "best" if c["best"] else "    "
            evidence = (
                f"  matched {c['matched_s']:.0f} s at {c['offset_s']:+.2f} s, BER {c['ber']:.2f}"
                if c["matched_s"] is not None and not c["best"] else ""
            )  # fmt: skip
            print(f"  {mark} {c['id'][:8]}  {c['format'] or '?':5} {_kbps(c):>9}  "
                  f"tags {c['tags_filled']}/6  {c['path']}{evidence}")  # fmt: skip
    if related:
        print(f"\n{len(related)} related pairs (a partial overlap: an edit, a live cut), "
              "not merged:")  # fmt: skip
        for r in related:
            print(f"  {r['a']['id'][:8]} {r['a']['path']}\n  {r['b']['id'][:8]} {r['b']['path']}"
                  f"\n      share {r['matched_s']:.0f} s (at {r['offset_s']:+.1f} s)")  # fmt: skip


class _LinkProgress:
    """A tqdm bar on stderr for linking recordings, drawn once there are 50 tracks or more."""

    def __init__(self, enabled: bool):
        self.enabled, self.bar = enabled, None

    def __enter__(self) -> _LinkProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None and self.enabled and total >= 50:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="comparing fingerprints", unit="track")
        if self.bar is not None:
            self.bar.update(done - self.bar.n)


def cmd_duplicates(args: argparse.Namespace) -> int:
    """Copies of one recording in several files (any format, bitrate, tags)."""
    if args.apply and not args.move_others:
        raise UsageError("--apply goes with --move-others DIR")
    if args.move_others and args.keep != "best":
        raise UsageError("--move-others needs --keep best")
    with open_library(args) as lib, _LinkProgress(enabled=not args.json) as progress:
        lib.link_recordings(progress)  # compares new or changed tracks (a bar when many)
        if args.move_others:
            result = lib.move_duplicates(args.move_others, keep=args.keep, apply=args.apply)
        else:
            result = lib.duplicates()
    if args.json:
        render.print_json(result)
        return EXIT_OK
    if not args.move_others:
        _print_report(result)
        return EXIT_OK
    verb = "would move" if result["dry_run"] else "moved"
    for m in result["moves"]:
        state = "" if m["status"] in ("planned", "moved") else f"  ({m['status']})"
        print(f"{verb} {m['from']} -> {m['to']}{state}")
    if result["dry_run"]:
        print(f"dry run: {len(result['moves'])} files would move; add --apply to move them")
    else:
        done = sum(m["status"] == "moved" for m in result["moves"])
        print(f"moved {done} of {len(result['moves'])} files; their tracks are now 'missing' "
              "(ingest the folder again to bring one back)")  # fmt: skip
    return EXIT_OK


def add_parsers(add: AddCommand) -> None:
    """identify, duplicates."""
    p = add("identify", cmd_identify, "which library recording a clip (3 s or more) comes from")
    p.add_argument("clip", metavar="CLIP", help="an audio file: a clip of a library track")
    p = add("duplicates", cmd_duplicates,
            "recordings held in several files (FLAC and MP3 copies, re-tagged copies)")  # fmt: skip
    p.add_argument("--keep", choices=("best",), default="best",
                   help="which copy to keep with --move-others (lossless, then bitrate, "
                   "then tags)")  # fmt: skip
    p.add_argument("--move-others", metavar="DIR",
                   help="move every other copy to DIR (a dry run unless --apply)")  # fmt: skip
    p.add_argument("--apply", action="store_true", help="really move the files")
