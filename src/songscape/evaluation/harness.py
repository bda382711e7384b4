"""The one evaluation protocol: pretrained models, trained models and the MFCC baseline.

``songscape evaluate``, ``bench/probe.py`` and ``bench/train.py`` all score embeddings
here, so a figure means the same thing wherever it is quoted.

Embedding
---------
:func:`embed_items` embeds every file of a :class:`~songscape.datasets.LabelSet` with a
registry model's stored layer (or ``"mfcc"``:
:func:`~songscape.evaluation.baselines.mfcc_statistics` of the 16 kHz audio);
:func:`embed_layers` gives every embedding layer of one network pass. Both decode each
file once into the :class:`~songscape.datasets.AudioCache` (float16 samples) and cache
the vectors per model version, layer and file. (The float16 cache was checked against a
float32 decode on gtzan_subset100: musicnn-msd's three layers and the MFCC statistics
give the same probe and kNN figures to three decimals.)

Scoring
-------
* single-label sets: :func:`~songscape.evaluation.probes.linear_probe` (standardise +
  logistic regression, stratified grouped k-fold, pooled out-of-fold accuracy with a
  Wilson interval, confusion matrix) and
  :func:`~songscape.evaluation.probes.knn_precision_at_k` (cosine, k = 10, the query's
  group excluded, bootstrap interval);
* multi-label sets: out-of-fold one-vs-rest logistic regression (grouped k-fold)
  scored by :func:`~songscape.evaluation.probes.multilabel_auc` (macro ROC-AUC and
  PR-AUC), and kNN precision@k where a neighbour counts when it shares a tag.

:func:`evaluate_embeddings` scores one set of vectors; :func:`evaluate_cross_fitted`
scores a model trained once per fold, fold ``f``'s held-out items in the embedding of
the model that did not train on them. With the same vectors for every fold the two
give the same figures (tested).

The fold count is part of the figure
------------------------------------
Folds are ``StratifiedGroupKFold(folds, shuffle=True, random_state=seed)`` over the
groups, so a different number of folds is a different partition of the clips, not just
more or less training data. On gtzan_subset100 (93 clips, 2 groups per genre) the
musicnn-msd probe gives 0.806 with 5 folds and 0.796 with 3, the MFCC statistics 0.387
and 0.473: the same vectors, the same code. Over fold seeds 0-9 the spread is of that
size (musicnn-msd 0.808 +- 0.021 with 5 folds, 0.796 +- 0.016 with 3; MFCC 0.380 +- 0.025
and 0.417 +- 0.029, seed 0's 0.473 the highest of the ten), well inside the Wilson intervals.
``songscape evaluate`` and
``bench/probe.py`` use the default 5 folds (about 74 training clips per fold);
``bench/train.py`` uses its 3 cross-training folds for every row, pretrained baselines
included, because a trained row can only be scored on the folds its models were trained
around. Quote a figure with its fold count, and compare figures of one protocol only.

For a model trained by ``songscape train``, :func:`evaluate_model` also reports
``train_overlap``: the fraction of evaluated files that were in the model's training
split. When that is above zero the probe is optimistic (the encoder saw those files with
their labels), and a ``warning`` says so; evaluate on files the model never saw for an
honest figure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from songscape.datasets import AudioCache, FeatureCache, LabelSet, grouped_folds
from songscape.evaluation.intervals import bootstrap_interval, wilson_interval
from songscape.evaluation.probes import knn_precision_at_k, linear_probe, multilabel_auc

MFCC = "mfcc"
MFCC_SAMPLE_RATE = 16000
MFCC_VERSION = "mfcc-20"
MFCC_LAYER = "mfcc-statistics"
DEFAULT_FOLDS = 5
DEFAULT_K = 10


# ---- embedding ----------------------------------------------------------------------------


def _cache_root(cache_dir: str | os.PathLike[str] | None) -> Path:
    from songscape.config import default_cache_dir

    return Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


def _embed(
    model: str,
    data: LabelSet,
    cache_dir: str | os.PathLike[str] | None,
    progress: Any,
    all_layers: bool,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``({layer: (n, dim) float32}, info)``; one network pass per uncached file."""
    root = _cache_root(cache_dir)
    if model == MFCC:
        from songscape.evaluation.baselines import mfcc_statistics

        sr, version, default_layer = MFCC_SAMPLE_RATE, MFCC_VERSION, MFCC_LAYER
        layers = [MFCC_LAYER]

        def run(y: np.ndarray) -> dict[str, np.ndarray]:
            return {MFCC_LAYER: mfcc_statistics(y, sr)}
    else:
        from songscape.models.registry import get_spec, load_model

        spec = get_spec(model)
        sr, version, default_layer = spec.sample_rate, spec.version, spec.embedding_layer
        layers = list(spec.layers) if all_layers and spec.layers else [default_layer]

        def run(y: np.ndarray) -> dict[str, np.ndarray]:
            return load_model(model).run(y).embeddings

    audio = AudioCache(root, sr)
    keys = audio.ensure(data.paths, progress)
    passes: dict[int, dict[str, np.ndarray]] = {}  # one pass feeds every layer's cache

    def layer_of(layer: str) -> Callable[[int], np.ndarray]:
        def compute(i: int) -> np.ndarray:
            if i not in passes:
                passes[i] = run(np.asarray(audio.get(keys[i]), dtype=np.float32))
            return passes[i][layer]

        return compute

    out = {}
    for layer in layers:
        features = FeatureCache(root, f"embedding-{model}-{version}-{layer}")
        out[layer] = np.stack(features.ensure(keys, layer_of(layer), progress)).astype(np.float32)
    info = {"model": model, "version": version, "layer": default_layer,
            "dim": int(out[default_layer].shape[1]) if default_layer in out else None}  # fmt: skip
    return out, info


