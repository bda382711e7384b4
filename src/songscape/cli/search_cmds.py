"""Finding tracks: ``similar``, ``search``, ``path``, and the vector ``index`` check."""

from __future__ import annotations

import argparse
import os

from songscape.cli import render
from songscape.cli.errors import EXIT_FAILED, EXIT_OK, error_text
from songscape.cli.options import (
    AddCommand,
    check_model,
    non_negative_int,
    open_library,
    positive_int,
    require_extra,
)
from songscape.cli.playlist_cmds import add_save_flag, save_if_asked
from songscape.errors import CommandError, UsageError


def cmd_similar(args: argparse.Namespace) -> int:
    """Tracks that sound like a library track or an outside file."""
    if (args.track is None) == (args.file is None):
        raise UsageError("give a TRACK or --file FILE (not both)")
    if args.file and not os.path.isfile(os.path.expanduser(args.file)):
        raise UsageError(f"no such file: {args.file}")
    model = check_model(args.model) if args.model else None
    with open_library(args) as lib:
        try:
            result = lib.similar(
                args.track, file=os.path.expanduser(args.file) if args.file else None,
                k=args.k, model=model, filters=args.filter or (),
                other_artists=args.other_artists, half_double=args.half_double,
                backend=args.backend, by=args.by,
            )  # fmt: skip
        except LookupError as err:  # an unknown track, or no vector for it: nothing to do
            raise CommandError(error_text(err)) from err
        save_if_asked(args, lib, [r["id"] for r in result["results"]],
                      f"similar:{result['query'].get('id') or 'file'}")  # fmt: skip
    if args.json:
        render.print_json(result)
        return EXIT_OK
    q = result["query"]
    render.console().print(f"like [bold]{q['title'] or q['path']}[/bold]"
                           + (f" — {q['artist']}" if q["artist"] else "")
                           + f"  ({result['model']})")  # fmt: skip
    if "identified" in result:  # --file: the fingerprint look-up came first (issue 20)
        from songscape.cli.recordings_cmds import identified_line

        print(identified_line(result["identified"]))
    render.print_results(result["results"])
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    """Tracks found by words, with how the query was understood."""
    if not args.query.strip():
        raise UsageError('the query is empty (try "just play" for anything)')
    with open_library(args) as lib:
        result = lib.search(args.query, k=args.k)
        save_if_asked(args, lib, [r["id"] for r in result["results"]], f"search:{args.query}")
    if args.json:
        render.print_json(result)
        return EXIT_OK
    intent = result["intent"]
    patterns = ", ".join(intent.get("patterns", [])) or "nothing"
    matched = [t["name"] for t in intent.get("tags", [])[:6]]
    matched += [f"{m['field']} '{m['value']}'" for m in intent.get("metadata", [])[:3]]
    console = render.console()
    console.print(f"understood as: [bold]{patterns}[/bold]"
                  + (f" ({', '.join(matched)})" if matched else ""))  # fmt: skip
    for note in intent.get("notes", []):
        console.print(f"  [dim]{note}[/dim]")
    render.print_results(result["results"])
    return EXIT_OK


def cmd_path(args: argparse.Namespace) -> int:
    """A smooth sequence of tracks from one song to another."""
    model = check_model(args.model) if args.model else None
    with open_library(args) as lib:
        try:
            result = lib.path(args.start, args.end, steps=args.steps, model=model,
                              backend=args.backend)  # fmt: skip
        except LookupError as err:  # an unknown track, or no vector for it: nothing to do
            raise CommandError(error_text(err)) from err
        save_if_asked(args, lib, [r["id"] for r in result["path"]],
                      f"path:{result['from']}..{result['to']}")  # fmt: skip
    if args.json:
        render.print_json(result)
        return EXIT_OK
    console = render.console()
    for i, r in enumerate(result["path"]):
        name = r["title"] or os.path.basename(r["path"])
        hop = "" if i == 0 else f"  [dim](similarity to previous {r['similarity']:.3f})[/dim]"
        console.print(f"{i:>3}. {name}" + (f" — {r['artist']}" if r["artist"] else "") + hop)
    return EXIT_OK


