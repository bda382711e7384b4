"""Concurrency and kill points (issue 16): the figures of docs/reliability.md.

1. **serve during an ingest**: ``songscape serve`` (a subprocess, loopback) on a synthetic
   library with embeddings while ``songscape ingest --no-models`` (another process) adds
   ``--ingest-files`` real files; rounds of 4 concurrent clients query the API until the
   ingest ends (requests, errors, p95).
2. **many clients**: ``--clients`` clients at once, each over its own keep-alive connection,
   ``--requests`` GETs each (lists, one track, similar tracks, map, stats), against the
   same server (requests, errors, retries, p50/p95/max latency, requests/s).
3. **kill points**: ``tests/library/test_kill_points.py`` and
   ``tests/training/test_train_kill_points.py`` with ``--kill-points`` SIGKILLs per
   command (index sync, recommendation precompute, map cache, ``train``), each followed
   by its checks; collects the rounds each test reports.

Result (``bench/results/reliability.json``): ``results.during_ingest``, ``results.load``
(one row per client count), ``results.kill_points`` (one row per command) and
``results.kill_points_passed``.

Usage: python bench/reliability.py [--clients 50 200] [--requests 5] [--ingest-files 6]
       [--kill-points 20] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from record import machine, write_results  # noqa: E402
from songscape.synthetic.catalogs import build_synthetic_library  # noqa: E402
from tests.engines import songscape_serve  # noqa: E402
from tests.helpers import write_tone_file  # noqa: E402
from tests.server.load import LoadResult, run_load  # noqa: E402
from tests.server.test_concurrency import _query_paths  # noqa: E402


def during_ingest(url: str, library: Path, folder: Path, paths: list[str]) -> dict:
    """Query rounds (4 clients x 2 requests) while an ingest of ``folder`` runs."""
    total = LoadResult()
    proc = subprocess.Popen(
        [sys.executable, "-m", "songscape.cli", "--library", str(library), "ingest",
         str(folder), "--no-models", "--workers", "1", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    t0 = time.perf_counter()
    rounds = 0
    while proc.poll() is None:
        r = run_load(url, paths, clients=4, requests_per_client=2)
        total.requests += r.requests
        total.errors += r.errors
        total.retries += r.retries
        total.latencies_s += r.latencies_s
        total.statuses.update(r.statuses)
        rounds += 1
    out = proc.communicate()[0]
    total.seconds = time.perf_counter() - t0
    with httpx.Client(base_url=url, timeout=120) as client:
        seen = client.get("/api/tracks?limit=1&status=all").json()["total"]
    return {"ingest_exit": proc.returncode, "ingest_output": out.strip()[-300:],
            "rounds": rounds, "tracks_after": seen, **total.summary()}  # fmt: skip


def kill_points(n: int) -> tuple[list[dict], bool, str]:
    """Run the kill-point tests with ``n`` kills per command; their reported rounds."""
    env = {**os.environ, "SONGSCAPE_KILL_POINTS": str(n)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-n", "0", "-p", "no:cacheprovider",
         "tests/library/test_kill_points.py", "tests/training/test_train_kill_points.py"],
        cwd=REPO, env=env, capture_output=True, text=True,
    )  # fmt: skip
    found = (re.search(r"KILL-ROUNDS (\{.*\})\s*$", line) for line in run.stdout.splitlines())
    rows = [json.loads(m.group(1)) for m in found if m]
    return rows, run.returncode == 0, run.stdout.strip().splitlines()[-1] if run.stdout else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--ingest-files", type=int, default=6)
    parser.add_argument("--kill-points", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results: dict = {"load": []}
    with tempfile.TemporaryDirectory(prefix="songscape-reliability-") as tmp:
        base = Path(tmp)
        ids = build_synthetic_library(base / "lib", 40, seed=16, audio_dir=base / "audio",
                                      n_audio=3)  # fmt: skip
        paths = _query_paths(ids)
        folder = base / "music"
        for i in range(args.ingest_files):
            write_tone_file(folder / f"s{i:02d}.wav", seed=1600 + i, duration_s=3.0)
        with songscape_serve(base / "lib") as server:
            with httpx.Client(base_url=server.url, timeout=300) as client:
                for path in paths:  # warm: the first map and the index
                    client.get(path)
            results["during_ingest"] = during_ingest(server.url, base / "lib", folder, paths)
            results["during_ingest"]["files"] = args.ingest_files
            print(json.dumps({"during_ingest": results["during_ingest"]}), flush=True)
            with httpx.Client(base_url=server.url, timeout=300) as client:
                for path in paths:  # the map again (new catalog version)
                    client.get(path)
            for clients in args.clients:
                r = run_load(server.url, paths, clients=clients,
                             requests_per_client=args.requests)  # fmt: skip
                row = {"clients": clients, "requests_per_client": args.requests,
                       **r.summary(), "first_errors": r.errors[:3]}  # fmt: skip
                results["load"].append(row)
                print(json.dumps(row), flush=True)
            log = "".join(server.log)
            results["server_log_tracebacks"] = log.count("Traceback")
            results["server_log_locked"] = log.count("database is locked")
    if args.kill_points:
        rows, passed, last = kill_points(args.kill_points)
        results["kill_points"] = rows
        results["kill_points_passed"] = passed
        results["kill_points_summary"] = last
        print(json.dumps({"kill_points": rows, "passed": passed, "summary": last}), flush=True)
    conditions = machine(clients=args.clients, requests_per_client=args.requests,
                         ingest_files=args.ingest_files, kill_points=args.kill_points,
                         library_tracks=40)  # fmt: skip
    write_results(__file__, results, conditions, out=args.out)


if __name__ == "__main__":
    main()
