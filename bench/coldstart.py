"""Cold start on Last.fm HetRec 2011: can content place artists nobody has played?

The protocol is :func:`songscape.recommend.coldstart.evaluate_cold_start`: 20 % of the
artists that have content vectors are held out entirely (all their plays), ALS
(:class:`~songscape.recommend.factorization.ALSRecommender`, its defaults) is fitted on
the rest, and for every test user who played a held-out artist only the held-out artists
are ranked; recall@10 and NDCG@10 of that user's held-out artists. Rankings:

* ``random``: the held-out artists have no plays, so there is no popularity to use;
* ``content-knn``: cosine between an artist's content vector and the user's
  (log1p-weighted) profile of the content vectors of what they played;
* ``als+ridge`` (:class:`~songscape.recommend.coldstart.FactorMapper`'s default) and
  ``als+mlp``: content vectors mapped to ALS item factors, scored against the user's
  factors.

Content vectors are the artists' tags (:func:`~songscape.recommend.coldstart.
hetrec_tag_features`: TF-IDF, sublinear, over ``user_taggedartists.dat`` tag counts,
then a 64-d truncated SVD). A user who tagged an artist has played it, so the users are
split in half at random (per seed): the tags come from one half and only the other half
is scored.

One result per seed (``--seeds``, default 0 1 2: the item split, the user split, ALS and
the mappers all follow it) and their mean. Result: ``bench/results/coldstart.json``.

Usage: ``python bench/coldstart.py [--seeds 0 1 2] [--data-dir DIR] [--out PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from record import machine, write_results
from songscape.recommend.coldstart import evaluate_cold_start, hetrec_tag_features
from songscape.recommend.data import read_hetrec

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
METHODS = ("ridge", "mlp")
K = 10


def one_seed(inter, directory: Path, seed: int) -> dict:
    """The protocol on one seed: tags from one half of the users, the other half scored."""
    order = np.random.default_rng(seed).permutation(inter.n_users)
    taggers = np.zeros(inter.n_users, dtype=bool)
    taggers[order[: inter.n_users // 2]] = True
    features, has = hetrec_tag_features(directory, inter.items, seed=seed,
                                        users={inter.users[u] for u in np.flatnonzero(taggers)})
    result = evaluate_cold_start(inter, features, has, k=K, seed=seed, methods=METHODS,
                                 eval_users=~taggers)  # fmt: skip
    return {"seed": seed, "setup": result["setup"], "results": result["results"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    directory = args.data_dir / "lastfm_hetrec2011_2k"
    if not (directory / "user_artists.dat").is_file():
        sys.exit(f"no HetRec data under {directory}")
    inter = read_hetrec(directory / "user_artists.dat")
    started = time.perf_counter()
    runs = []
    for seed in args.seeds:
        runs.append(one_seed(inter, directory, seed))
        print(json.dumps(runs[-1]), flush=True)
    methods = [r["method"] for r in runs[0]["results"]]
    mean = []
    for method in methods:
        per_seed = [next(r for r in run["results"] if r["method"] == method) for run in runs]
        mean.append({
            "method": method,
            **{key: round(float(np.mean([r[key] for r in per_seed])), 4)
               for key in (f"recall_at_{K}", f"ndcg_at_{K}", "fit_s")},
            f"ndcg_at_{K}_per_seed": [round(r[f"ndcg_at_{K}"], 4) for r in per_seed],
            f"recall_at_{K}_per_seed": [round(r[f"recall_at_{K}"], 4) for r in per_seed],
        })  # fmt: skip
    als_s = round(float(np.mean([run["setup"]["als_fit_s"] for run in runs])), 2)
    summary = {"k": K, "seeds": args.seeds, "mean": mean, "als_fit_s_mean": als_s,
               "runs": runs}  # fmt: skip
    conditions = machine(threads=1, wall_s=round(time.perf_counter() - started, 1))
    path = write_results(__file__, summary, conditions, args.out)
    print(json.dumps({"mean": mean, "written": str(path)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
