"""``sing`` and ``vocals``: songs that suit a voice; the songs' vocal analysis (docs/sing.md)."""

from __future__ import annotations

import argparse
import os
import sys

from songscape.cli import render
from songscape.cli.errors import EXIT_OK
from songscape.cli.options import AddCommand, open_library, positive_int
from songscape.errors import UsageError

#: ``songscape.models.pitch.PITCH_TRACKERS`` (not imported here: parsing stays light;
#: tests/cli/test_sing_cmds.py checks they agree).
PITCH_TRACKERS = ("crepe-tiny", "crepe-full", "pyin")
DEFAULT_PITCH_TRACKER = "crepe-tiny"


def _progress_run(quiet: bool, fn):
    """``fn(progress)`` with a progress bar on a terminal (None otherwise)."""
    if not quiet and sys.stderr.isatty():
        with render.RichProgress() as progress:
            return fn(progress)
    return fn(None)


def _analyze_vocals(lib, args: argparse.Namespace, quiet: bool) -> tuple[dict | None, dict]:
    """Run the vocals stage on the tracks that lack it (a progress bar on a terminal), then
    bring the trained vocal models' vectors up to date: (ingest report, {model: updated})."""
    todo = len(lib.tracks_without_vocals(args.tracker))
    report = None
    if todo:
        if not quiet:
            print(f"analysing the singing of {todo} track(s) (once per track)...",
                  file=sys.stderr)  # fmt: skip
        report = _progress_run(quiet, lambda p: lib.analyze_vocals(
            progress=p, workers=args.workers, tracker=args.tracker, update_embeddings=False))
    stale = lib.vocal_embeddings_to_update()
    updated: dict = {}
    if stale:
        if not quiet:
            print("embedding the singing with the trained vocal model(s) "
                  + ", ".join(f"{m} ({n} track(s))" for m, n in stale.items()) + "...",
                  file=sys.stderr)  # fmt: skip
        updated = _progress_run(quiet, lib.update_vocal_embeddings)
    return (None if report is None else report.to_json()), updated


def cmd_vocals(args: argparse.Namespace) -> int:
    """Analyse the singing (vocal range, timbre) of every track that lacks it."""
    with open_library(args) as lib:
        report, updated = _analyze_vocals(lib, args, quiet=args.json)
        remaining = len(lib.tracks_without_vocals(args.tracker))
    result = {"analysed": report, "tracks_without_vocals": remaining,
              "vocal_embeddings_updated": updated}  # fmt: skip
    if args.json:
        render.print_json(result)
    elif report is None:
        print("every track already has its vocal analysis")
    else:
        done = report["restaged"] + report["added"] + report["updated"]
        print(f"done: {done} track(s) analysed, {report['failed']} failed, "
              f"{remaining} without vocal analysis")  # fmt: skip
    if updated and not args.json:
        print("trained vocal embeddings updated: "
              + ", ".join(f"{m} {n} track(s)" for m, n in updated.items()))  # fmt: skip
    return EXIT_OK


def cmd_sing(args: argparse.Namespace) -> int:
    """The library's songs that suit the voice of a recording, each in its best key."""
    if not os.path.isfile(os.path.expanduser(args.voice)):
        raise UsageError(f"no such file: {args.voice}")
    with open_library(args) as lib:
        if not args.no_update:
            _analyze_vocals(lib, args, quiet=args.json)
        result = lib.sing(os.path.expanduser(args.voice), k=args.k, weights=args.weights,
                          tracker=args.tracker)  # fmt: skip
    if args.json:
        render.print_json(result)
        return EXIT_OK
    out = render.console()
    v = result["voice"]
    from songscape.sing.match import note_name

    lo, hi = v["range_midi"]
    c_lo, c_hi = v["comfortable_midi"]
    out.print(f"[bold]your voice[/bold]: range {note_name(lo)}–{note_name(hi)}, comfortable "
              f"{note_name(c_lo)}–{note_name(c_hi)}, tessitura {note_name(v['tessitura_midi'])}"
              f" ({v['voiced_s']:.1f} s sung, pitch by {v['pitch_tracker']})")  # fmt: skip
    for i, r in enumerate(result["results"], 1):
        name = " - ".join(x for x in (r["artist"], r["title"]) if x) or r["id"]
        out.print(f"{i:>2}. [bold]{name}[/bold]  score {r['score']:.2f}  [dim]{r['id']}[/dim]")
        out.print(f"     {r['explanation']}")
    if result["songs_without_vocals"]:
        out.print(f"[dim]{result['songs_without_vocals']} track(s) without vocal analysis were "
                  "left out (`songscape vocals`)[/dim]")  # fmt: skip
    return EXIT_OK


def add_parsers(add: AddCommand) -> None:
    """sing, vocals."""
    cores = os.cpu_count() or 1
    p = add("sing", cmd_sing, "songs of the library that suit a recording of your voice, "
            "each in the key that fits it")  # fmt: skip
    p.add_argument("voice", metavar="VOICE_FILE",
                   help="a recording of you singing (5 s to 10 min, any audio format)")  # fmt: skip
    p.add_argument("--k", type=positive_int, default=10, help="results (default 10)")
    p.add_argument("--weights", metavar="NAME=W,...",
                   help="fusion weights, e.g. range=0.6,musicnn=0.25,mfcc=0.15 (docs/sing.md)")
    p.add_argument("--tracker", choices=PITCH_TRACKERS, default=DEFAULT_PITCH_TRACKER,
                   help=f"pitch tracker (default {DEFAULT_PITCH_TRACKER})")  # fmt: skip
    p.add_argument("--no-update", action="store_true",
                   help="do not analyse the singing of tracks that lack it first")  # fmt: skip
    p.add_argument("--workers", type=positive_int, default=cores,
                   help=f"worker processes for the vocal analysis (default {cores})")  # fmt: skip

    p = add("vocals", cmd_vocals, "analyse the singing of every track that lacks it "
            "(vocal range, voice timbre; used by `sing`)")  # fmt: skip
    p.add_argument("--tracker", choices=PITCH_TRACKERS, default=DEFAULT_PITCH_TRACKER,
                   help=f"pitch tracker (default {DEFAULT_PITCH_TRACKER})")  # fmt: skip
    p.add_argument("--workers", type=positive_int, default=cores,
                   help=f"worker processes (default {cores})")  # fmt: skip
