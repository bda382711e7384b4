"""Your own models: ``train`` and ``evaluate`` (see docs/training.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from songscape.cli import render
from songscape.cli.errors import EXIT_OK
from songscape.cli.options import (
    AddCommand,
    check_model,
    non_negative_float,
    positive_int,
    require_extra,
)
from songscape.errors import CommandError, DatasetError, TrainingError, UsageError


class TrainProgress:
    """Training progress: a rich bar on a terminal, epoch lines on stderr, quiet for --json."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.quiet = args.json or getattr(args, "quiet", False)
        self.bar = render.RichProgress() if not self.quiet and sys.stderr.isatty() else None

    def __enter__(self) -> TrainProgress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def phase(self, name: str, total: int) -> None:
        """Start a phase of ``total`` steps (the bar's, when there is one)."""
        if self.bar is not None:
            self.bar.phase(name, total)

    def advance(self, n: int = 1) -> None:
        """Move the bar ``n`` steps on."""
        if self.bar is not None:
            self.bar.advance(n)

    def epoch_done(self, m: dict) -> None:
        """One line on stderr of an epoch's metrics (``*`` marks the best so far)."""
        if self.quiet:
            return
        parts = [f"epoch {m['epoch']}", f"train loss {m['train_loss']:.4f}"]
        for key in ("valid_loss", "valid_accuracy", "valid_roc_auc", "valid_pr_auc"):
            if m.get(key) is not None:
                parts.append(f"{key.replace('_', ' ')} {m[key]:.4f}")
        parts.append(f"{m['epoch_s']:.1f} s" + (" *" if m.get("best") else ""))
        print("  ".join(parts), file=sys.stderr, flush=True)


def training_data(args: argparse.Namespace, task: str) -> Any:
    """The ``LabelSet`` of ``--labels CSV``, ``--library-labels FIELD`` or ``--audio-dir``.

    Unreadable or unusable labels are a usage error (exit 2); a missing library exits 1.
    """
    from songscape.datasets import read_labels, scan_audio
    from songscape.library.library import Library

    vocals = getattr(args, "source", None) == "vocals"
    sources = [s for s in (args.labels, args.library_labels, getattr(args, "audio_dir", None),
                           vocals) if s]  # fmt: skip
    if len(sources) != 1:
        raise UsageError(
            "give exactly one of --labels CSV, --library-labels FIELD"
            + (", --audio-dir DIR, --source vocals" if hasattr(args, "audio_dir") else "")
        )
    try:
        if args.labels:
            return read_labels(args.labels, task=task, label_column=args.label_column)
        if args.library_labels:
            with Library(args.library) as lib:
                return lib.labels(args.library_labels)
        if task not in ("moco", "tjae"):
            what = "--source vocals" if vocals else "--audio-dir"
            raise UsageError(f"{what} gives unlabelled audio: task {task} needs --labels")
        if vocals:  # the library's sung regions (issue 14; docs/sing.md)
            with Library(args.library) as lib:
                with TrainProgress(args) as progress:
                    return lib.vocal_training_set(args.vocal_signal, progress=progress)
        return scan_audio(args.audio_dir)
    except DatasetError as err:  # the labels given cannot be used: fix the command line
        raise UsageError(str(err)) from err


