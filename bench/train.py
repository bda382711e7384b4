"""Train every architecture on gtzan_subset100 and compare the embeddings honestly.

Data: ``../shared/data/gtzan_subset100`` (93 clips after the 7 ``excluded`` rows, 10
genres, 15-18 s each). Groups are GTZAN blocks of 5 consecutive ids per genre
(:func:`songscape.datasets.gtzan_groups`), so two excerpts of one album or recording
are never on both sides of a split.

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
* for every row, :func:`songscape.evaluation.harness.evaluate_cross_fitted` (the
  protocol of ``songscape evaluate``, with these folds): with the fold's encoder (the
  one that did not train on the fold), a linear probe (standardise + logistic
  regression) fitted on the other folds' clips predicts the held-out clips:
  ``probe_acc`` is the pooled out-of-fold accuracy with a Wilson 95 % interval;
  ``knn_p10`` is precision@10 (cosine) of the held-out clips as queries against every
  clip outside their own group, pooled over folds, with a bootstrap interval. The
  baselines' figures are therefore 3-fold figures: they differ from ``bench/probe.py``'s
  5-fold ones (see the harness's docstring on why the fold count is part of a figure).

Also reported: training time (summed over folds), epochs run, parameters, and the
hardware (CPU model name and torch threads, or the CUDA device).

Usage::

    python bench/train.py [--archs NAME ...] [--epochs 20] [--folds 3] [--quick]
                          [--device cpu|cuda] [--threads N] [--out results.json]

``--quick`` (1 epoch, 1 chunk per clip, 2 folds, ``--limit 40`` clips) only proves the
pipeline runs. Prints one JSON object per line: a header, one per model, then the
whole table.

Result: ``bench/results/train.json`` (``--out``). Rows are merged by model name into
the file already there, so a run of some ``--archs`` replaces only those rows; each row
keeps the conditions it was measured under (``run``: date, hardware, epochs, folds...).
A smoke test (``--quick``, ``--limit``) writes only with an explicit ``--out``.
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

from record import RESULTS_DIR, machine, write_results

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SUPERVISED = ("shortchunk-cnn", "shortchunk-resnet", "harmonic-cnn", "crnn", "self-attention",
              "sample-cnn", "musicnn-head", "musicnn-finetune")  # fmt: skip
SELF_SUPERVISED = ("moco", "tjae")
BASELINES = ("musicnn-msd", "musicnn-mtt", "mfcc")
DEFAULT_ROWS = (*SUPERVISED, *SELF_SUPERVISED, *BASELINES)
MOCO_AUGMENT = "pitch_shift=negative,time_stretch=positive"


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(float(x), digits)


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
    parser.add_argument("--out", type=Path, default=None,
                        help="result JSON (default: bench/results/train.json)")  # fmt: skip
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
    from songscape.evaluation.harness import balanced_subset, embed_items, evaluate_cross_fitted
    from songscape.evaluation.intervals import wilson_interval
    from songscape.models.trained import TrainedModel
    from songscape.training.trainer import TrainConfig, hardware_string, train

    torch.set_num_threads(args.threads)
    cache_dir = default_cache_dir()
    scratch = tempfile.TemporaryDirectory(prefix="songscape-bench-models-")
    models_dir = Path(scratch.name)  # the bench's models are thrown away at exit
    data = read_labels(args.data / "gtzan_subset100" / "labels.csv", label_column="genre")
    data = balanced_subset(data, args.limit)
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

    def scores(Xs: list[np.ndarray]) -> dict:
        """The harness's cross-fitted probe and kNN figures, rounded for the table."""
        r = evaluate_cross_fitted(Xs, data, folds, k=10, seed=args.seed)
        return {"probe_acc": _r(r["probe_acc"]), "probe_ci95": [_r(v) for v in r["probe_ci95"]],
                f"knn_p{r['k']}": _r(r["knn_p10"]), "knn_ci95": [_r(v) for v in r["knn_ci95"]]}

    def run_row(row_name: str, row: dict) -> None:
        """Fill ``row`` with one model's figures (see the module docstring)."""
        if row_name in BASELINES:
            X, info = embed_items(row_name, data, cache_dir)
            row.update(kind="baseline", dim=info["dim"], layer=info["layer"], train_s=0.0)
            row.update(scores([X] * len(folds)))
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
            row.update(scores([X] * len(folds)))
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
            ci = wilson_interval(correct, len(data))
            row.update(
                kind="supervised (genre), cross-trained", dim=int(Xs[0].shape[1]),
                train_s=round(train_s, 1), epochs_run=epochs, parameters=params,
                heldout_acc=_r(correct / len(data)), heldout_ci95=[_r(v) for v in ci],
            )  # fmt: skip
            row.update(scores(Xs))

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
    if (args.quick or args.limit) and args.out is None:
        return  # a smoke test never replaces the recorded figures
    run = {"date": machine()["date"], "hardware": hardware, "device": args.device,
           "threads": args.threads, "n": len(data), "folds": args.folds, "epochs": args.epochs,
           "patience": args.patience, "chunks_per_clip": args.chunks,
           "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
           "torch": torch.__version__}  # fmt: skip
    path = args.out or RESULTS_DIR / "train.json"
    kept = json.loads(path.read_text())["results"]["rows"] if path.is_file() else []
    fresh = {row["model"]: {**row, "run": run} for row in rows}
    merged = [fresh.pop(row["model"], row) for row in kept] + list(fresh.values())
    order = {name: i for i, name in enumerate(DEFAULT_ROWS)}
    merged.sort(key=lambda row: order.get(row["model"], len(order)))
    written = write_results(__file__, {"rows": merged}, machine(threads=args.threads), path,
                            provenance="each row's 'run' says when and how it was measured")
    print(json.dumps({"written": str(written)}), flush=True)


if __name__ == "__main__":
    main()
