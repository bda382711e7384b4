"""Measure segment-level embeddings (issue 20): partial matches by window vectors, and the
window index's size and speed.

**Partial matches** (real music, ``../shared/data`` or ``--data-dir``): the library holds
the *first half* of each of the 10 Jamendo songs (jamendolyrics_subset10, full songs) and
of each of the 200 Emotify one-minute excerpts (emotify_half): 210 tracks. The model
(``--model``, default musicnn-msd) runs on each first half as ingest would run on a file
holding only it: the track vector is the mean of its patch vectors, the window vectors
those of :func:`songscape.models.windows.window_vectors` (10 s every 5 s). The queries are
``--clip-s`` second clips cut at random positions (seed 0) from the *second half*, which
the library does not hold: 5 per Jamendo song, 1 per Emotify excerpt (250 clips), each run
through the model on its own. The right answer is the track of the clip's song. Each
clip's vector (the mean of its patches) is compared with

* ``track``: every track vector (cosine), what ``similar --file`` did before;
* ``window-max``: every window, a track scoring its best window's cosine (the default);
* ``window-top2``: the mean of a track's best two windows;
* ``blend``: the mean of ``track`` and ``window-max``.

Reported per method: top-1 and top-5 rate (95 % Wilson intervals), mean reciprocal rank,
and the window-max method's window error (the best window's start against the clip's
position, which lies in the other half: how far from the end of the first half).

**Size and speed at 10,000 tracks** (synthetic vectors): a synthetic library
(:func:`songscape.synthetic.catalogs.build_synthetic_library`, 10,000 tracks of 60-420 s)
gets window vectors (one per 5 s of each track: its track vector plus noise, 200-d), and
the :class:`~songscape.search.window_index.WindowIndex` is built from the catalog. Reported:
windows, float32 megabytes, index files on disk, build seconds, catalog growth, and the
latency (p50/p95/max ms over ``--queries`` random queries, one thread) of a window search
for 10 tracks (:func:`~songscape.search.window_index.search_tracks_by_windows`) next to the
track index's search for 10 tracks; with ``--hnsw`` the same windows in an HNSW graph
(build seconds, latency, and how many of the exact search's 10 tracks it finds).

Result: ``bench/results/segments.json`` (a run of one part keeps the other part's
results from the file). Usage: ``python bench/segments.py [--parts
quality speed] [--clip-s 10] [--tracks 10000] [--queries 200] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from tqdm import tqdm

from record import RESULTS_DIR, machine, write_results
from songscape.audio.decode import load_audio
from songscape.evaluation.intervals import wilson_interval
from songscape.models.registry import get_spec, load_model
from songscape.models.windows import WINDOW_HOP_S, WINDOW_S, window_vectors
from songscape.vectors import unit_rows

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
METHODS = ("track", "window-max", "window-top2", "blend")
PARTS = ("quality", "long", "speed")


def library_files(data: Path) -> list[Path]:
    jamendo = sorted((data / "jamendolyrics_subset10" / "audio").glob("*.ogg"))
    emotify = sorted((data / "emotify_half" / "audio").glob("*/*.ogg"))
    return jamendo + emotify


def patch_run(model, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(patch vectors, patch starts s, patch length s)`` of mono audio at the model's rate."""
    out = model.run(y)
    return out.patch_embeddings, out.patch_times_s, out.patch_duration_s


def cached(cache: Path, key: str, compute):
    """``compute()``'s arrays, stored in ``cache/<hash>.npz`` (re-runs skip the model)."""
    path = cache / (hashlib.blake2b(key.encode(), digest_size=12).hexdigest() + ".npz")
    if path.is_file():
        with np.load(path) as z:
            return z["x"], z["t"], float(z["d"])
    x, t, d = compute()
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x, t=t, d=d)
    return x, t, d


def rank_figures(rank: np.ndarray) -> dict:
    """Top-1/top-5 rates (Wilson intervals) and MRR of the right tracks' ranks (1 = first)."""
    n = len(rank)
    top1, top5 = int((rank == 1).sum()), int((rank <= 5).sum())
    return {
        "top1": round(top1 / n, 4), "top1_ci": wilson_interval(top1, n),
        "top5": round(top5 / n, 4), "top5_ci": wilson_interval(top5, n),
        "mrr": round(float(np.mean(1.0 / rank)), 4), "n": n,
    }  # fmt: skip


