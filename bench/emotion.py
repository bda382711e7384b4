"""Emotion (issue 19): how well songscape's emotion estimates agree with listeners.

Prints JSON lines and writes ``bench/results/emotion.json`` with ``results``:

* ``emotion4q``: on ``../shared/data/emotion4q_third`` (240 clips, 60 per quadrant, 184
  artists), grouped (by artist) 5-fold cross-fitting, stratified by quadrant: ROC-AUC of
  valence (positive vs negative) and arousal (high vs low) with bootstrap intervals, and
  4-quadrant accuracy (Wilson interval) and macro F1 from the signs of the two
  predictions, for: the plain logistic probe on the musicnn embedding (C = 1, the
  baseline), descriptors only, the embedding head (C chosen inside the training folds),
  the fused model (embedding + tags + descriptors), the zero-shot tag mapping and the
  GEMS head trained on emotify_half (another data set; valence/arousal by the mapping).
* ``emotify``: on ``../shared/data/emotify_half`` (200 excerpts, first 30 s; groups =
  blocks of 10 consecutive files per genre, 20 groups), grouped 5-fold cross-fitting
  stratified by genre: Spearman per GEMS emotion (bootstrap interval), their mean,
  top-emotion accuracy, and Spearman of valence/arousal (truth: the listeners' shares
  through the documented GEMS -> valence/arousal mapping) for: "predict the genre's mean"
  (the training folds' mean of the item's genre), the plain ridge regression on the
  musicnn embedding (alpha = 1, the baseline), descriptors only, the embedding head,
  the fused model and the zero-shot mapping.
* ``lyrics``: per Jamendo song (10; French, Spanish, German) and PMEmo chorus (4): the
  detected language, whether the lyrics are used, the English models' polarity computed
  anyway (``forced``), the VADER lexicon's coverage, the audio valence and the fused one;
  PMEmo's annotated valence/arousal and quadrant as a sanity check.
* ``metamorphic``: clips of emotion4q_third slowed to 80 % speed (phase vocoder) and
  12 dB quieter: the change of predicted arousal (fused head and zero-shot).
* ``speed``: per-stage seconds of the ingest stages on the same files in one process
  (each stage's ``run`` timed), and the emotion stage's share.

Heads are fitted only on training folds; nothing is tuned on held-out items. Features
are cached (``~/.local/share/songscape/models/cache/emotion-<set>``), so a re-run is quick.

Usage: ``python bench/emotion.py [--folds 5] [--metamorphic 16] [--speed-files 4]``
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import machine, write_results  # noqa: E402
from songscape.config import default_cache_dir  # noqa: E402
from songscape.datasets.emotion_labels import read_emotion_labels  # noqa: E402
from songscape.evaluation.emotion_metrics import (  # noqa: E402
    roc_auc_with_interval,
    spearman_with_interval,
    top_emotion_accuracy,
)
from songscape.evaluation.intervals import wilson_interval  # noqa: E402
from songscape.models.emotion import (  # noqa: E402
    AudioEmotionFeatures,
    estimate_emotion,
    split_flat,
    zero_shot_estimate,
)
from songscape.models.emotion_space import GEMS, gems_to_va, quadrant  # noqa: E402
from songscape.training.emotion import fit_head, out_of_fold  # noqa: E402
from songscape.training.emotion_features import cached_features  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
EMOTIFY_SECONDS = None  # the whole excerpt: the listeners' labels are for the whole minute
NESTED = "fused, feature set and penalty chosen by nested CV (the trained heads)"
ALL_BLOCKS = ("embedding", "tags", "descriptors", "embedding_std", "tags_std", "mtt_embedding",
              "mtt_tags", "mtt_tags_std")  # fmt: skip
TAG_LABELS: tuple[str, ...] = ()


def cache(name: str) -> Path:
    return default_cache_dir() / f"emotion-{name}"


def tag_labels() -> tuple[str, ...]:
    from songscape.models.registry import get_spec

    return tuple(get_spec("musicnn-msd").labels)


def features_of(row: np.ndarray, taggram: np.ndarray) -> AudioEmotionFeatures:
    b = split_flat(row)
    extra = {k: v for k, v in b.items() if k not in ("embedding", "tags", "descriptors")}
    return AudioEmotionFeatures(b["embedding"], b["tags"], b["descriptors"], taggram,
                                np.arange(len(taggram)) * 3.0, 3.0, tag_labels(),
                                extra)  # fmt: skip


def zero_shot_rows(X: np.ndarray, grams: list[np.ndarray]) -> list:
    return [zero_shot_estimate(features_of(X[i], grams[i])) for i in range(len(X))]


def tag_arousal(estimates: list) -> np.ndarray:
    """Zero-shot arousal from the tags alone (the GEMS mapping, without the cue)."""
    return np.array([gems_to_va(np.array([e.gems[g] for g in GEMS]))[1] for e in estimates])


# ---- 4Q ---------------------------------------------------------------------------------

VARIANTS_4Q = {
    "plain logistic probe, musicnn embedding (baseline)": (("embedding",), True),
    "descriptors only": (("descriptors",), False),
    "musicnn embedding head": (("embedding",), False),
    "fused (embedding + tags + descriptors)": (("embedding", "tags", "descriptors"), False),
    "all blocks, fixed (+ patch spread + musicnn-mtt)": (ALL_BLOCKS, False),
    NESTED: (None, False),
}


def quadrant_scores(v: np.ndarray, a: np.ndarray, truth: list[str]) -> dict:
    from sklearn.metrics import f1_score

    pred = [quadrant(float(x), float(y)) for x, y in zip(v, a, strict=True)]
    hits = sum(p == t for p, t in zip(pred, truth, strict=True))
    return {"accuracy": hits / len(truth), "ci95": list(wilson_interval(hits, len(truth))),
            "macro_f1": float(f1_score(truth, pred, average="macro"))}  # fmt: skip


def bench_4q(folds: int, gems_head) -> dict:
    labels = read_emotion_labels(DATA / "emotion4q_third" / "labels.csv")
    X, grams = cached_features([str(p) for p in labels.paths], cache("emotion4q_third"))
    truth_q = list(labels.strata)
    yv, ya = labels.targets["valence"], labels.targets["arousal"]
    rows = {}
    for name, (blocks, plain) in VARIANTS_4Q.items():
        pred, _ = out_of_fold(X, labels, blocks, folds, plain=plain)
        rows[name] = {
            "valence_auc": roc_auc_with_interval(yv, pred["valence"]),
            "arousal_auc": roc_auc_with_interval(ya, pred["arousal"]),
            "quadrant": quadrant_scores(pred["valence"], pred["arousal"], truth_q),
        }
        print(json.dumps({"set": "emotion4q", "variant": name, **{k: v.get("auc", v.get(
            "accuracy")) for k, v in rows[name].items()}}), flush=True)  # fmt: skip
    zs = zero_shot_rows(X, grams)
    v = np.array([e.valence for e in zs])
    a = np.array([e.arousal for e in zs])
    rows["zero-shot tag mapping (no training)"] = {
        "valence_auc": roc_auc_with_interval(yv, v), "arousal_auc": roc_auc_with_interval(ya, a),
        "quadrant": quadrant_scores(v, a, truth_q)}  # fmt: skip
    # The same without the loudness/onset-rate arousal cue: the tags alone, as before it.
    a_tags = tag_arousal(zs)
    rows["zero-shot, tags alone (no loudness/onset cue)"] = {
        "valence_auc": roc_auc_with_interval(yv, v),
        "arousal_auc": roc_auc_with_interval(ya, a_tags),
        "quadrant": quadrant_scores(v, a_tags, truth_q)}  # fmt: skip
    if gems_head is not None:
        est = [estimate_emotion(features_of(X[i], grams[i]), [gems_head]) for i in range(len(X))]
        v = np.array([e.valence for e in est])
        a = np.array([e.arousal for e in est])
        rows["GEMS head trained on emotify_half, mapped (no 4Q training)"] = {
            "valence_auc": roc_auc_with_interval(yv, v),
            "arousal_auc": roc_auc_with_interval(ya, a),
            "quadrant": quadrant_scores(v, a, truth_q)}  # fmt: skip
    return {"n": len(labels), "folds": folds, "grouping": labels.group_source,
            "n_groups": int(len(np.unique(labels.groups))), "rows": rows,
            "anchor": "Panda et al. 2020, whole 900-clip set: F1 76.4 % (4 classes)",
            "goal": "valence AUC >= 0.90, arousal AUC >= 0.96 (fused, unseen artists)"}  # fmt: skip


# ---- emotify ----------------------------------------------------------------------------

VARIANTS_EMOTIFY = {
    "plain ridge, musicnn embedding (baseline)": (("embedding",), True),
    "descriptors only": (("descriptors",), False),
    "musicnn embedding head": (("embedding",), False),
    "fused (embedding + tags + descriptors)": (("embedding", "tags", "descriptors"), False),
    "all blocks, fixed (+ patch spread + musicnn-mtt)": (ALL_BLOCKS, False),
    NESTED: (None, False),
}


def gems_figures(truth: np.ndarray, pred: np.ndarray) -> dict:
    per = {g: spearman_with_interval(truth[:, j], pred[:, j]) for j, g in enumerate(GEMS)}
    tv, pv = gems_to_va(truth), gems_to_va(pred)
    return {
        "spearman": per, "mean_spearman": float(np.nanmean([per[g]["rho"] for g in GEMS])),
        "top_emotion": top_emotion_accuracy(truth, pred),
        "valence_spearman": spearman_with_interval(tv[:, 0], pv[:, 0]),
        "arousal_spearman": spearman_with_interval(tv[:, 1], pv[:, 1]),
    }  # fmt: skip


def bench_emotify(folds: int) -> tuple[dict, object]:
    from songscape.training.emotion import fold_splits

    labels = read_emotion_labels(DATA / "emotify_half" / "labels.csv")
    X, grams = cached_features([str(p) for p in labels.paths], cache("emotify_half"),
                               max_seconds=EMOTIFY_SECONDS)  # fmt: skip
    truth = np.stack([labels.targets[g] for g in GEMS], axis=1)
    rows = {}
    genre_mean = np.zeros_like(truth)
    for train, test in fold_splits(labels.groups, labels.strata, folds):
        for i in test:
            same = train[labels.strata[train] == labels.strata[i]]
            genre_mean[i] = truth[same].mean(axis=0)
    rows["genre mean (trivial baseline)"] = gems_figures(truth, genre_mean)
    for name, (blocks, plain) in VARIANTS_EMOTIFY.items():
        pred, _ = out_of_fold(X, labels, blocks, folds, plain=plain)
        rows[name] = gems_figures(truth, np.stack([pred[g] for g in GEMS], axis=1))
        print(json.dumps({"set": "emotify", "variant": name,
                          "mean_spearman": rows[name]["mean_spearman"]}), flush=True)  # fmt: skip
    zs = zero_shot_rows(X, grams)
    rows["zero-shot tag mapping (no training)"] = gems_figures(
        truth, np.array([[e.gems[g] for g in GEMS] for e in zs]))  # fmt: skip
    # Arousal as the zero-shot estimate gives it (with the loudness/onset-rate cue) and
    # from the tags alone; truth through the same GEMS mapping as above.
    true_arousal = gems_to_va(truth)[:, 1]
    rows["zero-shot tag mapping (no training)"]["estimate_arousal_spearman"] = {
        "with loudness/onset cue": spearman_with_interval(true_arousal,
                                                          np.array([e.arousal for e in zs])),
        "tags alone": spearman_with_interval(true_arousal, tag_arousal(zs)),
    }  # fmt: skip
    head = fit_head("emotify-gems", X, labels, seed=0)
    return {"n": len(labels), "folds": folds, "grouping": labels.group_source,
            "n_groups": int(len(np.unique(labels.groups))), "seconds_per_excerpt":
            EMOTIFY_SECONDS, "rows": rows,
            "goal": "mean Spearman over the nine emotions >= 0.60"}, head  # fmt: skip


# ---- lyrics -----------------------------------------------------------------------------


def bench_lyrics(heads: list) -> dict:
    from songscape.models.emotion_fusion import fused_values, lyrics_contribution
    from songscape.models.lyrics import lyrics_polarity

    out = {"jamendo": [], "pmemo": []}
    jam = DATA / "jamendolyrics_subset10"
    rows = list(csv.DictReader(open(jam / "labels.csv", encoding="utf-8")))
    paths = [str(jam / r["path"]) for r in rows]
    X, grams = cached_features(paths, cache("jamendolyrics_subset10"), max_seconds=60.0)
    for i, r in enumerate(rows):
        text = (jam / "lyrics" / (Path(r["path"]).stem + ".txt")).read_text(encoding="utf-8")
        forced = lyrics_polarity(text, force=True)
        est = estimate_emotion(features_of(X[i], grams[i]), heads)
        fused = fused_values(est, lyrics_contribution(text, "lyrics file", heads))
        out["jamendo"].append({
            "song": Path(r["path"]).stem, "language_labelled": r["language"],
            "language_detected": forced.language, "lyrics_used": fused["lyrics_used"],
            "reason": fused["lyrics_reason"], "forced_valence": forced.valence,
            "forced_vader": forced.vader, "forced_sentence": forced.sentence,
            "lexicon_coverage": forced.lexicon_coverage,
            "audio_valence": round(est.audio_valence, 4), "fused_valence":
            round(fused["valence"], 4)})  # fmt: skip
    pm = DATA / "pmemo_samples"
    rows = list(csv.DictReader(open(pm / "labels.csv", encoding="utf-8")))
    paths = [str(pm / r["path"]) for r in rows]
    X, grams = cached_features(paths, cache("pmemo_samples"))
    for i, r in enumerate(rows):
        meta = json.loads((pm / "annotations" / (Path(r["path"]).stem + ".json")).read_text())
        text = meta.get("lyrics") or ""
        pol = lyrics_polarity(text, force=True)
        est = estimate_emotion(features_of(X[i], grams[i]), heads)
        fused = fused_values(est, lyrics_contribution(text, "PMEmo", heads))
        out["pmemo"].append({
            "clip": Path(r["path"]).stem, "title": r["title"], "quadrant": r["label_quadrant"],
            "valence_mean": float(r["valence_mean"]), "arousal_mean": float(r["arousal_mean"]),
            "language_detected": pol.language, "lyrics_used": fused["lyrics_used"],
            "lyrics_valence": pol.valence, "audio_valence": round(est.audio_valence, 4),
            "audio_arousal": round(est.audio_arousal, 4), "fused_valence":
            round(fused["valence"], 4), "predicted_quadrant_audio":
            quadrant(est.audio_valence, est.audio_arousal), "predicted_quadrant_fused":
            quadrant(fused["valence"], fused["arousal"])})  # fmt: skip
    return out


# ---- metamorphic ------------------------------------------------------------------------


def bench_metamorphic(n: int, heads: list) -> dict:
    import librosa
    from scipy.stats import binomtest

    from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE
    from songscape.audio.decode import load_audio
    from songscape.training.emotion_features import audio_features

    labels = read_emotion_labels(DATA / "emotion4q_third" / "labels.csv")
    picks = np.random.default_rng(0).choice(len(labels), size=min(n, len(labels)),
                                            replace=False)  # fmt: skip
    changes = {"fused head": [], "zero-shot": [], "zero-shot, tags alone": []}
    per_clip = []
    for i in picks:
        y, _ = load_audio(labels.paths[int(i)], sr=ANALYSIS_SAMPLE_RATE)
        slow = librosa.effects.time_stretch(y, rate=0.8) * 10 ** (-12 / 20)
        a = audio_features(y, ANALYSIS_SAMPLE_RATE)
        b = audio_features(slow.astype(np.float32), ANALYSIS_SAMPLE_RATE)
        if heads:
            changes["fused head"].append(estimate_emotion(b, heads).arousal
                                         - estimate_emotion(a, heads).arousal)  # fmt: skip
        za, zb = zero_shot_estimate(a), zero_shot_estimate(b)
        changes["zero-shot"].append(zb.arousal - za.arousal)
        changes["zero-shot, tags alone"].append(float(np.diff(tag_arousal([za, zb]))[0]))
        per_clip.append(
            {
                "clip": labels.paths[int(i)].stem,
                "quadrant": str(labels.strata[int(i)]),
                "tempo_bpm": [float(a.descriptors[0]), float(b.descriptors[0])],
                "loudness_lufs": [float(a.descriptors[1]), float(b.descriptors[1])],
                "change": {k: round(float(v[-1]), 4) for k, v in changes.items() if v},
            }
        )
    out = {"n": len(picks), "transform": "time stretch to 80 % speed, then -12 dB",
           "per_clip": per_clip}  # fmt: skip
    for name, d in changes.items():
        if d:
            d = np.asarray(d)
            lowered = int((d < 0).sum())
            out[name] = {"mean_change": float(d.mean()), "share_lowered": lowered / len(d),
                         "share_ci95": list(wilson_interval(lowered, len(d))),
                         "sign_test_p": float(binomtest(lowered, len(d), 0.5,
                                                        alternative="greater").pvalue),
                         "min": float(d.min()), "max": float(d.max())}  # fmt: skip
    return out


# ---- speed ------------------------------------------------------------------------------


def bench_speed(n_files: int, heads: list | None = None) -> dict:
    """Per-stage seconds; with ``heads``, they are installed (a temporary models folder) so
    the emotion stage runs as it does with trained heads (musicnn-mtt features included)."""
    import os
    import tempfile

    from songscape.ingest import work  # noqa: F401  (registers every stage)
    from songscape.ingest.emotion_stage import current_heads, forget_heads
    from songscape.ingest.model_stages import DEFAULT_TAG_MODELS, model_stage_names
    from songscape.ingest.stages import TrackContext, pipeline_stages

    pm = DATA / "pmemo_samples" / "audio"
    files = sorted(pm.glob("*.ogg"))[:n_files]
    stages = pipeline_stages(model_stage_names(("musicnn-msd",), DEFAULT_TAG_MODELS))
    # In an ingest the musicnn-msd pass is shared by embed/tag/emotion; time it with the
    # model stages and the emotion stage on what they computed (it runs last here).
    stages = [s for s in stages if s.name != "emotion"] + [s for s in stages if s.name == "emotion"]
    totals: dict[str, float] = {}
    audio_s = 0.0
    saved_env = os.environ.get("SONGSCAPE_MODELS")
    if heads:
        folder = Path(tempfile.mkdtemp(prefix="emotion-heads-"))
        for head in heads:
            head.save(folder / head.name)
        os.environ["SONGSCAPE_MODELS"] = str(folder)
    forget_heads()
    used = [h.name for h in current_heads()]
    for k, path in enumerate(files):
        ctx = TrackContext(path)
        for stage in stages:
            t = time.perf_counter()
            stage.run(ctx)
            if k > 0:  # the first file pays the models' loading
                totals[stage.name] = totals.get(stage.name, 0.0) + time.perf_counter() - t
        if k > 0:
            audio_s += ctx.audio_seconds_decoded
    if saved_env is None:
        os.environ.pop("SONGSCAPE_MODELS", None)
    else:
        os.environ["SONGSCAPE_MODELS"] = saved_env
    forget_heads()
    total = sum(totals.values())
    return {"files": len(files) - 1, "audio_s": round(audio_s, 1),
            "stage_s": {k: round(v, 3) for k, v in totals.items()},
            "emotion_share": totals.get("emotion", 0.0) / total if total else None,
            "heads": used,
            "note": "the first file (model loading) is not counted; the emotion stage runs "
                    "last and reuses the musicnn-msd and musicnn-mtt passes of the embed/tag "
                    "stages",
            }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--metamorphic", type=int, default=16, help="clips (0 skips)")
    ap.add_argument("--speed-files", type=int, default=4, help="files (0 skips)")
    ap.add_argument("--out", help="result file (default bench/results/emotion.json)")
    ap.add_argument("--speed-only", metavar="JSON", help="measure only the speed, into JSON")
    ap.add_argument(
        "--speed-from",
        metavar="JSON",
        help="take the speed from a --speed-only run (measured in parallel, same session)",
    )
    args = ap.parse_args()
    if args.speed_only:
        Path(args.speed_only).write_text(json.dumps(bench_speed(args.speed_files)))
        return
    started = time.time()
    emotify, gems_head = bench_emotify(args.folds)
    results = {"emotify": emotify, "emotion4q": bench_4q(args.folds, gems_head)}
    # The heads a user gets from scripts/train_emotion_heads.py: GEMS from emotify, V/A from 4Q.
    labels = read_emotion_labels(DATA / "emotion4q_third" / "labels.csv")
    X, grams = cached_features([str(p) for p in labels.paths], cache("emotion4q_third"))
    va_head = fit_head("emotion4q-va", X, labels, taggrams=grams, seed=0)
    heads = [va_head, gems_head]
    results["lyrics"] = bench_lyrics(heads)
    print(json.dumps({"lyrics": results["lyrics"]["pmemo"]}), flush=True)
    if args.metamorphic:
        results["metamorphic"] = bench_metamorphic(args.metamorphic, heads)
        print(json.dumps({"metamorphic": results["metamorphic"]}), flush=True)
    if args.speed_from:
        for _ in range(120):  # the parallel run may still be going: wait up to 20 min
            if Path(args.speed_from).is_file():
                break
            time.sleep(10)
        results["speed"] = json.loads(Path(args.speed_from).read_text())
        results["speed"]["measured"] = "in a parallel --speed-only run of the same session"
    elif args.speed_files:
        results["speed"] = bench_speed(args.speed_files, heads)
        print(json.dumps({"speed": results["speed"]}), flush=True)
    results["elapsed_s"] = round(time.time() - started, 1)
    write_results(__file__, results, machine(folds=args.folds, threads="default"), args.out)


if __name__ == "__main__":
    main()
