"""Train emotion heads: ``songscape train --task emotion --labels FILE.csv --name NAME``.

For each target of the labels (:func:`~songscape.datasets.emotion_labels.read_emotion_labels`)
one linear model on the standardised audio features (:mod:`songscape.models.emotion`):

* continuous targets (GEMS shares, valence/arousal in -1...1): ridge regression, its
  penalty chosen by :class:`~sklearn.linear_model.RidgeCV`'s leave-one-out error on the
  training items only;
* two-class targets (valence positive/negative, arousal high/low): logistic regression,
  ``C`` chosen by grouped 3-fold cross-validation (ROC-AUC) inside the training items.

Audio and lyrics jointly, as Jeon et al. (RecSys 2017) do, by late fusion: when enough
items have English lyrics (:data:`MIN_LYRICS_ITEMS`), a second model per valence target
is fitted on the lyrics features (:func:`songscape.models.lyrics.lyrics_features`) and the
fusion weight is the one (0, 0.05, ..., 1) that fits the out-of-fold predictions of the
training items best.

Every fit is evaluated the way every trained model is: grouped k-fold cross-fitting
(:func:`~songscape.datasets.grouped_folds`, folds stratified by genre/quadrant when the
labels give one), each item predicted by the model that did not see its group, scored
by :mod:`songscape.evaluation.emotion_metrics` (Spearman per continuous target, ROC-AUC
per two-class target, top-emotion accuracy over GEMS). The final head is then fitted on
every item and saved with those figures as ``<models dir>/<name>/emotion.json``.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from songscape.datasets import LabelSet, grouped_folds
from songscape.datasets.emotion_labels import EmotionLabels
from songscape.errors import DatasetError
from songscape.evaluation.emotion_metrics import (
    roc_auc_with_interval,
    spearman_with_interval,
    top_emotion_accuracy,
)
from songscape.models.emotion import (
    EmotionHead,
    LinearModel,
    block_matrix,
    split_flat,
)
from songscape.models.emotion_space import GEMS
from songscape.training.emotion_selection import (
    FEATURE_SETS,
    choose_logistic,
    choose_ridge,
    column_means,
)

#: Fewest labelled items with usable lyrics for a lyrics model.
MIN_LYRICS_ITEMS = 20
RIDGE_ALPHAS = np.logspace(-1, 5, 25)
LOGISTIC_CS = np.logspace(-4, 1, 6)
#: Per-patch model's ridge penalty (patches of one track share its label).
PATCH_ALPHA = 100.0


def fold_splits(
    groups: np.ndarray, strata: np.ndarray | None, folds: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped (and, given ``strata``, stratified) folds, by :func:`grouped_folds`."""
    n = len(groups)
    strata_given = strata is not None and len(strata) == n and all(strata)
    classes = tuple(sorted(set(strata))) if strata_given else ()
    labels = [(str(s),) for s in strata] if strata_given else [() for _ in range(n)]
    data = LabelSet(paths=[Path(str(i)) for i in range(n)], labels=labels,
                    groups=np.asarray(groups), classes=classes)  # fmt: skip
    return grouped_folds(data, folds, seed)


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = column_means(X)
    X = np.where(np.isfinite(X), X, mean)
    scale = X.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    return (X - mean) / scale, mean, scale


def fit_linear(
    X: np.ndarray,
    y: np.ndarray,
    binary: bool,
    blocks: Sequence[str],
    groups: np.ndarray | None = None,
    alpha: float | None = None,
    seed: int = 0,
    C: float | None = None,
) -> LinearModel:
    """One target's linear model on standardised features (see the module docstring).

    ``alpha`` fixes the ridge penalty and ``C`` the logistic one instead of choosing them
    (the plain baselines of ``bench/emotion.py``). Rows where ``y`` is NaN are left out.
    """
    from sklearn.linear_model import LogisticRegression, Ridge, RidgeCV

    keep = np.isfinite(y)
    X, y = np.asarray(X, dtype=np.float64)[keep], np.asarray(y, dtype=np.float64)[keep]
    Z, mean, scale = _standardise(X)
    if binary:
        if len(np.unique(y)) < 2:
            raise DatasetError("a two-class target needs both classes in the training items")
        if C is None:
            C = _choose_c(Z, y, None if groups is None else np.asarray(groups)[keep], seed)
        model = LogisticRegression(C=C, max_iter=5000).fit(Z, y)
        return LinearModel(tuple(blocks), mean, scale, model.coef_[0], float(model.intercept_[0]),
                           binary=True)  # fmt: skip
    if alpha is not None:
        model = Ridge(alpha=alpha).fit(Z, y)
    else:
        model = RidgeCV(alphas=RIDGE_ALPHAS).fit(Z, y)
    return LinearModel(tuple(blocks), mean, scale, np.asarray(model.coef_, dtype=np.float64),
                       float(model.intercept_))  # fmt: skip


