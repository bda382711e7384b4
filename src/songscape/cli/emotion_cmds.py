"""Emotion: ``emotion TRACK`` (valence, arousal, GEMS, curve) and ``lyrics import DIR``
(issue 19; ``songscape train --task emotion`` is in :mod:`songscape.cli.train_cmds`)."""

from __future__ import annotations

import argparse

from songscape.cli import render
from songscape.cli.errors import EXIT_OK
from songscape.cli.options import AddCommand, open_library
from songscape.errors import UsageError


def cmd_emotion(args: argparse.Namespace) -> int:
    """One track's emotion."""
    with open_library(args) as lib:
        result = lib.emotion(args.track)
    if args.json:
        render.print_json(result)
        return EXIT_OK
    console = render.console()
    console.print(f"[bold]{result['title'] or result['track_id']}[/bold]")
    if result["valence"] is None:
        console.print(f"  {result['reason']}")
        return EXIT_OK
    console.print(f"  valence {result['valence']:+.2f}  arousal {result['arousal']:+.2f}  "
                  f"({result['quadrant']}; {result['emotion_method']})")  # fmt: skip
    gems = sorted(result["gems"].items(), key=lambda kv: -kv[1])
    console.print("  " + ", ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in gems))
    lyr = result["lyrics"]
    if lyr["used"]:
        console.print(f"  lyrics ({lyr['language']}, {lyr['source']}): valence "
                      f"{lyr['valence']:+.2f}, weight {lyr['weight']:.2f}; audio alone: "
                      f"valence {result['audio']['valence']:+.2f}")  # fmt: skip
    else:
        console.print(f"  lyrics not used: {lyr['reason']}")
    curve = result.get("curve")
    if curve and curve["valence"]:
        console.print(f"  valence over time {render.sparkline(curve['valence'])}")
        console.print(f"  arousal over time {render.sparkline(curve['arousal'])}")
    return EXIT_OK


def cmd_lyrics(args: argparse.Namespace) -> int:
    """Import lyrics files and fuse them into the tracks' emotion."""
    if args.action != "import":
        raise UsageError(f"unknown lyrics action {args.action!r}; use: songscape lyrics import DIR")
    with open_library(args) as lib:
        try:
            report = lib.import_lyrics(args.folder)
        except FileNotFoundError as err:
            raise UsageError(str(err)) from err
    if args.json:
        render.print_json(report)
        return EXIT_OK
    console = render.console()
    console.print(f"imported {len(report['imported'])} lyrics file(s); unmatched "
                  f"{len(report['unmatched'])}, ambiguous {len(report['ambiguous'])}, "
                  f"rejected {len(report['rejected'])}")  # fmt: skip
    for item in report["imported"]:
        used = "used" if item["lyrics_used"] else f"not used: {item['reason']}"
        console.print(f"  {item['track_id'][:8]} <- {item['file']} ({item['language']}, {used})")
    for item in report["rejected"]:
        console.print(f"  [yellow]rejected[/yellow] {item['file']}: {item['reason']}")
    for path in report["unmatched"]:
        console.print(f"  no track matches {path}")
    return EXIT_OK


def add_parsers(add: AddCommand) -> None:
    """emotion, lyrics."""
    p = add("emotion", cmd_emotion, "a track's emotion: valence, arousal, GEMS, curve, lyrics")
    p.add_argument("track", help="track id, id prefix or path")
    p = add("lyrics", cmd_lyrics, "import lyrics files (.lrc/.txt) and fuse them into emotion")
    p.add_argument("action", choices=("import",), help="import")
    p.add_argument("folder", help="folder of lyrics files named like the audio files or "
                   "'artist - title'")  # fmt: skip
