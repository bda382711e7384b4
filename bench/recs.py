"""Time ALS training; print one JSON line per measurement.

* ``lastfm360k-synthetic``: a seeded random matrix with the shape of Last.fm 360K
  (358,868 users x 160,112 items, ~17.5M non-zeros) and a power-law item popularity
  (Zipf exponent ``--zipf``, 0.9 by default) and log-normal user activity; the real
  file is not available here. ALS (implicit, CPU, conjugate gradient, 64 factors)
  seconds per iteration, from implicit's per-iteration callback, against the anchor of
  implicit's own benchmark (~1.4 s per iteration on Last.fm 360K, CPU; a many-core
  machine). ``--scale s`` shrinks users, items and non-zeros by ``s`` (reported) when
  the full size would take too long on a small machine.
* ``hetrec2k``: the same on Last.fm HetRec 2011 (1,892 x 17,632, 92,834 non-zeros), plus
  the fit seconds of every songscape recommender on it.

Usage: ``python bench/recs.py [--scale 1.0] [--iterations 3] [--threads 1] [--skip-big]``.
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

from songscape.synthetic.listening import synthetic_lastfm

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ANCHOR_S_PER_ITER = 1.4


def time_als(matrix: sp.csr_matrix, iterations: int, threads: int, factors: int = 64) -> dict:
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    stamps: list[float] = []

    def callback(iteration: int, elapsed: float, loss: float) -> None:
        stamps.append(time.perf_counter())

    conf = matrix.copy()
    conf.data = np.log1p(conf.data).astype(np.float32)
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=factors, regularization=0.05,
                                        iterations=iterations, random_state=0,
                                        num_threads=threads)  # fmt: skip
        t0 = time.perf_counter()
        model.fit(conf, show_progress=False, callback=callback)
        total = time.perf_counter() - t0
    per_iter = np.diff([t0, *stamps]) if stamps else np.array([total / iterations])
    return {
        "factors": factors,
        "iterations": iterations,
        "threads": threads,
        "fit_s": round(total, 3),
        "s_per_iteration": round(float(np.median(per_iter)), 3),
        "s_per_iteration_all": [round(float(x), 3) for x in per_iter],
    }


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of Last.fm 360K's size")
    parser.add_argument("--zipf", type=float, default=0.9, help="item popularity exponent")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="ALS threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-big", action="store_true", help="only the HetRec timings")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}

    if not args.skip_big:
        t0 = time.perf_counter()
        m = synthetic_lastfm(args.scale, args.zipf, args.seed)
        gen_s = time.perf_counter() - t0
        listeners = np.diff(m.tocsc().indptr)
        top1 = np.sort(listeners)[::-1][: max(1, m.shape[1] // 100)].sum() / max(m.nnz, 1)
        result = time_als(m, args.iterations, args.threads)
        emit({
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
            "machine": machine,
        })  # fmt: skip
        del m

    path = args.data_dir / "lastfm_hetrec2011_2k" / "user_artists.dat"
    if not path.is_file():
        emit({"data": "hetrec2k", "skipped": f"no {path}"})
        return 0
    from songscape.recommend.data import read_hetrec
    from songscape.recommend.recommenders import MODELS

    inter = read_hetrec(path)
    result = time_als(inter.matrix, max(args.iterations, 5), args.threads)
    fits = {}
    for name, cls in MODELS.items():
        t0 = time.perf_counter()
        cls(seed=0).fit(inter)
        fits[name] = round(time.perf_counter() - t0, 3)
    emit({
        "data": "hetrec2k",
        "users": inter.n_users,
        "items": inter.n_items,
        "nnz": inter.nnz,
        **result,
        "model_fit_s": fits,
        "machine": machine,
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
