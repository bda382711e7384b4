"""Ingestion speed and memory on the real music in ../shared/data.

Prints one JSON object per configuration (one line each):

- ``mode="inline"``: one process, warm (imports and JIT done), decode + all stages per
  file; ``realtime_factor`` is audio seconds analysed per wall second on one core.
- ``mode="pool"``: the real ``ingest`` with N worker processes into a fresh library,
  including process start-up, fingerprinting and SQLite writes.
- ``stage_costs`` (its own entry of the result, not a row): one process, warm, every
  stage timed alone on each file (audio decoded first, counted as ``decode``), plus the
  descriptors stage with the onset beat tracker (``descriptors[onset]``, the tracker
  before issue 18) on the same files — so the cost each stage adds, and the ingest
  before/after a change, come from one run.

Every row says ``models``: whether the network stages ran (the default ingest: the
default model's embedding and the MSD + MTT tags); ``--no-models`` measures decode +
metadata + descriptors only.

Result: ``bench/results/ingest.json`` (``--out``; rows of the other ``models`` setting
already there are kept, so both settings can be recorded by two runs).

Usage: python bench/ingest.py [--data DIR] [--limit N] [--workers 1 2 ...] [--no-models]
[--no-stage-costs | --only-stage-costs]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from record import RESULTS_DIR, machine, write_results
from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE
from songscape.ingest.model_stages import DEFAULT_TAG_MODELS, model_stage_names
from songscape.ingest.pipeline import IngestOptions, WorkItem, run_item
from songscape.ingest.scan import scan_audio_files
from songscape.ingest.stages import DescriptorsStage, TrackContext, pipeline_stages
from songscape.library.library import Library
from songscape.models.registry import DEFAULT_MODEL, get_spec

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _peak_rss_mb(who: int) -> float:
    # ru_maxrss is in KiB on Linux; for RUSAGE_CHILDREN it is the largest child.
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def bench_inline(files: list[Path], models: bool = True) -> dict:
    import torch

    torch.set_num_threads(1)  # "per core": numpy/numba already run single-threaded here
    # What a default ingest runs: metadata, descriptors, the default model's embedding and
    # the MSD + MTT tags (two network passes per track).
    extra = model_stage_names((DEFAULT_MODEL,), DEFAULT_TAG_MODELS) if models else []
    stages = [s.name for s in pipeline_stages(extra)]
    run_item(WorkItem(str(files[0]), "warmup", None, None, stages, "new"), None, 1.0)
    audio_s = 0.0
    started = time.perf_counter()
    for path in files:
        result = run_item(WorkItem(str(path), "x", None, None, stages, "new"), None, 1.0)
        audio_s += result.audio_seconds
    wall = time.perf_counter() - started
    return {
        "mode": "inline",
        "workers": 1,
        "models": models,
        "files": len(files),
        "audio_s": round(audio_s, 1),
        "wall_s": round(wall, 2),
        "files_per_s": round(len(files) / wall, 2),
        "realtime_factor": round(audio_s / wall, 1),
        "realtime_factor_per_worker": round(audio_s / wall, 1),
        "peak_rss_mb": _peak_rss_mb(resource.RUSAGE_SELF),
    }


def bench_pool(files: list[Path], workers: int, models: bool = True) -> dict:
    options = IngestOptions(workers=workers) if models else \
        IngestOptions(workers=workers, embed_models=(), tag_models=())  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, Library(Path(tmp) / "lib", create=True) as lib:
        started = time.perf_counter()
        report = lib.ingest(files, options)
        wall = time.perf_counter() - started
    return {
        "mode": "pool",
        "workers": workers,
        "models": models,
        "files": len(files),
        "added": report.added,
        "failed": report.failed,
        "audio_s": round(report.audio_seconds, 1),
        "wall_s": round(wall, 2),
        "files_per_s": round(len(files) / wall, 2),
        "realtime_factor": round(report.audio_seconds / wall, 1),
        "realtime_factor_per_worker": round(report.audio_seconds / wall / workers, 1),
        "peak_rss_mb_parent": _peak_rss_mb(resource.RUSAGE_SELF),
        "peak_rss_mb_worker": _peak_rss_mb(resource.RUSAGE_CHILDREN),
    }


def decode_all(ctx: TrackContext, rates: set[int]) -> None:
    for sr in rates:
        for mono in (True, False):
            ctx.audio(sr, mono)


def bench_stage_costs(files: list[Path], models: bool = True) -> dict:
    import torch

    torch.set_num_threads(1)
    extra = model_stage_names((DEFAULT_MODEL,), DEFAULT_TAG_MODELS) if models else []
    stages = pipeline_stages(extra)
    rates = {ANALYSIS_SAMPLE_RATE} | {get_spec(m).sample_rate for m in
                                      ((DEFAULT_MODEL, *DEFAULT_TAG_MODELS) if models else ())}
    old_descriptors = DescriptorsStage("onset")
    costs: dict[str, float] = {}
    audio_s = 0.0

    def timed(name: str, work, *args) -> None:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            work(*args)
        except Exception as err:  # noqa: BLE001 - a stage that rejects a file costs its time
            costs.setdefault(f"{name} failures", 0.0)
            costs[f"{name} failures"] += 1
            print(f"  {name}: {type(err).__name__}: {err}", file=sys.stderr)
        costs[name] = costs.get(name, 0.0) + time.perf_counter() - started

    for i, path in enumerate([files[0], *files]):  # the first pass warms up, not counted
        ctx = TrackContext(path)
        if i == 1:
            costs.clear()
        timed("decode", decode_all, ctx, rates)
        for stage in stages:
            timed(stage.name, stage.run, ctx)
        timed("descriptors[onset]", old_descriptors.run, ctx)
        if i:
            audio_s += len(ctx.audio(ANALYSIS_SAMPLE_RATE)) / ANALYSIS_SAMPLE_RATE
    stage_names = ["decode", *(s.name for s in stages)]
    total = sum(costs[n] for n in stage_names)
    before = total - costs["descriptors"] + costs["descriptors[onset]"]
    return {
        "mode": "stage_costs", "workers": 1, "models": models, "files": len(files),
        "audio_s": round(audio_s, 1),
        "seconds": {k: round(v, 2) for k, v in costs.items()},
        "share_of_total": {n: round(costs[n] / total, 3) for n in stage_names},
        "realtime_factor": round(audio_s / total, 1),
        "realtime_factor_with_onset_beats": round(audio_s / before, 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N files")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--no-models", action="store_true", help="no network stages")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--no-stage-costs", dest="stage_costs", action="store_false",
                        help="skip the per-stage timing pass")
    parser.add_argument("--only-stage-costs", action="store_true",
                        help="only the per-stage timing pass (its result replaces the "
                             "stage_costs entry; the other rows are kept)")  # fmt: skip
    args = parser.parse_args()
    models = not args.no_models
    if not args.data.exists():
        sys.exit(f"no data at {args.data}")
    files = list(scan_audio_files(args.data))
    if args.limit:
        files = files[: args.limit]
    path = args.out or RESULTS_DIR / "ingest.json"
    kept = json.loads(path.read_text())["results"] if path.is_file() else {"rows": []}
    when = machine()
    run = {"date": when["date"], "loadavg_1min": when["loadavg_1min"]}
    conditions = machine(torch_threads=1, files=len(files), limit=args.limit)
    if args.stage_costs or args.only_stage_costs:
        stage_costs = {**bench_stage_costs(files, models), "run": run,
                       "command": " ".join(["python", *sys.argv])}  # fmt: skip
        print(json.dumps(stage_costs), flush=True)
        kept["stage_costs"] = stage_costs
    if not args.only_stage_costs:
        rows = [bench_inline(files, models)]
        print(json.dumps(rows[-1]), flush=True)
        for workers in args.workers:
            rows.append(bench_pool(files, workers, models))
            print(json.dumps(rows[-1]), flush=True)
        fresh = [{**r, "run": run} for r in rows]
        kept["rows"] = [r for r in kept["rows"] if r.get("models", True) != models] + fresh
    print(json.dumps({"written": str(write_results(__file__, kept, conditions, path))}))


if __name__ == "__main__":
    main()
