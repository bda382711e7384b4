"""How well do the pretrained models' embeddings separate labelled real music?

For every registered model and each of its embedding layers (``penultimate``,
``max_pool``, ``mean_pool`` for musicnn; ``pool5`` for VGG) and for the 80-d
MFCC-statistics baseline (:func:`songscape.evaluation.metrics.mfcc_statistics`, on the
same 16 kHz audio), prints one JSON object per line with

* ``probe_accuracy``/``probe_ci95``: linear-probe accuracy (standardise + logistic
  regression, stratified k-fold; pooled out-of-fold accuracy, 95 % Wilson interval);
* ``knn_p_at_<k>``/``knn_ci95``: nearest-neighbour precision at k (cosine distance;
  95 % bootstrap interval over queries), with ``knn_ceiling`` (the best achievable
  once same-group items are excluded) and ``knn_chance`` (random retrieval).

Data sets (``../shared/data``):

* ``gtzan_subset100``: 93 clips (the 7 ``excluded`` rows dropped), 10 genres. Groups are
  blocks of 5 consecutive ids per genre (ids 0-4, 5-9: GTZAN ids run in artist/album
  blocks), so excerpts of one block never fall on both sides of a probe split and are
  never each other's neighbours; 5 grouped folds, k = 10. ``knn_p_at_10_ungrouped``
  shows the leaky figure for comparison.
* ``librosa_data``: 14 clips, music (8) / speech (3) / other (3) -- a sanity check that
  the embeddings separate music from speech and other sounds; every clip is its own
  recording (no groups); 3 folds (the smallest class has 3 items) and k = 2 (the
  number of other items of the smallest class).
* ``jamendolyrics_subset10`` is reported as skipped: only Hip-Hop (3) and Pop (3)
  reach 3 songs, a 6-song two-class set whose accuracy interval spans most of [0, 1];
  its artists are one song each, so artist labels would only test matching segments of
  the same recording.

Each clip is decoded once at 16 kHz; embeddings are computed once per model and kept in
memory; models run with ``torch.set_num_threads(1)``.

Usage: ``python bench/probe.py [--models NAME ...] [--limit N] [--plot DIR] [--data DIR]``
(``--models`` takes registry names and ``mfcc``; ``--limit N`` keeps N clips per data
set, spread over the classes).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from songscape.audio.decode import load_audio
from songscape.datasets import gtzan_groups
from songscape.evaluation.metrics import (
    knn_precision_at_k,
    linear_probe,
    mfcc_statistics,
    plot_confusion_matrix,
)
from songscape.models.registry import get_spec, list_models, load_model

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE_RATE = 16000
MFCC = "mfcc"


@dataclass
class Dataset:
    name: str
    paths: list[Path]
    labels: np.ndarray
    groups: np.ndarray | None
    n_splits: int
    k: int
    grouping: str
    audio: list[np.ndarray] = field(default_factory=list)

    @property
    def audio_s(self) -> float:
        return sum(len(y) for y in self.audio) / SAMPLE_RATE


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _spread(
    rows: list[dict[str, str]], key: str, limit: int, group_of=None
) -> list[dict[str, str]]:
    """Up to ``limit`` rows taken round-robin over the classes; within a class, round-robin
    over its groups (``group_of(row)``), so a small selection still spans several groups."""
    if not limit or limit >= len(rows):
        return rows
    by_class: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_class.setdefault(row[key], []).append(row)
    if group_of is not None:
        for label, members in by_class.items():
            by_group: dict[str, list[dict[str, str]]] = {}
            for row in members:
                by_group.setdefault(group_of(row), []).append(row)
            queues = list(by_group.values())
            by_class[label] = [q[i] for i in range(max(map(len, queues)))
                               for q in queues if i < len(q)]  # fmt: skip
    picked: list[dict[str, str]] = []
    while len(picked) < limit:
        for members in by_class.values():
            if members and len(picked) < limit:
                picked.append(members.pop(0))
    return sorted(picked, key=rows.index)


def _folds_and_k(labels: np.ndarray, groups: np.ndarray | None, n_splits: int, k: int):
    """The requested folds and k, reduced where a small (``--limit``) selection needs it."""
    smallest = int(np.unique(labels, return_counts=True)[1].min())
    n_splits = max(2, min(n_splits, smallest))
    if groups is None:
        eligible = len(labels) - 1
    else:
        eligible = len(labels) - int(np.unique(groups, return_counts=True)[1].max())
    return n_splits, max(1, min(k, eligible))


def gtzan(root: Path, limit: int) -> Dataset:
    rows = [r for r in _read_rows(root / "labels.csv") if r["fault_filtered_split"] != "excluded"]
    rows = _spread(rows, "genre", limit, group_of=lambda r: gtzan_groups([r["path"]])[0])
    paths = [root / r["path"] for r in rows]
    labels = np.array([r["genre"] for r in rows])
    groups = gtzan_groups([p.name for p in paths])
    n_splits, k = _folds_and_k(labels, groups, n_splits=5, k=10)
    return Dataset(
        name="gtzan_subset100", paths=paths, labels=labels, groups=groups, n_splits=n_splits,
        k=k, grouping="blocks of 5 consecutive ids per genre (0-4, 5-9)",
    )  # fmt: skip


def librosa_set(root: Path, limit: int) -> Dataset:
    rows = _spread(_read_rows(root / "labels.csv"), "label", limit)
    labels = np.array([r["label"] for r in rows])
    # 3 folds: the smallest classes have 3 clips; k = 2: the other clips of those classes
    smallest = int(np.unique(labels, return_counts=True)[1].min())
    n_splits, k = _folds_and_k(labels, None, n_splits=3, k=max(1, smallest - 1))
    return Dataset(
        name="librosa_data", paths=[root / r["path"] for r in rows], labels=labels,
        groups=None, n_splits=n_splits, k=k,
        grouping="none (every clip is a separate recording)",
    )  # fmt: skip


def jamendo_skip_reason(root: Path) -> str:
    rows = _read_rows(root / "labels.csv")
    genres, counts = np.unique([r["label"] for r in rows], return_counts=True)
    big = {str(g): int(c) for g, c in zip(genres, counts, strict=True) if c >= 3}
    artists = len({r["artist"] for r in rows})
    return (
        f"{len(rows)} songs; genres with >= 3 songs: {big} -- a {sum(big.values())}-song "
        f"{len(big)}-class task gives a Wilson interval spanning most of [0, 1] and allows "
        f"k <= 2; {artists} artists with one song each, so artist labels would only test "
        "matching segments of the same recording (leakage)"
    )


def decode_all(dataset: Dataset) -> None:
    dataset.audio = [load_audio(p, sr=SAMPLE_RATE)[0] for p in dataset.paths]


def embed(model: str, datasets: list[Dataset]) -> tuple[dict[str, dict[str, np.ndarray]], float]:
    """``{dataset: {layer: (n, dim) matrix}}`` for one model, and the seconds it took."""
    started = time.perf_counter()
    out: dict[str, dict[str, np.ndarray]] = {}
    if model == MFCC:
        for ds in datasets:
            out[ds.name] = {"stats": np.stack([mfcc_statistics(y, SAMPLE_RATE) for y in ds.audio])}
        return out, time.perf_counter() - started
    runner = load_model(model)
    for ds in datasets:
        vectors: dict[str, list[np.ndarray]] = {}
        for y in ds.audio:
            for layer, v in runner.run(y).embeddings.items():
                vectors.setdefault(layer, []).append(v)
        out[ds.name] = {layer: np.stack(vs) for layer, vs in vectors.items()}
    return out, time.perf_counter() - started


def _r(x: float) -> float:
    return round(float(x), 3)


def evaluate(ds: Dataset, model: str, layer: str, X: np.ndarray) -> tuple[dict, dict | None]:
    row: dict = {"dataset": ds.name, "model": model, "layer": layer, "dim": int(X.shape[1]),
                 "n": len(ds.labels), "n_classes": len(np.unique(ds.labels))}
    try:
        probe = linear_probe(X, ds.labels, groups=ds.groups, n_splits=ds.n_splits)
        knn = knn_precision_at_k(X, ds.labels, k=ds.k, groups=ds.groups)
    except ValueError as err:
        return {**row, "error": str(err)}, None
    row.update({
        "probe_accuracy": _r(probe["accuracy"]),
        "probe_ci95": [_r(v) for v in probe["ci95"]],
        "probe_fold_accuracies": [_r(v) for v in probe["fold_accuracies"]],
        "probe_majority_baseline": _r(probe["majority_baseline"]),
        f"knn_p_at_{ds.k}": _r(knn["precision"]),
        "knn_ci95": [_r(v) for v in knn["ci95"]],
        "knn_ceiling": _r(knn["ceiling"]),
        "knn_chance": _r(knn["chance"]),
    })  # fmt: skip
    if ds.groups is not None:
        leaky = knn_precision_at_k(X, ds.labels, k=ds.k)
        row[f"knn_p_at_{ds.k}_ungrouped"] = _r(leaky["precision"])
    row.update({"n_splits": ds.n_splits, "grouping": ds.grouping})
    return row, probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--models", nargs="+", default=None,
                        help=f"registry names and/or '{MFCC}' (default: all and {MFCC})")
    parser.add_argument("--limit", type=int, default=0, help="N clips per data set (0: all)")
    parser.add_argument("--plot", type=Path, default=None,
                        help="write confusion-matrix PNGs (best model, MFCC) to this folder")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no data at {args.data}")
    models = args.models or [spec.name for spec in list_models()] + [MFCC]
    for name in models:
        if name != MFCC:
            get_spec(name)  # fails early, listing the known models

    import torch

    torch.set_num_threads(1)

    datasets = [gtzan(args.data / "gtzan_subset100", args.limit),
                librosa_set(args.data / "librosa_data", args.limit)]
    started = time.perf_counter()
    for ds in datasets:
        decode_all(ds)
    decode_s = time.perf_counter() - started
    print(json.dumps({"decoded": {ds.name: {"clips": len(ds.paths), "audio_s": round(ds.audio_s, 1)}
                                  for ds in datasets}, "decode_s": round(decode_s, 2)}),
          flush=True)  # fmt: skip
    print(json.dumps({"dataset": "jamendolyrics_subset10", "skipped": jamendo_skip_reason(
        args.data / "jamendolyrics_subset10")}), flush=True)

    # (dataset, model, layer) -> (probe accuracy, probe result) for the plots
    probes: dict[tuple[str, str, str], dict] = {}
    for model in models:
        embeddings, embed_s = embed(model, datasets)
        for ds in datasets:
            for layer, X in embeddings[ds.name].items():
                row, probe = evaluate(ds, model, layer, X)
                row["embed_s_model_all_sets"] = round(embed_s, 1)
                print(json.dumps(row), flush=True)
                if probe is not None:
                    probes[(ds.name, model, layer)] = probe

    if args.plot:
        for ds in datasets:
            runs = {key: p for key, p in probes.items() if key[0] == ds.name}
            neural = {key: p for key, p in runs.items() if key[1] != MFCC}
            chosen = [k for k in runs if k[1] == MFCC]
            if neural:
                chosen.insert(0, max(neural, key=lambda key: neural[key]["accuracy"]))
            for key in chosen:
                p = runs[key]
                lo, hi = p["ci95"]
                title = (f"{ds.name}: {key[1]} {key[2]}\nprobe accuracy {p['accuracy']:.2f} "
                         f"[{lo:.2f}, {hi:.2f}], n={p['n']}")
                path = plot_confusion_matrix(p["confusion"], p["class_names"],
                                             args.plot / f"{ds.name}_{key[1]}_{key[2]}.png", title)
                print(json.dumps({"plot": str(path)}), flush=True)


if __name__ == "__main__":
    main()
