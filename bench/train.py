"""Train every architecture on gtzan_subset100 and compare the embeddings honestly.

Data: ``../shared/data/gtzan_subset100`` (93 clips after the 7 ``excluded`` rows, 10
genres, 15-18 s each). Groups are GTZAN blocks of 5 consecutive ids per genre
(:func:`songscape.evaluation.metrics.gtzan_groups`), so two excerpts of one album or
recording are never on both sides of a split.

Protocol (the same for every row):

* the clips are split into ``--folds`` grouped, stratified folds (seeded);
* **supervised models** (``shortchunk-cnn`` ... ``sample-cnn`` on the genre task,
  ``musicnn-head`` and ``musicnn-finetune``) are **cross-trained**: for each fold a fresh
  model is trained on the other folds (with its own grouped validation split for early
  stopping) and never sees the held-out fold (``musicnn-finetune``: musicnn-msd's
  back-end, initialised from the pretrained weights, fine-tuned on the cached pooled
  features). Reported: ``heldout_acc``, the accuracy of its own classifier head on the
  held-out clips (mean chunk probabilities per clip), pooled over folds;
* **self-supervised models** (``moco``: shortchunk-cnn encoder with
  ``pitch_shift=negative,time_stretch=positive``; ``tjae``) are trained **once on all
  93 clips without labels** (labels are never used, so the probe below stays fair, but
  the encoder has heard the test audio);
* **baselines**: the pretrained ``musicnn-msd`` / ``musicnn-mtt`` (penultimate layer)
  and the 80-d MFCC statistics, no training;
* for every row, with the fold's encoder (the one that did not train on the fold), a
  linear probe (standardise + logistic regression) fitted on the other folds' clips
  predicts the held-out clips: ``probe_acc`` is the pooled out-of-fold accuracy with a
  Wilson 95 % interval; ``knn_p10`` is precision@10 (cosine) of the held-out clips as
  queries against every clip outside their own group, pooled over folds, with a
  bootstrap interval.

Also reported: training time (summed over folds), epochs run, parameters, and the
hardware (CPU model name and torch threads, or the CUDA device).

Usage::

    python bench/train.py [--archs NAME ...] [--epochs 20] [--folds 3] [--quick]
                          [--device cpu|cuda] [--threads N] [--out results.json]

``--quick`` (1 epoch, 1 chunk per clip, 2 folds, ``--limit 40`` clips) only proves the
pipeline runs. Prints one JSON object per line: a header, one per model, then the
whole table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SUPERVISED = ("shortchunk-cnn", "shortchunk-resnet", "harmonic-cnn", "crnn", "self-attention",
              "sample-cnn", "musicnn-head", "musicnn-finetune")  # fmt: skip
SELF_SUPERVISED = ("moco", "tjae")
BASELINES = ("musicnn-msd", "musicnn-mtt", "mfcc")
DEFAULT_ROWS = (*SUPERVISED, *SELF_SUPERVISED, *BASELINES)
MOCO_AUGMENT = "pitch_shift=negative,time_stretch=positive"


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(float(x), digits)


def _limit(data, limit: int):
    """Up to ``limit`` clips, round-robin over genres then groups (keeps every class)."""
    if not limit or limit >= len(data):
        return data
    by_class: dict[str, list[int]] = {}
    for i, lab in enumerate(data.single_labels()):
        by_class.setdefault(lab, []).append(i)
    for lab, idx in by_class.items():  # alternate groups within a class
        groups: dict[str, list[int]] = {}
        for i in idx:
            groups.setdefault(data.groups[i], []).append(i)
        queues = list(groups.values())
        by_class[lab] = [q[j] for j in range(max(map(len, queues))) for q in queues if j < len(q)]
    picked: list[int] = []
    while len(picked) < limit:
        for idx in by_class.values():
            if idx and len(picked) < limit:
                picked.append(idx.pop(0))
    return data.subset(sorted(picked))


def fold_scores(Xs: list[np.ndarray], data, folds, k: int = 10) -> dict:
    """Out-of-fold probe accuracy and kNN P@k, fold f scored in embedding space ``Xs[f]``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from songscape.evaluation.metrics import (
        bootstrap_interval,
        knn_precision_at_k,
        wilson_interval,
    )

    labels = data.single_labels()
    n = len(labels)
    predictions = np.empty(n, dtype=labels.dtype)
    knn = np.full(n, np.nan)
    sizes = np.unique(data.groups, return_counts=True)[1]
    k = max(1, min(k, n - int(sizes.max())))
    for X, (train, test) in zip(Xs, folds, strict=True):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        model.fit(X[train], labels[train])
        predictions[test] = model.predict(X[test])
        per_query = knn_precision_at_k(X, labels, k=k, groups=data.groups, n_boot=1)["per_query"]
        knn[test] = per_query[test]
    correct = int(np.sum(predictions == labels))
    return {
        "probe_acc": _r(correct / n),
        "probe_ci95": [_r(v) for v in wilson_interval(correct, n)],
        f"knn_p{k}": _r(knn.mean()),
        "knn_ci95": [_r(v) for v in bootstrap_interval(knn)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--archs", nargs="+", default=list(DEFAULT_ROWS),
                        help=f"rows to run (default all: {' '.join(DEFAULT_ROWS)})")  # fmt: skip
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=4, help="training chunks per clip/epoch")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="N clips (0: all 93)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch, 1 chunk, 2 folds, 40 clips: a smoke test")  # fmt: skip
    parser.add_argument("--out", type=Path, help="also write the table as JSON")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.chunks, args.folds = 1, 1, 2
        args.limit = args.limit or 40
    unknown = [a for a in args.archs if a not in DEFAULT_ROWS]
    if unknown:
        sys.exit(f"unknown row(s) {unknown}; choose from {' '.join(DEFAULT_ROWS)}")

    import torch

    from songscape.config import default_cache_dir
    from songscape.datasets import AudioCache, grouped_folds, read_labels
    from songscape.evaluation.harness import embed_items
    from songscape.models.trained import TrainedModel
    from songscape.training.trainer import TrainConfig, hardware_string, train

    torch.set_num_threads(args.threads)
    cache_dir = default_cache_dir()
    scratch = tempfile.TemporaryDirectory(prefix="songscape-bench-models-")
    models_dir = Path(scratch.name)  # the bench's models are thrown away at exit
    data = read_labels(args.data / "gtzan_subset100" / "labels.csv", label_column="genre")
    data = _limit(data, args.limit)
    folds = grouped_folds(data, args.folds, args.seed)
    labels = data.single_labels()
    hardware = hardware_string(args.device)
    print(json.dumps({
        "bench": "train", "n": len(data), "classes": len(data.classes), "folds": args.folds,
        "epochs": args.epochs, "chunks_per_clip": args.chunks, "batch_size": args.batch_size,
        "grouping": data.group_source, "hardware": hardware, "device": args.device,
        "torch": torch.__version__, "quick": args.quick,
    }), flush=True)  # fmt: skip

    def config(arch: str, task: str, augment: str = "") -> TrainConfig:
        return TrainConfig(
            arch=arch, task=task, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            device=args.device, seed=args.seed, patience=args.patience,
            chunks_per_track=args.chunks, valid_chunks=4 if not args.quick else 1,
            augment=augment, num_threads=args.threads,
        )  # fmt: skip

    def embed_with(model: TrainedModel, index: np.ndarray | None = None):
        """Embeddings (all clips) and class probabilities (clips in ``index``)."""
        audio = AudioCache(cache_dir, model.spec.sample_rate)
        keys = audio.ensure(data.paths)
        X, probs = [], {}
        for i, key in enumerate(keys):
            out = model.run(np.asarray(audio.get(key), dtype=np.float32))
            X.append(out.embedding)
            if index is not None and i in index and out.taggram.shape[1]:
                probs[i] = out.tag_probabilities
        return np.stack(X), probs

    def run_row(row_name: str, row: dict) -> None:
        """Fill ``row`` with one model's figures (see the module docstring)."""
        if row_name in BASELINES:
            X, info = embed_items(row_name, data, cache_dir)
            row.update(kind="baseline", dim=info["dim"], layer=info["layer"], train_s=0.0)
            row.update(fold_scores([X] * len(folds), data, folds))
        elif row_name in SELF_SUPERVISED:
            arch, task = ("shortchunk-cnn", "moco") if row_name == "moco" else ("tjae", "tjae")
            cfg = config(arch, task, MOCO_AUGMENT if row_name == "moco" else "")
            result = train(cfg, data, f"bench-{row_name}", models_dir=models_dir,
                           cache_dir=cache_dir, overwrite=True, register=False)  # fmt: skip
            model = TrainedModel.from_folder(result.folder)
            X, _ = embed_with(model)
            m = result.metadata
            row.update(kind="self-supervised, trained once on all clips without labels",
                       arch=arch, dim=m["embedding_dim"], train_s=m["train_s"],
                       epochs_run=[m["epochs_run"]], augment=cfg.augment)  # fmt: skip
            row.update(fold_scores([X] * len(folds), data, folds))
        else:
            Xs, correct, train_s, epochs, params = [], 0, 0.0, [], None
            for f, (train_idx, test_idx) in enumerate(folds):
                result = train(config(row_name, "genre"), data.subset(train_idx),
                               f"bench-{row_name}-f{f}", models_dir=models_dir,
                               cache_dir=cache_dir, overwrite=True, register=False)  # fmt: skip
                model = TrainedModel.from_folder(result.folder)
                params = sum(p.numel() for p in model.net.parameters())
                test_set = {int(i) for i in test_idx}
                X, probs = embed_with(model, test_set)
                classes = np.array(model.spec.labels)
                correct += sum(classes[np.argmax(p)] == labels[i] for i, p in probs.items())
                Xs.append(X)
                train_s += result.metadata["train_s"]
                epochs.append(result.metadata["epochs_run"])
            from songscape.evaluation.metrics import wilson_interval

            ci = wilson_interval(correct, len(data))
            row.update(
                kind="supervised (genre), cross-trained", dim=int(Xs[0].shape[1]),
                train_s=round(train_s, 1), epochs_run=epochs, parameters=params,
                heldout_acc=_r(correct / len(data)), heldout_ci95=[_r(v) for v in ci],
            )  # fmt: skip
            row.update(fold_scores(Xs, data, folds))

    rows = []
    for row_name in args.archs:
        started = time.perf_counter()
        row: dict = {"model": row_name}
        try:
            run_row(row_name, row)
        except Exception as err:  # noqa: BLE001 - one failing row must not lose the others
            row["error"] = f"{type(err).__name__}: {err}"
        row["wall_s"] = round(time.perf_counter() - started, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    scratch.cleanup()
    table = {"hardware": hardware, "n": len(data), "folds": args.folds, "rows": rows}
    print(json.dumps(table), flush=True)
    if args.out:
        args.out.write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
