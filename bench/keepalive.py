"""Why a request sometimes gets no answer on a kept-alive connection (issue 16).

``bench/reliability.py``'s 200 clients lost 2-9 % of their requests on a loaded machine
("Server disconnected without sending a response", connection resets), always on a
*reused* connection. HTTP/1.1 lets either side close an idle kept-alive connection, and
a request the client sends just as the server closes it is lost (RFC 9112 §9.3.1):
uvicorn closes a connection idle for ``timeout_keep_alive`` seconds (5 s by default).
This script measures both halves of that explanation against the real
``songscape serve`` (loopback, synthetic library):

1. **gap sweep**: ``--connections`` clients at once each send a request, wait exactly
   ``gap`` seconds, and send another on the same connection, for gaps around the
   server's ``--keep-alive``. Each second request is *same* (answered on the kept
   connection), *new* (the client saw the server's close before sending and opened a
   new connection: httpcore checks an idle connection before reusing it) or *lost*.
2. **load**: ``--clients`` clients at once, ``--requests`` GETs each, every client on
   its own connection, *no retries*, against servers started with
   ``--keep-alive`` 5 s and ``--long-keep-alive``; ``--rounds`` runs each, then as many
   with the client's event loop blocked once for ``--client-stall`` seconds, 1 s into
   the run (a client process starved of CPU, as on a loaded machine). For each lost
   request: whether its connection was reused and the seconds since that connection's
   previous answer (measured by the client), and how late the client's own event loop woke up (a
monitor task sleeping 50 ms at a time): the time an answer can sit unread.

Result (``bench/results/keepalive.json``): ``results.sweep`` (one row per gap: same,
new, lost), ``results.load`` (one row per keep-alive and round: requests, lost, lost on
a reused connection, p50/p95 ms, the largest idle gap seen before a lost request and
before any request).

Usage: python bench/keepalive.py [--connections 40] [--clients 200] [--requests 5]
       [--rounds 2] [--long-keep-alive 75] [--client-stall 6] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from record import machine, write_results  # noqa: E402
from soak import start_server, stop_server  # noqa: E402
from songscape.synthetic.catalogs import build_synthetic_library  # noqa: E402
from tests.server.test_concurrency import _query_paths  # noqa: E402

LOST = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError)


def _port(response: httpx.Response) -> int | None:
    """The client-side port of the connection that carried ``response`` (None: that
    connection is closed already, the server having closed it after the answer)."""
    try:
        return response.extensions["network_stream"].get_extra_info("client_addr")[1]
    except (OSError, TypeError):
        return None


async def _two_requests(url: str, path: str, gap: float) -> str:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        port = _port(await client.get(path))
        await asyncio.sleep(gap)
        try:
            second = await client.get(path)
        except LOST:
            return "lost"
        return "same" if port is not None and _port(second) == port else "new"


async def sweep_gap(url: str, path: str, gap: float, connections: int) -> dict:
    outcomes = await asyncio.gather(*[_two_requests(url, path, gap) for _ in range(connections)])
    return {"gap_s": gap, **{k: outcomes.count(k) for k in ("same", "new", "lost")}}


async def _load_client(url: str, paths: list[str], offset: int, n: int, start: asyncio.Event,
                       out: list[dict]) -> None:  # fmt: skip
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        await start.wait()
        port, answered = None, None
        for i in range(n):
            t0 = time.perf_counter()
            gap = t0 - answered if answered is not None else None
            row = {"reused": port is not None, "idle_gap_s": gap}
            try:
                response = await client.get(paths[(offset + i) % len(paths)])
                row["status"] = response.status_code
                now = _port(response)
                row["same_connection"] = port is not None and now == port
                row["closed_after_answer"] = now is None
                port = now
            except LOST as err:
                row["lost"] = f"{type(err).__name__}: {err}"
                port = None  # httpx opens a new connection for the next request
            answered = time.perf_counter()
            row["latency_s"] = answered - t0
            out.append(row)


async def _lag_monitor(stop: asyncio.Event, lags: list[float], every_s: float = 0.05) -> None:
    """How late the client's own event loop wakes up (what delays reading an answer)."""
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(every_s)
        lags.append(time.perf_counter() - t - every_s)


