"""``songscape train --task emotion --labels FILE.csv --name NAME`` (issue 19)."""

from __future__ import annotations

import argparse
import sys

from songscape.cli import render
from songscape.cli.errors import EXIT_OK
from songscape.errors import DatasetError, UsageError


def cmd_train_emotion(args: argparse.Namespace) -> int:
    """Cross-validate and fit emotion heads on the labels; register them by name."""
    from songscape.datasets.emotion_labels import read_emotion_labels
    from songscape.training.emotion import train_emotion_head

    if not args.labels:
        raise UsageError("--task emotion needs --labels FILE.csv (see docs/emotion.md)")
    if args.arch:
        raise UsageError("--task emotion trains linear heads on musicnn-msd and the "
                         "descriptors: leave out --arch")  # fmt: skip
    try:
        labels = read_emotion_labels(args.labels)
    except DatasetError as err:  # the labels given cannot be used: fix the command line
        raise UsageError(str(err)) from err
    quiet = args.json or args.quiet
    progress = render.RichProgress() if not quiet and sys.stderr.isatty() else None
    if progress is not None:
        with progress:
            summary = train_emotion_head(labels, args.name, seed=args.seed, progress=progress,
                                         overwrite=args.overwrite)  # fmt: skip
    else:
        summary = train_emotion_head(labels, args.name, seed=args.seed, overwrite=args.overwrite)
    if args.json:
        render.print_json(summary)
        return EXIT_OK
    console = render.console()
    console.print(f"trained emotion head [bold]{summary['name']}[/bold] on {summary['n']} files "
                  f"({summary['n_lyrics']} with English lyrics), targets "
                  f"{', '.join(summary['targets'])}")  # fmt: skip
    console.print(f"  {summary['folds']} grouped folds ({summary['grouping']}), out of fold:")
    for target, fig in summary["cv"]["per_target"].items():
        if "spearman" in fig:
            s = fig["spearman"]
            console.print(f"    {target:18s} Spearman {s['rho']:.3f} "
                          f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]")  # fmt: skip
        else:
            a = fig["roc_auc"]
            console.print(f"    {target:18s} ROC-AUC {a['auc']:.3f} "
                          f"[{a['ci95'][0]:.3f}, {a['ci95'][1]:.3f}]")  # fmt: skip
    if "top_emotion" in summary["cv"]:
        top = summary["cv"]["top_emotion"]
        console.print(
            f"    top emotion accuracy {top['accuracy']:.3f} (chance {top['chance']:.3f})"
        )
    console.print(f"  saved {summary['path']}; the next `songscape ingest` uses it")
    return EXIT_OK
