"""Nearest-neighbour search: recall, latency and memory per vector of the index kinds.

For every data set (``--sizes`` x ``--dims`` of synthetic clustered vectors, plus a
library's real embeddings with ``--library``) this builds and measures:

* ``faiss-flat``: exact inner-product search (the reference, and songscape's "exact").
* ``faiss-hnsw``: ``IndexHNSWFlat`` with songscape's defaults (``IndexParams``: M, efConstruction,
  efSearch) and a few other efSearch values on the same graph, plus one graph with another M.
* ``hnswlib``: the reference HNSW implementation, same M / efConstruction, for comparison.
* ``faiss-ivfpq+rerank``: songscape's compressed kind (``IVF{nlist},PQ{m}``, m = dim / 8
  bytes, re-scoring ``rerank * k`` candidates exactly from the float32 vectors). Only the PQ
  index counts as memory: songscape keeps the float rows in a memory-mapped file on disk.
  Here they are an in-memory array, i.e. the file as if it were in the page cache.
* ``faiss-ivfpq+refine-sq8``: all in RAM, PQ candidates re-scored from 8-bit scalar-quantised
  vectors (only where that fits in 300 bytes per vector).
* ``songscape``: ``VectorIndex.search`` end to end (catalog check, filters, id mapping) on a
  temporary library, for sizes up to ``--songscape-max``.

Measurements:

* Queries: ``--queries`` vectors held out from the data (never indexed), one query per call,
  on one thread (``faiss.omp_set_num_threads(1)``, ``hnswlib.set_num_threads(1)``), after a
  50-query warm-up; ``qps`` = queries / summed latency, ``p50_ms`` / ``p99_ms`` latency
  percentiles. The exact flat index is timed on at most 300 queries at 1M.
* ``recall_at_10``: mean |returned top-10 ∩ exact top-10| / 10, the exact top-10 from the
  flat index (batch search).
* ``build_s``: wall seconds of training + adding on ``--build-threads`` threads.
* ``bytes_per_vector``: size of the serialised index (``faiss.serialize_index``; hnswlib's
  ``save_index`` file) divided by n: what the index holds in RAM once loaded.

Synthetic data (``clustered``): a Gaussian mixture in a 32-dimensional latent space, mapped
to ``dim`` dimensions by a fixed random linear map, plus isotropic noise, then L2-normalised.
``sqrt(n)`` clusters with Zipf-like sizes (weight ~ rank^-0.8), cluster spread 0.35 (centres
~ N(0, 1)), noise 0.15 per output dimension (~2 % of the energy). Top-1 cosine is ~0.93 and a
random pair ~0.01: low intrinsic dimension and uneven cluster sizes, as learnt embeddings
tend to have. It is an assumption, not a measurement of real music embeddings; run with
``--library`` for those.

Result: ``bench/results/search.json`` (``--out``): the rows of every data set measured, each
with its ``run`` (date, load); rows of data sets (data, n, dim) not measured in this run
are kept from the file already there, so a ``--quick`` run replaces only the 100k rows.

Usage: ``python bench/search.py [--quick] [--sizes N ...] [--dims D ...] [--queries Q]
[--build-threads T] [--library DIR [--model NAME]] [--json-out PATH] [--out PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

# numpy's BLAS on one thread (it only does small products here); faiss's OpenMP thread count
# is set explicitly for each phase: --build-threads for builds, 1 for queries.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from record import RESULTS_DIR, machine, write_results  # noqa: E402

K = 10


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def clustered(n: int, dim: int, seed: int = 0, latent: int = 32) -> np.ndarray:
    """``n`` clustered unit vectors of ``dim`` dimensions (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_clusters = max(16, int(np.sqrt(n)))
    mix = rng.standard_normal((latent, dim)).astype(np.float32) / np.sqrt(latent)
    centres = rng.standard_normal((n_clusters, latent)).astype(np.float32)
    weights = 1.0 / np.arange(1, n_clusters + 1) ** 0.8
    labels = rng.choice(n_clusters, size=n, p=weights / weights.sum())
    out = np.empty((n, dim), np.float32)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        z = centres[labels[s:e]] + 0.35 * rng.standard_normal((e - s, latent), np.float32)
        x = z @ mix + 0.15 * rng.standard_normal((e - s, dim), np.float32)
        out[s:e] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def library_vectors(path: str, model: str | None) -> tuple[np.ndarray, str]:
    from songscape.catalog.store import LibraryStore

    with LibraryStore(path, create=False, readonly=True) as store:
        model = model or store.default_model()
        _, _, x = store.embedding_matrix(model)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x.astype(np.float32), model


def timed_queries(search_one: Callable[[np.ndarray], np.ndarray], q: np.ndarray) -> dict:
    """Run queries one at a time; latencies and the returned ids."""
    for row in q[:50]:  # warm-up
        search_one(row[None])
    lat = np.empty(len(q))
    ids = np.full((len(q), K), -1, np.int64)
    for i, row in enumerate(q):
        t0 = time.perf_counter()
        found = search_one(row[None])
        lat[i] = time.perf_counter() - t0
        ids[i, : len(found)] = found[:K]
    return {"lat": lat, "ids": ids}


def recall(ids: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(
        len(set(a[a >= 0].tolist()) & set(b.tolist())) for a, b in zip(ids, truth, strict=True)
    )
    return hits / (K * len(ids))


def row(name: str, data: dict, params: dict, res: dict, truth: np.ndarray, build_s: float,
        nbytes: int, **extra) -> dict:  # fmt: skip
    lat = res["lat"]
    return {
        "index": name,
        "data": data["name"],
        "n": data["n"],
        "dim": data["dim"],
        "params": params,
        "recall_at_10": round(recall(res["ids"], truth[: len(lat)]), 4),
        "qps": round(len(lat) / lat.sum(), 1),
        "p50_ms": round(float(np.percentile(lat, 50)) * 1e3, 3),
        "p99_ms": round(float(np.percentile(lat, 99)) * 1e3, 3),
        "queries": len(lat),
        "build_s": round(build_s, 2),
        "bytes_per_vector": round(nbytes / data["n"], 1),
        "threads": 1,
        "faiss": faiss.__version__,
        **extra,
    }


def faiss_bytes(index) -> int:
    return int(faiss.serialize_index(index).nbytes)


def _build_ivf(key: str, xb: np.ndarray, nlist: int, build_threads: int):
    """Train (on a seeded sample) and fill an IVF index: ``(index, build_s, serialized_bytes)``."""
    from songscape.search.index_params import ivfpq_train_size

    n, dim = xb.shape
    index = faiss.index_factory(dim, key, faiss.METRIC_L2)
    rng = np.random.default_rng(1)
    train = xb[np.sort(rng.choice(n, ivfpq_train_size(n, nlist), replace=False))]
    faiss.omp_set_num_threads(build_threads)
    t0 = time.perf_counter()
    index.train(train)
    index.add(xb)
    build_s = time.perf_counter() - t0
    faiss.omp_set_num_threads(1)
    return index, build_s, faiss_bytes(index)


def bench_faiss(data: dict, xb: np.ndarray, q: np.ndarray, truth: np.ndarray, args) -> Iterator:
    from songscape.search.index_params import (
        IndexParams,
        ivfpq_factory_key,
        ivfpq_layout,
        ivfpq_nprobe,
    )

    n, dim = xb.shape
    bt = args.build_threads
    defaults = IndexParams()

    # Exact.
    flat = faiss.IndexFlatIP(dim)
    t0 = time.perf_counter()
    flat.add(xb)
    build_s = time.perf_counter() - t0
    faiss.omp_set_num_threads(1)
    nq_flat = min(len(q), 300 if n >= 500_000 else 1000)
    res = timed_queries(lambda v, flat=flat: flat.search(v, K)[1][0], q[:nq_flat])
    yield row("faiss-flat", data, {}, res, truth, build_s, faiss_bytes(flat), build_threads=bt)
    del flat

    # HNSW: songscape's M with several efSearch values, then another M.
    for m in args.hnsw_m or [defaults.hnsw_m, 16]:
        if m != defaults.hnsw_m and "hnsw-other-m" in args.skip:
            continue
        index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = defaults.hnsw_ef_construction
        faiss.omp_set_num_threads(bt)
        t0 = time.perf_counter()
        index.add(xb)
        build_s = time.perf_counter() - t0
        nbytes = faiss_bytes(index)
        faiss.omp_set_num_threads(1)
        efs = sorted({defaults.hnsw_ef_search, *args.ef_search})
        for ef in efs:
            index.hnsw.efSearch = ef
            res = timed_queries(lambda v, index=index: index.search(v, K)[1][0], q)
            params = {"M": m, "efConstruction": defaults.hnsw_ef_construction, "efSearch": ef}
            is_default = m == defaults.hnsw_m and ef == defaults.hnsw_ef_search
            yield row("faiss-hnsw", data, params, res, truth, build_s, nbytes, build_threads=bt,
                      songscape_default=is_default)  # fmt: skip
        del index

    # Compressed: songscape's IVF-PQ with exact re-ranking from the float vectors.
    if "ivfpq" not in args.skip:
        nlist, pq_m, nbits, _ = ivfpq_layout(n, dim, defaults)
        key = ivfpq_factory_key(n, dim, defaults)
        index, build_s, nbytes = _build_ivf(key, xb, nlist, bt)
        ivf = faiss.extract_index_ivf(index)
        default_nprobe = ivfpq_nprobe(nlist, defaults)
        for nprobe in sorted({default_nprobe, default_nprobe // 2, default_nprobe * 2}):
            params = faiss.SearchParametersIVF(nprobe=nprobe)
            kr = K * defaults.rerank

            def search(v, params=params, kr=kr):
                _, cand = index.search(v, kr, params=params)
                c = cand[0][cand[0] >= 0]
                sims = xb[c] @ v[0]
                return c[np.argsort(-sims)[:K]]

            res = timed_queries(search, q)
            yield row(
                "faiss-ivfpq+rerank", data,
                {"factory": key, "nlist": ivf.nlist, "nprobe": nprobe, "pq_bytes": pq_m,
                 "nbits": nbits, "rerank": defaults.rerank},
                res, truth, build_s, nbytes, build_threads=bt,
                songscape_default=nprobe == default_nprobe,
                note=f"plus {4 * dim} B/vector of float32 rows on disk (memory-mapped), "
                f"{kr} rows read per query",
            )  # fmt: skip
        del index

    # Compressed, all in RAM: PQ candidates re-ranked from SQ8 codes (if <= 300 B/vector).
    if "refine" not in args.skip:
        nlist, pq_m, nbits, dim_in = ivfpq_layout(n, dim, defaults)
        if dim + pq_m + 8 > 300:
            yield {"index": "faiss-ivfpq+refine-sq8", "data": data["name"], "n": n, "dim": dim,
                   "skipped": f"SQ8 codes alone take {dim} B/vector (> 300)"}  # fmt: skip
        else:
            key = f"IVF{nlist},PQ{pq_m}x{nbits}np,Refine(SQ8)"
            if dim_in != dim:
                key = f"PCAR{dim_in},{key}"
            index, build_s, nbytes = _build_ivf(key, xb, nlist, bt)
            nprobe = ivfpq_nprobe(nlist, defaults)
            params = faiss.IndexRefineSearchParameters(
                k_factor=defaults.rerank, base_index_params=faiss.SearchParametersIVF(nprobe=nprobe)
            )
            res = timed_queries(lambda v: index.search(v, K, params=params)[1][0], q)
            yield row("faiss-ivfpq+refine-sq8", data,
                      {"factory": key, "nprobe": nprobe, "k_factor": defaults.rerank},
                      res, truth, build_s, nbytes, build_threads=bt)  # fmt: skip
            del index


def bench_hnswlib(data: dict, xb: np.ndarray, q: np.ndarray, truth: np.ndarray, args) -> Iterator:
    try:
        import hnswlib
    except ImportError:
        yield {"index": "hnswlib", "data": data["name"], "n": data["n"], "dim": data["dim"],
               "skipped": "hnswlib is not installed (pip install -e '.[dev]')"}  # fmt: skip
        return
    from songscape.search.index import IndexParams

    defaults = IndexParams()
    n, dim = xb.shape
    index = hnswlib.Index(space="ip", dim=dim)
    index.init_index(
        max_elements=n, M=defaults.hnsw_m, ef_construction=defaults.hnsw_ef_construction,
        random_seed=1,
    )  # fmt: skip
    index.set_num_threads(args.build_threads)
    t0 = time.perf_counter()
    index.add_items(xb, np.arange(n))
    build_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hnswlib.bin"
        index.save_index(str(path))
        nbytes = path.stat().st_size
    index.set_num_threads(1)
    for ef in sorted({defaults.hnsw_ef_search, *args.ef_search}):
        index.set_ef(ef)
        res = timed_queries(lambda v: index.knn_query(v, k=K)[0][0].astype(np.int64), q)
        params = {"M": defaults.hnsw_m, "ef_construction": defaults.hnsw_ef_construction, "ef": ef}
        yield row(
            "hnswlib", data, params, res, truth, build_s, nbytes,
            build_threads=args.build_threads, version=_version("hnswlib"),
        )  # fmt: skip


def bench_songscape(data: dict, xb: np.ndarray, q: np.ndarray, truth: np.ndarray, args) -> Iterator:
    """``VectorIndex.search`` end to end on a temporary library holding ``xb``."""
    from songscape.catalog.store import LibraryStore
    from songscape.search.index import IndexParams, VectorIndex

    n, dim = xb.shape
    with tempfile.TemporaryDirectory() as tmp, LibraryStore(Path(tmp) / "lib") as store:
        now = time.time()
        with store.transaction() as conn:
            conn.executemany(
                "INSERT INTO tracks(id, content_hash, path, status, added_at, updated_at) "
                "VALUES (?, ?, ?, 'ok', ?, ?)",
                ((f"{i:08x}", f"h{i}", f"/m/{i}.ogg", now, now) for i in range(n)),
            )
            conn.executemany(
                "INSERT INTO embeddings VALUES (?, 'bench', '1', ?, ?)",
                ((f"{i:08x}", dim, xb[i].astype("<f4").tobytes()) for i in range(n)),
            )
            store.bump_catalog_version(conn)
        kind = "hnsw" if n > IndexParams().exact_max else "exact"
        params = IndexParams(kind=kind, build_threads=args.build_threads)
        t0 = time.perf_counter()
        index = VectorIndex.open(store, "bench", params, version="1")
        build_s = time.perf_counter() - t0
        nbytes = faiss_bytes(index._index)

        def search(v):
            return np.array([int(t, 16) for t, _ in index.search(v[0], K)], dtype=np.int64)

        res = timed_queries(search, q)
        disk = sum(p.stat().st_size for p in index.path.iterdir())
        shown = {k: v for k, v in params.to_json().items() if k.startswith("hnsw")}
        yield row("songscape", data, {"kind": index.kind, **shown}, res, truth, build_s, nbytes,
                  build_threads=args.build_threads, disk_bytes_per_vector=round(disk / n, 1),
                  note="VectorIndex.open (catalog read + build + write) and .search (catalog "
                  "version check, id mapping) on a temporary library")  # fmt: skip


#: What the defaults are judged against (1M x 200-d, one core): HNSW recall, speed, memory;
#: the compressed kind's memory and recall.
TARGETS = {"recall_at_10": 0.99, "qps": 3000, "p99_ms": 1.0, "bytes_per_vector": 1200,
           "compressed_bytes_per_vector": 300, "compressed_recall_at_10": 0.95}  # fmt: skip


def verdict(rows: list[dict]) -> dict | None:
    """One line judging songscape's default HNSW and IVF-PQ rows of a data set."""
    hnsw = [r for r in rows if r.get("index") == "faiss-hnsw" and r.get("songscape_default")]
    comp = [
        r for r in rows if r.get("index") == "faiss-ivfpq+rerank" and r.get("songscape_default")
    ]
    if not hnsw and not comp:
        return None
    t = TARGETS
    out: dict = {"verdict": rows[0]["data"], "n": rows[0]["n"], "dim": rows[0]["dim"],
                 "targets": t}  # fmt: skip
    if hnsw:
        h = hnsw[0]
        out["hnsw_default"] = {
            "params": h["params"],
            "recall_ok": bool(h["recall_at_10"] >= t["recall_at_10"]),
            "qps_ok": bool(h["qps"] >= t["qps"]),
            "p99_ok": bool(h["p99_ms"] < t["p99_ms"]),
            "memory_ok": bool(h["bytes_per_vector"] <= t["bytes_per_vector"]),
        }
    if comp:
        c = comp[0]
        out["compressed_default"] = {
            "params": c["params"],
            "recall_ok": bool(c["recall_at_10"] >= t["compressed_recall_at_10"]),
            "memory_ok": bool(c["bytes_per_vector"] <= t["compressed_bytes_per_vector"]),
        }
    return out


def run_dataset(name: str, x: np.ndarray, nq: int, args, emit: Callable[[dict], None]) -> None:
    xb, q = x[:-nq], x[-nq:]
    data = {"name": name, "n": len(xb), "dim": xb.shape[1]}
    faiss.omp_set_num_threads(args.build_threads)
    gt = faiss.IndexFlatIP(xb.shape[1])
    gt.add(xb)
    truth = gt.search(q, K)[1]
    del gt
    runners = [bench_faiss]
    if "hnswlib" not in args.skip:
        runners.append(bench_hnswlib)
    if len(xb) <= args.songscape_max and "songscape" not in args.skip:
        runners.append(bench_songscape)
    rows = []
    for runner in runners:
        for out in runner(data, xb, q, truth, args):
            out["loadavg_1min"] = round(os.getloadavg()[0], 2)
            emit(out)
            rows.append(out)
    judged = verdict([r for r in rows if "skipped" not in r])
    if judged:
        emit(judged)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--dims", type=int, nargs="+", default=[200, 753])
    ap.add_argument("--quick", action="store_true", help="100k vectors only")
    ap.add_argument("--queries", type=int, default=2000, help="held-out queries per data set")
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--ef-search", type=int, nargs="*", default=[32, 48, 96, 128],
                    help="efSearch values besides songscape's default")  # fmt: skip
    ap.add_argument("--hnsw-m", type=int, nargs="*", default=None,
                    help="HNSW M values (default: songscape's and 16)")  # fmt: skip
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["hnswlib", "ivfpq", "refine", "songscape", "hnsw-other-m",
                             "synthetic"])  # fmt: skip
    ap.add_argument("--songscape-max", type=int, default=100_000,
                    help="largest n also measured through VectorIndex")  # fmt: skip
    ap.add_argument("--library", help="also measure a library's real embeddings")
    ap.add_argument("--model", help="embedding model of --library (default: its default model)")
    ap.add_argument("--json-out", help="also write the lines to this file")
    ap.add_argument("--out", type=Path, default=None, help="result JSON (merged, see above)")
    args = ap.parse_args(argv)
    sizes = [100_000] if args.quick else args.sizes

    lines: list[dict] = []

    def emit(obj: dict) -> None:
        lines.append(obj)
        print(json.dumps(obj), flush=True)
        if args.json_out:
            Path(args.json_out).write_text("".join(json.dumps(o) + "\n" for o in lines))

    if args.library:
        x, model = library_vectors(args.library, args.model)
        rng = np.random.default_rng(0)
        x = x[rng.permutation(len(x))]
        nq = min(args.queries, len(x) // 5)
        if nq < 10:
            emit({"data": f"real:{model}", "n": len(x), "skipped": "fewer than 50 vectors"})
        else:
            run_dataset(f"real:{model}", x, nq, args, emit)
    else:
        emit({"data": "real", "skipped": "no --library given: real embeddings not measured "
              "(run with --library DIR for a library's vectors)"})  # fmt: skip
    if "synthetic" not in args.skip:
        for dim in args.dims:
            for n in sizes:
                x = clustered(n + args.queries, dim, seed=n + dim)
                run_dataset("clustered", x, args.queries, args, emit)
                del x
    save(lines, args)
    return 0


def save(lines: list[dict], args) -> None:
    """Merge this run's rows into the result file, data set by data set."""
    when = machine(build_threads=args.build_threads, queries=args.queries)
    run = {"date": when["date"], "loadavg_1min": when["loadavg_1min"],
           "build_threads": args.build_threads}  # fmt: skip
    fresh = [{**r, "run": run} for r in lines if "index" in r and "skipped" not in r]
    measured = {(r["data"], r["n"], r["dim"]) for r in fresh}
    path = args.out or RESULTS_DIR / "search.json"
    kept = json.loads(path.read_text())["results"]["rows"] if path.is_file() else []
    rows = fresh + [r for r in kept if (r["data"], r["n"], r["dim"]) not in measured]
    rows.sort(key=lambda r: (-r["n"], r["dim"]))  # stable: the run's order within a data set
    written = write_results(__file__, {"rows": rows}, when, path,
                            provenance="each row's 'run' says when it was measured")
    print(json.dumps({"written": str(written)}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
