"""The ``songscape`` command line: parse, call the library, print.

Exit codes: 0 the run completed (even if some files failed: they are listed),
1 nothing could be done (library unreadable, unknown track, undecodable file),
2 usage error (bad flag or argument), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from songscape import __version__
from songscape.config import DEFAULT_MAX_DURATION_S, default_library_dir

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CliError(Exception):
    """A user-facing error with an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.code = code


# -- output helpers ------------------------------------------------------------------


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, allow_nan=False)
    sys.stdout.write("\n")


def _console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _fmt(value: Any, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _RichProgress:
    """A progress bar with ETA on stderr (only when stderr is a terminal)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description:>11}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = None

    def __enter__(self) -> _RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def phase(self, name: str, total: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, visible=total > 0 or name == "analyse")
        self._task = self._progress.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)


# -- commands ------------------------------------------------------------------------


def _open_library(args: argparse.Namespace, create: bool = False):
    from songscape.catalog.store import LibraryError
    from songscape.library.library import Library

    try:
        return Library(args.library, create=create)
    except LibraryError as err:
        raise CliError(str(err)) from err


def cmd_ingest(args: argparse.Namespace) -> int:
    from songscape.ingest.pipeline import IngestOptions

    for path in args.paths:
        if not os.path.exists(os.path.expanduser(path)):
            raise CliError(f"no such file or folder: {path}", EXIT_USAGE)
    models = tuple(dict.fromkeys(_check_model(m) for m in args.model or ()))
    options = IngestOptions(
        workers=args.workers,
        max_duration_s=args.max_duration if args.max_duration > 0 else None,
        min_duration_s=args.min_duration,
        embed_models=models or None,
    )
    show_bar = not args.json and not args.quiet and sys.stderr.isatty()
    with _open_library(args, create=True) as lib:
        from songscape.catalog.store import LibraryError

        try:
            if models:  # the first --model becomes the library's default for search/map
                lib.set_default_model(models[0])
            if show_bar:
                with _RichProgress() as bar:
                    report = lib.ingest(args.paths, options, progress=bar)
            else:
                report = lib.ingest(args.paths, options)
        except LibraryError as err:
            raise CliError(str(err)) from err
        result = report.to_json()
        result["library"] = str(lib.root)
    if args.json:
        _print_json(result)
    else:
        console = _console()
        if report.failures:
            console.print(f"[bold]{len(report.failures)} file(s) failed:[/bold]")
            for failure in report.failures:
                console.print(f"  {failure['path']}: [red]{failure['error']}[/red]")
        rate = report.audio_seconds / report.elapsed_s if report.elapsed_s else 0.0
        console.print(
            f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
            f"failed {report.failed}"
            + (f", moved {report.moved}" if report.moved else "")
            + (f", duplicates {report.duplicates}" if report.duplicates else "")
            + (f", missing {report.missing}" if report.missing else "")
            + (f", re-analysed {report.restaged}" if report.restaged else "")
            + f" — {_duration(report.audio_seconds)} of audio in {report.elapsed_s:.1f} s"
            + (f" ({rate:.0f}x real time)" if report.audio_seconds else "")
        )
        console.print(f"library: {result['library']}")
    if report.interrupted:
        print("interrupted: what finished is saved; run the same command to go on", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def _check_model(name: str) -> str:
    from songscape.models.registry import UnknownModelError, get_spec

    try:
        return get_spec(name).name
    except UnknownModelError as err:
        raise CliError(str(err), EXIT_USAGE) from err


def cmd_tracks(args: argparse.Namespace) -> int:
    status = "failed" if args.failed else args.status
    with _open_library(args) as lib:
        tracks = lib.tracks(status=status)
    if args.json:
        _print_json(tracks)
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
                t["id"], title, t["artist"] or "", t["album"] or "", _duration(t["duration_s"]),
                _fmt(t["tempo_bpm"]), t["key"] or "-", _fmt(t["loudness_lufs"]), t["status"],
            )  # fmt: skip
    console = _console()
    console.print(table)
    console.print(f"{len(tracks)} track(s)")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from songscape.catalog.store import TrackNotFoundError

    with _open_library(args) as lib:
        try:
            track = lib.track(args.track)
        except TrackNotFoundError as err:
            raise CliError(str(err.args[0])) from err
    if args.json:
        _print_json(track)
        return EXIT_OK
    console = _console()
    fields = [
        ("id", track["id"]), ("path", track["path"]), ("status", track["status"]),
        ("error", track["error"]), ("title", track["title"]), ("artist", track["artist"]),
        ("album", track["album"]), ("genre", track["genre"]), ("year", track["year"]),
        ("track", track["track_number"]), ("duration", _duration(track["duration_s"])),
        ("format", track["format"]),
        ("sample rate", _fmt(track["sample_rate"], unit=" Hz")),
        ("channels", track["channels"]),
        ("tempo", _fmt(track["tempo_bpm"], 1, " BPM")),
        ("meter", _fmt(track["beats_per_bar"], unit=" beats/bar")),
        ("key", f"{track['key']} (confidence {_fmt(track['key_confidence'], 2)})"
         if track["key"] else "-"),
        ("loudness", _fmt(track["loudness_lufs"], 1, " LUFS")),
        ("brightness", _fmt(track["spectral_centroid_hz"], 0, " Hz (spectral centroid)")),
        ("onset rate", _fmt(track["onset_rate_hz"], 2, " /s")),
    ]  # fmt: skip
    desc = track["descriptors"]
    if desc:
        beats, downbeats = desc.get("beat_times", []), desc.get("downbeat_times", [])
        fields.append(
            ("beats", f"{len(beats)} (first at {_fmt(beats[0] if beats else None, 2)} s)")
        )
        fields.append(("downbeats", f"{len(downbeats)}"))
        curve = desc.get("energy_curve", [])
        if curve:
            fields.append(("energy", _sparkline(curve)))
    if track["duplicates"]:
        fields.append(("copies", "; ".join(track["duplicates"])))
    for model, tags in (track.get("tags") or {}).items():
        fields.append((f"tags ({model.split('-')[-1]})", _tag_line(tags, 5)))
    if track.get("embeddings"):
        fields.append(("embeddings", ", ".join(
            f"{m} {e['dim']}-d" for m, e in track["embeddings"].items())))  # fmt: skip
    stages = ", ".join(f"{s['stage']} v{s['version']} {s['status']}" for s in track["stages"])
    fields.append(("stages", stages or "-"))
    if track["lyrics"]:
        fields.append(
            ("lyrics", track["lyrics"][:200] + ("…" if len(track["lyrics"]) > 200 else ""))
        )
    for name, value in fields:
        if value is not None:
            console.print(f"[bold]{name:>11}[/bold]  {value}")
    return EXIT_OK


def _sparkline(values: Sequence[float], width: int = 60) -> str:
    import numpy as np

    arr = np.asarray(values, dtype=float)
    if arr.size > width:  # max-pool to the width, so peaks stay visible
        edges = np.linspace(0, arr.size, width + 1).astype(int)
        arr = np.array([arr[a:b].max() for a, b in zip(edges[:-1], edges[1:], strict=True)])
    lo, hi = np.percentile(arr, 5), arr.max()
    levels = "▁▂▃▄▅▆▇█"
    scaled = np.clip((arr - lo) / max(hi - lo, 1e-9), 0, 1)
    return "".join(levels[int(round(v * (len(levels) - 1)))] for v in scaled)


def cmd_analyze(args: argparse.Namespace) -> int:
    from songscape.audio.decode import AudioError
    from songscape.library.library import analyze_file
    from songscape.models.pretrained import PretrainedWeightsError

    if not os.path.isfile(os.path.expanduser(args.file)):
        raise CliError(f"no such file: {args.file}", EXIT_USAGE)
    try:
        result = analyze_file(
            os.path.expanduser(args.file),
            max_duration_s=args.max_duration if args.max_duration > 0 else None,
            min_duration_s=args.min_duration,
            model=None if args.no_model else _check_model(args.model),
        )
    except AudioError as err:
        raise CliError(f"{args.file}: {err}") from err
    except PretrainedWeightsError as err:
        raise CliError(str(err)) from err
    if args.json:
        _print_json(result)
        return EXIT_OK
    console = _console()
    rows = [
        ("file", result["path"]), ("format", result.get("format")),
        ("duration", _duration(result.get("duration_s"))),
        ("sample rate", _fmt(result.get("sample_rate"), unit=" Hz")),
        ("title", result.get("title")), ("artist", result.get("artist")),
        ("tempo", _fmt(result.get("tempo_bpm"), 1, " BPM")),
        ("beats", len(result.get("beat_times", []))),
        ("downbeats", len(result.get("downbeat_times", []))),
        ("meter", _fmt(result.get("beats_per_bar"), unit=" beats/bar")),
        ("key", f"{result.get('key')} (confidence {_fmt(result.get('key_confidence'), 2)})"),
        ("loudness", _fmt(result.get("loudness_lufs"), 1, " LUFS")),
        ("brightness", _fmt(result.get("spectral_centroid_hz"), 0, " Hz")),
        ("onset rate", _fmt(result.get("onset_rate_hz"), 2, " /s")),
        ("energy", _sparkline(result["energy_curve"]) if result.get("energy_curve") else "-"),
        ("tags", _tag_line(result["tags"]) if result.get("tags") else None),
        ("embedding", f"{result['embedding_dim']}-d {result['embedding_model']} "
         f"({result['embedding_layer']})" if result.get("embedding") else None),
    ]  # fmt: skip
    for name, value in rows:
        if value is not None:
            console.print(f"[bold]{name:>11}[/bold]  {value}")
    return EXIT_OK


def _tag_line(tags: dict[str, float], top: int = 6) -> str:
    return ", ".join(f"{tag} {p:.2f}" for tag, p in list(tags.items())[:top])


def _bar(p: float, width: int = 20) -> str:
    full = int(round(max(0.0, min(1.0, p)) * width))
    return "█" * full + "·" * (width - full)


def cmd_tags(args: argparse.Namespace) -> int:
    from songscape.catalog.store import TrackNotFoundError

    with _open_library(args) as lib:
        try:
            result = lib.tags(args.track, top=args.top)
        except TrackNotFoundError as err:
            raise CliError(str(err.args[0])) from err
    if args.plot:
        _plot_taggram(args, result)
    if args.json:
        _print_json(result)
        return EXIT_OK
    console = _console()
    if args.plot:
        console.print(f"taggram picture: {args.plot}")
    console.print(f"[bold]{result['title'] or result['path']}[/bold]"
                  + (f" — {result['artist']}" if result["artist"] else ""))  # fmt: skip
    if not result["tags"]:
        console.print("no tags yet: run `songscape ingest` on its folder")
        return EXIT_OK
    shown = result["tags"] if args.all else result["tags"][: args.top or 15]
    for t in shown:
        console.print(f"  {t['name']:<24} {_bar(t['probability'])} {t['probability']:.3f}")
    return EXIT_OK


def _plot_taggram(args: argparse.Namespace, result: dict) -> None:
    from songscape.ingest.model_stages import taggram_array_name
    from songscape.models.registry import get_spec
    from songscape.models.taggram import plot_taggram

    model = _check_model(args.model)
    if not args.plot.endswith(".png"):
        raise CliError(f"--plot must name a .png file, got {args.plot}", EXIT_USAGE)
    with _open_library(args) as lib:
        taggram = lib.store.get_arrays(result["id"]).get(taggram_array_name(model))
    if taggram is None:
        raise CliError(f"no {model} taggram for this track: run `songscape ingest` on it")
    spec = get_spec(model)
    title = f"{result['title'] or os.path.basename(result['path'])} — {model}"
    try:
        plot_taggram(taggram, spec.labels, spec.patch_duration_s, args.plot, title=title)
    except OSError as err:
        raise CliError(f"cannot write {args.plot}: {err.strerror or err}") from err


def cmd_models(args: argparse.Namespace) -> int:
    from songscape.models.registry import list_models

    specs = [spec.to_json() for spec in list_models()]
    try:
        lib = _open_library(args)
    except CliError:
        lib = None  # no library yet: list the registry alone
    if lib is not None:
        with lib:
            counts = lib.store.embedding_counts()
            for spec in specs:
                spec["library_default"] = spec["name"] == lib.default_model
                spec["library_vectors"] = counts.get(spec["name"], {}).get(spec["version"], 0)
    if args.json:
        _print_json(specs)
        return EXIT_OK
    console = _console()
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
    import numpy as np

    model = _check_model(args.model) if args.model else None
    out = os.path.expanduser(args.out)
    if not out.endswith(".npz"):
        raise CliError(f"--out must name a .npz file, got {args.out}", EXIT_USAGE)
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise CliError(f"no such folder: {os.path.dirname(os.path.abspath(out))}", EXIT_USAGE)
    with _open_library(args) as lib:
        data = lib.embeddings(model)
    if not data["ids"]:
        raise CliError(
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
        _print_json(summary)
    else:
        print(f"wrote {summary['n']} x {summary['dim']} {summary['model']} vectors to {out}")
    return EXIT_OK


def _explanation_text(e: dict) -> str:
    parts = []
    if e.get("shared_tags"):
        parts.append("tags " + ", ".join(e["shared_tags"][:4]))
    tempo = e.get("tempo")
    if tempo:
        factor = "" if tempo["factor"] == 1 else f" at x{tempo['factor']:g}"
        parts.append(f"tempo ±{tempo['bpm_diff']:.0f} BPM{factor}")
    key = e.get("key")
    if key:
        parts.append("same key" if key["camelot_steps"] == 0 else
                     f"key {key['result']} ({key['camelot_steps']} Camelot step"
                     f"{'s' if key['camelot_steps'] != 1 else ''})")  # fmt: skip
    if e.get("same_artist"):
        parts.append("same artist")
    if e.get("same_album"):
        parts.append("same album")
    return "; ".join(parts)


def _print_results(results: list[dict], score_key: str = "score") -> None:
    console = _console()
    if not results:
        console.print("no results")
    for i, r in enumerate(results, 1):
        name = r["title"] or os.path.basename(r["path"])
        artist = f" — {r['artist']}" if r["artist"] else ""
        console.print(f"{i:>3}. [bold]{name}[/bold]{artist}  [dim]{r['id']}[/dim]  "
                      f"{score_key} {r[score_key]:.3f}")  # fmt: skip
        why = r.get("explanation")
        if isinstance(why, dict) and "shared_tags" in why:
            text = _explanation_text(why)
        elif isinstance(why, dict):
            parts = [f"{t['name']} {t['probability']:.2f}" for t in why.get("tags", [])[:4]]
            parts += [f"{m['field']} {m['value']}" for m in why.get("metadata", [])[:2]]
            text = "; ".join(parts) or why.get("note") or ""
        else:
            text = str(why or "")
        if text:
            console.print(f"     [dim]{text}[/dim]")


def _search_errors():
    from songscape.catalog.store import TrackNotFoundError
    from songscape.search.similar import QueryError

    return QueryError, TrackNotFoundError


def cmd_similar(args: argparse.Namespace) -> int:
    from songscape.audio.decode import AudioError

    query_error, not_found = _search_errors()
    if (args.track is None) == (args.file is None):
        raise CliError("give a TRACK or --file FILE (not both)", EXIT_USAGE)
    if args.file and not os.path.isfile(os.path.expanduser(args.file)):
        raise CliError(f"no such file: {args.file}", EXIT_USAGE)
    model = _check_model(args.model) if args.model else None
    with _open_library(args) as lib:
        try:
            result = lib.similar(
                args.track, file=os.path.expanduser(args.file) if args.file else None,
                k=args.k, model=model, filters=args.filter or (),
                other_artists=args.other_artists, half_double=args.half_double,
            )  # fmt: skip
        except query_error as err:
            raise CliError(str(err), EXIT_USAGE) from err
        except not_found as err:
            raise CliError(str(err.args[0])) from err
        except (LookupError, AudioError) as err:
            raise CliError(str(err.args[0] if err.args else err)) from err
    if args.json:
        _print_json(result)
        return EXIT_OK
    q = result["query"]
    _console().print(f"like [bold]{q['title'] or q['path']}[/bold]"
                     + (f" — {q['artist']}" if q["artist"] else "")
                     + f"  ({result['model']})")  # fmt: skip
    _print_results(result["results"])
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    if not args.query.strip():
        raise CliError("the query is empty (try \"just play\" for anything)", EXIT_USAGE)
    with _open_library(args) as lib:
        result = lib.search(args.query, k=args.k)
    if args.json:
        _print_json(result)
        return EXIT_OK
    intent = result["intent"]
    patterns = ", ".join(intent.get("patterns", [])) or "nothing"
    matched = [t["name"] for t in intent.get("tags", [])[:6]]
    matched += [f"{m['field']} '{m['value']}'" for m in intent.get("metadata", [])[:3]]
    console = _console()
    console.print(f"understood as: [bold]{patterns}[/bold]"
                  + (f" ({', '.join(matched)})" if matched else ""))  # fmt: skip
    for note in intent.get("notes", []):
        console.print(f"  [dim]{note}[/dim]")
    _print_results(result["results"])
    return EXIT_OK


def cmd_path(args: argparse.Namespace) -> int:
    query_error, not_found = _search_errors()
    model = _check_model(args.model) if args.model else None
    with _open_library(args) as lib:
        try:
            result = lib.path(args.start, args.end, steps=args.steps, model=model)
        except query_error as err:
            raise CliError(str(err), EXIT_USAGE) from err
        except not_found as err:
            raise CliError(str(err.args[0])) from err
        except LookupError as err:
            raise CliError(str(err.args[0])) from err
    if args.json:
        _print_json(result)
        return EXIT_OK
    console = _console()
    for i, r in enumerate(result["path"]):
        name = r["title"] or os.path.basename(r["path"])
        hop = "" if i == 0 else f"  [dim](similarity to previous {r['similarity']:.3f})[/dim]"
        console.print(f"{i:>3}. {name}" + (f" — {r['artist']}" if r["artist"] else "") + hop)
    return EXIT_OK


def cmd_index(args: argparse.Namespace) -> int:
    model = _check_model(args.model) if args.model else None
    with _open_library(args) as lib:
        index = lib.index(model)
        if args.rebuild:
            index.rebuild()
        report = index.check()
    if args.json:
        _print_json(report)
    else:
        state = "in sync" if report["in_sync"] else "OUT OF SYNC"
        print(f"{report['model']}: {report['kind']} index, {report['n_index']} vectors "
              f"({report['n_catalog']} in the catalog) — {state}")  # fmt: skip
        if not report["in_sync"]:
            print(f"  missing {report['missing']}, extra {report['extra']}, "
                  f"stale {report['stale']}: run `songscape index --rebuild`")  # fmt: skip
    return EXIT_OK if report["in_sync"] else EXIT_FAILED


def cmd_stats(args: argparse.Namespace) -> int:
    with _open_library(args) as lib:
        stats = lib.stats()
    if args.json:
        _print_json(stats)
        return EXIT_OK
    console = _console()
    s = stats["by_status"]
    console.print(f"[bold]library[/bold]   {stats['library']} (schema v{stats['schema_version']})")
    console.print(
        f"[bold]tracks[/bold]    {s['ok']} ok, {s['failed']} failed, {s['missing']} missing"
        + (f", {stats['duplicates']} duplicate copies" if stats["duplicates"] else "")
    )
    console.print(
        f"[bold]audio[/bold]     {_duration(stats['total_duration_s'])}, "
        f"{stats['total_size_bytes'] / 1e6:.1f} MB, {stats['artists']} artist(s)"
    )
    t = stats["tempo_bpm"]
    console.print(
        f"[bold]tempo[/bold]     {_fmt(t['min'])}–{_fmt(t['max'])} BPM (mean {_fmt(t['mean'])})"
    )
    for label, counts in (("formats", stats["formats"]), ("genres", stats["genres"]),
                          ("keys", stats["keys"])):  # fmt: skip
        if counts:
            top = ", ".join(f"{k} {v}" for k, v in list(counts.items())[:8])
            console.print(f"[bold]{label:<9}[/bold] {top}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from songscape.audio.demo import write_demo_songs

    library_dir = os.path.abspath(os.path.expanduser(args.library))
    audio_dir = args.audio or os.path.join(os.path.dirname(library_dir), "demo-audio")
    write_demo_songs(audio_dir, count=args.count)
    music = [m for m in args.music if m]
    for folder in music:
        if not os.path.exists(os.path.expanduser(folder)):
            raise CliError(f"no such folder: {folder}", EXIT_USAGE)
    ingest_args = argparse.Namespace(
        library=library_dir, paths=[audio_dir, *music], workers=args.workers,
        max_duration=args.max_duration, min_duration=1.0, json=False, quiet=args.quiet,
        model=None,
    )  # fmt: skip
    code = cmd_ingest(ingest_args)
    if code != EXIT_OK:
        return code
    print()
    cmd_stats(argparse.Namespace(library=library_dir, json=False))
    print(
        f"\nexplore it:\n  songscape --library {library_dir} tracks\n"
        f"  songscape --library {library_dir} show TRACK_ID\n"
        f"  songscape --library {library_dir} tracks --failed\n"
        f"  songscape --library {library_dir} search 'calm piano'\n"
        f"  songscape --library {library_dir} serve        # the 3D map in your browser"
    )
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    from songscape.catalog.store import LibraryError, TrackNotFoundError

    with _open_library(args) as lib:
        try:
            removed = lib.remove(args.track)
        except TrackNotFoundError as err:
            raise CliError(str(err.args[0])) from err
        except LibraryError as err:
            raise CliError(str(err)) from err
    if args.json:
        _print_json(removed)
    else:
        print(f"removed {removed['id']} ({removed['path']}); the file itself is untouched")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the web app (3D map and HTTP API) of the library with uvicorn."""
    import errno
    import socket

    try:
        import uvicorn

        from songscape.server.app import create_app
    except ImportError as err:
        raise CliError(f"the web app needs fastapi and uvicorn ({err}); run `make setup`") from err
    from songscape.catalog.store import LibraryError

    if args.port > 65535:
        raise CliError(f"--port must be at most 65535, got {args.port}", EXIT_USAGE)
    try:
        infos = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise CliError(f"cannot resolve --host {args.host}: {err.strerror}", EXIT_USAGE) from err
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        why = "port already in use" if err.errno == errno.EADDRINUSE else (err.strerror or str(err))
        raise CliError(f"cannot listen on {args.host}:{args.port}: {why}") from err
    port = sock.getsockname()[1]
    try:
        app = create_app(args.library, warm_up=True)
    except LibraryError as err:
        sock.close()
        raise CliError(str(err)) from err
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{port}/"
    print(f"songscape: serving {app.state.songscape.worker.root} at {url}  (API docs: {url}docs;"
          " Ctrl-C to stop)", flush=True)  # fmt: skip
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("songscape: warning: not bound to loopback — anyone who can reach this port can "
              "browse the library and play its audio", file=sys.stderr)  # fmt: skip
    if not args.no_browser and (
        sys.platform in ("darwin", "win32")
        or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):  # fmt: skip
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
    return EXIT_OK


# -- training your own models (songscape train / evaluate) --------------------------


class _TrainProgress:
    """Training progress: a rich bar on a terminal, epoch lines on stderr, quiet for --json."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.quiet = args.json or getattr(args, "quiet", False)
        self.bar = _RichProgress() if not self.quiet and sys.stderr.isatty() else None

    def __enter__(self) -> _TrainProgress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def phase(self, name: str, total: int) -> None:
        if self.bar is not None:
            self.bar.phase(name, total)

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.advance(n)

    def epoch_done(self, m: dict) -> None:
        if self.quiet:
            return
        parts = [f"epoch {m['epoch']}", f"train loss {m['train_loss']:.4f}"]
        for key in ("valid_loss", "valid_accuracy", "valid_roc_auc", "valid_pr_auc"):
            if m.get(key) is not None:
                parts.append(f"{key.replace('_', ' ')} {m[key]:.4f}")
        parts.append(f"{m['epoch_s']:.1f} s" + (" *" if m.get("best") else ""))
        print("  ".join(parts), file=sys.stderr, flush=True)


def _training_data(args: argparse.Namespace, task: str):
    """The LabelSet from --labels CSV, --library-labels FIELD or --audio-dir DIR."""
    from songscape.catalog.store import LibraryError
    from songscape.datasets import DatasetError, read_labels, scan_audio
    from songscape.library.library import Library

    sources = [s for s in (args.labels, args.library_labels, getattr(args, "audio_dir", None))
               if s]  # fmt: skip
    if len(sources) != 1:
        raise CliError("give exactly one of --labels CSV, --library-labels FIELD"
                       + (", --audio-dir DIR" if hasattr(args, "audio_dir") else ""), EXIT_USAGE)
    try:
        if args.labels:
            return read_labels(args.labels, task=task, label_column=args.label_column)
        if args.library_labels:
            with Library(args.library) as lib:
                return lib.labels(args.library_labels)
        if task not in ("moco", "tjae"):
            raise CliError(f"--audio-dir gives unlabelled audio: task {task} needs --labels",
                           EXIT_USAGE)  # fmt: skip
        return scan_audio(args.audio_dir)
    except DatasetError as err:
        raise CliError(str(err), EXIT_USAGE) from err
    except LibraryError as err:  # --library-labels: no library there, or unreadable
        raise CliError(str(err)) from err


def cmd_train(args: argparse.Namespace) -> int:
    from songscape.datasets import DatasetError
    from songscape.training.trainer import TrainConfig, TrainingError, train

    if args.encoder:
        try:
            encoder = json.loads(args.encoder)
            assert isinstance(encoder, dict)
        except (ValueError, AssertionError):
            raise CliError("--encoder must be a JSON object, e.g. '{\"embedding_dim\": 64}'",
                           EXIT_USAGE) from None  # fmt: skip
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
        code = EXIT_FAILED if args.device == "cuda" and "CUDA" in str(err) else EXIT_USAGE
        raise CliError(str(err), code) from err
    data = _training_data(args, args.task)
    try:
        with _TrainProgress(args) as progress:
            result = train(config, data, args.name, resume=args.resume, overwrite=args.overwrite,
                           progress=progress)  # fmt: skip
    except (TrainingError, DatasetError) as err:
        raise CliError(str(err)) from err
    summary = result.to_json()
    if args.json:
        _print_json(summary)
        return EXIT_OK
    console = _console()
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in summary["valid_metrics"].items()
                        if isinstance(v, float))  # fmt: skip
    console.print(
        f"trained [bold]{summary['name']}[/bold] ({summary['arch']}, {summary['task']}): "
        f"{summary['epochs_run']} epoch(s), best {summary['best_epoch']}, "
        f"{_duration(summary['train_s'])} on {summary['hardware']}"
    )
    console.print(
        f"  {summary['n_train']} train / {summary['n_valid']} validation files; {metrics}"
    )
    console.print(f"  saved {summary['checkpoint']}; use it: songscape ingest --model "
                  f"{summary['name']} FOLDER")  # fmt: skip
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from songscape.datasets import DatasetError
    from songscape.evaluation.harness import MFCC, evaluate_model

    model = args.model if args.model == MFCC else _check_model(args.model)
    if args.plot and not args.plot.endswith(".png"):
        raise CliError(f"--plot must name a .png file, got {args.plot}", EXIT_USAGE)
    data = _training_data(args, args.task)
    if args.plot and data.multilabel:
        raise CliError("--plot draws the linear probe's confusion matrix: single-label tasks "
                       "only (not --task tags)", EXIT_USAGE)  # fmt: skip
    show_bar = not args.json and sys.stderr.isatty()
    try:
        if show_bar:
            with _RichProgress() as bar:
                result = evaluate_model(model, data, folds=args.folds, k=args.k, progress=bar)
        else:
            result = evaluate_model(model, data, folds=args.folds, k=args.k)
    except (ValueError, DatasetError) as err:
        raise CliError(str(err)) from err
    except Exception as err:  # a trained checkpoint that cannot load, missing weights
        if type(err).__name__ in ("TrainedModelError", "PretrainedWeightsError"):
            raise CliError(str(err)) from err
        raise
    if args.plot and "confusion" in result:
        from songscape.evaluation.metrics import plot_confusion_matrix

        try:
            plot_confusion_matrix(result["confusion"], result["class_names"], args.plot,
                                  title=f"{model}: linear probe")  # fmt: skip
        except OSError as err:
            raise CliError(f"cannot write {args.plot}: {err.strerror or err}") from err
        result["plot"] = os.path.abspath(args.plot)
    if args.json:
        _print_json(result)
        return EXIT_OK
    console = _console()
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
    if args.plot:
        console.print(f"  confusion matrix: {args.plot}")
    return EXIT_OK


def _add_training_commands(add) -> None:
    """The `train` and `evaluate` sub-commands (kept together, see docs/training.md)."""
    p = add("train", cmd_train, "train your own embedding/tagging model (see docs/training.md)")
    p.add_argument("--arch", required=True, metavar="ARCH",
                   help="shortchunk-cnn, shortchunk-resnet, harmonic-cnn, crnn, self-attention, "
                   "sample-cnn, tjae, musicnn-head, musicnn-finetune")  # fmt: skip
    p.add_argument("--task", default="genre",
                   choices=("genre", "classification", "tags", "artist", "moco", "tjae"),
                   help="what to learn (default genre)")  # fmt: skip
    _label_flags(p, audio_dir=True)
    p.add_argument("--name", required=True, help="registry name of the trained model")
    p.add_argument("--epochs", type=_positive_int, default=10, help="maximum epochs (default 10)")
    p.add_argument("--batch-size", type=_positive_int, default=16, help="default 16")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    p.add_argument("--weight-decay", type=_non_negative_float, default=1e-4)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--seed", type=int, default=0, help="split, sampling and weights seed")
    p.add_argument("--patience", type=_positive_int, default=5,
                   help="epochs without a better validation loss before stopping (default 5)")
    p.add_argument("--chunks", type=_positive_int, default=4,
                   help="random training chunks per file per epoch (default 4)")
    p.add_argument("--valid-chunks", type=_positive_int, default=4,
                   help="fixed validation chunks per file (default 4)")
    p.add_argument("--valid-fraction", type=float, default=0.2,
                   help="fraction of groups held out for validation (default 0.2)")
    p.add_argument("--augment", metavar="SPEC",
                   help="e.g. pitch_shift=negative,time_stretch=positive (roles: positive, "
                   "negative, off)")  # fmt: skip
    p.add_argument("--encoder", metavar="JSON", help="architecture overrides, e.g. "
                   "'{\"embedding_dim\": 64}'")  # fmt: skip
    p.add_argument("--threads", type=_positive_int, default=os.cpu_count() or 1,
                   help="torch CPU threads (default: all cores)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace a model of that name")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    p = add("evaluate", cmd_evaluate, "linear probe and kNN precision of a model's embeddings "
            "on labelled files (any model, or mfcc)")  # fmt: skip
    p.add_argument("--model", required=True, metavar="NAME",
                   help="registry model (see `songscape models`) or mfcc")
    p.add_argument("--task", default="genre", choices=("genre", "artist", "tags"),
                   help="single-label (genre, artist) or multi-label tags (default genre)")
    _label_flags(p, audio_dir=False)
    p.add_argument("--folds", type=_positive_int, default=5, help="grouped folds (default 5)")
    p.add_argument("--k", type=_positive_int, default=10, help="kNN neighbours (default 10)")
    p.add_argument("--plot", metavar="FILE.png", help="write the probe's confusion matrix")


def _label_flags(p: argparse.ArgumentParser, audio_dir: bool) -> None:
    p.add_argument("--labels", metavar="CSV",
                   help="path,label CSV (paths relative to it; see docs/training.md)")
    p.add_argument("--label-column", metavar="COL", help="label column (default: label/genre)")
    p.add_argument("--library-labels", choices=("genre", "artist"), metavar="FIELD",
                   help="labels from the library's own genre or artist tags")
    if audio_dir:
        p.add_argument("--audio-dir", metavar="DIR", help="unlabelled audio (moco, tjae)")


# -- parser --------------------------------------------------------------------------


def _number(kind: type, minimum: float, message: str):
    """An argparse type: a number of ``kind`` no smaller than ``minimum``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(message)
        return value

    return parse


_positive_int = _number(int, 1, "must be at least 1")
_non_negative_float = _number(float, 0.0, "must not be negative")


def cmd_evaluate_recs(args: argparse.Namespace) -> int:
    from songscape.recommend.data import read_events
    from songscape.recommend.holdout import evaluate
    from songscape.recommend.recommenders import MODELS

    if not os.path.isfile(args.events):
        raise CliError(f"no such file: {args.events}", EXIT_USAGE)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown or not names:
        raise CliError(
            f"unknown model(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(MODELS)}",
            EXIT_USAGE,
        )
    try:
        events = read_events(args.events, args.format)
        hygiene = _recs_hygiene(args)
        report = None
        if hygiene is not None:
            from songscape.recommend.data import clean

            events, report = clean(events, **hygiene)
        results = evaluate(events, names, k=args.k, seed=args.seed, protocol=args.holdout,
                           test_fraction=args.test_fraction)  # fmt: skip
        if report is not None:
            for r in results:
                r["hygiene"] = report
    except ValueError as err:
        raise CliError(str(err), EXIT_USAGE) from err
    if args.json:
        _print_json(results)
        return EXIT_OK
    from rich.table import Table

    k = args.k
    first = results[0]
    table = Table(box=None, pad_edge=False)
    cols = ["model", f"P@{k}", f"R@{k}", f"NDCG@{k}", f"MAP@{k}", "coverage", "novelty", "fit s"]
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in results:
        table.add_row(
            r["model"],
            *(f"{r[key]:.4f}" for key in (f"precision_at_{k}", f"recall_at_{k}",
                                          f"ndcg_at_{k}", f"map_at_{k}", "coverage")),
            f"{r['novelty']:.2f}",
            f"{r['fit_s']:.2f}",
        )  # fmt: skip
    console = _console()
    console.print(
        f"{first['n_users']} users x {first['n_items']} items, {first['n_test_users']} test users, "
        f"{first['protocol']} holdout ({args.test_fraction:.0%}), seed {args.seed}"
    )
    console.print(table)
    return EXIT_OK


#: songscape.recommend.recommenders.MODELS (spelled out: the parser must not import scipy).
RECOMMEND_MODELS = ("popularity", "als", "bpr", "bpr-pop", "item2vec", "hybrid")


def _recs_hygiene(args: argparse.Namespace) -> dict | None:
    """clean() thresholds from evaluate-recs flags; None when no filter was asked for."""
    from songscape.recommend import data

    flags = (args.min_items, args.max_plays_quantile, args.top_n_only)
    if not args.clean and all(f is None for f in flags):
        return None
    quantile = data.DEFAULT_MAX_PLAYS_QUANTILE if flags[1] is None else flags[1]
    return {
        "min_interactions": data.DEFAULT_MIN_INTERACTIONS if flags[0] is None else flags[0],
        "max_plays_quantile": None if quantile >= 1 else quantile,
        "top_n_only": data.DEFAULT_TOP_N_ONLY if flags[2] is None else (flags[2] or None),
    }


def _recs_call(fn, *args: Any, **kwargs: Any) -> Any:
    """Run a recommend-service call, mapping its errors to CliError (exit 1)."""
    from songscape.catalog.store import LibraryError

    try:
        return fn(*args, **kwargs)
    except LookupError as err:
        raise CliError(str(err.args[0] if err.args else err)) from err
    except (ValueError, LibraryError, RuntimeError, OSError) as err:
        raise CliError(str(err)) from err
    except Exception as err:  # redis connection errors and the like
        if type(err).__module__.startswith("redis"):
            raise CliError(f"redis: {err}") from err
        raise


def _import_common(args: argparse.Namespace, kind: str) -> int:
    from songscape.recommend import importer

    if not os.path.isfile(os.path.expanduser(args.file)):
        raise CliError(f"no such file: {args.file}", EXIT_USAGE)
    fmt = args.format
    if fmt is None:
        ext = os.path.splitext(args.file)[1].lower().lstrip(".")
        fmt = {"tsv": "tsv", "jsonl": "jsonl", "json": "jsonl", "dat": "hetrec"}.get(ext, "csv")
        if kind == "playlists" and fmt == "hetrec":
            fmt = "tsv"
    with _open_library(args, create=True) as lib:
        store = lib.store
        _recs_call(store.acquire_write_lock)
        fn = importer.import_events if kind == "events" else importer.import_playlists
        report = _recs_call(fn, store, args.file, fmt, skip_bad=args.skip_bad)
    if args.json:
        _print_json(report)
        return EXIT_OK
    what = f"{report['rows']} events of {report['users']} users" if kind == "events" else (
        f"{report['playlists']} playlists ({report['rows']} entries)")  # fmt: skip
    print(f"imported {what}: {report['items']} distinct items, {report['matched']} linked to "
          f"library tracks, {report['unmatched']} unmatched (kept)")  # fmt: skip
    if report["replaced"]:
        print(f"replaced {report['replaced']} rows of this file's previous import")
    if report["skipped"]:
        print(f"skipped {report['skipped']} bad rows:", file=sys.stderr)
        for line in report["errors"]:
            print(f"  {line}", file=sys.stderr)
    return EXIT_OK


def cmd_import_events(args: argparse.Namespace) -> int:
    return _import_common(args, "events")


def cmd_import_playlists(args: argparse.Namespace) -> int:
    return _import_common(args, "playlists")


def cmd_users(args: argparse.Namespace) -> int:
    from songscape.recommend.service import users_summary

    with _open_library(args) as lib:
        users = users_summary(lib.store)
    if args.json:
        _print_json(users)
        return EXIT_OK
    if not users:
        print("no users (import listening events with `songscape import-events`)")
    for u in users:
        print(f"{u['id']}\t{u['events']} events\t{u['items']} items\t{u['plays']:g} plays")
    return EXIT_OK


def cmd_recommend(args: argparse.Namespace) -> int:
    from songscape.recommend import service

    modes = sum((args.user is not None, bool(args.seed), args.precompute,
                 args.words is not None))  # fmt: skip
    if modes != 1:
        raise CliError("give exactly one of --user U, --seed TRACK (repeatable), --words TEXT, "
                       "--precompute", EXIT_USAGE)  # fmt: skip
    with _open_library(args) as lib:
        store = lib.store
        if args.precompute:
            k = args.k or 50
            result = _recs_call(service.precompute, store, args.model, k, redis_url=args.redis)
        elif args.words is not None:
            result = _recs_call(service.recommend_words, store, args.words, args.k or 20)
        elif args.seed:
            result = _recs_call(service.recommend_seed, store, args.seed, args.k or 20)
        else:
            result = _recs_call(service.recommend_user, store, args.user, args.k or 20,
                                args.model, explain=args.explain, redis_url=args.redis)  # fmt: skip
    if args.json:
        _print_json(result)
        return EXIT_OK
    if args.precompute:
        print(f"precomputed top-{result['k']} {result['model']} lists of {result['users']} "
              f"users into {result['target']} in {result['seconds']:.1f} s")  # fmt: skip
        return EXIT_OK
    if "user" in result:
        who = f"user {result['user']}"
    elif "words" in result:
        who = "words " + ", ".join(repr(w) for w in result["words"])
    else:
        who = "seeds " + ", ".join(result["seeds"])
    print(f"{result['model']} recommendations for {who} ({result['source']}):")
    for n, r in enumerate(result["results"], start=1):
        print(f"{n:3d}. {_rec_name(r)}  [{r['score']:.3f}]")
        why = r.get("why")
        if why:
            parts = why.get("parts")
            near = ", ".join(_rec_name(x) for x in why.get("because_you_listened", [])[:3])
            detail = (f"parts {parts}; " if parts else "") + (
                f"near {near}" if near else why.get("reason", ""))
            print(f"       {detail}")  # fmt: skip
    return EXIT_OK


def _rec_name(r: dict) -> str:
    """A result's display name: "artist - title" of a library track (with ? for a missing
    part), else the imported name ("artist - title", or the one known), else the item."""
    artist, title = r.get("artist"), r.get("title")
    if r.get("track_id"):
        return f"{artist or '?'} - {title or '?'}"
    if artist and title:
        return f"{artist} - {title}"
    return artist or title or r["item"]


def _add_recommend_commands(add) -> None:
    """import-events, import-playlists, users, recommend (issue 6)."""
    p = add("import-events", cmd_import_events,
            "import listening events into the library (re-importing a file replaces it)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("hetrec", "csv", "tsv", "jsonl"),
                   help="hetrec: user_artists.dat; csv/tsv: header user,item[,count]"
                   "[,timestamp][,artist,title]; jsonl: one object per line (default: from "
                   "the extension, else csv)")  # fmt: skip
    p.add_argument("--skip-bad", action="store_true",
                   help="skip malformed rows (reported) instead of importing nothing")

    p = add("import-playlists", cmd_import_playlists,
            "import playlists (playlist, item, [position], [title], [tags])")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("csv", "tsv", "jsonl"),
                   help="default: from the extension, else csv")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip malformed rows (reported) instead of importing nothing")

    add("users", cmd_users, "users with listening events in the library")

    p = add("recommend", cmd_recommend,
            "recommendations from listening history: for a user, for seed tracks, for "
            "words (playlist titles/tags), or precomputed for everyone")  # fmt: skip
    p.add_argument("--user", metavar="U", help="a user of the imported events")
    p.add_argument("--seed", action="append", metavar="TRACK",
                   help="a new user's liked track (id, id prefix, path) or item; repeatable")
    p.add_argument("--words", metavar="TEXT",
                   help='items nearest to words of the playlists\' titles and tags, e.g. '
                   '"autumn rain" (item2vec over playlists, sessions and users\' items)')
    p.add_argument("--precompute", action="store_true",
                   help="store every user's top-k (SQLite table, or Redis with --redis)")
    p.add_argument("--k", type=_positive_int, help="results (default 20; 50 for --precompute)")
    p.add_argument("--model", choices=RECOMMEND_MODELS, default="als",
                   help="default als (--seed always folds in with ALS; --words uses "
                   "its own item2vec-words model)")  # fmt: skip
    p.add_argument("--explain", action="store_true", help="why each item is recommended")
    p.add_argument("--redis", metavar="URL",
                   help="precompute into / read from Redis, e.g. redis://localhost:6379/0")


