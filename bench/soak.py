"""A bounded soak of ``songscape serve`` (issue 16): mixed API load while ingests run.

The real server (``songscape serve --port 0``, loopback only, a subprocess) on a
temporary synthetic library with embeddings (``--tracks``; ``--audio`` of them with real
WAV files). For ``--minutes`` (default 30; it stops by itself):

- ``--clients`` clients (asyncio, ``httpx``, each on its own keep-alive connection) send
  requests one after another with a random pause of 0-``--think-ms`` between them, drawn
  from a weighted mix: track lists and one track, similar tracks (with and without a
  filter), the map, text search, a path between two songs, an audio byte range
  (``Range: bytes=...``, 206), stats, and a playlist save (POST) now and then;
- every ``--ingest-every`` seconds an ingest (``songscape ingest --no-models``, another
  process) adds ``--ingest-files`` new real files (synthetic tones), so the catalog,
  the index and the map change under the load;
- every ``--sample-s`` seconds the server process's resident memory (``VmRSS``), open
  file descriptors (``/proc/PID/fd``) and threads are sampled.

An error is an answer >= 500, a 4xx the request could not deserve, no answer at all
(connection error, timeout), or a failure word in the body (``tests.server.load``).
A GET whose *reused* kept-alive connection was closed just as it went out is sent again
once and counted as a retry, as browsers do (RFC 9112 §9.3.1; see docs/reliability.md on
keep-alive); a second failure is an error.

Result (``bench/results/soak.json``): ``results.ran_s`` (how long it ran), totals
(``requests``, ``errors``, ``errors_by_kind``, ``retries``, ``statuses``, ``by_route``
counts and p50/p99), ``windows`` (per ``--window-s``: requests, errors, p50/p99 ms, RSS
MB and fds at the window's end), ``memory`` (RSS and fds: first sample after the warm-up,
last sample under load, peak, growth %, and a sample after the clients stopped),
``ingests`` (runs, files added, exit codes) and the server log's tracebacks.

Usage: python bench/soak.py [--minutes 30] [--clients 4] [--tracks 300] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from record import machine, write_results  # noqa: E402
from songscape.synthetic.catalogs import build_synthetic_library  # noqa: E402
from tests.helpers import write_tone_file  # noqa: E402
from tests.server.load import check_answer  # noqa: E402

#: route name -> weight in the mix of requests.
MIX = {"tracks": 3, "track": 3, "similar": 4, "similar_filtered": 2, "map": 1, "search": 2,
       "path": 1, "audio_range": 3, "stats": 1, "playlist_save": 0.3}  # fmt: skip


@dataclass
class Server:
    """The ``songscape serve`` subprocess: its URL, pid and output (read by a thread)."""

    proc: subprocess.Popen
    url: str
    log: list[str] = field(default_factory=list)


def start_server(library: Path, extra: tuple[str, ...] | list[str] = (),
                 timeout_s: float = 300) -> Server:  # fmt: skip
    """``songscape serve --port 0 --no-browser EXTRA`` on ``library``, once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "songscape.cli", "--library", str(library), "serve",
         "--port", "0", "--no-browser", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        if m:
            server = Server(proc, m.group(1), lines)
            threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
            return server
    proc.kill()
    raise SystemExit("the server did not start:\n" + "".join(lines))


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