def quality(data: Path, model_name: str, clip_s: float, cache: Path) -> dict:
    spec = get_spec(model_name)
    model = load_model(model_name)
    sr = spec.sample_rate
    rng = np.random.default_rng(0)
    tracks, windows, owners, starts = [], [], [], []
    clips, truth, clip_pos = [], [], []
    files = library_files(data)
    for ti, f in enumerate(tqdm(files, desc="model runs")):
        y, _ = load_audio(f, sr=sr, mono=True)
        half = len(y) // 2
        name = str(f.relative_to(data))  # emotify names repeat across genre folders
        key = f"{spec.name}|{spec.version}|{name}|first-half|{half}"
        x, t, d = cached(cache, key, lambda y=y, half=half: patch_run(model, y[:half]))
        tracks.append(x.mean(axis=0))
        w = window_vectors(x, t, d)
        windows.append(w.vectors)
        owners += [ti] * w.n
        starts += w.starts_s.tolist()
        n_clips = 5 if "jamendolyrics" in str(f) else 1
        n = int(clip_s * sr)
        for _ in range(n_clips):
            if len(y) - half - n <= 0:
                continue
            s = half + int(rng.integers(0, len(y) - half - n))
            key = f"{spec.name}|{spec.version}|{name}|clip|{s}|{n}"
            cx, _, _ = cached(cache, key, lambda clip=y[s:s + n]: patch_run(model, clip))
            clips.append(cx.mean(axis=0))
            truth.append(ti)
            clip_pos.append((s / sr, half / sr))
    T = unit_rows(np.stack(tracks).astype(np.float32))
    W = unit_rows(np.concatenate(windows).astype(np.float32))
    owner = np.array(owners)
    wstart = np.array(starts)
    C = unit_rows(np.stack(clips).astype(np.float32))
    truth_a = np.array(truth)
    n_tracks = len(T)

    st = C @ T.T  # (clips, tracks)
    sw = C @ W.T  # (clips, windows)
    smax = np.full((len(C), n_tracks), -np.inf)
    top2 = np.full((len(C), n_tracks), -np.inf)
    best_window = np.zeros((len(C), n_tracks), dtype=np.int64)
    for ti in range(n_tracks):
        cols = np.flatnonzero(owner == ti)
        part = sw[:, cols]
        order = np.argsort(-part, axis=1)
        smax[:, ti] = np.take_along_axis(part, order[:, :1], axis=1)[:, 0]
        top2[:, ti] = np.take_along_axis(part, order[:, :2], axis=1).mean(axis=1)
        best_window[:, ti] = cols[order[:, 0]]
    scores = {"track": st, "window-max": smax, "window-top2": top2, "blend": (st + smax) / 2}
    jamendo = np.array(["jamendolyrics" in str(files[t]) for t in truth])
    rows: dict = {}
    for name in METHODS:
        s = scores[name]
        right = s[np.arange(len(C)), truth_a]
        rank = 1 + (s > right[:, None]).sum(axis=1)
        rows[name] = rank_figures(rank)
        rows[name]["jamendo"] = rank_figures(rank[jamendo])
        rows[name]["emotify"] = rank_figures(rank[~jamendo])
        print(name, rows[name], file=sys.stderr)
    # Where the right track's best window lies (the clip itself is in the other half).
    right_windows = best_window[np.arange(len(C)), truth_a]
    from_end = [half - (wstart[w] + WINDOW_S) for w, (_, half) in zip(right_windows, clip_pos,
                                                                     strict=True)]  # fmt: skip
    t_ok = (st.argmax(1) == truth_a).astype(int)
    w_ok = (smax.argmax(1) == truth_a).astype(int)
    both = {
        "track_wrong_window_right": int(((t_ok == 0) & (w_ok == 1)).sum()),
        "track_right_window_wrong": int(((t_ok == 1) & (w_ok == 0)).sum()),
    }  # fmt: skip
    return {
        "model": spec.name, "model_version": spec.version,
        "window_s": WINDOW_S, "window_hop_s": WINDOW_HOP_S, "clip_s": clip_s,
        "tracks": n_tracks, "windows": int(len(W)), "clips": int(len(C)),
        "clips_jamendo": int(jamendo.sum()),
        "methods": rows, "disagreements": both,
        "best_window_before_half_end_s": {
            "median": round(float(np.median(from_end)), 1),
            "p90": round(float(np.percentile(from_end, 90)), 1)},
    }  # fmt: skip


