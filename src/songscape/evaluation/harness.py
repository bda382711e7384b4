"""One evaluation protocol for every model: pretrained, trained, and the MFCC baseline.

:func:`evaluate_model` embeds every labelled file with a registry model (or ``"mfcc"``:
:func:`~songscape.evaluation.metrics.mfcc_statistics` of the 16 kHz audio), caching the
vectors per model version and file, then scores the fixed vectors:

* single-label sets: :func:`~songscape.evaluation.metrics.linear_probe` (standardise +
  logistic regression, stratified grouped k-fold, pooled out-of-fold accuracy with a
  Wilson interval, confusion matrix) and
  :func:`~songscape.evaluation.metrics.knn_precision_at_k` (cosine, k = 10, the query's
  group excluded, bootstrap interval);
* multi-label sets: out-of-fold one-vs-rest logistic regression (grouped k-fold)
  scored by :func:`~songscape.evaluation.metrics.multilabel_auc` (macro ROC-AUC and
  PR-AUC), and kNN precision@k where a neighbour counts when it shares a tag.

For a model trained by ``songscape train`` it also reports ``train_overlap``: the
fraction of evaluated files that were in the model's training split. When that is
above zero the probe is optimistic (the encoder saw those files with their labels),
and a ``warning`` says so; evaluate on files the model never saw for an honest figure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from songscape.datasets import AudioCache, FeatureCache, LabelSet, grouped_folds

MFCC = "mfcc"
MFCC_SAMPLE_RATE = 16000
DEFAULT_K = 10


def embed_items(
    model: str,
    data: LabelSet,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Any = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One vector per file of ``data``: ``(X, info)`` with info model/version/layer/dim."""
    from songscape.config import default_cache_dir

    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    if model == MFCC:
        from songscape.evaluation.metrics import mfcc_statistics

        sr, version, layer = MFCC_SAMPLE_RATE, "mfcc-20", "mfcc-statistics"

        def compute(y: np.ndarray) -> np.ndarray:
            return mfcc_statistics(y, sr)
    else:
        from songscape.models.registry import get_spec, load_model

        spec = get_spec(model)
        sr, version, layer = spec.sample_rate, spec.version, spec.embedding_layer

        def compute(y: np.ndarray) -> np.ndarray:
            return load_model(model).run(y).embedding

    audio = AudioCache(root, sr)
    keys = audio.ensure(data.paths, progress)
    features = FeatureCache(root, f"embedding-{model}-{version}-{layer}")
    vectors = features.ensure(
        keys, lambda i: compute(np.asarray(audio.get(keys[i]), dtype=np.float32)), progress
    )
    X = np.stack(vectors).astype(np.float32)
    return X, {"model": model, "version": version, "layer": layer, "dim": int(X.shape[1])}


def _feasible_k(groups: np.ndarray, k: int) -> int:
    _, sizes = np.unique(groups, return_counts=True)
    return max(1, min(k, len(groups) - int(sizes.max())))


def evaluate_embeddings(
    X: np.ndarray, data: LabelSet, folds: int = 5, k: int = DEFAULT_K, seed: int = 0
) -> dict[str, Any]:
    """Probe and kNN figures of fixed vectors (see the module docstring)."""
    from songscape.evaluation.metrics import knn_precision_at_k, linear_probe, multilabel_auc

    if not data.labelled:
        raise ValueError("evaluation needs labels")
    k_used = _feasible_k(data.groups, k)
    result: dict[str, Any] = {"n": len(data), "folds": folds, "k": k_used,
                              "grouping": data.group_source,
                              "n_groups": int(len(np.unique(data.groups)))}  # fmt: skip
    if not data.multilabel:
        labels = data.single_labels()
        probe = linear_probe(X, labels, groups=data.groups, n_splits=folds, seed=seed)
        knn = knn_precision_at_k(X, labels, k=k_used, groups=data.groups, seed=seed)
        result.update(
            probe_acc=probe["accuracy"], probe_ci95=list(probe["ci95"]),
            probe_acc_fold_mean=probe["accuracy_mean"],
            majority_baseline=probe["majority_baseline"],
            knn_p10=knn["precision"], knn_ci95=list(knn["ci95"]),
            knn_ceiling=knn["ceiling"], knn_chance=knn["chance"],
            class_names=probe["class_names"], confusion=probe["confusion"],
        )  # fmt: skip
        return result
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    truth = data.multi_hot()
    scores = np.zeros_like(truth, dtype=np.float64)
    for train, test in grouped_folds(data, folds, seed):
        for j in range(truth.shape[1]):  # a tag absent from a training fold scores its prior
            column = truth[train, j]
            if column.min() == column.max():
                scores[test, j] = column.mean()
                continue
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
            model.fit(X[train], column)
            scores[test, j] = model.predict_proba(X[test])[:, 1]
    auc = multilabel_auc(truth, scores)
    dummy = np.zeros(len(data), dtype=int)
    knn = knn_precision_at_k(X, dummy, k=k_used, groups=data.groups, seed=seed)
    shared = (truth @ truth.T) > 0
    per_query = shared[np.arange(len(data))[:, None], knn["neighbours"]].mean(axis=1)
    from songscape.evaluation.metrics import bootstrap_interval

    result.update(
        probe_acc=None, probe_roc_auc=auc["roc_auc"], probe_pr_auc=auc["pr_auc"],
        n_tags_scored=auc["n_tags"], knn_p10=float(per_query.mean()),
        knn_ci95=list(bootstrap_interval(per_query, seed=seed)),
        knn_definition="fraction of neighbours sharing at least one tag",
    )  # fmt: skip
    return result


def evaluate_model(
    model: str,
    data: LabelSet,
    folds: int = 5,
    k: int = DEFAULT_K,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Embed ``data`` with ``model`` and evaluate; adds trained-model context."""
    X, info = embed_items(model, data, cache_dir, progress)
    result = {**info, **evaluate_embeddings(X, data, folds, k, seed)}
    result["labels_source"] = data.source
    result["label_column"] = data.label_column
    if model != MFCC:
        from songscape.models import trained

        if trained.is_trained(model):
            meta = trained.trained_metadata(model)
            seen = {str(Path(p)) for p in meta["split"]["train"]}
            overlap = sum(str(p) in seen for p in data.paths) / len(data)
            result["train_overlap"] = overlap
            result["trained"] = {
                "arch": meta["arch"], "task": meta["task"], "best_epoch": meta["best_epoch"],
                "epochs_run": meta["epochs_run"], "held_out": meta.get("valid_metrics", {}),
                "n_train": len(meta["split"]["train"]), "n_valid": len(meta["split"]["valid"]),
            }  # fmt: skip
            if overlap > 0 and meta["task"] not in ("moco", "tjae"):
                result["warning"] = (
                    f"{overlap:.0%} of the evaluated files were in {model}'s training split "
                    "(with their labels): the probe and kNN figures are optimistic. Use "
                    "files it never saw, or bench/train.py's cross-training, for honest ones."
                )
    return result