def embed_items(
    model: str,
    data: LabelSet,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Any = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One vector per file of ``data`` from the model's stored layer.

    Returns
    -------
    X : np.ndarray, shape (n, dim), float32
    info : dict
        ``model``, ``version``, ``layer``, ``dim``.
    """
    vectors, info = _embed(model, data, cache_dir, progress, all_layers=False)
    return vectors[info["layer"]], info


def embed_layers(
    model: str,
    data: LabelSet,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Any = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every embedding layer the model outputs (``spec.layers``), from one pass per file.

    Returns
    -------
    vectors : dict of str to np.ndarray
        Layer name -> (n, dim) float32; MFCC has the one layer ``mfcc-statistics``.
    info : dict
        As :func:`embed_items` (``layer`` is the model's stored layer).
    """
    return _embed(model, data, cache_dir, progress, all_layers=True)


# ---- choosing what fits a small set -------------------------------------------------------


def feasible_k(groups: np.ndarray, k: int) -> int:
    """``k`` lowered, if need be, to what every query can fill once its group is excluded."""
    _, sizes = np.unique(groups, return_counts=True)
    return max(1, min(k, len(groups) - int(sizes.max())))


def feasible_folds(data: LabelSet, folds: int) -> int:
    """``folds`` lowered, if need be, to the size of the smallest class (>= 2) of a
    single-label set, or to the number of groups, so that a small selection can fill
    every fold. (Whether a grouped split then keeps every class in training is checked
    by :func:`~songscape.evaluation.probes.linear_probe`.)"""
    limit = len(np.unique(data.groups))
    if data.labelled and not data.multilabel:
        limit = min(limit, int(np.unique(data.single_labels(), return_counts=True)[1].min()))
    return max(2, min(folds, limit))


def balanced_subset(data: LabelSet, limit: int) -> LabelSet:
    """Up to ``limit`` items taken round-robin over the classes, and within a class
    round-robin over its groups, so that a small selection keeps every class and spans
    several groups; ``limit`` 0 (or >= len) keeps everything. Order is preserved."""
    if not limit or limit >= len(data):
        return data
    by_class: dict[str, list[int]] = {}
    for i, lab in enumerate(data.single_labels()):
        by_class.setdefault(lab, []).append(i)
    for lab, idx in by_class.items():
        by_group: dict[str, list[int]] = {}
        for i in idx:
            by_group.setdefault(str(data.groups[i]), []).append(i)
        queues = list(by_group.values())
        by_class[lab] = [q[j] for j in range(max(map(len, queues))) for q in queues if j < len(q)]
    picked: list[int] = []
    while len(picked) < limit:
        for idx in by_class.values():
            if idx and len(picked) < limit:
                picked.append(idx.pop(0))
    return data.subset(sorted(picked))


# ---- scoring ------------------------------------------------------------------------------


def evaluate_embeddings(
    X: np.ndarray,
    data: LabelSet,
    folds: int = DEFAULT_FOLDS,
    k: int = DEFAULT_K,
    seed: int = 0,
    ungrouped_knn: bool = False,
) -> dict[str, Any]:
    """Probe and kNN figures of fixed vectors (see the module docstring).

    ``ungrouped_knn`` adds ``knn_p10_ungrouped``: the same precision with only the query
    itself excluded (the leaky figure, for comparison; single-label sets).
    """
    if not data.labelled:
        raise ValueError("evaluation needs labels")
    k_used = feasible_k(data.groups, k)
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
        if ungrouped_knn:
            leaky = knn_precision_at_k(X, labels, k=k_used, seed=seed)
            result["knn_p10_ungrouped"] = leaky["precision"]
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
    result.update(
        probe_acc=None, probe_roc_auc=auc["roc_auc"], probe_pr_auc=auc["pr_auc"],
        n_tags_scored=auc["n_tags"], knn_p10=float(per_query.mean()),
        knn_ci95=list(bootstrap_interval(per_query, seed=seed)),
        knn_definition="fraction of neighbours sharing at least one tag",
    )  # fmt: skip
    return result


def evaluate_cross_fitted(
    Xs: Sequence[np.ndarray],
    data: LabelSet,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    k: int = DEFAULT_K,
    seed: int = 0,
) -> dict[str, Any]:
    """Probe and kNN figures of a model trained once per fold (single-label sets).

    For fold ``f`` (``folds[f] = (train, held_out)`` indices, e.g. from
    :func:`~songscape.datasets.grouped_folds`), ``Xs[f]`` embeds every item with the model
    that did not train on ``held_out``. The probe (standardise + logistic regression, as
    :func:`~songscape.evaluation.probes.linear_probe`) is fitted on ``Xs[f][train]`` and
    predicts ``Xs[f][held_out]``; each held-out item is a kNN query in ``Xs[f]`` against
    every item outside its group. Accuracy is pooled over folds with a Wilson interval,
    P@k averaged over queries with a bootstrap interval. With ``Xs`` all the same array
    and the folds of :func:`evaluate_embeddings` the figures are identical to it.

    Returns
    -------
    dict
        ``n``, ``folds``, ``k``, ``probe_acc``, ``probe_ci95``, ``knn_p10`` (P@k),
        ``knn_ci95``, ``predictions`` (out-of-fold label per item).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not data.labelled or data.multilabel:
        raise ValueError("cross-fitted evaluation needs a single-label set")
    if len(Xs) != len(folds):
        raise ValueError(f"{len(Xs)} embeddings for {len(folds)} folds")
    labels = data.single_labels()
    n = len(labels)
    k_used = feasible_k(data.groups, k)
    predictions = np.empty(n, dtype=labels.dtype)
    per_query = np.full(n, np.nan)
    for X, (train, test) in zip(Xs, folds, strict=True):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        model.fit(X[train], labels[train])
        predictions[test] = model.predict(X[test])
        knn = knn_precision_at_k(X, labels, k=k_used, groups=data.groups, n_boot=1, seed=seed)
        per_query[test] = knn["per_query"][test]
    if np.isnan(per_query).any():
        raise ValueError("the folds do not hold every item out exactly once")
    correct = int(np.sum(predictions == labels))
    return {
        "n": n, "folds": len(folds), "k": k_used,
        "probe_acc": correct / n, "probe_ci95": list(wilson_interval(correct, n)),
        "knn_p10": float(per_query.mean()),
        "knn_ci95": list(bootstrap_interval(per_query, seed=seed)),
        "predictions": predictions,
    }  # fmt: skip


def evaluate_model(
    model: str,
    data: LabelSet,
    folds: int = DEFAULT_FOLDS,
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
