"""Building and reading the library: ``ingest``, ``tracks``, ``show``, ``analyze``,
``stats``, ``remove``, ``demo``."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from songscape.cli import render
from songscape.cli.errors import EXIT_INTERRUPTED, EXIT_OK
from songscape.cli.options import (
    AddCommand,
    add_duration_flags,
    check_model,
    non_negative_float,
    open_library,
    positive_int,
    require_extra,
)
from songscape.config import DEFAULT_MAX_DURATION_S
from songscape.errors import AudioError, CommandError, UsageError


def cmd_ingest(args: argparse.Namespace) -> int:
    """Add or update the audio under ``args.paths``; 130 when interrupted."""
    from songscape.ingest.pipeline import IngestOptions

    for path in args.paths:
        if not os.path.exists(os.path.expanduser(path)):
            raise UsageError(f"no such file or folder: {path}")
    labels = getattr(args, "labels", None)
    if labels and not os.path.isfile(os.path.expanduser(labels)):
        raise UsageError(f"no such labels file: {labels}")
    models = tuple(dict.fromkeys(check_model(m) for m in args.model or ()))
    if args.no_models and models:
        raise UsageError("--no-models and --model exclude each other")
    options = IngestOptions(
        workers=args.workers,
        max_duration_s=args.max_duration if args.max_duration > 0 else None,
        min_duration_s=args.min_duration,
        embed_models=() if args.no_models else (models or None),
        tag_models=() if args.no_models else IngestOptions.tag_models,
        engine=args.engine, ray_address=args.ray_address,
    )
    if args.ray_address and args.engine != "ray":
        raise UsageError("--ray-address needs --engine ray")
    if args.engine == "ray":
        require_extra("scale", "songscape ingest --engine ray")
    show_bar = not args.json and not args.quiet and sys.stderr.isatty()
    with open_library(args, create=True) as lib:
        if models:  # the first --model becomes the library's default for search/map
            lib.set_default_model(models[0])
        if show_bar:
            with render.RichProgress() as progress:
                report = lib.ingest(args.paths, options, progress=progress)
        else:
            report = lib.ingest(args.paths, options)
        result = report.to_json()
        result["library"] = str(lib.root)
        if labels:  # a labels.csv sidecar: genres the files' tags do not carry
            result["labels"] = lib.import_labels(labels)
    if args.json:
        render.print_json(result)
    else:
        console = render.console()
        if report.failures:
            console.print(f"[bold]{len(report.failures)} file(s) failed:[/bold]")
            for failure in report.failures:
                console.print(f"  {failure['path']}: [red]{failure['error']}[/red]")
        if labels:
            lab = result["labels"]
            console.print(f"labels: {lab['matched']} of {lab['rows']} rows of {labels} "
                          "matched library tracks")  # fmt: skip
        rate = report.audio_seconds / report.elapsed_s if report.elapsed_s else 0.0
        console.print(
            f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
            f"failed {report.failed}"
            + (f", moved {report.moved}" if report.moved else "")
            + (f", duplicates {report.duplicates}" if report.duplicates else "")
            + (f", missing {report.missing}" if report.missing else "")
            + (f", re-analysed {report.restaged}" if report.restaged else "")
            + f" — {render.duration(report.audio_seconds)} of audio in "
            f"{report.elapsed_s:.1f} s"
            + (f" ({rate:.0f}x real time)" if report.audio_seconds else "")
        )
        console.print(f"library: {result['library']}")
    if report.interrupted:
        print("interrupted: what finished is saved; run the same command to go on", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def cmd_tracks(args: argparse.Namespace) -> int:
    """List the library's tracks (all, by status, or the failed ones with the reason)."""
    status = "failed" if args.failed else args.status
    with open_library(args) as lib:
        tracks = lib.tracks(status=status)
    if args.json:
        render.print_json(tracks)
        return EXIT_OK
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    if status == "failed":
        for col in ("id", "path", "error"):
            table.add_column(col, overflow="fold")
        for t in tracks:
            table.add_row(t["id"], t["path"], t["error"] or "")
    else:
        for col in ("id", "title", "artist", "album", "time", "bpm", "key", "LUFS", "status"):
            justify = "right" if col in ("time", "bpm", "LUFS") else "left"
            table.add_column(
                col, justify=justify, no_wrap=True, overflow="ellipsis",
                min_width=16 if col == "id" else None, max_width=32,
            )  # fmt: skip
        for t in tracks:
            title = t["title"] or os.path.basename(t["path"])
            table.add_row(
                t["id"], title, t["artist"] or "", t["album"] or "",
                render.duration(t["duration_s"]), render.fmt(t["tempo_bpm"]), t["key"] or "-",
                render.fmt(t["loudness_lufs"]), t["status"],
            )  # fmt: skip
    console = render.console()
    console.print(table)
    console.print(f"{len(tracks)} track(s)")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    """Everything known about one track."""
    with open_library(args) as lib:
        track = lib.track(args.track)
    if args.json:
        render.print_json(track)
        return EXIT_OK
    fmt, duration = render.fmt, render.duration
    fields = [
        ("id", track["id"]), ("path", track["path"]), ("status", track["status"]),
        ("error", track["error"]), ("title", track["title"]), ("artist", track["artist"]),
        ("album", track["album"]), ("genre", track["genre"]), ("year", track["year"]),
        ("track", track["track_number"]), ("duration", duration(track["duration_s"])),
        ("format", track["format"]),
        ("sample rate", fmt(track["sample_rate"], unit=" Hz")),
        ("channels", track["channels"]),
        ("tempo", fmt(track["tempo_bpm"], 1, " BPM")),
        ("meter", fmt(track["beats_per_bar"], unit=" beats/bar")),
        ("key", f"{track['key']} (confidence {fmt(track['key_confidence'], 2)})"
         if track["key"] else "-"),
        ("loudness", fmt(track["loudness_lufs"], 1, " LUFS")),
        ("brightness", fmt(track["spectral_centroid_hz"], 0, " Hz (spectral centroid)")),
        ("onset rate", fmt(track["onset_rate_hz"], 2, " /s")),
    ]  # fmt: skip
    desc = track["descriptors"]
    if desc:
        beats, downbeats = desc.get("beat_times", []), desc.get("downbeat_times", [])
        fields.append(("beats", f"{len(beats)} (first at {fmt(beats[0] if beats else None, 2)} s)"))
        fields.append(("downbeats", f"{len(downbeats)}"))
        curve = desc.get("energy_curve", [])
        if curve:
            fields.append(("energy", render.sparkline(curve)))
    if track["duplicates"]:
        fields.append(("copies", "; ".join(track["duplicates"])))
    for model, tags in (track.get("tags") or {}).items():
        fields.append((f"tags ({model.split('-')[-1]})", render.tag_line(tags, 5)))
    if track.get("embeddings"):
        fields.append(("embeddings", ", ".join(
            f"{m} {e['dim']}-d" for m, e in track["embeddings"].items())))  # fmt: skip
    stages = ", ".join(f"{s['stage']} v{s['version']} {s['status']}" for s in track["stages"])
    fields.append(("stages", stages or "-"))
    if track["lyrics"]:
        fields.append(
            ("lyrics", track["lyrics"][:200] + ("…" if len(track["lyrics"]) > 200 else ""))
        )
    console = render.console()
    for name, value in fields:
        if value is not None:
            console.print(f"[bold]{name:>11}[/bold]  {value}")
    return EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    """Analyse one audio file outside any library."""
    from songscape.library.library import analyze_file

    if not os.path.isfile(os.path.expanduser(args.file)):
        raise UsageError(f"no such file: {args.file}")
    if args.rhythm == "madmom":
        from songscape.models.rhythm import MADMOM_LICENCE

        print(f"note: {MADMOM_LICENCE}", file=sys.stderr)
    try:
        result = analyze_file(
            os.path.expanduser(args.file),
            max_duration_s=args.max_duration if args.max_duration > 0 else None,
            min_duration_s=args.min_duration,
            model=None if args.no_model else check_model(args.model),
            rhythm=args.rhythm,
        )
    except AudioError as err:  # the reason alone does not say which file
        raise CommandError(f"{args.file}: {err}") from err
    if args.json:
        render.print_json(result)
        return EXIT_OK
    fmt = render.fmt
    rows = [
        ("file", result["path"]), ("format", result.get("format")),
        ("duration", render.duration(result.get("duration_s"))),
        ("sample rate", fmt(result.get("sample_rate"), unit=" Hz")),
        ("title", result.get("title")), ("artist", result.get("artist")),
        ("tempo", fmt(result.get("tempo_bpm"), 1, " BPM")),
        ("beats", len(result.get("beat_times", []))),
        ("downbeats", len(result.get("downbeat_times", []))),
        ("meter", fmt(result.get("beats_per_bar"), unit=" beats/bar")),
        ("beat tracker", result.get("rhythm_method")),
        ("key", f"{result.get('key')} (confidence {fmt(result.get('key_confidence'), 2)})"),
        ("loudness", fmt(result.get("loudness_lufs"), 1, " LUFS")),
        ("brightness", fmt(result.get("spectral_centroid_hz"), 0, " Hz")),
        ("onset rate", fmt(result.get("onset_rate_hz"), 2, " /s")),
        ("energy", render.sparkline(result["energy_curve"])
         if result.get("energy_curve") else "-"),
        ("tags", render.tag_line(result["tags"]) if result.get("tags") else None),
        ("embedding", f"{result['embedding_dim']}-d {result['embedding_model']} "
         f"({result['embedding_layer']})" if result.get("embedding") else None),
    ]  # fmt: skip
    console = render.console()
    for name, value in rows:
        if value is not None:
            console.print(f"[bold]{name:>11}[/bold]  {value}")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    """The library summary."""
    with open_library(args) as lib:
        stats = lib.stats()
    if args.json:
        render.print_json(stats)
        return EXIT_OK
    fmt = render.fmt
    console = render.console()
    s = stats["by_status"]
    console.print(f"[bold]library[/bold]   {stats['library']} (schema v{stats['schema_version']})")
    console.print(
        f"[bold]tracks[/bold]    {s['ok']} ok, {s['failed']} failed, {s['missing']} missing"
        + (f", {stats['duplicates']} duplicate copies" if stats["duplicates"] else "")
    )
    console.print(
        f"[bold]audio[/bold]     {render.duration(stats['total_duration_s'])}, "
        f"{stats['total_size_bytes'] / 1e6:.1f} MB, {stats['artists']} artist(s)"
    )
    t = stats["tempo_bpm"]
    console.print(
        f"[bold]tempo[/bold]     {fmt(t['min'])}–{fmt(t['max'])} BPM (mean {fmt(t['mean'])})"
    )
    for label, counts in (("formats", stats["formats"]), ("genres", stats["genres"]),
                          ("keys", stats["keys"])):  # fmt: skip
        if counts:
            top = ", ".join(f"{k} {v}" for k, v in list(counts.items())[:8])
            console.print(f"[bold]{label:<9}[/bold] {top}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    """Forget a track; the audio file stays where it is."""
    with open_library(args) as lib:
        removed = lib.remove(args.track)
    if args.json:
        render.print_json(removed)
    else:
        print(f"removed {removed['id']} ({removed['path']}); the file itself is untouched")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Write synthetic songs, ingest them (and the folders given), print the summary."""
    from songscape.audio.demo import write_demo_songs

    library_dir = os.path.abspath(os.path.expanduser(args.library))
    audio_dir = args.audio or os.path.join(os.path.dirname(library_dir), "demo-audio")
    write_demo_songs(audio_dir, count=args.count)
    music = [m for m in args.music if m]
    for folder in music:
        if not os.path.exists(os.path.expanduser(folder)):
            raise UsageError(f"no such folder: {folder}")
    ingest_args = argparse.Namespace(
        library=library_dir, paths=[audio_dir, *music], workers=args.workers,
        max_duration=args.max_duration, min_duration=1.0, json=False, quiet=args.quiet,
        model=None, no_models=False, engine="local", ray_address=None, labels=None,
    )  # fmt: skip
    code = cmd_ingest(ingest_args)
    if code != EXIT_OK:
        return code
    print()
    cmd_stats(argparse.Namespace(library=library_dir, json=False))
    # The hints name this installation's own `songscape`, so they work without
    # activating the virtual environment.
    here = os.path.join(os.path.dirname(sys.executable), "songscape")
    exe = shlex.quote(here if os.access(here, os.X_OK) else "songscape")
    lib = f"{exe} --library {shlex.quote(library_dir)}"
    print(
        f"\nexplore it:\n  {lib} tracks\n"
        f"  {lib} show TRACK_ID\n"
        f"  {lib} tracks --failed\n"
        f"  {lib} search 'calm piano' --save calm\n"
        f"  {lib} playlist export calm calm.m3u8\n"
        f"  {lib} serve        # the 3D map in your browser"
    )
    return EXIT_OK


def add_parsers(add: AddCommand) -> None:
    """ingest, tracks, show, analyze, stats, remove, demo."""
    cores = os.cpu_count() or 1
    p = add("ingest", cmd_ingest, "add or update the audio files under folders/files")
    p.add_argument("paths", nargs="+", metavar="PATH", help="folders (recursive) or files")
    p.add_argument("--workers", type=positive_int, default=cores,
                   help=f"worker processes (default: number of cores, {cores})")  # fmt: skip
    add_duration_flags(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--model", action="append", metavar="NAME",
        help="embedding model (repeatable; the first becomes the library's default; "
        "default: the library's default, musicnn-msd). See `songscape models`",
    )  # fmt: skip
    p.add_argument("--labels", metavar="FILE.csv",
                   help="a labels file (columns path and genre or label, paths relative to "
                   "it) whose genres the map shows where a file has no genre tag")  # fmt: skip
    p.add_argument("--no-models", action="store_true",
                   help="no neural-network stages (no embeddings or tags): metadata and "
                   "descriptors only, much faster")  # fmt: skip
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="where files are analysed: local worker processes (default) or Ray "
                   "actors (the scale extra; docs/scale.md)")  # fmt: skip
    p.add_argument("--ray-address", metavar="ADDR",
                   help="Ray cluster to join (host:port or auto; default: a private local "
                   "Ray for the run)")  # fmt: skip

    p = add("tracks", cmd_tracks, "list the library's tracks")
    p.add_argument("--failed", action="store_true", help="only files that failed, with the reason")
    p.add_argument("--status", choices=("ok", "failed", "missing"), help="only tracks with status")

    p = add("show", cmd_show, "everything known about one track")
    p.add_argument("track", metavar="TRACK", help="track id, unique id prefix, or file path")

    p = add("analyze", cmd_analyze, "analyse one audio file (no library needed)")
    p.add_argument("file", metavar="FILE")
    add_duration_flags(p)
    p.add_argument("--model", default="musicnn-msd", metavar="NAME",
                   help="model for tags and embedding (default musicnn-msd)")  # fmt: skip
    p.add_argument("--no-model", action="store_true", help="descriptors only, no neural model")
    # The names of songscape.models.rhythm.RHYTHM_BACKENDS (not imported: it loads torch).
    p.add_argument("--rhythm", choices=("beatnet", "madmom", "onset"), default="beatnet",
                   help="beat tracker: beatnet (default, CC BY 4.0 weights), madmom "
                        "(opt-in; non-commercial weights) or onset (no network)")  # fmt: skip

    add("stats", cmd_stats, "library summary")

    p = add("remove", cmd_remove, "forget a track (the audio file is not deleted)")
    p.add_argument("track", metavar="TRACK", help="track id, unique id prefix, or file path")

    p = add("demo", cmd_demo, "build a demo library (synthetic songs + optional music folders)",
            json=False)  # fmt: skip
    p.add_argument("music", nargs="*", metavar="FOLDER", help="your music to add to the demo")
    p.add_argument("--audio", metavar="DIR", help="where to write the synthetic songs "
                   "(default: demo-audio beside the library)")  # fmt: skip
    p.add_argument("--count", type=positive_int, default=20, help="synthetic songs (default 20)")
    p.add_argument("--workers", type=positive_int, default=cores)
    p.add_argument("--max-duration", type=non_negative_float, default=DEFAULT_MAX_DURATION_S)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
