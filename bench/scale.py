"""Beyond one machine, measured: Milvus Lite against faiss, Redis precompute, Ray ingestion.

Sections (``--sections``, default all three):

* ``vectors``: ``--n-vectors`` synthetic unit vectors of 200 dimensions (a Gaussian
  mixture of 100 clusters, seeded), each with a uniform "tempo" in 60..180 BPM, and 200
  held-out queries. faiss exact inner product (``IndexFlatIP``) is the ground truth.
  Rows: faiss HNSW (songscape's ``IndexParams`` defaults: M=32, efConstruction=80,
  efSearch=96), Milvus Lite ``FLAT`` and Milvus Lite ``HNSW`` (songscape's Milvus build
  parameters: M=32, efConstruction=200, ef=128) — build seconds (insert + index),
  memory (faiss: serialised index bytes; Milvus Lite: the resident memory the process
  gained from opening the database to the end of the queries), recall@10 with its
  Wilson 95 % interval over the queries × 10 true neighbours, queries/s
  and p50/p99 ms (one query per call, one thread),
  and the same for a filtered search (tempo 90..102, ~10 % of the rows: faiss searches
  with an ``IDSelectorBatch``; Milvus evaluates ``tempo >= 90 and tempo <= 102``).
  ``--n-queries`` (default 200) of the held-out queries are used.
* ``redis``: ``--n-users`` synthetic users × top-50 lists (16-hex-digit item ids,
  descending scores) written by :class:`songscape.recommend.redis_lists.RedisLists`
  into a private redis-server on loopback (pipelined, versioned, swapped): lists/s, MB/s,
  Redis ``used_memory`` per list; then ``RedisLists.read`` p50/p99 of 2,000 random users.
* ``ingest``: the first ``--ingest-limit`` GTZAN clips of ``../shared/data`` ingested
  into fresh libraries by the local engine (1 and 2 worker processes) and by
  ``--engine ray`` (1 and 2 actors, a ``ray start --head`` cluster on loopback started
  here), full pipeline with the default models: files/s and audio seconds per wall second.
  Ray's cluster start-up is reported apart (``ray_start_s``), not in the ingest times.

Each row prints one JSON line and carries its own ``run`` (date, load, the command); the
file ``bench/results/scale.json`` (``--out``) holds them. A run replaces only the rows it
measures again (same section and size, same engine and index) and keeps the others, so
sizes and sections can be measured one at a time on a shared machine, e.g. the 1M rows::

    nice -n 10 python bench/scale.py --sections redis --n-users 1000000
    nice -n 10 python bench/scale.py --sections vectors --n-vectors 1000000 --milvus-indexes
    nice -n 10 python bench/scale.py --sections vectors --n-vectors 1000000 \
        --faiss-indexes --milvus-indexes IVF_FLAT --n-queries 200

``--faiss-indexes`` picks the faiss rows (``hnsw``: songscape's defaults; ``ivf``:
``IVF1024,Flat`` with nprobe 32, Milvus' IVF_FLAT parameters, trained on 64k rows);
``--milvus-indexes`` the Milvus Lite ones (``FLAT``, ``HNSW``, ``IVF_FLAT`` with the build
and search parameters of :mod:`songscape.search.milvus_index`); an empty list skips that
engine. ``--merge FILE ...`` folds part files written with ``--out`` into the results.

Usage: ``python bench/scale.py [--sections vectors redis ingest] [--n-vectors N]
[--n-users N] [--n-queries Q] [--faiss-indexes hnsw ivf] [--milvus-indexes FLAT HNSW
IVF_FLAT] [--ingest-limit N] [--out PATH] [--merge FILE ...]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from record import machine, write_results

ROWS: list[dict] = []
DIM = 200
TEMPO_RANGE = (90.0, 102.0)


def _emit(row: dict) -> None:
    ROWS.append(row)
    print(json.dumps(row), flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kb() -> int:
    """Resident memory (kB) of this process and its children (Milvus Lite runs in
    process; older versions start a server child)."""
    total = 0
    me = str(os.getpid())
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            status = (d / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if d.name == me or fields.get("PPid", "").strip() == me:
            total += int(fields.get("VmRSS", "0 kB").split()[0] or 0)
    return total


def _latencies(fn, queries: np.ndarray) -> tuple[list[list[int]], dict]:
    out, times = [], []
    for q in queries:
        t = time.perf_counter()
        out.append(fn(q))
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    return out, {"qps": round(len(times) / sum(times), 1), "p50_ms": round(float(np.percentile(
        ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)}  # fmt: skip


def _recall(found: list[list[int]], truth: list[list[int]], k: int = 10) -> float:
    hits = sum(len(set(f[:k]) & set(t[:k])) for f, t in zip(found, truth, strict=True))
    return round(hits / sum(min(k, len(t)) for t in truth), 4)


def _recall_ci95(found: list[list[int]], truth: list[list[int]], k: int = 10) -> list[float]:
    """Wilson 95 % interval of recall@k over the ``queries × k`` true neighbours (each
    neighbour found or not; the neighbours of one query are counted as independent, so
    the interval is a little narrow when misses cluster in a few queries)."""
    hits = sum(len(set(f[:k]) & set(t[:k])) for f, t in zip(found, truth, strict=True))
    n = sum(min(k, len(t)) for t in truth)
    z = 1.959964
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((100, DIM)).astype(np.float32)
    x = np.empty((n + 200, DIM), np.float32)
    for s in range(0, n + 200, 100_000):  # in blocks: 1M rows stay at 0.8 GB
        e = min(n + 200, s + 100_000)
        x[s:e] = centres[rng.integers(100, size=e - s)] + 0.7 * rng.standard_normal(
            (e - s, DIM), dtype=np.float32)  # fmt: skip
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    tempo = rng.uniform(60, 180, n).astype(np.float64)
    return x[:n], x[n:], tempo


def _faiss_row(base: dict, label: str, index, build: float, queries: np.ndarray,
               truth: list, truth_f: list, ok: np.ndarray, params) -> None:
    import faiss

    found, speed = _latencies(lambda q: list(index.search(q[None], 10)[1][0]), queries)
    found_f, speed_f = _latencies(
        lambda q: list(index.search(q[None], 10, params=params)[1][0]), queries)
    _emit(base | {"engine": "faiss", "index": label, "build_s": round(build, 2),
                  "memory_mb": round(len(faiss.serialize_index(index)) / 2**20, 1),
                  "recall_at_10": _recall(found, truth), **speed,
                  "recall_at_10_ci95": _recall_ci95(found, truth),
                  "filtered_recall_at_10": _recall(found_f, truth_f),
                  "filtered_recall_at_10_ci95": _recall_ci95(found_f, truth_f),
                  **{f"filtered_{k}": v for k, v in speed_f.items()}})  # fmt: skip


def bench_vectors(n: int, n_queries: int = 200, faiss_indexes: tuple[str, ...] = ("hnsw",),
                  milvus_indexes: tuple[str, ...] = ("FLAT", "HNSW")) -> None:  # fmt: skip
    import faiss

    from songscape.search.index_params import IndexParams
    from songscape.search.milvus_index import BUILD_PARAMS, SEARCH_PARAMS

    faiss.omp_set_num_threads(1)
    x, queries, tempo = _data(n)
    queries = queries[:n_queries]
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    exact = faiss.IndexFlatIP(DIM)
    exact.add(x)
    truth = [list(row) for row in exact.search(queries, 10)[1]]
    del exact
    ok = np.flatnonzero((tempo >= TEMPO_RANGE[0]) & (tempo <= TEMPO_RANGE[1]))
    sub = faiss.IndexFlatIP(DIM)
    sub.add(x[ok])
    truth_f = [list(ok[row]) for row in sub.search(queries, 10)[1]]
    del sub
    faiss.omp_set_num_threads(1)
    base = {"section": "vectors", "n": n, "dim": DIM, "queries": len(queries),
            "filter_fraction": round(len(ok) / n, 4)}  # fmt: skip
    sel = faiss.IDSelectorBatch(ok.astype(np.int64))

    if "hnsw" in faiss_indexes:  # songscape's defaults
        p = IndexParams()
        t = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(DIM, p.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = p.hnsw_ef_construction
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        hnsw.add(x)
        faiss.omp_set_num_threads(1)
        build = time.perf_counter() - t
        hnsw.hnsw.efSearch = p.hnsw_ef_search
        params = faiss.SearchParametersHNSW(sel=sel, efSearch=p.hnsw_ef_search)
        _faiss_row(base, f"HNSW M={p.hnsw_m} efC={p.hnsw_ef_construction} "
                   f"ef={p.hnsw_ef_search}", hnsw, build, queries, truth, truth_f, ok,
                   params)  # fmt: skip
        del hnsw
    if "ivf" in faiss_indexes:  # Milvus' IVF_FLAT parameters, for a like-for-like row
        nlist, nprobe = BUILD_PARAMS["IVF_FLAT"]["nlist"], SEARCH_PARAMS["IVF_FLAT"]["nprobe"]
        t = time.perf_counter()
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist, faiss.METRIC_INNER_PRODUCT)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        train = x[np.random.default_rng(1).choice(n, min(n, 64 * nlist), replace=False)]
        ivf.train(train)
        ivf.add(x)
        faiss.omp_set_num_threads(1)
        build = time.perf_counter() - t
        ivf.nprobe = nprobe
        params = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
        _faiss_row(base, f"IVF_FLAT nlist={nlist} nprobe={nprobe}", ivf, build, queries,
                   truth, truth_f, ok, params)  # fmt: skip
        del ivf
    if milvus_indexes:
        _bench_milvus(base, x, tempo, queries, truth, truth_f, milvus_indexes,
                      BUILD_PARAMS, SEARCH_PARAMS)  # fmt: skip


def _bench_milvus(base: dict, x: np.ndarray, tempo: np.ndarray, queries: np.ndarray,
                  truth: list, truth_f: list, milvus_indexes: tuple[str, ...],
                  build_params_of: dict, search_params_of: dict) -> None:  # fmt: skip
    from pymilvus import DataType, MilvusClient

    n = len(x)
    for index_type in milvus_indexes:
        build_params = build_params_of.get(index_type, {})
        search_params = search_params_of.get(index_type, {})
        folder = Path(tempfile.mkdtemp(prefix="ss-milvus-"))
        rss0 = _rss_kb()
        client = MilvusClient(str(folder / "bench.db"))
        rss_open = _rss_kb()
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
        schema.add_field("tempo", DataType.DOUBLE)
        ip = client.prepare_index_params()
        ip.add_index("vec", index_type=index_type, metric_type="IP", params=build_params)
        t = time.perf_counter()
        client.create_collection("bench", schema=schema, index_params=ip,
                                 consistency_level="Strong")  # fmt: skip
        for s in tqdm(range(0, n, 5000), desc=f"milvus {index_type} insert", unit="batch"):
            client.insert("bench", [{"id": i, "vec": x[i].tolist(), "tempo": float(tempo[i])}
                                    for i in range(s, min(n, s + 5000))])  # fmt: skip
        insert = time.perf_counter() - t
        client.flush("bench")
        client.load_collection("bench")
        build = time.perf_counter() - t
        sp = {"metric_type": "IP", "params": search_params}

        def search(q, expr="", client=client, sp=sp):
            hits = client.search("bench", data=[q.tolist()], limit=10, filter=expr,
                                 anns_field="vec", search_params=sp)[0]  # fmt: skip
            return [h["id"] for h in hits]

        search(queries[0])
        found, speed = _latencies(search, queries)
        expr = f"tempo >= {TEMPO_RANGE[0]} and tempo <= {TEMPO_RANGE[1]}"
        found_f, speed_f = _latencies(lambda q, e=expr: search(q, e), queries)
        rss = _rss_kb()
        label = " ".join([index_type, *(f"{k}={v}" for k, v in build_params.items()),
                          *(f"{k}={v}" for k, v in search_params.items())])  # fmt: skip
        _emit(base | {"engine": "milvus-lite", "index": label, "build_s": round(build, 2),
                      "insert_s": round(insert, 2),
                      "memory_mb": round((rss - rss_open) / 1024, 1),
                      "open_rss_mb": round((rss_open - rss0) / 1024, 1),
                      "recall_at_10": _recall(found, truth), **speed,
                      "recall_at_10_ci95": _recall_ci95(found, truth),
                      "filtered_recall_at_10": _recall(found_f, truth_f),
                      "filtered_recall_at_10_ci95": _recall_ci95(found_f, truth_f),
                      **{f"filtered_{k}": v for k, v in speed_f.items()}})  # fmt: skip
        client.close()
        shutil.rmtree(folder, ignore_errors=True)


def _redis_server() -> tuple[subprocess.Popen, str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not installed (scripts/setup.sh installs it)")
    port = _free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)  # fmt: skip
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def bench_redis(n_users: int, k: int = 50) -> None:
    import redis

    from songscape.recommend.redis_lists import RedisLists, encode_list

    proc, url = _redis_server()
    try:
        client = redis.Redis.from_url(url)
        mem0 = int(client.info("memory")["used_memory"])
        rng = np.random.default_rng(0)
        items = [f"{i:016x}" for i in rng.integers(0, 2**63, 100_000)]
        scores = np.sort(rng.uniform(0, 1, k))[::-1]
        users = [f"user{u:07d}" for u in range(n_users)]

        def lists():
            for u, user in enumerate(users):
                start = (u * 7919) % (len(items) - k)
                yield user, encode_list(items[start:start + k], scores)

        t = time.perf_counter()
        written = RedisLists(client, "recs", "bench").write(lists(), {"k": k, "digest": "b"})
        seconds = time.perf_counter() - t
        mem = int(client.info("memory")["used_memory"]) - mem0
        sample_bytes = len(encode_list(items[:k], scores))
        reader = RedisLists(redis.Redis.from_url(url), "recs", "bench")
        picks = random.Random(0).sample(users, 2000)
        reader.read(picks[0])
        times = []
        for user in picks:
            s = time.perf_counter()
            assert reader.read(user) is not None
            times.append((time.perf_counter() - s) * 1000)
        _emit({"section": "redis", "users": n_users, "k": k, "write_s": round(seconds, 2),
               "lists_per_s": round(n_users / seconds), "mb_per_s": round(
                   n_users * sample_bytes / seconds / 2**20, 1),
               "value_bytes": sample_bytes, "used_memory_mb": round(mem / 2**20, 1),
               "bytes_per_list": round(mem / n_users), "version": written["version"],
               "read_p50_ms": round(statistics.median(times), 3),
               "read_p99_ms": round(float(np.percentile(times, 99)), 3)})  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _ray_start() -> tuple[str, str, float]:
    port = _free_port()
    marker = f"bench-{os.getpid()}-{port}"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "SONGSCAPE_BENCH_RAY": marker,
           "RAY_agent_register_timeout_ms": "180000"}  # fmt: skip
    ray = str(Path(sys.executable).with_name("ray"))
    t = time.perf_counter()
    subprocess.run([ray, "start", "--head", f"--port={port}", "--num-cpus=2",
                    "--node-ip-address=127.0.0.1", "--include-dashboard=false",
                    f"--ray-client-server-port={_free_port()}", "--disable-usage-stats",
                    f"--temp-dir=/tmp/ss-ray-{marker}"],
                   check=True, env=env, capture_output=True, timeout=300)  # fmt: skip
    return f"127.0.0.1:{port}", marker, time.perf_counter() - t


def _ray_stop(marker: str) -> None:
    needle = f"SONGSCAPE_BENCH_RAY={marker}".encode()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if needle in (d / "environ").read_bytes().split(b"\0"):
                    os.kill(int(d.name), 15)
            except (OSError, ProcessLookupError):
                continue
    time.sleep(2)
    shutil.rmtree(f"/tmp/ss-ray-{marker}", ignore_errors=True)


def bench_ingest(limit: int) -> None:
    from songscape.ingest.pipeline import IngestOptions
    from songscape.library.library import Library

    root = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gtzan_subset100"
    clips = sorted((root / "audio").rglob("*.ogg"))[:: max(1, 100 // limit)][:limit]
    music = Path(tempfile.mkdtemp(prefix="ss-music-"))
    for c in clips:
        shutil.copy2(c, music / c.name)
    address, marker, start_s = _ray_start()
    try:
        for engine, workers in (("local", 1), ("local", 2), ("ray", 1), ("ray", 2)):
            lib_dir = Path(tempfile.mkdtemp(prefix="ss-lib-"))
            opts = IngestOptions(workers=workers, engine=engine,
                                 ray_address=address if engine == "ray" else None)  # fmt: skip
            with Library(lib_dir, create=True) as lib:
                t = time.perf_counter()
                report = lib.ingest([music], opts)
                seconds = time.perf_counter() - t
            _emit({"section": "ingest", "engine": engine, "workers": workers,
                   "files": report.added, "failed": report.failed,
                   "seconds": round(seconds, 1), "files_per_s": round(report.added / seconds, 3),
                   "realtime_factor": round(report.audio_seconds / seconds, 2),
                   "ray_start_s": round(start_s, 1) if engine == "ray" else None})  # fmt: skip
            shutil.rmtree(lib_dir, ignore_errors=True)
    finally:
        _ray_stop(marker)
        shutil.rmtree(music, ignore_errors=True)


def _row_key(row: dict) -> tuple:
    """What a row measures: a new run replaces the earlier row with the same key."""
    if row["section"] == "vectors":
        return ("vectors", row["n"], row["engine"], row["index"])
    if row["section"] == "redis":
        return ("redis", row["users"], row["k"])
    return ("ingest", row["engine"], row["workers"])


def _previous_rows(path: Path) -> list[dict]:
    """The rows of an earlier results file, each with its own ``run`` (older files kept
    the run's conditions only at the top)."""
    if not path.exists():
        return []
    old = json.loads(path.read_text())
    run = {k: old["conditions"].get(k) for k in ("date", "loadavg_1min")} | {
        "command": old.get("command")}  # fmt: skip
    return [{**r, "run": r.get("run", run)} for r in old["results"]]


def merged(new_rows: list[dict], previous: list[dict]) -> list[dict]:
    """``previous`` without the rows ``new_rows`` measure again, then ``new_rows``; kept in
    section order (vectors, redis, ingest) and, within a section, by size."""
    keys = {_row_key(r) for r in new_rows}
    rows = [r for r in previous if _row_key(r) not in keys] + new_rows
    order = {"vectors": 0, "redis": 1, "ingest": 2}
    return sorted(rows, key=lambda r: (order[r["section"]], r.get("n", r.get("users", 0))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sections", nargs="+", default=["vectors", "redis", "ingest"],
                    choices=["vectors", "redis", "ingest"])  # fmt: skip
    ap.add_argument("--n-vectors", type=int, default=100_000)
    ap.add_argument("--n-queries", type=int, default=200)
    ap.add_argument("--faiss-indexes", nargs="*", default=["hnsw"], choices=["hnsw", "ivf"])
    ap.add_argument("--milvus-indexes", nargs="*", default=["FLAT", "HNSW"],
                    choices=["FLAT", "HNSW", "IVF_FLAT"])  # fmt: skip
    ap.add_argument("--n-users", type=int, default=200_000)
    ap.add_argument("--ingest-limit", type=int, default=8)
    ap.add_argument("--merge", nargs="+", metavar="FILE",
                    help="fold these part files (written with --out) into the results")
    ap.add_argument("--out")
    args = ap.parse_args()
    out = Path(args.out) if args.out else Path(__file__).parent / "results" / "scale.json"
    if args.merge:
        new = [r for f in args.merge for r in _previous_rows(Path(f))]
        rows = merged(new, _previous_rows(out))
        conditions = machine(merged=args.merge)
        path = write_results(__file__, rows, conditions, out,
                             provenance="merged from part runs; each row's `run` says how "
                             "and when it was measured")  # fmt: skip
        print(f"wrote {path}", file=sys.stderr)
        return
    if "vectors" in args.sections:
        bench_vectors(args.n_vectors, args.n_queries, tuple(args.faiss_indexes),
                      tuple(args.milvus_indexes))  # fmt: skip
    if "redis" in args.sections:
        bench_redis(args.n_users)
    if "ingest" in args.sections:
        bench_ingest(args.ingest_limit)
    conditions = machine(sections=args.sections, n_vectors=args.n_vectors,
                         n_users=args.n_users, ingest_limit=args.ingest_limit)  # fmt: skip
    run = {k: conditions[k] for k in ("date", "loadavg_1min")} | {
        "command": " ".join(["python", "bench/scale.py", *sys.argv[1:]])}  # fmt: skip
    rows = merged([{**r, "run": run} for r in ROWS], _previous_rows(out))
    path = write_results(__file__, rows, conditions, out)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
