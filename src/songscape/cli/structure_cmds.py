"""Inside a track: ``sections`` (labelled sections, the chorus candidate) and ``highlight``
(the window worth hearing: show, plot, export clips); ``highlight-train`` trains the
attention highlight model."""

from __future__ import annotations

import argparse
import os

from songscape.cli import render
from songscape.cli.errors import EXIT_OK
from songscape.cli.options import AddCommand, number, open_library, require_extra
from songscape.errors import UsageError

positive_float = number(float, 1e-9, "must be a positive number of seconds")
non_negative_float = number(float, 0.0, "must be 0 or more seconds")


def cmd_sections(args: argparse.Namespace) -> int:
    """A track's sections (A, B, A, C… — repeats share a label) and its chorus candidate."""
    with open_library(args) as lib:
        result = lib.sections(args.track)
    if args.json:
        render.print_json(result)
        return EXIT_OK
    name = result["title"] or os.path.basename(result["path"] or "")
    print(f"{name} [{result['track_id'][:8]}]")
    if result["sections"] is None:
        print(f"  no sections: {result['reason']}")
        return EXIT_OK
    for s in result["sections"]:
        mark = "  chorus candidate" if s["label"] == result["chorus"] else ""
        print(f"  {render.duration(s['start_s']):>6} – {render.duration(s['end_s']):>6}  "
              f"{s['label']}{mark}")  # fmt: skip
    if result["reason"]:
        print(f"  ({result['reason']})")
    return EXIT_OK


def cmd_highlight(args: argparse.Namespace) -> int:
    """A track's highlight; ``--plot`` draws it; ``--export DIR`` writes clips."""
    if args.export is None and args.track is None:
        raise UsageError("give a TRACK, or --export DIR (all tracks, or the TRACK given)")
    with open_library(args) as lib:
        if args.export is not None:
            refs = [args.track] if args.track else [t["id"] for t in lib.tracks(status="ok")]
            with render.RichProgress() as progress:
                progress.phase("export", len(refs))
                results = lib.export_highlights(args.export, refs, args.length, args.method,
                                                args.fade, progress=progress.advance)  # fmt: skip
            if args.json:
                render.print_json({"clips": results})
            else:
                ok = [r for r in results if "file" in r]
                print(f"wrote {len(ok)} clip(s) to {args.export}")
                for r in results:
                    if "error" in r:
                        print(f"  {r['track_id'][:8]}: {r['error']}")
            return EXIT_OK
        result = lib.highlight(args.track, args.length, args.method)
        if args.plot:
            lib.plot_highlight(args.track, args.plot, args.length, args.method)
            result["plot"] = os.path.abspath(args.plot)
    if args.json:
        render.print_json(result)
        return EXIT_OK
    name = result["title"] or result["track_id"][:8]
    print(f"{name}: {render.duration(result['start_s'])} – {render.duration(result['end_s'])} "
          f"({result['method']}, score {result['score']:.2f}"
          f"{'' if result['stored'] else ', computed now'})")  # fmt: skip
    if args.plot:
        print(f"plot: {result['plot']}")
    return EXIT_OK


def cmd_highlight_train(args: argparse.Namespace) -> int:
    """Train the attention highlight model on the library's audio (musicnn tags as targets)."""
    require_extra("train", "songscape highlight-train")
    from songscape.highlights.training import TARGET_MODEL, train_attention_model

    with open_library(args) as lib:
        tracks = lib.tracks(status="ok")[: args.limit or None]
        paths = [t["path"] for t in tracks]
        # Tags the library already stored are the targets; other tracks are tagged now.
        known = {t["path"]: lib.tags(t["id"])["by_model"].get(TARGET_MODEL) for t in tracks}
    with render.RichProgress() as progress:
        summary = train_attention_model(
            paths, epochs=args.epochs, overwrite=args.overwrite, progress=progress,
            seed=args.seed, known_tags={p: v for p, v in known.items() if v},
        )  # fmt: skip
    if args.json:
        render.print_json(summary)
    else:
        print(f"trained {summary['name']} on {summary['n_train']} files "
              f"({summary['epochs_run']} epochs, {render.duration(summary['train_s'])}); "
              "re-run `songscape ingest` on the library's folders to store attention and "
              "fused highlights")  # fmt: skip
    return EXIT_OK


def add_parsers(add: AddCommand) -> None:
    """sections, highlight, highlight-train."""
    p = add("sections", cmd_sections, "a track's sections and its chorus candidate")
    p.add_argument("track", metavar="TRACK", help="track id, unique id prefix, or file path")

    p = add("highlight", cmd_highlight, "a track's highlight (the window worth hearing); "
            "--plot draws it, --export writes clips")  # fmt: skip
    p.add_argument("track", metavar="TRACK", nargs="?",
                   help="track id, unique id prefix, or file path")  # fmt: skip
    p.add_argument("--length", type=positive_float, default=30.0, metavar="S",
                   help="window length in seconds (default 30)")  # fmt: skip
    p.add_argument("--method", choices=("fused", "signal", "attention"),
                   help="default: fused when the attention model is installed, else signal")
    p.add_argument("--plot", metavar="PNG", help="draw energy, beats, sections and highlight")
    p.add_argument("--export", metavar="DIR",
                   help="write the highlight of TRACK (default: every track) as WAV clips")
    p.add_argument("--fade", type=non_negative_float, default=1.5, metavar="S",
                   help="fade in/out of exported clips, seconds (default 1.5)")  # fmt: skip

    p = add("highlight-train", cmd_highlight_train,
            "train the attention highlight model on the library's audio (a few minutes)")
    p.add_argument("--epochs", type=int, default=8, help="training epochs (default 8)")
    p.add_argument("--limit", type=int, default=0, help="use at most N tracks (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing model")