LONG_METHODS = ("track", "mean-window-max", "own-windows", "own-windows+mean")


def long_clips(data: Path, model_name: str, clip_s: float, cache: Path) -> dict:
    """Long clips (``clip_s``, default 30 s) not in the library: the clip's mean vector
    against every window (what ``similar --file`` does for a clip of one window) or the
    clip's *own* windows (10 s every 5 s, as the library's) against every window, a track
    scoring its best (clip window, track window) pair (what it does for a longer clip).

    The library is the first halves of ``quality``'s (same model runs, from the cache);
    the clips come from the second halves: 5 per Jamendo song at random positions
    (seed 1), and each Emotify excerpt's whole second half (30 s; an excerpt whose half
    is under 90 % of ``clip_s`` is left out).
    """
    spec = get_spec(model_name)
    model = load_model(model_name)
    sr = spec.sample_rate
    rng = np.random.default_rng(1)
    tracks, windows, owners = [], [], []
    clip_means, clip_windows, truth, n_own = [], [], [], []
    files = library_files(data)
    for ti, f in enumerate(tqdm(files, desc="model runs (long clips)")):
        y, _ = load_audio(f, sr=sr, mono=True)
        half = len(y) // 2
        name = str(f.relative_to(data))
        key = f"{spec.name}|{spec.version}|{name}|first-half|{half}"
        x, t, d = cached(cache, key, lambda y=y, half=half: patch_run(model, y[:half]))
        tracks.append(x.mean(axis=0))
        w = window_vectors(x, t, d)
        windows.append(w.vectors)
        owners += [ti] * w.n
        jamendo = "jamendolyrics" in str(f)
        n = min(int(clip_s * sr), len(y) - half)
        if n < 0.9 * clip_s * sr:
            continue
        for _ in range(5 if jamendo else 1):
            s = half + (int(rng.integers(0, len(y) - half - n)) if len(y) - half > n else 0)
            key = f"{spec.name}|{spec.version}|{name}|clip|{s}|{n}"
            cx, ct, cd = cached(cache, key, lambda clip=y[s:s + n]: patch_run(model, clip))
            own = window_vectors(cx, ct, cd)
            clip_means.append(cx.mean(axis=0))
            clip_windows.append(unit_rows(own.vectors.astype(np.float32)))
            n_own.append(own.n)
            truth.append(ti)
    T = unit_rows(np.stack(tracks).astype(np.float32))
    W = unit_rows(np.concatenate(windows).astype(np.float32))
    first = np.flatnonzero(np.r_[True, np.diff(np.array(owners)) != 0])  # each track's first window
    M = unit_rows(np.stack(clip_means).astype(np.float32))
    truth_a = np.array(truth)
    mean_windows = np.maximum.reduceat(M @ W.T, first, axis=1)
    own = np.stack([np.maximum.reduceat((Q @ W.T).max(axis=0), first) for Q in clip_windows])
    scores = {"track": M @ T.T, "mean-window-max": mean_windows, "own-windows": own,
              "own-windows+mean": np.maximum(own, mean_windows)}  # fmt: skip
    jamendo = np.array(["jamendolyrics" in str(files[t]) for t in truth])
    rows: dict = {}
    ranks: dict = {}
    for name in LONG_METHODS:
        sc = scores[name]
        right = sc[np.arange(len(M)), truth_a]
        ranks[name] = rank = 1 + (sc > right[:, None]).sum(axis=1)
        rows[name] = rank_figures(rank)
        rows[name]["jamendo"] = rank_figures(rank[jamendo])
        rows[name]["emotify"] = rank_figures(rank[~jamendo])
        print(name, rows[name], file=sys.stderr)
    # Paired: clips ranked right by one of the two and not the other (exact sign test).
    from scipy.stats import binomtest

    paired = {}
    for top in (1, 5):
        mean_ok, own_ok = ranks["mean-window-max"] <= top, ranks["own-windows"] <= top
        b, c = int((~mean_ok & own_ok).sum()), int((mean_ok & ~own_ok).sum())
        p = round(float(binomtest(b, b + c).pvalue), 4) if b + c else 1.0
        paired[f"top{top}"] = {"own_only": b, "mean_only": c, "sign_test_p": p}
    mean_ok, own_ok = ranks["mean-window-max"] == 1, ranks["own-windows"] == 1
    return {
        "model": spec.name, "model_version": spec.version, "clip_s": clip_s,
        "window_s": WINDOW_S, "window_hop_s": WINDOW_HOP_S,
        "tracks": len(T), "windows": int(len(W)), "clips": int(len(M)),
        "clips_jamendo": int(jamendo.sum()),
        "clip_windows": {"median": float(np.median(n_own)), "min": int(min(n_own)),
                         "max": int(max(n_own))},
        "methods": rows, "paired_own_vs_mean": paired,
        "disagreements": {"mean_wrong_own_right": int((~mean_ok & own_ok).sum()),
                          "mean_right_own_wrong": int((mean_ok & ~own_ok).sum())},
    }  # fmt: skip


