"""Time songscape's ALS recommender and score every recommender on HetRec.

* ``lastfm360k-synthetic``: a seeded random matrix with the shape of Last.fm 360K
  (358,868 users x 160,112 items, ~17.5M non-zeros) and a power-law item popularity
  (Zipf exponent ``--zipf``, 0.9 by default) and log-normal user activity
  (:func:`songscape.synthetic.listening.synthetic_lastfm`); the real file is not
  available here. Timed: songscape's
  :class:`~songscape.recommend.factorization.ALSRecommender` with its defaults (bm25
  confidence, 64 factors, implicit's CPU conjugate-gradient ALS) on ``--threads``
  threads: ``fit_s`` for ``--iterations`` iterations, ``weighting_s`` (the bm25
  confidence alone) and ``s_per_iteration`` = (fit - weighting) / iterations, in wall
  seconds and (``cpu_s_per_iteration``) in CPU seconds of the process, the figure that a
  busy shared machine disturbs least (with one thread the two agree on an idle one). The
  anchor is implicit's own benchmark (~1.4 s per iteration on the real Last.fm 360K, CPU;
  a many-core machine). ``--scale s`` shrinks users, items and non-zeros by ``s``
  (reported) when the full size would take too long on a small machine. In the same run,
  ``implicit_direct`` times ``implicit``'s ALS called directly on log1p confidences (what
  this script timed before; ``--skip-implicit`` leaves it out), so the two compare on
  equal terms.
* ``hetrec2k``: the same timing on Last.fm HetRec 2011 (1,892 x 17,632, 92,834
  non-zeros), the fit seconds of every songscape recommender on all of it, and
  ``quality``: :func:`songscape.recommend.holdout.evaluate` (random 20 % holdout per user,
  seed 0, k = 10: P/R/NDCG/MAP@10, coverage, novelty, fit seconds on the training part)
  of ``popularity`` and :data:`QUALITY_MODELS` -- what ``songscape evaluate-recs
  user_artists.dat --models als,bpr,bpr-pop,item2vec,hybrid`` prints.

Result: ``bench/results/recs.json`` (``--out``); each part is also printed as a JSON line.

Usage: ``python bench/recs.py [--scale 1.0] [--iterations 3] [--threads 1] [--skip-big]
[--skip-quality]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from record import machine, write_results
from songscape.synthetic.listening import synthetic_lastfm

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ANCHOR_S_PER_ITER = 1.4
#: What ``songscape evaluate-recs`` was run with for docs/recommend.md (popularity is always added).
QUALITY_MODELS = ("als", "bpr", "bpr-pop", "item2vec", "hybrid")


def time_als(matrix: sp.csr_matrix, iterations: int, threads: int) -> dict:
    """Fit songscape's ALSRecommender (its defaults) and time it (see the docstring)."""
    from songscape.recommend.factorization import ALSRecommender, confidence

    model = ALSRecommender(iterations=iterations, threads=threads, seed=0)
    t0, c0 = time.perf_counter(), time.process_time()
    confidence(matrix, model.weighting, model.alpha)
    weighting_s, weighting_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(matrix)
    fit_s, fit_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return {
        "model": "songscape ALSRecommender",
        "weighting": model.weighting,
        "factors": model.factors,
        "iterations": iterations,
        "threads": threads,
        "fit_s": round(fit_s, 3),
        "weighting_s": round(weighting_s, 3),
        "s_per_iteration": round((fit_s - weighting_s) / iterations, 3),
        "cpu_s_per_iteration": round((fit_cpu_s - weighting_cpu_s) / iterations, 3),
    }


def time_implicit_log1p(matrix: sp.csr_matrix, iterations: int, threads: int) -> dict:
    """``implicit``'s ALS called directly on log1p(count) confidences, 64 factors: what this
    script timed before it timed songscape's model, kept to compare within one run."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    conf = matrix.copy()
    conf.data = np.log1p(conf.data).astype(np.float32)
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=64, regularization=0.05, iterations=iterations,
                                        random_state=0, num_threads=threads)  # fmt: skip
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(conf, show_progress=False)
        fit_s, fit_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return {"model": "implicit AlternatingLeastSquares, log1p confidence", "threads": threads,
            "s_per_iteration": round(fit_s / iterations, 3),
            "cpu_s_per_iteration": round(fit_cpu_s / iterations, 3)}  # fmt: skip


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of Last.fm 360K's size")
    parser.add_argument("--zipf", type=float, default=0.9, help="item popularity exponent")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="ALS threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-big", action="store_true", help="only the HetRec part")
    parser.add_argument("--skip-quality", action="store_true", help="no HetRec evaluation")
    parser.add_argument("--skip-implicit", action="store_true",
                        help="do not also time implicit directly (log1p) on the big matrix")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    results: dict = {}

    if not args.skip_big:
        t0 = time.perf_counter()
        m = synthetic_lastfm(args.scale, args.zipf, args.seed)
        gen_s = time.perf_counter() - t0
        listeners = np.diff(m.tocsc().indptr)
        top1 = np.sort(listeners)[::-1][: max(1, m.shape[1] // 100)].sum() / max(m.nnz, 1)
        result = time_als(m, args.iterations, args.threads)
        if not args.skip_implicit:
            result["implicit_direct"] = time_implicit_log1p(m, args.iterations, args.threads)
        results["lastfm360k_synthetic"] = {
            "data": "lastfm360k-synthetic",
            "scale": args.scale,
            "users": m.shape[0],
            "items": m.shape[1],
            "nnz": int(m.nnz),
            "zipf": args.zipf,
            "top1pct_items_share_of_nnz": round(float(top1), 3),
            "generate_s": round(gen_s, 2),
            **result,
            "anchor_s_per_iteration": ANCHOR_S_PER_ITER,
            "anchor": "implicit's benchmark, ALS (CG) 64 factors on Last.fm 360K, CPU",
        }  # fmt: skip
        emit(results["lastfm360k_synthetic"])
        del m

    path = args.data_dir / "lastfm_hetrec2011_2k" / "user_artists.dat"
    if path.is_file():
        from songscape.recommend.data import read_hetrec
        from songscape.recommend.holdout import evaluate
        from songscape.recommend.recommenders import MODELS

        inter = read_hetrec(path)
        result = time_als(inter.matrix, max(args.iterations, 5), args.threads)
        fits = {}
        for name, cls in MODELS.items():
            t0 = time.perf_counter()
            cls(seed=0).fit(inter)
            fits[name] = round(time.perf_counter() - t0, 3)
        results["hetrec2k"] = {"data": "hetrec2k", "users": inter.n_users,
                               "items": inter.n_items, "nnz": inter.nnz, **result,
                               "model_fit_s": fits}  # fmt: skip
        if not args.skip_quality:
            rows = evaluate(inter, QUALITY_MODELS, k=10, seed=0, protocol="random")
            results["hetrec2k"]["quality"] = [
                {key: round(v, 4) if isinstance(v, float) else v for key, v in row.items()}
                for row in rows
            ]
        emit(results["hetrec2k"])
    else:
        results["hetrec2k"] = {"data": "hetrec2k", "skipped": f"no {path}"}
    conditions = machine(threads=args.threads, omp_num_threads=os.environ["OMP_NUM_THREADS"])
    written = write_results(__file__, results, conditions, args.out)
    emit({"written": str(written)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