def _choose_c(Z: np.ndarray, y: np.ndarray, groups: np.ndarray | None, seed: int) -> float:
    """Logistic ``C`` by grouped 3-fold ROC-AUC inside the training items."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    g = groups if groups is not None else np.arange(len(y))
    if len(np.unique(g)) < 3:
        return 1.0
    perm = np.random.default_rng(seed).permutation(len(np.unique(g)))
    relabel = dict(zip(np.unique(g), perm, strict=True))
    splits = list(GroupKFold(3).split(Z, y, np.array([relabel[v] for v in g])))
    best, best_score = 1.0, -np.inf
    for C in LOGISTIC_CS:
        scores = np.zeros(len(y))
        for train, test in splits:
            if len(np.unique(y[train])) < 2:
                return 1.0
            scores[test] = LogisticRegression(C=C, max_iter=5000).fit(
                Z[train], y[train]).decision_function(Z[test])  # fmt: skip
        score = roc_auc_score(y, scores) if len(np.unique(y)) == 2 else 0.0
        if score > best_score + 1e-9:
            best, best_score = float(C), score
    return best


def fit_head(
    name: str,
    X: np.ndarray,
    labels: EmotionLabels,
    blocks: Sequence[str] | None = None,
    taggrams: Sequence[np.ndarray] | None = None,
    lyrics_X: np.ndarray | None = None,
    targets: Sequence[str] | None = None,
    seed: int = 0,
    plain: bool = False,
) -> EmotionHead:
    """Fit a head on all of ``labels`` (no evaluation; see :func:`cross_validate`).

    Parameters
    ----------
    X : np.ndarray, shape (n, 1006) or (n, 256)
        Flat audio features (:func:`~songscape.training.emotion_features.cached_features`).
    blocks : sequence of str, optional
        A fixed feature set. By default each target's feature set and penalty are
        chosen among :data:`~songscape.training.emotion_selection.FEATURE_SETS` by
        grouped cross-validation inside ``labels``
        (:mod:`songscape.training.emotion_selection`).
    taggrams : sequence of (n_patches, 50) arrays, optional
        Per-patch tags: adds the curve's patch models.
    lyrics_X : np.ndarray, shape (n, 388), optional
        Lyrics features, NaN rows where a file has no usable lyrics.
    targets : sequence of str, optional
        Subset of the labels' targets.
    plain : bool
        Fixed penalties (ridge alpha 1, logistic C 1) instead of chosen ones: the plain
        probes the heads are compared with.
    """
    feats = split_flat(X)
    audio, patch, lyrics, weights = {}, {}, {}, {}
    for target in targets or labels.targets:
        y = labels.targets[target]
        binary = target in labels.binary
        fixed = 1.0 if plain else None
        if blocks is None and not plain:
            chosen, penalty = _choose_features(feats, y, binary, labels.groups, seed)
            Xa = block_matrix(feats, chosen)
            audio[target] = fit_linear(Xa, y, binary, chosen, labels.groups, seed=seed,
                                       alpha=penalty, C=penalty)  # fmt: skip
        else:
            chosen = tuple(blocks) if blocks is not None else FEATURE_SETS[0]
            Xa = block_matrix(feats, chosen)
            audio[target] = fit_linear(Xa, y, binary, chosen, labels.groups, seed=seed,
                                       alpha=fixed, C=fixed)  # fmt: skip
        if taggrams is not None and target in ("valence", "arousal"):
            rows = [(g, y[i]) for i, g in enumerate(taggrams) if np.isfinite(y[i]) and len(g)]
            P = np.concatenate([g for g, _ in rows])
            py = np.concatenate([np.full(len(g), v) for g, v in rows])
            if binary:
                py = 2 * py - 1  # the curve model regresses -1...1
            patch[target] = fit_linear(P, py, False, ("tags",), alpha=PATCH_ALPHA)
        if lyrics_X is not None and target in ("valence", "arousal"):
            has = np.isfinite(lyrics_X).all(axis=1) & np.isfinite(y)
            if has.sum() >= MIN_LYRICS_ITEMS and len(np.unique(y[has])) > 1:
                lyrics[target] = fit_linear(lyrics_X[has], y[has], binary, ("lyrics",),
                                            labels.groups[has], seed=seed)  # fmt: skip
                weights[target] = _fusion_weight(Xa, lyrics_X, y, binary, labels, chosen, seed)
    return EmotionHead(name, audio, patch, lyrics, weights)


def _choose_features(
    feats: dict[str, np.ndarray], y: np.ndarray, binary: bool, groups: np.ndarray, seed: int
) -> tuple[tuple[str, ...], float | None]:
    """(feature set, penalty) of one target by grouped CV inside the items (finite ``y``);
    penalty None (chosen by :func:`fit_linear`) when there is one candidate set."""
    keep = np.isfinite(y)
    sub = {b: v[keep] for b, v in feats.items()}
    # A set with a block no item has (features of the first version) is no candidate.
    sets = [s for s in FEATURE_SETS if all(np.isfinite(sub[b]).any() for b in s)]
    if len(sets) == 1:
        return sets[0], None
    if binary:
        return choose_logistic(sub, y[keep], np.asarray(groups)[keep], sets, seed=seed)
    return choose_ridge(sub, y[keep][:, None], np.asarray(groups)[keep], sets, seed=seed)[0]


def _fusion_weight(
    Xa: np.ndarray, Xl: np.ndarray, y: np.ndarray, binary: bool, labels: EmotionLabels,
    blocks: Sequence[str], seed: int,
) -> float:  # fmt: skip
    """The lyrics weight that fits the out-of-fold predictions of the items best."""
    has = np.isfinite(Xl).all(axis=1) & np.isfinite(y)
    idx = np.flatnonzero(has)
    folds = fold_splits(labels.groups[idx], None, min(3, len(np.unique(labels.groups[idx]))),
                        seed)  # fmt: skip
    pa, pl = np.zeros(len(idx)), np.zeros(len(idx))
    for train, test in folds:
        tr, te = idx[train], idx[test]
        pa[test] = fit_linear(Xa[tr], y[tr], binary, blocks, labels.groups[tr]).predict(Xa[te])
        pl[test] = fit_linear(Xl[tr], y[tr], binary, ("lyrics",), labels.groups[tr]).predict(
            Xl[te])  # fmt: skip
    truth = 2 * y[idx] - 1 if binary else y[idx]
    grid = np.linspace(0, 1, 21)
    errors = [np.mean(((1 - w) * pa + w * pl - truth) ** 2) for w in grid]
    return float(grid[int(np.argmin(errors))])


def out_of_fold(
    X: np.ndarray,
    labels: EmotionLabels,
    blocks: Sequence[str] | None = None,
    folds: int = 5,
    seed: int = 0,
    targets: Sequence[str] | None = None,
    lyrics_X: np.ndarray | None = None,
    plain: bool = False,
) -> tuple[dict[str, np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    """Out-of-fold predictions per target: each item by the head that did not see its group."""
    splits = fold_splits(labels.groups, labels.strata, folds, seed)
    names = list(targets or labels.targets)
    pred = {t: np.full(len(labels), np.nan) for t in names}
    for train, test in splits:
        sub = _subset(labels, train)
        head = fit_head("cv", X[train], sub, blocks, targets=names, seed=seed, plain=plain,
                        lyrics_X=None if lyrics_X is None else lyrics_X[train])  # fmt: skip
        feats = split_flat(X[test])
        for t in names:
            audio = head.audio[t].predict(block_matrix(feats, head.audio[t].blocks))
            if t in head.lyrics and lyrics_X is not None:
                lyr = head.lyrics[t].predict(np.where(np.isfinite(lyrics_X[test]),
                                                      lyrics_X[test], 0.0))  # fmt: skip
                w = head.lyrics_weight.get(t, 0.0)
                has = np.isfinite(lyrics_X[test]).all(axis=1)
                audio = np.where(has, (1 - w) * audio + w * lyr, audio)
            pred[t][test] = audio
    return pred, splits


def _subset(labels: EmotionLabels, index: np.ndarray) -> EmotionLabels:
    return EmotionLabels(
        paths=[labels.paths[i] for i in index] if labels.paths else [],
        groups=labels.groups[index],
        group_source=labels.group_source,
        targets={k: v[index] for k, v in labels.targets.items()}, binary=set(labels.binary),
        lyrics=[labels.lyrics[i] for i in index] if labels.lyrics else [],
        strata=labels.strata[index] if len(labels.strata) else labels.strata,
        source=labels.source,
    )  # fmt: skip


def score_predictions(pred: dict[str, np.ndarray], labels: EmotionLabels) -> dict[str, Any]:
    """Figures of out-of-fold predictions: Spearman (continuous), ROC-AUC (two-class),
    mean Spearman over GEMS and top-emotion accuracy when all nine are there."""
    out: dict[str, Any] = {"per_target": {}}
    for t, p in pred.items():
        y = labels.targets[t]
        keep = np.isfinite(y) & np.isfinite(p)
        if t in labels.binary:
            out["per_target"][t] = {"roc_auc": roc_auc_with_interval(y[keep], p[keep])}
        else:
            out["per_target"][t] = {"spearman": spearman_with_interval(y[keep], p[keep])}
    if all(g in pred and g in labels.targets and g not in labels.binary for g in GEMS):
        rhos = [out["per_target"][g]["spearman"]["rho"] for g in GEMS]
        out["gems_mean_spearman"] = float(np.nanmean(rhos))
        truth = np.stack([labels.targets[g] for g in GEMS], axis=1)
        guess = np.stack([pred[g] for g in GEMS], axis=1)
        keep = np.isfinite(truth).all(axis=1)
        out["top_emotion"] = top_emotion_accuracy(truth[keep], guess[keep])
    return out


def train_emotion_head(
    labels: EmotionLabels,
    name: str,
    models_dir: str | os.PathLike[str] | None = None,
    folds: int = 5,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Any = None,
    overwrite: bool = False,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    """Cross-validate, fit on everything, and save ``<models dir>/<name>/emotion.json``.

    ``max_seconds`` computes the features on each file's first seconds only
    (:func:`~songscape.training.emotion_features.cached_features`).

    Returns
    -------
    dict
        ``name``, ``path``, ``targets``, ``n``, ``n_lyrics``, ``folds``, ``grouping``,
        ``cv`` (:func:`score_predictions`), ``lyrics_weight``.

    Raises
    ------
    DatasetError
        Too few groups for the folds, a target with one class, unreadable audio.
    TrainingError
        A model of that name exists (without ``overwrite``).
    """
    from songscape.config import default_models_dir
    from songscape.errors import TrainingError
    from songscape.models.trained import check_name
    from songscape.training.emotion_features import cached_features

    try:
        check_name(name)
    except ValueError as err:
        raise DatasetError(str(err)) from err
    root = Path(models_dir).expanduser() if models_dir else default_models_dir()
    folder = root / name
    if folder.exists() and not overwrite:
        raise TrainingError(f"a model named {name!r} exists in {root}; use --overwrite")
    n_groups = len(np.unique(labels.groups))
    if n_groups < folds:
        raise DatasetError(f"{n_groups} groups cannot fill {folds} folds: label more files "
                           "or groups")  # fmt: skip
    X, taggrams = cached_features([str(p) for p in labels.paths], cache_dir, progress,
                                  max_seconds=max_seconds)  # fmt: skip
    lyrics_X = lyrics_matrix(labels)
    n_lyrics = int(np.isfinite(lyrics_X).all(axis=1).sum()) if lyrics_X is not None else 0
    use_lyrics = lyrics_X if n_lyrics >= MIN_LYRICS_ITEMS else None
    pred, _ = out_of_fold(X, labels, folds=folds, seed=seed, lyrics_X=use_lyrics)
    cv = score_predictions(pred, labels)
    head = fit_head(name, X, labels, taggrams=taggrams, lyrics_X=use_lyrics, seed=seed)
    head.info = {
        "labels": labels.source, "n": len(labels), "n_lyrics": n_lyrics,
        "targets": {t: ("two-class" if t in labels.binary else "continuous")
                    for t in labels.targets},
        "folds": folds, "grouping": labels.group_source, "seed": seed, "cv": cv,
        "max_seconds": max_seconds,
        "trained_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    path = head.save(folder)
    return {"name": name, "path": str(path), "targets": list(head.targets), "n": len(labels),
            "n_lyrics": n_lyrics, "folds": folds, "grouping": labels.group_source, "cv": cv,
            "lyrics_weight": head.lyrics_weight}  # fmt: skip


def lyrics_matrix(labels: EmotionLabels) -> np.ndarray | None:
    """Lyrics features per file (NaN rows without usable English lyrics), or None when no
    file has lyrics. Lyrics come from the labels, else from a sidecar file."""
    from songscape.audio.lyrics_files import sidecar_lyrics
    from songscape.errors import LyricsError
    from songscape.models.lyrics import clean_lyrics, detect_language, lyrics_features

    rows, any_text = [], False
    for i, path in enumerate(labels.paths):
        text = labels.lyrics[i] if labels.lyrics else None
        if text is None:
            text, _ = sidecar_lyrics(path)
        row = np.full(388, np.nan)
        if text:
            any_text = True
            try:
                if detect_language(clean_lyrics(text))[0] == "en":
                    row = lyrics_features(text)
            except LyricsError:
                pass
        rows.append(row)
    return np.stack(rows) if any_text else None