def build_parser() -> argparse.ArgumentParser:
    # --library and --json are accepted before or after the command name.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--library", metavar="DIR", default=argparse.SUPPRESS,
        help="library directory (default: $SONGSCAPE_LIBRARY, else "
        "$XDG_DATA_HOME/songscape/library, else ~/.local/share/songscape/library)",
    )  # fmt: skip
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", help="machine-readable output")

    parser = argparse.ArgumentParser(
        prog="songscape",
        description="Listen to a music catalog and make it navigable.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"songscape {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func, help: str, json: bool = True) -> argparse.ArgumentParser:
        parents = [common, json_flag] if json else [common]
        p = sub.add_parser(name, help=help, description=help, parents=parents)
        p.set_defaults(func=func)
        return p

    cores = os.cpu_count() or 1
    p = add("ingest", cmd_ingest, "add or update the audio files under folders/files")
    p.add_argument("paths", nargs="+", metavar="PATH", help="folders (recursive) or files")
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=cores,
        help=f"worker processes (default: number of cores, {cores})",
    )
    _duration_flags(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--model", action="append", metavar="NAME",
        help="embedding model (repeatable; the first becomes the library's default; "
        "default: the library's default, musicnn-msd). See `songscape models`",
    )  # fmt: skip

    p = add("tracks", cmd_tracks, "list the library's tracks")
    p.add_argument("--failed", action="store_true", help="only files that failed, with the reason")
    p.add_argument("--status", choices=("ok", "failed", "missing"), help="only tracks with status")

    p = add("show", cmd_show, "everything known about one track")
    p.add_argument("track", metavar="TRACK", help="track id, unique id prefix, or file path")

    p = add("analyze", cmd_analyze, "analyse one audio file (no library needed)")
    p.add_argument("file", metavar="FILE")
    _duration_flags(p)
    p.add_argument("--model", default="musicnn-msd", metavar="NAME",
                   help="model for tags and embedding (default musicnn-msd)")  # fmt: skip
    p.add_argument("--no-model", action="store_true", help="descriptors only, no neural model")

    p = add("tags", cmd_tags, "a track's auto-tags (MSD and MTT vocabularies, combined)")
    p.add_argument("track", metavar="TRACK", help="track id, unique id prefix, or file path")
    p.add_argument("--top", type=_positive_int, metavar="N", help="N most probable per model")
    p.add_argument("--all", action="store_true", help="list every tag")
    p.add_argument("--plot", metavar="FILE.png", help="draw the taggram (tags over time)")
    p.add_argument("--model", default="musicnn-msd", metavar="NAME",
                   help="whose taggram --plot draws (default musicnn-msd)")  # fmt: skip

    add("models", cmd_models, "the model registry (and this library's vectors per model)")

    p = add("embeddings", cmd_embeddings, "export the library's vectors to a .npz file")
    p.add_argument("--model", metavar="NAME", help="default: the library's default model")
    p.add_argument("--out", required=True, metavar="FILE.npz",
                   help="arrays: ids, paths, vectors (n x dim float32), model, version")

    p = add("similar", cmd_similar, "tracks that sound like a track (or an outside --file)")
    p.add_argument("track", nargs="?", metavar="TRACK", help="track id, id prefix, or path")
    p.add_argument("--file", metavar="FILE", help="search with an audio file outside the library")
    p.add_argument("--k", type=_positive_int, default=10, help="results (default 10)")
    p.add_argument("--model", metavar="NAME", help="default: the library's default model")
    p.add_argument(
        "--filter", action="append", metavar="NAME=VALUE",
        help="tempo=90..110, key='A minor', key=compatible, tag=rock, tag=mtt:piano, "
        "duration=120..300, artist=Name (repeatable)",
    )  # fmt: skip
    p.add_argument("--other-artists", action="store_true", help="leave out the query's artist")
    p.add_argument("--half-double", action="store_true",
                   help="tempo filter and closeness accept half/double tempo")  # fmt: skip

    p = add("search", cmd_search, "find tracks by words: 'calm piano', 'play IU songs'")
    p.add_argument("query", metavar="QUERY")
    p.add_argument("--k", type=_positive_int, default=10, help="results (default 10)")

    p = add("path", cmd_path, "a smooth sequence of tracks from one song to another")
    p.add_argument("start", metavar="A")
    p.add_argument("end", metavar="B")
    p.add_argument("--steps", type=_number(int, 0, "must not be negative"), default=8,
                   help="tracks in between (default 8)")  # fmt: skip
    p.add_argument("--model", metavar="NAME", help="default: the library's default model")

    p = add("index", cmd_index, "check (or rebuild) the vector index against the catalog")
    p.add_argument("--model", metavar="NAME", help="default: the library's default model")
    p.add_argument("--rebuild", action="store_true", help="rebuild from the catalog")

    add("stats", cmd_stats, "library summary")

    p = add("demo", cmd_demo, "build a demo library (synthetic songs + optional music folders)",
            json=False)  # fmt: skip
    p.add_argument("music", nargs="*", metavar="FOLDER", help="your music to add to the demo")
    p.add_argument("--audio", metavar="DIR", help="where to write the synthetic songs "
                   "(default: demo-audio beside the library)")  # fmt: skip
    p.add_argument("--count", type=_positive_int, default=20, help="synthetic songs (default 20)")
    p.add_argument("--workers", type=_positive_int, default=cores)
    p.add_argument("--max-duration", type=_non_negative_float, default=DEFAULT_MAX_DURATION_S)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    p = add("serve", cmd_serve, "the web app: a 3D map of the library, playback, search, "
            "and the HTTP API", json=False)  # fmt: skip
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1, loopback only)")  # fmt: skip
    p.add_argument("--port", type=_number(int, 0, "must not be negative"), default=8000,
                   help="port (default 8000; 0 picks a free one)")  # fmt: skip
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")

    p = add("remove", cmd_remove, "forget a track (the audio file is not deleted)")
    p.add_argument("track", metavar="TRACK", help="track id, unique id prefix, or file path")

    p = add(
        "evaluate-recs", cmd_evaluate_recs,
        "offline evaluation of recommenders on listening events (per-user holdout)",
    )  # fmt: skip
    p.add_argument("--events", required=True, metavar="FILE", help="listening events file")
    p.add_argument("--format", required=True, choices=("hetrec", "csv", "jsonl"),
                   help="hetrec: HetRec 2011 user_artists.dat; csv: user,item[,count]"
                   "[,timestamp] with a header; jsonl: one {user, item, ...} per line")  # fmt: skip
    p.add_argument("--k", type=_positive_int, default=10, help="list length (default 10)")
    p.add_argument("--models", default="popularity,als,bpr,item2vec,hybrid",
                   help="comma-separated, from popularity, als, bpr, bpr-pop, item2vec, "
                   "hybrid (default popularity,als,bpr,item2vec,hybrid; popularity is always "
                   "included)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="holdout and model seed (default 0)")
    p.add_argument("--holdout", choices=("auto", "random", "time"), default="auto",
                   help="per-user holdout: random (seeded) or the latest items (time; needs "
                   "timestamps); auto = time when timestamps exist (default)")  # fmt: skip
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="share of each user's items held out (default 0.2)")  # fmt: skip
    p.add_argument("--clean", action="store_true",
                   help="apply the hygiene filters with their defaults (any of the three "
                   "flags below implies it)")  # fmt: skip
    p.add_argument("--min-items", type=int, metavar="N",
                   help="drop users with fewer distinct items (default with --clean: 5)")
    p.add_argument("--max-plays-quantile", type=float, metavar="Q",
                   help="drop users whose total plays are above this quantile (default with "
                   "--clean: 0.999; 1 keeps everyone)")  # fmt: skip
    p.add_argument("--top-n-only", type=int, metavar="N",
                   help="drop users whose items are all among the N most popular (default "
                   "with --clean: 100; 0 disables)")  # fmt: skip
    _add_recommend_commands(add)
    _add_training_commands(add)
    return parser


def _duration_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-duration", type=_non_negative_float, default=DEFAULT_MAX_DURATION_S,
        metavar="SECONDS",
        help=f"reject longer files, bounding memory (default {DEFAULT_MAX_DURATION_S:.0f};"
        " 0 = no limit)",
    )  # fmt: skip
    p.add_argument(
        "--min-duration", type=_non_negative_float, default=1.0, metavar="SECONDS",
        help="reject shorter files (default 1)",
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "library"):
        args.library = str(default_library_dir())
    if not hasattr(args, "json"):
        args.json = False
    try:
        return args.func(args)
    except CliError as err:
        print(f"songscape: error: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `songscape tracks | head`
        sys.stderr.close()
        return EXIT_OK


