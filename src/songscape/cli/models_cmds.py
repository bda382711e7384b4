"""What the networks made of the library: ``tags``, ``models``, ``embeddings``."""

from __future__ import annotations

import argparse
import os

from songscape.cli import render
from songscape.cli.errors import EXIT_OK
from songscape.cli.options import AddCommand, check_model, open_library, positive_int
from songscape.cli.tags_cmds import add_write_flags, cmd_tags_write
from songscape.errors import CommandError, LibraryError, UsageError


def cmd_tags(args: argparse.Namespace) -> int:
    """A track's auto-tags (both vocabularies), optionally its taggram as a picture;
    ``tags write …`` writes tags into files (:mod:`songscape.cli.tags_cmds`)."""
    if args.track[0] == "write":
        return cmd_tags_write(args)
    if len(args.track) > 1:
        raise UsageError("give one TRACK (or `tags write TRACK…` to write tags into files)")
    with open_library(args) as lib:
        result = lib.tags(args.track[0], top=args.top)
    if args.plot:
        plot_taggram(args, result)
    if args.json:
        render.print_json(result)
        return EXIT_OK
    console = render.console()
    if args.plot:
        console.print(f"taggram picture: {args.plot}")
    console.print(f"[bold]{result['title'] or result['path']}[/bold]"
                  + (f" — {result['artist']}" if result["artist"] else ""))  # fmt: skip
    if not result["tags"]:
        console.print("no tags yet: run `songscape ingest` on its folder")
        return EXIT_OK
    shown = result["tags"] if args.all else result["tags"][: args.top or 15]
    for t in shown:
        console.print(f"  {t['name']:<24} {render.bar(t['probability'])} {t['probability']:.3f}")
    return EXIT_OK


def plot_taggram(args: argparse.Namespace, result: dict) -> None:
    """Draw the ``--model`` taggram of the track in ``result`` to the ``--plot`` PNG."""
    from songscape.ingest.model_stages import taggram_array_name
    from songscape.models.registry import get_spec
    from songscape.models.taggram import plot_taggram as draw

    model = check_model(args.model)
    if not args.plot.endswith(".png"):
        raise UsageError(f"--plot must name a .png file, got {args.plot}")
    with open_library(args) as lib:
        taggram = lib.store.get_arrays(result["id"]).get(taggram_array_name(model))
    if taggram is None:
        raise CommandError(f"no {model} taggram for this track: run `songscape ingest` on it")
    spec = get_spec(model)
    title = f"{result['title'] or os.path.basename(result['path'])} — {model}"
    try:
        draw(taggram, spec.labels, spec.patch_duration_s, args.plot, title=title)
    except OSError as err:
        raise CommandError(f"cannot write {args.plot}: {err.strerror or err}") from err


def cmd_models(args: argparse.Namespace) -> int:
    """The model registry, with this library's default and vector counts when it exists."""
    from songscape.models.registry import list_models

    specs = [spec.to_json() for spec in list_models()]
    try:
        lib = open_library(args)
    except LibraryError:
        lib = None  # no library yet: list the registry alone
    if lib is not None:
        with lib:
            counts = lib.store.embedding_counts()
            for spec in specs:
                spec["library_default"] = spec["name"] == lib.default_model
                spec["library_vectors"] = counts.get(spec["name"], {}).get(spec["version"], 0)
    if args.json:
        render.print_json(specs)
        return EXIT_OK
    console = render.console()
    for spec in specs:
        mark = "*" if spec.get("library_default", spec["default"]) else " "
        vectors = f"  {spec['library_vectors']} vectors" if "library_vectors" in spec else ""
        console.print(
            f"{mark} [bold]{spec['name']:<12}[/bold] {spec['embedding_dim']:>4}-d "
            f"{spec['n_tags']:>3} tags  ROC-AUC {spec['metrics'].get('roc_auc', float('nan')):.3f}"
            f"{vectors}  {spec['description']}"
        )
    console.print("* = default model (set per library with `songscape ingest --model NAME`)")
    return EXIT_OK


def cmd_embeddings(args: argparse.Namespace) -> int:
    """Export the library's vectors of a model to a ``.npz`` file, atomically."""
    import numpy as np

    model = check_model(args.model) if args.model else None
    out = os.path.expanduser(args.out)
    if not out.endswith(".npz"):
        raise UsageError(f"--out must name a .npz file, got {args.out}")
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise UsageError(f"no such folder: {os.path.dirname(os.path.abspath(out))}")
    with open_library(args) as lib:
        data = lib.embeddings(model)
    if not data["ids"]:
        raise CommandError(
            f"the library has no {data['model']} vectors yet: run "
            f"`songscape ingest --model {data['model']} FOLDER`"
        )
    # Write next to the target and rename, so a killed export never leaves half a file.
    tmp = out + ".partial.npz"
    np.savez(
        tmp,
        ids=np.array(data["ids"]),
        paths=np.array(data["paths"]),
        vectors=data["vectors"],
        model=np.array(data["model"]),
        version=np.array(data["version"]),
    )
    os.replace(tmp, out)
    summary = {
        "out": os.path.abspath(out),
        "model": data["model"],
        "version": data["version"],
        "n": len(data["ids"]),
        "dim": int(data["vectors"].shape[1]),
    }
    if args.json:
        render.print_json(summary)
    else:
        print(f"wrote {summary['n']} x {summary['dim']} {summary['model']} vectors to {out}")
    return EXIT_OK


def add_parsers(add: AddCommand) -> None:
    """tags, models, embeddings."""
    p = add("tags", cmd_tags, "a track's auto-tags (MSD and MTT vocabularies, combined)")
    p.add_argument("track", nargs="+", metavar="TRACK",
                   help="track id, unique id prefix, or file path; or `write [TRACK…|--all]`: "
                   "write BPM, key, ReplayGain, mood, genre into the files' tags")  # fmt: skip
    p.add_argument("--top", type=positive_int, metavar="N", help="N most probable per model")
    p.add_argument("--all", action="store_true",
                   help="list every tag (with `write`: every track of the library)")
    p.add_argument("--plot", metavar="FILE.png", help="draw the taggram (tags over time)")
    p.add_argument("--model", default="musicnn-msd", metavar="NAME",
                   help="whose taggram --plot draws (default musicnn-msd)")  # fmt: skip
    add_write_flags(p)

    add("models", cmd_models, "the model registry (and this library's vectors per model)")

    p = add("embeddings", cmd_embeddings, "export the library's vectors to a .npz file")
    p.add_argument("--model", metavar="NAME", help="default: the library's default model")
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE.npz",
        help="arrays: ids, paths, vectors (n x dim float32), model, version",
    )
