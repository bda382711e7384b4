"""How well do the pretrained models' embeddings separate labelled real music?

A thin driver of :mod:`songscape.evaluation.harness` (the protocol of ``songscape
evaluate``): for every registered model and each of its embedding layers
(``penultimate``, ``max_pool``, ``mean_pool`` for musicnn; ``pool5`` for VGG) and for
the 80-d MFCC-statistics baseline, one row per (data set, model, layer) with

* ``probe_acc``/``probe_ci95``: linear-probe accuracy (standardise + logistic
  regression, stratified grouped k-fold, seed 0; pooled out-of-fold accuracy, 95 %
  Wilson interval), and ``majority_baseline``;
* ``knn_p10``/``knn_ci95``: nearest-neighbour precision at ``k`` (cosine; the query's
  group excluded; 95 % bootstrap interval over queries), with ``knn_ceiling`` (the best
  achievable once same-group items are excluded), ``knn_chance`` (random retrieval) and,
  where there are groups, ``knn_p10_ungrouped`` (the leaky figure, for comparison).

Data sets (``../shared/data``, read by :func:`songscape.datasets.read_labels`):

* ``gtzan_subset100``: 93 clips (the 7 ``excluded`` rows dropped), 10 genres; groups are
  GTZAN blocks of 5 consecutive ids per genre (ids 0-4, 5-9: GTZAN ids run in
  artist/album blocks); 5 folds, k = 10.
* ``librosa_data``: 14 clips, music (8) / speech (3) / other (3) -- a sanity check that
  the embeddings separate music from speech and other sounds; every clip is its own
  recording (its own group); 3 folds (the smallest class has 3 clips) and k = 2 (the
  other clips of the smallest class).
* ``jamendolyrics_subset10`` is reported as skipped: only Hip-Hop (3) and Pop (3)
  reach 3 songs, and its artists have one song each.

Audio and vectors go through the harness's caches (``songscape.config.default_cache_dir``,
or ``--cache DIR``), so a second run only scores. Models run with one torch thread.

Result: ``bench/results/probe.json`` (``--out`` to write elsewhere); each row is also
printed as a JSON line. ``--plot DIR`` writes confusion-matrix PNGs (best model, MFCC).

Usage: ``python bench/probe.py [--models NAME ... mfcc] [--limit N] [--plot DIR]
[--data DIR] [--cache DIR] [--out PATH]`` (``--limit N`` keeps N clips per data set,
spread over classes and groups, with folds and k lowered to fit).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from record import machine, write_results
from songscape.datasets import LabelSet, read_labels
from songscape.evaluation.harness import (
    MFCC,
    balanced_subset,
    embed_layers,
    evaluate_embeddings,
    feasible_folds,
)
from songscape.evaluation.plots import plot_confusion_matrix
from songscape.models.registry import get_spec, list_models

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: (name, label column, folds, k)
DATASETS = (("gtzan_subset100", "genre", 5, 10), ("librosa_data", "label", 3, 2))
KEYS = ("probe_acc", "probe_ci95", "majority_baseline", "knn_p10", "knn_ci95", "knn_ceiling",
        "knn_chance", "knn_p10_ungrouped")  # fmt: skip


def jamendo_skip_reason(root: Path) -> str:
    with (root / "labels.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    genres, counts = np.unique([r["label"] for r in rows], return_counts=True)
    big = {str(g): int(c) for g, c in zip(genres, counts, strict=True) if c >= 3}
    artists = len({r["artist"] for r in rows})
    return (
        f"{len(rows)} songs; genres with >= 3 songs: {big} -- a {sum(big.values())}-song "
        f"{len(big)}-class task gives a Wilson interval spanning most of [0, 1] and allows "
        f"k <= 2; {artists} artists with one song each, so artist labels would only test "
        "matching segments of the same recording (leakage)"
    )


def _r(value):
    if isinstance(value, list | tuple):
        return [_r(v) for v in value]
    return None if value is None else round(float(value), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--models", nargs="+", default=None,
                        help=f"registry names and/or '{MFCC}' (default: all and {MFCC})")
    parser.add_argument("--limit", type=int, default=0, help="N clips per data set (0: all)")
    parser.add_argument("--plot", type=Path, default=None,
                        help="write confusion-matrix PNGs (best model, MFCC) to this folder")
    parser.add_argument("--cache", type=Path, default=None, help="audio/embedding cache")
    parser.add_argument("--out", type=Path, default=None, help="result JSON (default: "
                        "bench/results/probe.json)")  # fmt: skip
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no data at {args.data}")
    models = args.models or [spec.name for spec in list_models()] + [MFCC]
    for name in models:
        if name != MFCC:
            get_spec(name)  # fails early, listing the known models

    import torch

    torch.set_num_threads(1)

    sets: list[tuple[str, LabelSet, int, int]] = []
    for name, column, folds, k in DATASETS:
        data = balanced_subset(read_labels(args.data / name / "labels.csv",
                                           label_column=column), args.limit)  # fmt: skip
        sets.append((name, data, feasible_folds(data, folds), k))
    setup = {name: {"n": len(data), "n_classes": len(data.classes), "folds": folds,
                    "grouping": data.group_source, "n_groups": len(np.unique(data.groups))}
             for name, data, folds, _k in sets}  # fmt: skip
    skipped = {"jamendolyrics_subset10": jamendo_skip_reason(args.data / "jamendolyrics_subset10")}
    print(json.dumps({"datasets": setup, "skipped": skipped}), flush=True)

    rows, confusions = [], {}
    for model in models:
        for name, data, folds, k in sets:
            vectors, _info = embed_layers(model, data, args.cache)
            for layer, X in vectors.items():
                result = evaluate_embeddings(X, data, folds=folds, k=k,
                                             ungrouped_knn=data.group_source != "file")  # fmt: skip
                row = {"dataset": name, "model": model, "layer": layer, "dim": int(X.shape[1]),
                       "k": result["k"], **{key: _r(result.get(key)) for key in KEYS}}  # fmt: skip
                rows.append(row)
                confusions[(name, model, layer)] = result
                print(json.dumps(row), flush=True)
    path = write_results(__file__, {"datasets": setup, "skipped": skipped, "rows": rows},
                         machine(torch_threads=1, limit=args.limit, seed=0), args.out)  # fmt: skip
    print(json.dumps({"written": str(path)}), flush=True)

    if args.plot:
        for name, _data, _folds, _k in sets:
            runs = {key: r for key, r in confusions.items() if key[0] == name}
            neural = {key: r for key, r in runs.items() if key[1] != MFCC}
            chosen = [key for key in runs if key[1] == MFCC]
            if neural:
                chosen.insert(0, max(neural, key=lambda key: neural[key]["probe_acc"]))
            for key in chosen:
                r = runs[key]
                lo, hi = r["probe_ci95"]
                title = (f"{name}: {key[1]} {key[2]}\nprobe accuracy {r['probe_acc']:.2f} "
                         f"[{lo:.2f}, {hi:.2f}], n={r['n']}")  # fmt: skip
                path = plot_confusion_matrix(r["confusion"], r["class_names"],
                                             args.plot / f"{name}_{key[1]}_{key[2]}.png", title)
                print(json.dumps({"plot": str(path)}), flush=True)


if __name__ == "__main__":
    main()