def speed(n_tracks: int, n_queries: int, hnsw: bool = False, seed: int = 0) -> dict:
    from songscape.catalog import windows as window_rows
    from songscape.catalog.model_outputs import embedding_matrix
    from songscape.catalog.store import CATALOG_FILE, LibraryStore
    from songscape.catalog.vectors import healthy_filter_facts
    from songscape.search.index import VectorIndex
    from songscape.search.index_params import IndexParams
    from songscape.search.window_index import WindowIndex, search_tracks_by_windows
    from songscape.synthetic.catalogs import build_synthetic_library

    spec = get_spec("musicnn-msd")
    rng = np.random.default_rng(seed)
    out: dict = {"tracks": n_tracks, "dim": spec.embedding_dim, "queries": n_queries}
    with tempfile.TemporaryDirectory(prefix="segments-bench-") as tmp:
        root = Path(tmp) / "lib"
        build_synthetic_library(root, n_tracks, seed=seed)
        before = (root / CATALOG_FILE).stat().st_size
        t0 = time.perf_counter()
        n_windows = 0
        with LibraryStore(root) as store:
            ids, _, vectors = embedding_matrix(store.conn, spec.name)
            durations = {r["id"]: r["duration_s"] for r in healthy_filter_facts(store.conn)}
            with store.transaction() as conn:
                for tid, v in tqdm(list(zip(ids, vectors, strict=True)), desc="window rows",
                                   leave=False):  # fmt: skip
                    n = max(1, int(durations[tid] // WINDOW_HOP_S) - 1)
                    x = v + 0.3 * rng.standard_normal((n, len(v))).astype(np.float32)
                    window_rows.put_windows(conn, tid, spec.name, spec.version,
                                            np.arange(n) * WINDOW_HOP_S, x, WINDOW_S,
                                            WINDOW_HOP_S)  # fmt: skip
                    n_windows += n
                store.bump_catalog_version(conn)
        out["write_windows_s"] = round(time.perf_counter() - t0, 1)
        out["windows"] = n_windows
        out["windows_per_track"] = round(n_windows / n_tracks, 1)
        out["float32_mb"] = round(n_windows * spec.embedding_dim * 4 / 2**20, 1)
        out["catalog_growth_mb"] = round(((root / CATALOG_FILE).stat().st_size - before) / 2**20, 1)
        with LibraryStore(root) as store:
            t0 = time.perf_counter()
            windex = WindowIndex.open(store, spec.name)
            out["build_s"] = round(time.perf_counter() - t0, 1)
            out["kind"] = windex.kind
            files = [p for p in windex.path.iterdir() if p.is_file()]
            out["index_files_mb"] = round(sum(p.stat().st_size for p in files) / 2**20, 1)
            t0 = time.perf_counter()
            WindowIndex.open(store, spec.name)
            out["reopen_s"] = round(time.perf_counter() - t0, 2)
            tindex = VectorIndex.open(store, spec.name)
            noise = 0.5 / np.sqrt(spec.embedding_dim)  # queries near real tracks
            queries = unit_rows(windex_sample(store, spec.name, n_queries, rng) + noise
                                * rng.standard_normal((n_queries, spec.embedding_dim)))
            exact = timed(out, "windows_k10", queries,
                          lambda q: search_tracks_by_windows(windex, q, 10))  # fmt: skip
            timed(out, "tracks_k10", queries, lambda q: tindex.search(q, 10))
            if hnsw:  # the same windows in an HNSW graph (IndexParams defaults)
                t0 = time.perf_counter()
                hindex = WindowIndex.open(store, spec.name, IndexParams(kind="hnsw"))
                out["hnsw_build_s"] = round(time.perf_counter() - t0, 1)
                found = timed(out, "hnsw_windows_k10", queries,
                              lambda q: search_tracks_by_windows(hindex, q, 10))  # fmt: skip
                overlap = [len({m.track_id for m in a} & {m.track_id for m in b}) / 10
                           for a, b in zip(exact, found, strict=True)]  # fmt: skip
                out["hnsw_recall_at_10"] = round(float(np.mean(overlap)), 4)
    return out


def timed(out: dict, name: str, queries: np.ndarray, run) -> list:
    """Run ``run`` on each query (after one warm-up), store p50/p95/max ms in
    ``out[name + "_ms"]``; returns the answers."""
    run(queries[0])
    times, answers = [], []
    for q in queries:
        t0 = time.perf_counter()
        answers.append(run(q))
        times.append(1000 * (time.perf_counter() - t0))
    out[name + "_ms"] = {"p50": round(float(np.percentile(times, 50)), 2),
                         "p95": round(float(np.percentile(times, 95)), 2),
                         "max": round(float(np.max(times)), 2)}  # fmt: skip
    print(name, out[name + "_ms"], file=sys.stderr)
    return answers


def windex_sample(store, model: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` track vectors of the library (queries near real rows)."""
    from songscape.catalog.vectors import read_vectors

    snap = read_vectors(store, model, get_spec(model).version, 0, vectors=True)
    return snap.vectors[rng.integers(0, len(snap.ids), n)]


def measured_by(old: dict, part: str) -> dict:
    """The command and conditions of the run that measured ``part`` of the result file
    ``old`` (``old`` itself, or the earlier run it kept the part from)."""
    c = old["conditions"]
    if part in c.get("parts", []):
        return {"command": old["command"], **{k: v for k, v in c.items()
                                              if k not in ("earlier", "earlier_parts")}}
    if part in c.get("earlier_parts", {}):
        return c["earlier_parts"][part]
    return c.get("earlier", {})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--model", default="musicnn-msd")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--clip-s", type=float, default=10.0)
    p.add_argument("--long-clip-s", type=float, default=30.0,
                   help="clip length of the long part (clips of several windows)")
    p.add_argument("--tracks", type=int, default=10_000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--hnsw", action="store_true",
                   help="also build the windows as an HNSW graph: build time, speed, recall")
    p.add_argument("--cache", type=Path,
                   default=Path(os.environ.get("SONGSCAPE_CACHE", Path.home() / ".cache"))
                   / "songscape-bench" / "segments")  # fmt: skip
    p.add_argument("--out")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    results: dict = {}
    if "quality" in args.parts:
        results["quality"] = quality(args.data_dir, args.model, args.clip_s, args.cache)
    if "long" in args.parts:
        results["long"] = long_clips(args.data_dir, args.model, args.long_clip_s, args.cache)
    if "speed" in args.parts:
        results["speed"] = speed(args.tracks, args.queries, hnsw=args.hnsw)
        print(results["speed"], file=sys.stderr)
    conditions = machine(threads=1, seed=0, data=str(args.data_dir), parts=args.parts)
    # A run of some parts keeps the other parts of the file it replaces, each with the
    # command and conditions of the run that measured it (``conditions.earlier_parts``).
    target = Path(args.out) if args.out else RESULTS_DIR / "segments.json"
    if target.is_file() and set(args.parts) != set(PARTS):
        old = json.loads(target.read_text())
        conditions["earlier_parts"] = {}
        for part, value in old["results"].items():
            if part in results:
                continue
            results[part] = value
            conditions["earlier_parts"][part] = measured_by(old, part)
    path = write_results(__file__, results, conditions, out=args.out)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