async def _stall(start: asyncio.Event, after_s: float, stall_s: float) -> None:
    """Block the client's event loop for ``stall_s`` seconds (a starved client process)."""
    await start.wait()
    await asyncio.sleep(after_s)
    time.sleep(stall_s)


async def load(url: str, paths: list[str], clients: int, n: int, stall_s: float = 0.0) -> dict:
    rows: list[dict] = []
    lags: list[float] = []
    done = asyncio.Event()
    start = asyncio.Event()
    if stall_s:
        tasks_stall = [asyncio.create_task(_stall(start, 1.0, stall_s))]
    else:
        tasks_stall = []
    tasks = [asyncio.create_task(_load_client(url, paths, i, n, start, rows))
             for i in range(clients)]  # fmt: skip
    await asyncio.sleep(0)
    t0 = time.perf_counter()
    start.set()
    monitor = asyncio.create_task(_lag_monitor(done, lags))  # from the start, not the set-up
    await asyncio.gather(*tasks, *tasks_stall)
    done.set()
    await monitor
    lost = [r for r in rows if "lost" in r]
    gaps = [r["idle_gap_s"] for r in rows if r["idle_gap_s"] is not None]
    lat = [r["latency_s"] for r in rows]
    return {
        "requests": len(rows), "lost": len(lost),
        "lost_on_reused_connection": sum(r["reused"] for r in lost),
        "lost_kinds": dict(Counter(r["lost"].split(":")[0] for r in lost)),
        "lost_first": [r["lost"] for r in lost[:3]],
        "max_gap_before_lost_s": round(max((r["idle_gap_s"] or 0) for r in lost), 4)
        if lost else None,
        "max_gap_s": round(max(gaps), 4) if gaps else None,
        "p50_ms": round(float(np.percentile(lat, 50)) * 1000, 1),
        "p95_ms": round(float(np.percentile(lat, 95)) * 1000, 1),
        "seconds": round(time.perf_counter() - t0, 2),
        "reconnected": sum(1 for r in rows if r["reused"] and not r.get("same_connection")
                           and "lost" not in r),
        "closed_after_answer": sum(1 for r in rows if r.get("closed_after_answer")),
        "client_loop_lag_max_s": round(max(lags), 3) if lags else None,
        "client_loop_lag_p99_s": round(float(np.percentile(lags, 99)), 3) if lags else None,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=40)
    parser.add_argument("--gaps", type=float, nargs="+",
                        default=[4.0, 4.9, 4.97, 4.99, 5.0, 5.01, 5.03, 5.1, 6.0])  # fmt: skip
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--long-keep-alive", type=float, default=75.0)
    parser.add_argument("--client-stall", type=float, default=6.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results: dict = {"sweep": [], "load": []}
    with tempfile.TemporaryDirectory(prefix="songscape-keepalive-") as tmp:
        base = Path(tmp)
        ids = build_synthetic_library(base / "lib", 40, seed=16, audio_dir=base / "audio",
                                      n_audio=3)  # fmt: skip
        paths = _query_paths(ids)
        for keep_alive in (5.0, args.long_keep_alive):
            server = start_server(base / "lib", extra=["--keep-alive", str(keep_alive)])
            try:
                with httpx.Client(base_url=server.url, timeout=300) as client:
                    for path in paths:  # warm: the map and the index
                        client.get(path)
                if keep_alive == 5.0:
                    for gap in args.gaps:
                        row = asyncio.run(sweep_gap(server.url, "/api/stats", gap,
                                                    args.connections))  # fmt: skip
                        results["sweep"].append(row)
                        print(json.dumps(row), flush=True)
                for r in range(2 * args.rounds):
                    stall = args.client_stall if r >= args.rounds else 0.0
                    seen = asyncio.run(load(server.url, paths, args.clients, args.requests,
                                            stall))  # fmt: skip
                    row = {"keep_alive_s": keep_alive, "client_stall_s": stall,
                           "round": r % args.rounds + 1, **seen}  # fmt: skip
                    results["load"].append(row)
                    print(json.dumps(row), flush=True)
            finally:
                stop_server(server)
    conditions = machine(connections=args.connections, clients=args.clients,
                         requests_per_client=args.requests, rounds=args.rounds,
                         long_keep_alive_s=args.long_keep_alive)  # fmt: skip
    print(f"wrote {write_results(__file__, results, conditions, out=args.out)}")


if __name__ == "__main__":
    main()