def cmd_index(args: argparse.Namespace) -> int:
    """Check (or rebuild) a model's vector index; exit 1 when it is out of sync."""
    model = check_model(args.model) if args.model else None
    with open_library(args) as lib:
        if args.uri and (args.backend or lib.config("index.backend")) != "milvus":
            raise UsageError("--uri is the Milvus URI: use it with --backend milvus")
        if args.windows:  # the window index (issue 20)
            index = lib.window_index(model or lib.default_model, args.backend, args.uri)
        else:
            index = lib.index(model, backend=args.backend, uri=args.uri)
        if args.precompute_similar:
            if not args.redis:
                raise UsageError("--precompute-similar needs --redis URL")
            require_extra("scale", "songscape index --precompute-similar")
            done = lib.precompute_similar(args.redis, k=args.k, model=model,
                                          backend=args.backend)  # fmt: skip
            if args.json:
                render.print_json(done)
            else:
                print(f"{done['tracks']} similar lists (top-{done['k']}, {done['model']}) "
                      f"written to {done['target']} as version {done['version']} "
                      f"in {done['seconds']:.1f} s")  # fmt: skip
            return EXIT_OK
        if args.rebuild:
            index.rebuild()
        report = index.check()
    if args.json:
        render.print_json(report)
    else:
        state = "in sync" if report["in_sync"] else "OUT OF SYNC"
        what = f"{report['model']} windows" if args.windows else report["model"]
        print(f"{what}: {report['kind']} index, {report['n_index']} vectors "
              f"({report['n_catalog']} in the catalog) — {state}")  # fmt: skip
        if not report["in_sync"]:
            print(f"  missing {report['missing']}, extra {report['extra']}, "
                  f"stale {report['stale']}: run `songscape index --rebuild`")  # fmt: skip
    return EXIT_OK if report["in_sync"] else EXIT_FAILED


def add_backend_flag(p: argparse.ArgumentParser) -> None:
    """``--backend faiss|milvus``: the vector index for this call."""
    p.add_argument("--backend", choices=("faiss", "milvus"),
                   help="vector index for this call (default: config index.backend)")  # fmt: skip


def add_parsers(add: AddCommand) -> None:
    """similar, search, path, index."""
    p = add("similar", cmd_similar, "tracks that sound like a track (or an outside --file)")
    p.add_argument("track", nargs="?", metavar="TRACK", help="track id, id prefix, or path")
    p.add_argument("--file", metavar="FILE", help="search with an audio file outside the library")
    p.add_argument("--k", type=positive_int, default=10, help="results (default 10)")
    p.add_argument("--model", metavar="NAME", help="default: the library's default model")
    p.add_argument(
        "--filter", action="append", metavar="NAME=VALUE",
        help="tempo=90..110, key='A minor', key=compatible, tag=rock, tag=mtt:piano, "
        "duration=120..300, artist=Name (repeatable)",
    )  # fmt: skip
    p.add_argument("--other-artists", action="store_true", help="leave out the query's artist")
    p.add_argument("--half-double", action="store_true",
                   help="tempo filter and closeness accept half/double tempo")  # fmt: skip
    p.add_argument("--by", choices=("track", "segment"),
                   help="compare whole tracks or 10 s segments (default: segments for a "
                   "--file not identified by fingerprint, else tracks)")  # fmt: skip
    add_backend_flag(p)
    add_save_flag(p)

    p = add("search", cmd_search, "find tracks by words: 'calm piano', 'play IU songs'")
    p.add_argument("query", metavar="QUERY")
    p.add_argument("--k", type=positive_int, default=10, help="results (default 10)")
    add_save_flag(p)

    p = add("path", cmd_path, "a smooth sequence of tracks from one song to another")
    p.add_argument("start", metavar="A")
    p.add_argument("end", metavar="B")
    p.add_argument("--steps", type=non_negative_int, default=8,
                   help="tracks in between (default 8)")  # fmt: skip
    p.add_argument("--model", metavar="NAME", help="default: the library's default model")
    add_backend_flag(p)
    add_save_flag(p)

    p = add("index", cmd_index, "check (or rebuild) the vector index against the catalog")
    p.add_argument("--model", metavar="NAME", help="default: the library's default model")
    p.add_argument("--rebuild", action="store_true", help="rebuild from the catalog")
    p.add_argument("--windows", action="store_true",
                   help="the window index (10 s segments) instead of the track index")  # fmt: skip
    add_backend_flag(p)
    p.add_argument("--uri", metavar="URI",
                   help="Milvus URI for this call: a Milvus Lite file (./vectors.db) or "
                   "http://host:19530 (default: config index.uri)")  # fmt: skip
    p.add_argument("--precompute-similar", action="store_true",
                   help="write every track's top-k similar list to Redis (--redis URL); "
                   "the API serves them when config serve.redis is set")  # fmt: skip
    p.add_argument("--redis", metavar="URL", help="redis://host:port/db")
    p.add_argument("--k", type=positive_int, default=50, help="list length (default 50)")