def sample_process(pid: int) -> dict:
    """RSS (MB), open file descriptors and threads of process ``pid`` (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))
    threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return {"rss_mb": round(rss_kb / 1024, 1), "fds": fds, "threads": threads}


class Requests:
    """Draws the next request of the mix: ``(route, method, path, headers, json, ok)``."""

    def __init__(self, ids: list[str], audio_ids: list[str], rng: random.Random):
        self.ids, self.audio_ids, self.rng = ids, audio_ids, rng
        self.routes, self.weights = list(MIX), list(MIX.values())

    def next(self) -> tuple[str, str, str, dict, dict | None, tuple[int, ...]]:
        route = self.rng.choices(self.routes, self.weights)[0]
        a, b = self.rng.sample(self.ids, 2)
        if route == "tracks":
            offset = self.rng.randrange(0, max(1, len(self.ids) - 20))
            return route, "GET", f"/api/tracks?limit=20&offset={offset}", {}, None, (200,)
        if route == "track":
            return route, "GET", f"/api/tracks/{a}", {}, None, (200,)
        if route == "similar":
            return route, "GET", f"/api/tracks/{a}/similar?k=10", {}, None, (200,)
        if route == "similar_filtered":
            path = f"/api/tracks/{a}/similar?k=10&filter=tempo%3D60..200"
            return route, "GET", path, {}, None, (200,)
        if route == "map":
            return route, "GET", "/api/map", {}, None, (200,)
        if route == "search":
            q = self.rng.choice(["calm piano", "fast drums", "sad song", "rock guitar", "jazz"])
            return route, "GET", f"/api/search?q={q}&k=10", {}, None, (200,)
        if route == "path":
            return route, "GET", f"/api/path?from={a}&to={b}&steps=5", {}, None, (200,)
        if route == "audio_range":
            start = self.rng.randrange(0, 8000)  # the synthetic files are 1 s, 16 kB
            headers = {"Range": f"bytes={start}-{start + 4095}"}
            path = f"/api/tracks/{self.rng.choice(self.audio_ids)}/audio"
            return route, "GET", path, headers, None, (206,)
        if route == "stats":
            return route, "GET", "/api/stats", {}, None, (200,)
        body = {"name": f"soak-{self.rng.randrange(5)}", "track_ids": self.rng.sample(self.ids, 5),
                "source": "soak"}  # fmt: skip
        return route, "POST", "/api/playlists", {}, body, (200,)


@dataclass
class Record:
    """Everything the clients saw: one entry per request."""

    t: list[float] = field(default_factory=list)  # seconds since the start, at the answer
    latency_s: list[float] = field(default_factory=list)
    route: list[str] = field(default_factory=list)
    error: list[str | None] = field(default_factory=list)  # kind, or None
    statuses: Counter = field(default_factory=Counter)
    retries: int = 0
    first_errors: list[str] = field(default_factory=list)


async def client_loop(url: str, requests: Requests, record: Record, t0: float, end: float,
                      think_s: float, rng: random.Random) -> None:  # fmt: skip
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        first = True
        while time.perf_counter() < end:
            route, method, path, headers, body, ok = requests.next()
            start = time.perf_counter()
            kind, text, status = None, "", 0
            for attempt in range(2):
                try:
                    response = await client.request(method, path, headers=headers, json=body)
                    status, text = response.status_code, response.text
                except (httpx.RemoteProtocolError, httpx.ReadError) as err:
                    if not first and attempt == 0 and method == "GET":
                        record.retries += 1  # reused connection closed as the request left
                        continue
                    kind, text = "connection", f"{type(err).__name__}: {err}"
                except httpx.TimeoutException as err:
                    kind, text = "timeout", f"{type(err).__name__}: {err}"
                except httpx.HTTPError as err:
                    kind, text = "connection", f"{type(err).__name__}: {err}"
                break
            first = False
            if kind is None:
                record.statuses[status] += 1
                if status >= 500:
                    kind = "http_5xx"
                elif status not in ok:
                    kind = f"http_{status}"
                elif check_answer(path, status, text if route != "audio_range" else ""):
                    kind = "failure_word"
            now = time.perf_counter()
            record.t.append(now - t0)
            record.latency_s.append(now - start)
            record.route.append(route)
            record.error.append(kind)
            if kind and len(record.first_errors) < 10:
                record.first_errors.append(f"{route} {path}: {kind}: {text[:200]}")
            await asyncio.sleep(rng.uniform(0, think_s))


def ingest_loop(library: Path, folder: Path, every_s: float, files: int, stop: threading.Event,
                out: list[dict]) -> None:  # fmt: skip
    """Every ``every_s`` seconds: write ``files`` new tone files, ingest the folder."""
    batch = 0
    while not stop.wait(every_s):
        for i in range(files):
            write_tone_file(folder / f"b{batch:03d}-{i}.wav", seed=16000 + batch * 10 + i,
                            duration_s=3.0)  # fmt: skip
        t = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-m", "songscape.cli", "--library", str(library), "ingest",
             str(folder), "--no-models", "--workers", "1", "-q"],
            capture_output=True, text=True,
        )  # fmt: skip
        out.append({"batch": batch, "exit": run.returncode, "s": round(time.perf_counter() - t, 1),
                    "tail": (run.stdout + run.stderr).strip()[-200:]})  # fmt: skip
        batch += 1


def sampler_loop(pid: int, every_s: float, t0: float, stop: threading.Event,
                 out: list[dict]) -> None:  # fmt: skip
    while True:
        try:
            out.append({"t": round(time.perf_counter() - t0, 1), **sample_process(pid)})
        except (OSError, AttributeError):
            return
        if stop.wait(every_s):
            return


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else 0.0


def summarise(record: Record, samples: list[dict], window_s: float, ran_s: float) -> dict:
    t = np.asarray(record.t)
    lat = np.asarray(record.latency_s)
    errors = [e for e in record.error if e]
    windows = []
    n_windows = max(1, int(round(ran_s / window_s)))  # the last one takes the odd seconds
    for w in range(n_windows):
        lo, hi = w * window_s, (ran_s if w == n_windows - 1 else (w + 1) * window_s)
        mask = (t >= lo) & (t < hi)
        at_end = [s for s in samples if s["t"] <= hi]
        last = at_end[-1] if at_end else {}
        windows.append({
            "from_s": round(lo), "to_s": round(hi), "requests": int(mask.sum()),
            "errors": int(sum(1 for i in np.flatnonzero(mask) if record.error[i])),
            "p50_ms": _pct(list(lat[mask]), 50), "p99_ms": _pct(list(lat[mask]), 99),
            "rss_mb": last.get("rss_mb"), "fds": last.get("fds"),
        })  # fmt: skip
    by_route = defaultdict(list)
    for route, latency in zip(record.route, record.latency_s, strict=True):
        by_route[route].append(latency)
    # memory: the first sample after the first window (caches warm) against the last one
    # taken under load (the one after the clients stopped is reported apart)
    during = [s for s in samples if s["t"] <= ran_s] or samples
    warm = [s for s in during if s["t"] >= min(window_s, ran_s / 4)] or during
    first, last = warm[0], during[-1]

    def growth(key: str) -> float:
        return round(100.0 * (last[key] - first[key]) / first[key], 1)

    return {
        "requests": len(record.t), "errors": len(errors),
        "errors_by_kind": dict(Counter(errors)), "retries": record.retries,
        "statuses": {str(k): v for k, v in sorted(record.statuses.items())},
        "requests_per_s": round(len(record.t) / ran_s, 2),
        "p50_ms": _pct(record.latency_s, 50), "p99_ms": _pct(record.latency_s, 99),
        "by_route": {r: {"requests": len(v), "p50_ms": _pct(v, 50), "p99_ms": _pct(v, 99)}
                     for r, v in sorted(by_route.items())},
        "windows": windows,
        "memory": {"baseline_t_s": first["t"], "rss_mb_start": first["rss_mb"],
                   "end_t_s": last["t"], "rss_mb_end": last["rss_mb"],
                   "rss_mb_peak": max(s["rss_mb"] for s in samples),
                   "rss_growth_pct": growth("rss_mb"), "fds_start": first["fds"],
                   "fds_end": last["fds"], "fds_peak": max(s["fds"] for s in samples),
                   "fds_growth_pct": growth("fds"), "threads_start": first["threads"],
                   "threads_end": last["threads"], "rss_mb_at_launch": samples[0]["rss_mb"],
                   "after_load": samples[-1]},
        "first_errors": record.first_errors,
    }  # fmt: skip


async def run_clients(url: str, requests: Requests, record: Record, t0: float, end: float,
                      clients: int, think_s: float, seed: int) -> None:  # fmt: skip
    await asyncio.gather(*[
        client_loop(url, requests, record, t0, end, think_s, random.Random(seed + i))
        for i in range(clients)
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--think-ms", type=float, default=200.0)
    parser.add_argument("--tracks", type=int, default=300)
    parser.add_argument("--audio", type=int, default=5)
    parser.add_argument("--ingest-every", type=float, default=60.0)
    parser.add_argument("--ingest-files", type=int, default=2)
    parser.add_argument("--window-s", type=float, default=60.0)
    parser.add_argument("--sample-s", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="songscape-soak-") as tmp:
        base = Path(tmp)
        library = base / "lib"
        ids = build_synthetic_library(library, args.tracks, seed=args.seed,
                                      audio_dir=base / "audio", n_audio=args.audio)  # fmt: skip
        requests = Requests(ids, ids[: args.audio], random.Random(args.seed))
        server = start_server(library)
        try:
            with httpx.Client(base_url=server.url, timeout=600) as client:  # warm-up
                for route in MIX:
                    requests.routes, requests.weights = [route], [1]
                    _, method, path, headers, body, _ = requests.next()
                    r = client.request(method, path, headers=headers, json=body)
                    print(f"warm-up {route}: HTTP {r.status_code}", flush=True)
            requests.routes, requests.weights = list(MIX), list(MIX.values())
            record, samples, ingests = Record(), [], []
            stop = threading.Event()
            t0 = time.perf_counter()
            end = t0 + args.minutes * 60
            threads = [
                threading.Thread(target=sampler_loop,
                                 args=(server.proc.pid, args.sample_s, t0, stop, samples)),
                threading.Thread(target=ingest_loop,
                                 args=(library, base / "music", args.ingest_every,
                                       args.ingest_files, stop, ingests)),
            ]  # fmt: skip
            for th in threads:
                th.start()
            asyncio.run(run_clients(server.url, requests, record, t0, end, args.clients,
                                    args.think_ms / 1000, args.seed))  # fmt: skip
            ran_s = time.perf_counter() - t0
            stop.set()
            for th in threads:
                th.join()
            samples.append({"t": round(time.perf_counter() - t0, 1),
                            **sample_process(server.proc.pid)})  # fmt: skip
        finally:
            stop_server(server)
        log = "".join(server.log)
    results = {
        "ran_s": round(ran_s, 1), "minutes_asked": args.minutes,
        **summarise(record, samples, args.window_s, ran_s),
        "ingests": {"runs": len(ingests), "files_added": args.ingest_files * len(ingests),
                    "exit_codes": dict(Counter(str(i["exit"]) for i in ingests)),
                    "mean_s": round(float(np.mean([i["s"] for i in ingests])), 1)
                    if ingests else 0.0,
                    "failed_tails": [i["tail"] for i in ingests if i["exit"] != 0][:3]},
        "server_log_tracebacks": log.count("Traceback"),
        "server_log_locked": log.count("database is locked"),
        "samples": samples,
    }  # fmt: skip
    print(json.dumps({k: v for k, v in results.items() if k not in ("samples", "windows")},
                     indent=1), flush=True)  # fmt: skip
    conditions = machine(minutes=args.minutes, clients=args.clients, think_ms=args.think_ms,
                         library_tracks=args.tracks, audio_files=args.audio,
                         ingest_every_s=args.ingest_every, ingest_files=args.ingest_files,
                         window_s=args.window_s, sample_s=args.sample_s)  # fmt: skip
    path = write_results(__file__, results, conditions, out=args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