def cmd_train(args: argparse.Namespace) -> int:
    """Train a model on labelled (or unlabelled) files and register it under ``--name``."""
    require_extra("train", "songscape train")
    if args.task == "emotion":  # linear heads on musicnn + descriptors (+ lyrics), issue 19
        from songscape.cli.emotion_train import cmd_train_emotion

        return cmd_train_emotion(args)
    if not args.arch:
        raise UsageError("--arch is required (except with --task emotion)")
    from songscape.training.trainer import TrainConfig, train

    if args.encoder:
        try:
            encoder = json.loads(args.encoder)
            assert isinstance(encoder, dict)
        except (ValueError, AssertionError):
            raise UsageError("--encoder must be a JSON object, e.g. '{\"embedding_dim\": 64}'"
                             ) from None  # fmt: skip
    else:
        encoder = {}
    config = TrainConfig(
        arch=args.arch, task=args.task, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, weight_decay=args.weight_decay, device=args.device, seed=args.seed,
        patience=args.patience, chunks_per_track=args.chunks, valid_chunks=args.valid_chunks,
        augment=args.augment or "", valid_fraction=args.valid_fraction,
        num_threads=args.threads, encoder=encoder,
    )  # fmt: skip
    try:
        config.validate()
    except TrainingError as err:
        # A bad option is a usage error; asking for a CUDA device this machine lacks is not.
        if args.device == "cuda" and "CUDA" in str(err):
            raise
        raise UsageError(str(err)) from err
    engine = getattr(args, "engine", "local")
    if getattr(args, "ray_address", None) and engine != "ray":
        raise UsageError("--ray-address needs --engine ray")
    if engine == "ray":
        require_extra("scale", "songscape train --engine ray")
        from songscape.training.ray_train import check_ray_training

        check_ray_training(config, args.workers)
    data = training_data(args, args.task)
    with TrainProgress(args) as progress:  # TrainingError, DatasetError from here on: exit 1
        result = train(config, data, args.name, resume=args.resume, overwrite=args.overwrite,
                       progress=progress, engine=engine,
                       workers=getattr(args, "workers", 1),
                       ray_address=getattr(args, "ray_address", None))  # fmt: skip
    summary = result.to_json()
    if args.json:
        render.print_json(summary)
        return EXIT_OK
    console = render.console()
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in summary["valid_metrics"].items()
                        if isinstance(v, float))  # fmt: skip
    console.print(
        f"trained [bold]{summary['name']}[/bold] ({summary['arch']}, {summary['task']}): "
        f"{summary['epochs_run']} epoch(s), best {summary['best_epoch']}, "
        f"{render.duration(summary['train_s'])} on {summary['hardware']}"
    )
    console.print(
        f"  {summary['n_train']} train / {summary['n_valid']} validation files; {metrics}"
    )
    console.print(f"  saved {summary['checkpoint']}; use it: songscape ingest --model "
                  f"{summary['name']} FOLDER")  # fmt: skip
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Linear probe and kNN precision of a model's embeddings on labelled files."""
    require_extra("train", "songscape evaluate")
    from songscape.evaluation.harness import MFCC, evaluate_model

    model = args.model if args.model == MFCC else check_model(args.model)
    if args.plot and not args.plot.endswith(".png"):
        raise UsageError(f"--plot must name a .png file, got {args.plot}")
    data = training_data(args, args.task)
    if args.plot and data.multilabel:
        raise UsageError("--plot draws the linear probe's confusion matrix: single-label tasks "
                         "only (not --task tags)")  # fmt: skip
    try:
        if not args.json and sys.stderr.isatty():
            with render.RichProgress() as progress:
                result = evaluate_model(model, data, folds=args.folds, k=args.k,
                                        progress=progress)  # fmt: skip
        else:
            result = evaluate_model(model, data, folds=args.folds, k=args.k)
    except ValueError as err:  # too few files per fold or class, and other unusable data
        raise CommandError(str(err)) from err
    if args.plot and "confusion" in result:
        from songscape.evaluation.plots import plot_confusion_matrix

        try:
            plot_confusion_matrix(result["confusion"], result["class_names"], args.plot,
                                  title=f"{model}: linear probe")  # fmt: skip
        except OSError as err:
            raise CommandError(f"cannot write {args.plot}: {err.strerror or err}") from err
        result["plot"] = os.path.abspath(args.plot)
    if args.json:
        render.print_json(result)
        return EXIT_OK
    print_evaluation(model, result, args.plot)
    return EXIT_OK


def print_evaluation(model: str, result: dict, plot: str | None) -> None:
    """The human summary of an ``evaluate_model`` result."""
    console = render.console()
    console.print(
        f"[bold]{model}[/bold] ({result['layer']}, {result['dim']}-d) on {result['n']} files, "
        f"{result['folds']} grouped folds ({result['grouping']})"
    )
    if result.get("probe_acc") is not None:
        lo, hi = result["probe_ci95"]
        console.print(f"  linear probe accuracy {result['probe_acc']:.3f} [{lo:.3f}, {hi:.3f}] "
                      f"(majority {result['majority_baseline']:.3f})")  # fmt: skip
    else:
        console.print(f"  linear probe ROC-AUC {result['probe_roc_auc']:.3f}, "
                      f"PR-AUC {result['probe_pr_auc']:.3f} (macro)")  # fmt: skip
    lo, hi = result["knn_ci95"]
    console.print(f"  kNN precision@{result['k']} {result['knn_p10']:.3f} [{lo:.3f}, {hi:.3f}]")
    if "train_overlap" in result:
        console.print(f"  in its training split: {result['train_overlap']:.0%}; its own held-out "
                      f"metrics: {result['trained']['held_out']}")  # fmt: skip
    if result.get("warning"):
        console.print(f"  [yellow]warning:[/yellow] {result['warning']}")
    if plot:
        console.print(f"  confusion matrix: {plot}")


def add_label_flags(p: argparse.ArgumentParser, audio_dir: bool) -> None:
    """Where the labels come from: ``--labels``, ``--library-labels`` (and ``--audio-dir``)."""
    p.add_argument(
        "--labels",
        metavar="CSV",
        help="path,label CSV (paths relative to it; see docs/training.md)",
    )
    p.add_argument("--label-column", metavar="COL", help="label column (default: label/genre)")
    p.add_argument(
        "--library-labels",
        choices=("genre", "artist"),
        metavar="FIELD",
        help="labels from the library's own genre or artist tags",
    )
    if audio_dir:
        p.add_argument("--audio-dir", metavar="DIR", help="unlabelled audio (moco, tjae)")
        p.add_argument("--source", choices=("vocals",),
                       help="vocals: the library's sung regions (moco, tjae; after `songscape "
                       "vocals`): the result is a vocal embedding `sing` uses (docs/sing.md)")
        p.add_argument("--vocal-signal", choices=("dominant", "mix"), default="mix",
                       help="with --source vocals: cut the sung regions from the mix (default: "
                       "it measured better, docs/sing.md) or the vocal-dominant separation")


def add_parsers(add: AddCommand) -> None:
    """train, evaluate."""
    p = add("train", cmd_train, "train your own embedding/tagging model (see docs/training.md)")
    p.add_argument("--arch", metavar="ARCH",
                   help="shortchunk-cnn, shortchunk-resnet, harmonic-cnn, crnn, self-attention, "
                   "sample-cnn, tjae, musicnn-head, musicnn-finetune")  # fmt: skip
    p.add_argument("--task", default="genre",
                   choices=("genre", "classification", "tags", "artist", "moco", "tjae",
                            "emotion"),
                   help="what to learn (default genre)")  # fmt: skip
    add_label_flags(p, audio_dir=True)
    p.add_argument("--name", required=True, help="registry name of the trained model")
    p.add_argument("--epochs", type=positive_int, default=10, help="maximum epochs (default 10)")
    p.add_argument("--batch-size", type=positive_int, default=16, help="default 16")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    p.add_argument("--weight-decay", type=non_negative_float, default=1e-4)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--seed", type=int, default=0, help="split, sampling and weights seed")
    p.add_argument(
        "--patience",
        type=positive_int,
        default=5,
        help="epochs without a better validation loss before stopping (default 5)",
    )
    p.add_argument(
        "--chunks",
        type=positive_int,
        default=4,
        help="random training chunks per file per epoch (default 4)",
    )
    p.add_argument(
        "--valid-chunks",
        type=positive_int,
        default=4,
        help="fixed validation chunks per file (default 4)",
    )
    p.add_argument(
        "--valid-fraction",
        type=float,
        default=0.2,
        help="fraction of groups held out for validation (default 0.2)",
    )
    p.add_argument("--augment", metavar="SPEC",
                   help="e.g. pitch_shift=negative,time_stretch=positive (roles: positive, "
                   "negative, off)")  # fmt: skip
    p.add_argument("--encoder", metavar="JSON", help="architecture overrides, e.g. "
                   "'{\"embedding_dim\": 64}'")  # fmt: skip
    p.add_argument(
        "--threads",
        type=positive_int,
        default=os.cpu_count() or 1,
        help="torch CPU threads (default: all cores)",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace a model of that name")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="this process (default) or data-parallel Ray Train workers (the "
                   "scale extra; docs/training.md)")  # fmt: skip
    p.add_argument("--workers", type=positive_int, default=2,
                   help="Ray Train workers with --engine ray (default 2)")  # fmt: skip
    p.add_argument("--ray-address", metavar="ADDR",
                   help="Ray cluster to join (host:port or auto; default: a private local "
                   "Ray for the run)")  # fmt: skip

    p = add("evaluate", cmd_evaluate, "linear probe and kNN precision of a model's embeddings "
            "on labelled files (any model, or mfcc)")  # fmt: skip
    p.add_argument(
        "--model",
        required=True,
        metavar="NAME",
        help="registry model (see `songscape models`) or mfcc",
    )
    p.add_argument(
        "--task",
        default="genre",
        choices=("genre", "artist", "tags"),
        help="single-label (genre, artist) or multi-label tags (default genre)",
    )
    add_label_flags(p, audio_dir=False)
    p.add_argument("--folds", type=positive_int, default=5, help="grouped folds (default 5)")
    p.add_argument("--k", type=positive_int, default=10, help="kNN neighbours (default 10)")
    p.add_argument("--plot", metavar="FILE.png", help="write the probe's confusion matrix")
