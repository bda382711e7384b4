"""Render the figure tables of README.md and docs/*.md from ``bench/results/*.json``.

A table lives between two markers in a Markdown file::

    <!-- figures:NAME -->
    ...generated: never edit by hand...
    <!-- /figures:NAME -->

and :data:`TABLES` maps each NAME to the function that renders it from the result files
the bench scripts wrote (bench/README.md documents their format). Each block ends with a
line naming its result file and the run's conditions.

Usage: ``python bench/figures.py`` rewrites the blocks (``make figures``);
``python bench/figures.py --check`` changes nothing and exits 1, with a diff, when a
block differs from what the results say (``tests/test_figures.py`` does the same).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures_emotion as emotion_figures  # noqa: E402  (issue 19)
import figures_mix as mix_figures  # noqa: E402  (issue 13)
import figures_reliability as reliability_figures  # noqa: E402  (issue 16)
import figures_segments as segments_figures  # noqa: E402  (issue 20)
import figures_sing as sing_figures  # noqa: E402  (issue 14)

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
MARKER = re.compile(
    r"(?P<open><!-- figures:(?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)"
    r"(?P<close><!-- /figures:(?P=name) -->)",
    re.S,
)
DEFAULT_PROVENANCE = "measured by the command above"


def documents() -> list[Path]:
    """The Markdown files that may hold figure blocks."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@cache
def load(name: str) -> dict[str, Any]:
    """The whole result file ``bench/results/<name>.json``."""
    return json.loads((RESULTS_DIR / f"{name}.json").read_text())


def results(name: str) -> Any:
    return load(name)["results"]


# ---- formatting ---------------------------------------------------------------------------


def f3(x: float) -> str:
    return f"{x:.3f}"


def ci(interval: list[float], digits: int = 3, sep: str = ", ") -> str:
    lo, hi = interval
    return f"[{lo:.{digits}f}{sep}{hi:.{digits}f}]"


def ci_text(interval: list[float]) -> str:
    """``CI 0.72–0.87`` (two decimals, halves rounded up: 0.715 -> 0.72)."""
    lo, hi = (round(v + 1e-9, 2) for v in interval)
    return f"CI {lo:.2f}–{hi:.2f}"


def num(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def seconds(x: float | None) -> str:
    if x is None:
        return ""
    if x < 0.01:
        return f"{x:.3f}"
    return f"{x:.2f}" if x < 0.1 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["|" + "|".join(f" {c} " if str(c) else " " for c in row) + "|" for row in rows]
    return "\n".join(lines)


def source(*names: str) -> str:
    """The closing line of a block: which result file(s), which command, when, where."""
    parts = []
    for name in names:
        data = load(name)
        c = data["conditions"]
        where = ", ".join(str(x) for x in (c.get("date"), c.get("cpu")) if x)
        if c.get("cpus"):
            where += f" ({c['cpus']} CPUs"
            where += f", load {c['loadavg_1min']})" if "loadavg_1min" in c else ")"
        text = f"`bench/results/{name}.json` — `{data['command']}`, {where}"
        if data["provenance"] != DEFAULT_PROVENANCE:
            text += f"; {data['provenance']}"
        parts.append(text)
    return "Source: " + "; ".join(parts) + "."


# ---- README -------------------------------------------------------------------------------


def _probe_row(model: str, layer: str, dataset: str = "gtzan_subset100") -> dict:
    rows = results("probe")["rows"]
    key = (dataset, model, layer)
    return next(r for r in rows if (r["dataset"], r["model"], r["layer"]) == key)


def _default_layer(model: str) -> str:
    return "mfcc-statistics" if model == "mfcc" else "penultimate"


def _search_row(index: str, n: int, dim: int, **params: Any) -> dict:
    for row in results("search")["rows"]:
        if (row["index"], row["n"], row["dim"]) == (index, n, dim) and all(
            row["params"].get(k) == v for k, v in params.items()
        ) and (params or row.get("songscape_default")):
            return row
    raise LookupError(f"no search row {index} n={n} dim={dim} {params}")


def _train_row(model: str) -> dict:
    return next(r for r in results("train")["rows"] if r["model"] == model)


def _recs_quality() -> dict[str, dict]:
    return {r["model"]: r for r in results("recs")["hetrec2k"]["quality"]}


def _coldstart_mean() -> dict[str, dict]:
    return {r["method"]: r for r in results("coldstart")["mean"]}


def readme() -> str:
    rows: list[list[str]] = []
    d = results("descriptors")
    timing, gtzan = d["timing"], d["gtzan_subset100"]
    rows.append([
        f"decode + descriptors, one core ({timing['n_files']} real files, "
        f"{timing['audio_s'] / 60:.0f} min)",
        f"{timing['realtime_factor_decode_plus_describe_per_cpu_s']:.0f}x real time per CPU "
        f"second ({timing['realtime_factor_decode_plus_describe']:.0f}x wall clock, machine "
        f"load {load('descriptors')['conditions']['loadavg_1min']:.1f} on "
        f"{load('descriptors')['conditions']['cpus']} cores)",
        "target ≥ 60x", "`bench/descriptors.py`",
    ])  # fmt: skip
    ingest = results("ingest")
    pool2, before = (next(r for r in ingest["rows"] if r["mode"] == "pool" and r["workers"] == 2
                          and r["models"] == models) for models in (True, False))  # fmt: skip
    rows.append([
        f"`ingest --workers 2`, {pool2['files']} real files / {pool2['audio_s'] / 60:.0f} min, "
        "descriptors + embedding + MSD/MTT tags",
        f"{pool2['wall_s']} s ({pool2['realtime_factor']:.0f}x real time)",
        f"decode + metadata + descriptors only: {before['wall_s']} s",
        "`bench/ingest.py` (earlier run)",
    ])  # fmt: skip
    acc2, acc1 = gtzan["tempo_acc2"], gtzan["tempo_acc1"]
    rows.append([f"tempo Accuracy2, GTZAN {acc2['n']} clips",
                 f"{f3(acc2['value'])} ({ci_text(acc2['ci95'])})",
                 "madmom / Schreiber ≈ 0.93–0.94", "`bench/descriptors.py`"])  # fmt: skip
    rows.append(["tempo Accuracy1", f3(acc1["value"]), "", "`bench/descriptors.py`"])
    rows.append(["beat F-measure, GTZAN", f3(gtzan["beat_f"]["mean"]),
                 "madmom ≈ 0.86–0.89 (full GTZAN)", "`bench/descriptors.py`"])  # fmt: skip
    rows.append(["downbeat F-measure, GTZAN", f3(gtzan["downbeat_f"]["mean"]),
                 "madmom DBN ≈ 0.6–0.7", "`bench/descriptors.py`"])  # fmt: skip
    keys = d["key_synthetic"]
    acc = keys[keys["default_profile"]]["accuracy"]
    rows.append([f"key, synthetic 24 keys × 2 timbres ({keys['default_profile']} profile)",
                 f"{acc['k']}/{acc['n']}", "", "`bench/descriptors.py`"])  # fmt: skip
    rows.append(["musicnn port vs original TF, logits (4 models × 9 clips)",
                 "max abs diff ≤ 1e-4 on every test run", "required ≤ 1e-4",
                 "`tests/models/test_musicnn.py`"])  # fmt: skip
    embed = next(r for r in results("embed") if r["model"] == "musicnn-msd")
    rows.append(["musicnn-msd embedding (decode + log-mel + network), one core",
                 f"{embed['rtf_total_per_cpu_s']:.0f}x real time per CPU second "
                 f"({embed['rtf_total_per_core']:.0f}x wall clock, machine load "
                 f"{embed['loadavg_1min']:.1f})", "target ≥ 50x", "`bench/embed.py`"])  # fmt: skip
    setup = results("probe")["datasets"]["gtzan_subset100"]
    msd, mfcc = _probe_row("musicnn-msd", "penultimate"), _probe_row("mfcc", "mfcc-statistics")
    rows.append([
        f"GTZAN genre linear probe, musicnn-msd {msd['dim']}-d ({setup['n']} clips, grouped "
        f"{setup['folds']}-fold)",
        f"{f3(msd['probe_acc'])} ({ci_text(msd['probe_ci95'])})", "VGGish + linear ≈ 0.77",
        "`bench/probe.py`",
    ])  # fmt: skip
    rows.append(["same, MFCC-statistics baseline",
                 f"{f3(mfcc['probe_acc'])} ({ci_text(mfcc['probe_ci95'])})",
                 "MFCC + SVM ≈ 0.53 (full GTZAN)", "`bench/probe.py`"])  # fmt: skip
    rows.append([
        f"GTZAN kNN P@{msd['k']}, musicnn-msd (same-artist-block excluded; ceiling "
        f"{msd['knn_ceiling']:.2f})",
        f3(msd["knn_p10"]), f"MFCC {f3(mfcc['knn_p10'])}", "`bench/probe.py`",
    ])  # fmt: skip
    hnsw = _search_row("faiss-hnsw", 1_000_000, 200)
    qps_ok = "" if hnsw["qps"] >= 3000 else " (missed)"
    rows.append([
        "similar-track index, 1M × 200-d **synthetic** clustered vectors, HNSW, one core",
        f"recall@10 {hnsw['recall_at_10']:.3f}, {num(hnsw['qps'])} q/s, p99 {hnsw['p99_ms']} ms, "
        f"{num(hnsw['bytes_per_vector'])} B/vector",
        f"target ≥ 0.99, ≥ 3,000 q/s{qps_ok}, < 1 ms, ≤ 1.2 KB", "`bench/search.py` (earlier run)",
    ])  # fmt: skip
    comp = _search_row("faiss-ivfpq+rerank", 1_000_000, 200)
    rows.append(["compressed index (IVF-PQ + exact re-rank), 1M × 200-d **synthetic** vectors",
                 f"recall@10 {comp['recall_at_10']:.3f} at {comp['bytes_per_vector']} B/vector "
                 "in RAM", "target ≥ 0.95 at ≤ 300 B",
                 "`bench/search.py` (earlier run)"])  # fmt: skip
    web = {(r["what"], r.get("k")): r for r in results("web")["rows"]}
    tracks = load("web")["conditions"]["tracks"]
    rows.append([f"web app, {tracks // 1000}k synthetic tracks: map data (cached) / `similar` p99",
                 f"{web[('page_data_warm', None)]['s_median'] * 1000:.0f} ms / "
                 f"{web[('similar', 3)]['p99_ms']} ms", "< 2 s / < 50 ms",
                 "`bench/web.py` (earlier run)"])  # fmt: skip
    head, finetune = _train_row("musicnn-head"), _train_row("musicnn-finetune")
    scratch = [r for r in results("train")["rows"] if r["kind"].startswith("supervised")
               and not r["model"].startswith("musicnn")]  # fmt: skip
    best = max(scratch, key=lambda r: r["heldout_acc"])
    folds = head["run"]["folds"]
    rows.append([
        f"GTZAN genre, {head['run']['n']} clips, {folds}-fold cross-training: held-out accuracy "
        "of `musicnn-finetune` / `musicnn-head`",
        f"{f3(finetune['heldout_acc'])} / {f3(head['heldout_acc'])}",
        f"on the same {folds} folds: musicnn-msd probe "
        f"{f3(_train_row('musicnn-msd')['probe_acc'])}, MFCC "
        f"{f3(_train_row('mfcc')['probe_acc'])}, best from-scratch model "
        f"({best['model']}) {f3(best['heldout_acc'])}",
        "`bench/train.py`",
    ])  # fmt: skip
    q = _recs_quality()
    k = q["als"]["k"]
    ranked = sorted((m for m in q if m != "popularity"), key=lambda m: -q[m][f"ndcg_at_{k}"])
    rows.append([f"recommendations, Last.fm HetRec 2k, NDCG@{k} (random holdout)",
                 ", ".join(f"{m} {f3(q[m][f'ndcg_at_{k}'])}" for m in ranked),
                 f"popularity {f3(q['popularity'][f'ndcg_at_{k}'])}",
                 "`bench/recs.py`"])  # fmt: skip
    cs = _coldstart_mean()
    k = results("coldstart")["k"]
    n_seeds = len(results("coldstart")["seeds"])
    rows.append([
        f"cold start, HetRec artists held out entirely, tag content, recall@{k} "
        f"(mean of {n_seeds} splits)",
        f"content k-NN {f3(cs['content-knn'][f'recall_at_{k}'])}; ALS + ridge map (default) "
        f"{f3(cs['als+ridge'][f'recall_at_{k}'])}; "
        f"ALS + MLP map {f3(cs['als+mlp'][f'recall_at_{k}'])}",
        f"random {f3(cs['random'][f'recall_at_{k}'])}", "`bench/coldstart.py`",
    ])  # fmt: skip
    big = results("recs")["lastfm360k_synthetic"]
    threads = big["threads"]
    scale = "" if big["scale"] == 1 else f" at {big['scale']:g} scale"
    rows.append([
        f"songscape `ALSRecommender` ({big['weighting']}, {big['factors']} factors), synthetic "
        f"Last.fm-360K-shaped matrix{scale} ({big['nnz'] / 1e6:.1f}M plays)",
        f"{big['cpu_s_per_iteration']:.1f} CPU s / iteration on {threads} thread"
        f"{'s' * (threads > 1)} ({big['s_per_iteration']:.1f} s wall clock, machine load "
        f"{load('recs')['conditions']['loadavg_1min']:.1f})",
        f"implicit ≈ {big['anchor_s_per_iteration']} s (real Last.fm 360K, many-core CPU); "
        f"implicit called directly (log1p), same run: "
        f"{big['implicit_direct']['cpu_s_per_iteration']:.1f} CPU s",
        "`bench/recs.py`",
    ])  # fmt: skip
    rows += mix_figures.readme_rows(results)  # issue 13
    return table(["what", "songscape", "anchor", "script"], rows)


# ---- docs/models.md -----------------------------------------------------------------------


def models_probe() -> str:
    rows = [r for r in results("probe")["rows"] if r["dataset"] == "gtzan_subset100"]
    ceiling = max(r["knn_ceiling"] for r in rows)
    out = []
    for r in rows:
        if r["model"] == "mfcc":
            cells = ["MFCC statistics (baseline)", "mean+std of 20 MFCC + Δ"]
        else:
            cells = [r["model"], r["layer"]]
        cells += [str(r["dim"]), f"{f3(r['probe_acc'])} {ci(r['probe_ci95'])}",
                  f"{f3(r['knn_p10'])} {ci(r['knn_ci95'])}", f3(r["knn_p10_ungrouped"])]
        if (r["model"], r["layer"]) == ("musicnn-msd", "penultimate"):  # the stored default
            cells = [f"**{c}**" if i != 2 else c for i, c in enumerate(cells)]
        out.append(cells)
    header = ["model", "layer", "dim", "probe accuracy [95% CI]",
              f"kNN P@10 [95% CI] (ceiling {ceiling:.2f})", "P@10 without grouping"]
    return table(header, out) + "\n\n" + source("probe")


def models_embed() -> str:
    out = [[r["model"], f"{r['rtf_total_per_cpu_s']}x", f"{r['rtf_total_per_core']}x",
            f"{r['rtf_network_per_core']}x", f"{r['rtf_decode']}x", f"{r['loadavg_1min']:.1f}",
            f"{r['peak_rss_mb']:.0f} MB"] for r in results("embed")]  # fmt: skip
    header = ["model", "total (decode + log-mel + network) per CPU second (target ≥ 50x)",
              "total, wall clock", "network only, wall clock", "decode only, wall clock",
              "machine load", "peak RSS"]
    return table(header, out) + "\n\n" + source("embed")


# ---- docs/training.md ---------------------------------------------------------------------

TRAIN_ORDER = ("musicnn-head", "musicnn-finetune", "musicnn-msd", "musicnn-mtt", "shortchunk-cnn",
               "shortchunk-resnet", "harmonic-cnn", "crnn", "self-attention", "sample-cnn",
               "moco", "tjae", "mfcc")  # fmt: skip


def training_results() -> str:
    rows = {r["model"]: r for r in results("train")["rows"]}
    out, runs = [], {}
    for name in [m for m in TRAIN_ORDER if m in rows] + [m for m in rows if m not in TRAIN_ORDER]:
        r = rows[name]
        if r["kind"].startswith("supervised"):
            kind = "supervised genre, cross-trained"
        elif r["kind"].startswith("self-supervised"):
            kind = "self-supervised, all clips, no labels"
        else:
            kind = "baseline (no training)" if name == "mfcc" else "pretrained (no training)"
        params = f"{r['parameters'] / 1000:.0f} k" if r.get("parameters") else "–"
        held = f3(r["heldout_acc"]) if r.get("heldout_acc") is not None else "–"
        epochs = "/".join(str(e) for e in r["epochs_run"]) if r.get("epochs_run") else "–"
        train_s = f"{r['train_s']:.0f} s" if r.get("train_s") else "–"
        out.append([f"`{name}`", kind, str(r["dim"]), params, held,
                    f"{f3(r['probe_acc'])} {ci(r['probe_ci95'], 2, '–')}",
                    f"{f3(r['knn_p10'])} {ci(r['knn_ci95'], 2, '–')}", epochs, train_s])
        run = r["run"]
        runs.setdefault((run["date"], run["hardware"], run.get("provenance", "")), []).append(name)
    header = ["model", "kind", "dim", "params", "held-out acc", "probe acc [95 % CI]",
              "kNN P@10 [95 % CI]", "epochs", "train time"]
    notes = []
    for (date, hardware, provenance), names in runs.items():
        note = f"{', '.join(f'`{n}`' for n in names)}: run {date} on {hardware}"
        notes.append(note + (f" ({provenance})" if provenance else ""))
    return table(header, out) + "\n\n" + "Rows by run: " + "; ".join(notes) + ".\n\n" + \
        source("train")  # fmt: skip


# ---- docs/recommend.md --------------------------------------------------------------------

RECS_LABELS = {
    "popularity": "popularity",
    "als": "ALS (bm25, 64 factors)",
    "bpr": "BPR (implicit, uniform negatives)",
    "bpr-pop": "bpr-pop (popularity^0.5 negatives)",
    "item2vec": "item2vec (min_count 30)",
    "hybrid": "hybrid (ALS + 0.75 item2vec; no audio here)",
}


def recommend_hetrec() -> str:
    q = _recs_quality()
    k = q["popularity"]["k"]
    best = max(q, key=lambda m: q[m][f"ndcg_at_{k}"])
    out = []
    for name, r in q.items():
        metrics = [f3(r[f"{m}_at_{k}"]) for m in ("precision", "recall", "ndcg", "map")]
        if name == best:
            metrics = [f"**{m}**" for m in metrics]
        label = RECS_LABELS.get(name, name)
        out.append([f"**{label}**" if name == best else label, *metrics, f3(r["coverage"]),
                    f"{r['novelty']:.2f}", seconds(r["fit_s"])])
    header = ["model", f"P@{k}", f"R@{k}", f"NDCG@{k}", f"MAP@{k}", "coverage", "novelty",
              "fit s"]
    first = next(iter(q.values()))
    return (table(header, out) + f"\n\n{first['n_test_users']:,} test users, "
            f"{first['protocol']} holdout, seed 0. " + source("recs"))


COLDSTART_LABELS = {"random": "random", "content-knn": "content k-NN (tag profile)",
                    "als+ridge": "ALS + ridge map (the default)", "als+mlp": "ALS + MLP map"}


def recommend_coldstart() -> str:
    cs = results("coldstart")
    k, mean = cs["k"], _coldstart_mean()
    best = max(mean, key=lambda m: mean[m][f"ndcg_at_{k}"])
    als_s = cs["als_fit_s_mean"]
    out = []
    for name, r in mean.items():
        cells = [f3(r[f"recall_at_{k}"]), f3(r[f"ndcg_at_{k}"])]
        if name == best:
            cells = [f"**{c}**" for c in cells]
        fit = f"{seconds(r['fit_s'])} (+{seconds(als_s)} ALS)" if name.startswith("als") else "–"
        out.append([COLDSTART_LABELS.get(name, name), *cells, fit])
    header = ["ranking of held-out artists", f"recall@{k}", f"NDCG@{k}", "fit s"]
    seeds = " / ".join(str(s) for s in cs["seeds"])
    lines = [f"- {COLDSTART_LABELS.get(name, name)}: "
             + " / ".join(f3(v) for v in r[f"ndcg_at_{k}_per_seed"]) + ";"
             for name, r in mean.items() if name != "random"]  # fmt: skip
    lines[-1] = lines[-1][:-1] + "."
    return (table(header, out) + f"\n\nPer-split NDCG@{k} (seeds {seeds}):\n\n"
            + "\n".join(lines) + "\n\n" + source("coldstart"))


def recommend_speed() -> str:
    r = results("recs")
    big, small = r["lastfm360k_synthetic"], r["hetrec2k"]
    t = big["threads"]
    label = "synthetic, Last.fm 360K shape (Zipf 0.9)"
    if big["scale"] != 1:
        label += f", scale {big['scale']:g}"
    out = [
        [label, f"{big['users']:,} × {big['items']:,}", f"{big['nnz'] / 1e6:.1f} M",
         f"{big['s_per_iteration']:.2f} ({t} thread{'s' * (t > 1)}; "
         f"{big['cpu_s_per_iteration']:.2f} CPU s)",
         f"~{big['anchor_s_per_iteration']} (implicit's benchmark, real Last.fm 360K, "
         "many-core CPU)"],
        ["HetRec 2k", f"{small['users']:,} × {small['items']:,}", f"{small['nnz']:,}",
         f"{small['s_per_iteration']:.2f} ({small['cpu_s_per_iteration']:.2f} CPU s)", "–"],
    ]  # fmt: skip
    header = ["data", "users × items", "non-zeros",
              f"songscape ALS ({big['weighting']}, {big['factors']} factors), wall s / "
              "iteration",
              "anchor"]
    direct = big["implicit_direct"]
    out.insert(1, [label + ": `implicit` called directly (log1p confidence)", "", "",
                   f"{direct['s_per_iteration']:.2f} ({t} thread{'s' * (t > 1)}; "
                   f"{direct['cpu_s_per_iteration']:.2f} CPU s)", ""])
    fits = ", ".join(f"{m} {seconds(s)}" for m, s in small["model_fit_s"].items())
    return (table(header, out) + f"\n\nSeconds per iteration = (fit − bm25 weighting) / "
            f"{big['iterations']} iterations. Fit seconds of every recommender on all of HetRec "
            f"(same run): {fits}.\n\n" + source("recs"))


# ---- docs/descriptors.md ------------------------------------------------------------------


def descriptors_gtzan() -> str:
    g = results("descriptors")["gtzan_subset100"]

    def prop(p: dict) -> str:
        return f"{f3(p['value'])} ({p['k']}/{p['n']})"

    def rng(interval: list[float]) -> str:
        return f"{interval[0]:.3f}–{interval[1]:.3f}"

    rows = [
        ["beat F-measure", f3(g["beat_f"]["mean"]), rng(g["beat_f"]["ci95"]),
         "madmom/Böck RNN-DBN on full GTZAN ≈ 0.86–0.89"],
        ["beat CMLt", f3(g["beat_cmlt"]["mean"]), rng(g["beat_cmlt"]["ci95"]), ""],
        ["beat AMLt", f3(g["beat_amlt"]["mean"]), rng(g["beat_amlt"]["ci95"]), ""],
        ["tempo Accuracy1 (±4 %)", prop(g["tempo_acc1"]), rng(g["tempo_acc1"]["ci95"]),
         "Böck 2015 / Schreiber 2018 ≈ 0.70–0.80"],
        ["tempo Accuracy2 (+ ×2, ×3, ×½, ×⅓)", prop(g["tempo_acc2"]),
         rng(g["tempo_acc2"]["ci95"]), "madmom / Schreiber ≈ 0.93–0.94"],
        ["downbeat F-measure", f"{f3(g['downbeat_f']['mean'])} ({g['downbeat_f']['n']} clips "
         "with downbeats)", rng(g["downbeat_f"]["ci95"]), "madmom DBN ≈ 0.6–0.7"],
        ["meter (3/4) accuracy", f3(g["meter_acc"]["value"]), rng(g["meter_acc"]["ci95"]),
         f"always-4 baseline {f3(g['meter_acc_always_4_baseline']['value'])}"],
    ]  # fmt: skip
    octave = g["tempo_octave_errors"]
    genres = sorted(g["per_genre_beat_f"].items(), key=lambda kv: -kv[1])
    text = (f"Octave errors: {octave['x2']} × 2, {octave['x1/2']} × ½, "
            f"{octave['x3_or_x1/3']} × 3 or ⅓. Beat F by genre: "
            + ", ".join(f"{name} {value:.2f}" for name, value in genres) + ".")
    header = ["metric", "songscape", "95 % CI", "published anchor"]
    return table(header, rows) + "\n\n" + text + "\n\n" + source("descriptors")


RHYTHM_BACKEND_LABELS = {
    "onset": "onset envelope + DP (old default)",
    "beatnet": "BeatNet network + bar-pointer DBN (**default**)",
    "madmom": "madmom RNN + DBN (opt-in, non-commercial weights)",
}


def descriptors_rhythm_backends() -> str:
    """The three beat trackers side by side on the same clips (issue 18)."""
    d = results("descriptors")
    rows = []
    for name, r in d["rhythm_backends"].items():
        g, synth = r["gtzan_subset100"], r["synthetic_rhythm"]
        waltz = next((c for c in r["beat_fullclips"] if "allroom" in c["name"]), None)
        rows.append([
            RHYTHM_BACKEND_LABELS.get(name, name),
            f"{f3(g['beat_f']['mean'])} ({ci_text(g['beat_f']['ci95'])})",
            f"{f3(g['downbeat_f']['mean'])} ({ci_text(g['downbeat_f']['ci95'])})",
            f3(g["tempo_acc2"]["value"]), f3(g["beat_amlt"]["mean"]),
            f3(g["meter_acc"]["value"]),
            f"{f3(waltz['f'])} / {f3(waltz['downbeat_f'])}" if waltz else "–",
            f"{f3(synth['beat_f']['mean'])} / {f3(synth['downbeat_f']['mean'])}",
            f"{r['timing']['realtime_factor_decode_plus_describe_per_cpu_s']:.0f}x",
        ])  # fmt: skip
    header = ["beat tracker", "GTZAN beat F", "GTZAN downbeat F", "tempo Acc2", "AMLt",
              "meter acc.", "waltz beat / downbeat F", "synthetic beat / downbeat F",
              "decode + descriptors, per CPU s"]  # fmt: skip
    speed = d.get("rhythm_stages_realtime_factor", {})
    text = ""
    if speed:
        clock = "CPU" if speed.get("clock") == "cpu" else "wall-clock"
        text = (f"The default tracker's parts alone, real time per {clock} second on one "
                f"thread ({speed['audio_s'] / 60:.0f} min of GTZAN): input features "
                f"{speed['features']:.0f}x, network {speed['network']:.0f}x, "
                f"bar-pointer decoder {speed['decoder']:.0f}x.")
    return table(header, rows) + "\n\n" + text + "\n\n" + source("descriptors")


def ingest_stages() -> str:
    """What each ingest stage costs, and the ingest with the old beat tracker, one run."""
    row = results("ingest")["stage_costs"]
    total = sum(row["seconds"][name] for name in row["share_of_total"])
    rows = [[name, f"{row['seconds'][name]:.1f}", f"{share * 100:.1f} %"]
            for name, share in sorted(row["share_of_total"].items(), key=lambda kv: -kv[1])]
    rows.append(["(descriptors with the onset tracker instead)",
                 f"{row['seconds']['descriptors[onset]']:.1f}", ""])  # fmt: skip
    loss = 1 - row["realtime_factor"] / row["realtime_factor_with_onset_beats"]
    text = (f"{row['files']} files, {row['audio_s'] / 60:.1f} min of audio, one thread, "
            f"{total:.0f} s of stage time: the whole ingest runs at "
            f"{row['realtime_factor']:.1f}x real time with the BeatNet tracker and "
            f"{row['realtime_factor_with_onset_beats']:.1f}x with the onset tracker, "
            f"a {loss * 100:.0f} % loss of real-time factor (issue 18 allows 25 %). A "
            "network pass several stages share (musicnn-msd: emotion, embed, tag) is "
            "charged to the first stage that asks for it, here `emotion`.")
    run = row["run"]
    text += (f" Measured by `{row['command']}`, {run['date']}, machine load "
             f"{run['loadavg_1min']:.1f}.")
    return table(["stage", "seconds", "share"], rows) + "\n\n" + text


def descriptors_fullclips() -> str:
    rows = []
    for c in results("descriptors")["beat_fullclips"]:
        rows.append([c["name"], f"{c['tempo_est']:.1f}", f"{c['meter_est']} / {c['meter_ref']}",
                     f3(c["f"]), f3(c["amlt"]), f3(c["downbeat_f"])])
    header = ["clip", "tempo est.", "meter est./ref", "beat F", "AMLt", "downbeat F"]
    return table(header, rows) + "\n\n" + source("descriptors")


def highlights_jamendo() -> str:
    """Highlights on jamendolyrics_subset10 (issue 18): fraction of the window in a chorus."""
    r = results("highlights")["jamendolyrics"]
    names = {"signal": "signal (default without the model)", "attention": "attention",
             "fused": "fused (default with the model)", "start_0": "baseline: start at 0:00",
             "start_30pct": "baseline: start at 30 % of the song",
             "oracle": "best possible 30 s window"}  # fmt: skip
    rows = []
    for key, label in names.items():
        m = r["methods"].get(key)
        if m is None:
            continue
        rows.append([label, f3(m["mean_fraction_in_chorus"]),
                     f"{m['songs_half_in_chorus']} of {m['n_songs']}",
                     f"{m['songs_any_overlap']} of {m['n_songs']}"])  # fmt: skip
    sp = r["speed"]
    att = ("" if sp["rtf_highlight_attention"] is None
           else f", attention highlight (network + scoring) {sp['rtf_highlight_attention']:.0f}×")
    text = (f"Speed on these {len(r['songs'])} songs ({sp['audio_s'] / 60:.0f} min, one "
            f"thread, shared machine): descriptors {sp['rtf_descriptors']:.0f}× real time, "
            f"structure {sp['rtf_structure']:.0f}×, signal highlight "
            f"{sp['rtf_highlight_signal']:.0f}×{att}.")  # fmt: skip
    header = ["method", "mean fraction of the 30 s window in a chorus",
              "songs with ≥ half in a chorus", "songs with any overlap"]  # fmt: skip
    return table(header, rows) + "\n\n" + text + "\n\n" + source("highlights")


def highlights_sections() -> str:
    """Section boundary F-measure on synthetic forms and the Sargon cut (issue 18)."""
    r = results("highlights")
    rows = [[f"synthetic {s['form']} ({s['tempo_bpm']:.0f} BPM)", f3(s["f_0.5s"]), f3(s["f_3s"]),
             f3(s["signal_fraction_in_chorus"]), s["labels"]] for s in r["synthetic"]["songs"]]
    mean = r["synthetic"]["mean"]
    rows.append(["synthetic, mean", f3(mean["f_0.5s"]), f3(mean["f_3s"]),
                 f3(mean["signal_fraction_in_chorus"]), ""])
    rows.append(["structure_sargon_cut (63 s)", f3(r["sargon"]["f_0.5s"]),
                 f3(r["sargon"]["f_3s"]), "–", ""])  # fmt: skip
    header = ["song", "boundary F (0.5 s)", "boundary F (3 s)",
              "signal highlight in chorus", "labels found"]  # fmt: skip
    return table(header, rows) + "\n\n" + source("highlights")


# ---- docs/search.md -----------------------------------------------------------------------


def _index_label(r: dict) -> str:
    p, default = r["params"], r.get("songscape_default")
    if r["index"] == "faiss-flat":
        return "faiss flat (exact)"
    if r["index"] in ("faiss-hnsw", "hnswlib"):
        ef = p.get("efSearch", p.get("ef"))
        name = "faiss HNSW" if r["index"] == "faiss-hnsw" else "hnswlib"
        return f"{name} M{p['M']} ef{ef}" + (" (default)" if default else "")
    if r["index"] == "faiss-ivfpq+rerank":
        extra = [f"PCA to {p['pca_dim']}-d, PQ{p['pq_bytes']}"] if p.get("pca_dim") else []
        if "nprobe" in p:
            extra.append(f"nprobe {p['nprobe']}")
        if default:
            extra.insert(0, "compressed default")
        return "faiss IVF-PQ + exact re-rank (" + ", ".join(extra) + ")"
    if r["index"] == "faiss-ivfpq+refine-sq8":
        return "faiss IVF-PQ + SQ8 refine (all in RAM)"
    if r["index"] == "songscape":
        return "songscape `VectorIndex` (HNSW, incl. id mapping and version check)"
    return r["index"]


def search_index() -> str:
    out = []
    for r in results("search")["rows"]:
        if "skipped" in r:
            continue
        n = f"{r['n'] // 1_000_000}M" if r["n"] >= 1_000_000 else f"{r['n'] // 1000}k"
        qps = "–".join(num(q) for q in r["qps_range"]) if r.get("qps_range") else num(r["qps"])
        bpv = num(r["bytes_per_vector"], 1 if r["bytes_per_vector"] % 1 else 0)
        if r.get("disk_bytes_per_vector"):
            bpv += f" (+{num(r['disk_bytes_per_vector'])} on disk, memory-mapped)"
        p99 = r["p99_ms"]
        p99_text = f"{p99:.2f}" if p99 < 2 else f"{p99:.1f}" if p99 < 10 else f"{p99:.0f}"
        build = "" if r.get("build_s") is None else f"{r['build_s']:g}"
        cells = [_index_label(r), n, str(r["dim"]), f"{r['recall_at_10']:.3f}", qps, p99_text,
                 bpv, build]
        if r.get("songscape_default") and r["n"] == 1_000_000 and r["dim"] == 200:
            cells = [f"**{c}**" if i in (0, 3, 4, 5, 6) else c for i, c in enumerate(cells)]
        out.append(cells)
    header = ["index", "n", "dim", "recall@10", "queries/s (1 thread)", "p99 ms",
              "bytes/vector", "build s"]
    return table(header, out) + "\n\n" + source("search")


# ---- docs/library.md ----------------------------------------------------------------------

INGEST_MODES = {
    ("inline", 1): "one process, warm: decode + metadata + descriptors + `embed:musicnn-msd` + "
    "`tag:musicnn-msd` + `tag:musicnn-mtt` (two network passes), torch on 1 thread",
    ("pool", 1): "`ingest --workers 1` (fresh library, fingerprint + SQLite writes included)",
    ("pool", 2): "`ingest --workers 2`",
}


def library_ingest() -> str:
    out = []
    for r in results("ingest")["rows"]:
        if not r["models"]:
            continue  # decode + descriptors only: the README's anchor
        mode = INGEST_MODES.get((r["mode"], r["workers"]), f"{r['mode']}, {r['workers']} workers")
        rss = r.get("peak_rss_mb", r.get("peak_rss_mb_worker"))
        rss_text = f"{rss / 1000:.2f} GB" + (" per process" if r["workers"] > 1 else "")
        rtf = f"{r['realtime_factor']}x"
        out.append([mode, f"{r['wall_s']} s", f"{r['files_per_s']:.2f}",
                    f"**{rtf}**" if r["mode"] == "inline" else rtf,
                    f"{r['realtime_factor_per_worker']}x", rss_text])
    header = ["mode", "wall", "files/s", "audio s per wall s", "per worker", "peak RSS"]
    return table(header, out) + "\n\n" + source("ingest")


# ---- docs/web.md --------------------------------------------------------------------------


def web() -> str:
    rows = {(r["what"], r.get("k")): r for r in results("web")["rows"]}
    page, warm = rows[("page_data_warm", None)], rows[("map_warm", None)]
    cold, restart = rows[("map_cold", None)], rows[("map_restart", None)]
    sim3, sim10 = rows[("similar", 3)], rows[("similar", 10)]
    dist, py = rows[("distances", None)], rows[("similar_python", 3)]

    def ms(s: float) -> str:
        return f"{s * 1000:.0f} ms"

    out = [
        ["page data, warm (`/api/map` + `/api/stats`)",
         f"{ms(page['s_median'])}" + (f" (max {ms(page['s_max'])})" if "s_max" in page else ""),
         "< 2 s"],
        ["`/api/map` warm (server's memory cache)", ms(warm["s_median"]), "< 2 s"],
        ["`/api/map` after a server restart (cache file checked and loaded)",
         f"{restart['s']:.2f} s", ""],
        [f"`/api/map` cold: UMAP of {cold['n']:,} tracks + k-means, cache written (numba "
         f"kernels {'already' if cold['numba_cache'] else 'not yet'} cached)",
         f"{cold['s']:.1f} s (UMAP + k-means {cold['compute_s']:.1f} s)", "reported"],
        ["`/api/tracks/{id}/similar?k=3`, random queries, p50 / p99",
         f"{sim3['p50_ms']} ms / {sim3['p99_ms']} ms", "p99 < 50 ms"],
        ["same, `k=10`", f"{sim10['p50_ms']} ms / {sim10['p99_ms']} ms", ""],
        ["`/api/tracks/{id}/distances` (distance slider), p50 / p99",
         f"{dist['p50_ms']} ms / {dist['p99_ms']} ms", ""],
        ["`Library.similar(k=3)` in Python, no HTTP, p50 / p99",
         f"{py['p50_ms']} ms / {py['p99_ms']} ms", ""],
        [f"map JSON size, {cold['n']:,} points", f"{cold['bytes'] / 1e6:.1f} MB", ""],
    ]  # fmt: skip
    return table(["what", "measured", "target"], out) + "\n\n" + source("web")



# ---- docs/scale.md (bench/scale.py) -------------------------------------------------------


def _scale_rows(section: str) -> list[dict]:
    return [r for r in results("scale") if r["section"] == section]


def _scale_run(r: dict) -> str:
    """When a row of scale.json was measured and the 1-minute load then (its own ``run``)."""
    run = r.get("run")
    return f"{run['date']} ({run['loadavg_1min']:.0f})" if run else ""


def _recall_cell(r: dict, key: str) -> str:
    """A recall and, where the row has one, its 95 % interval (``<key>_ci95``)."""
    ci = r.get(f"{key}_ci95")
    return f3(r[key]) + (f" [{f3(ci[0])}, {f3(ci[1])}]" if ci else "")


def _rate(per_s: float) -> str:
    """Queries per second: one decimal below 10 (Milvus Lite at 1M answers < 1 per s)."""
    return f"{per_s:.1f}" if per_s < 10 else num(per_s)


def scale_vectors() -> str:
    out = []
    for r in _scale_rows("vectors"):
        queries = f" ({r['queries']} queries)" if "queries" in r else ""
        out.append([f"{r['engine']} {r['index']}", f"{r['n']:,} × {r['dim']}{queries}",
                    seconds(r["build_s"]), f"{r['memory_mb']:.0f} MB",
                    _recall_cell(r, "recall_at_10"), _rate(r["qps"]),
                    f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f}",
                    f"{_recall_cell(r, 'filtered_recall_at_10')} "
                    f"({r['filter_fraction']:.0%} pass)",
                    _rate(r["filtered_qps"]), _scale_run(r)])  # fmt: skip
    head = ["index", "vectors", "build", "memory", "recall@10", "queries/s",
            "p50 / p99 ms", "filtered recall@10", "filtered queries/s", "run (load)"]  # fmt: skip
    note = ("Memory: faiss, the serialised index; Milvus Lite (in process), what the process "
            "gained while the collection was built, loaded and queried. One query per call, "
            "one thread. [a, b]: Wilson 95 % interval of the recall over the queries × 10 "
            "true neighbours (rows measured since it was added).")
    return table(head, out) + "\n\n" + note + "\n\n" + source("scale")


def scale_redis() -> str:
    out = []
    for r in _scale_rows("redis"):
        out.append([f"{r['users']:,} × top-{r['k']}", seconds(r["write_s"]),
                    f"{r['lists_per_s']:,}", f"{r['mb_per_s']:.1f} MB/s",
                    f"{r['used_memory_mb']:.0f} MB ({r['bytes_per_list']:,} B/list)",
                    f"{r['read_p50_ms']:.2f} / {r['read_p99_ms']:.2f}", _scale_run(r)])  # fmt: skip
        measured_1m = any(x["users"] >= 1_000_000 for x in _scale_rows("redis"))
        if r["users"] < 1_000_000 and not measured_1m:  # linear in the number of lists
            scale = 1_000_000 / r["users"]
            out.append([f"1,000,000 × top-{r['k']} (extrapolated ×{scale:.0f}, not run)",
                        seconds(r["write_s"] * scale), f"{r['lists_per_s']:,}",
                        f"{r['mb_per_s']:.1f} MB/s",
                        f"{r['used_memory_mb'] * scale / 1024:.1f} GB", "—", ""])  # fmt: skip
    head = ["lists", "write (pipelined, versioned, swap)", "lists/s", "payload",
            "Redis memory", "read p50 / p99 ms (loopback)", "run (load)"]  # fmt: skip
    return table(head, out) + "\n\n" + source("scale")


def scale_ingest() -> str:
    out = []
    for r in _scale_rows("ingest"):
        out.append([r["engine"], str(r["workers"]), str(r["files"]), seconds(r["seconds"]),
                    f"{r['files_per_s']:.3f}", f"{r['realtime_factor']:.1f}",
                    "" if r["ray_start_s"] is None else seconds(r["ray_start_s"])])  # fmt: skip
    head = ["engine", "workers", "files", "wall", "files/s", "audio s per wall s",
            "cluster start (not in wall)"]  # fmt: skip
    return table(head, out) + "\n\n" + source("scale")


def scale_capacity() -> str:
    quiet = next(r for r in results("ingest")["rows"]
                 if r.get("models") and r["mode"] == "pool" and r["workers"] == 1)  # fmt: skip
    rows = {(r["engine"], r["workers"]): r for r in _scale_rows("ingest")}
    ratio = rows[("ray", 2)]["realtime_factor"] / rows[("local", 2)]["realtime_factor"]
    per_core = quiet["realtime_factor_per_worker"] * min(1.0, ratio)
    tracks_per_core_day = per_core * 86400 / 240
    out = [
        ["full-pipeline audio seconds per wall second, one core (quiet machine)",
         f"{quiet['realtime_factor_per_worker']:.1f}"],
        ["Ray / local throughput, 2 workers, same files (this run)", f"{ratio:.2f}"],
        ["4-minute tracks per core per day, on Ray", f"{tracks_per_core_day:,.0f}"],
        ["cores for 1,000,000 tracks in 24 h", f"{1e6 / tracks_per_core_day:,.0f}"],
        ["cores for 1,000,000 tracks in 24 h without the models (descriptors only)",
         f"{1e6 * 240 / (_descriptor_rtf() * min(1.0, ratio) * 86400):,.0f}"],
    ]  # fmt: skip
    return table(["quantity", "value"], out) + "\n\n" + source("ingest", "scale")


def _descriptor_rtf() -> float:
    return next(r["realtime_factor"] for r in results("ingest")["rows"]
                if not r.get("models") and r["mode"] == "inline")  # fmt: skip


# ---- docs/search.md: recognising recordings (bench/identify.py) -------------------------


def search_identify() -> str:
    res = results("identify")
    rows = {(r["clip_s"], r["library"], r["in_library"]): r for r in res["identification"]}
    out = []
    for length in sorted({r["clip_s"] for r in res["identification"]}):
        for lib in ("210", "10k"):
            r, o = rows[(length, lib, True)], rows[(length, lib, False)]
            lo, hi = r["top1_ci95"]
            out.append([f"{length:g} s", "210 real" if lib == "210" else "10,000 (9,790 synthetic)",
                        f"{r['top1']:.3f} ({lo:.2f}–{hi:.2f}), n = {r['n']}",
                        f"{r['top1_offset_within_0_5s']:.3f}",
                        f"{r['offset_error_s_median']:.3f} / {r['offset_error_s_p95']:.3f}",
                        f"{r['not_identified']} / {r['wrong']}",
                        f"{o['false_identifications']} of {o['n']}",
                        f"{r['ber_correct_median']:.3f} / {r['ber_correct_max']:.3f}",
                        f"{r['ms_p50']:.0f} / {r['ms_p95']:.0f} / {r['ms_max']:.0f}"])  # fmt: skip
    head = ["clip", "library (tracks)", "top-1 identified (95 % CI)", "and offset ≤ 0.5 s",
            "offset error s (median / p95)", "missed / wrong", "false IDs, music not in library",
            "BER right answers (median / max)", "ms per answer p50 / p95 / max"]  # fmt: skip
    big, lib, cost = res["library_10k"], res["library"], res["stage_cost"]
    facts = [
        ["library: tracks / audio / Chromaprint words",
         f"{lib['tracks']} / {lib['audio_min']:.0f} min / {lib['words']:,}"],
        ["10,000-track index: words / build / memory",
         f"{big['words']:,} / {big['build_s']:.1f} s / {big['index_mb']:.0f} MB"],
        ["fingerprint stage per track (of ingest's stages, same run)",
         f"{cost['fingerprint_per_track_s']:.2f} s of {cost['total_per_track_s']:.1f} s "
         f"= {100 * cost['fingerprint_share']:.1f} % ({cost['fingerprint_ms_per_audio_s']:.1f} ms "
         f"per audio second, {cost['tracks']} songs)"],
    ]  # fmt: skip
    text = table(head, out) + "\n\n" + table(["quantity", "value"], facts)
    dup = res.get("duplicates")
    if dup:
        dup_rows = [
            ["files / recordings with copies / true same-recording pairs",
             f"{dup['files']} / {dup['recordings_with_copies']} / {dup['true_pairs']}"],
            ["pairwise precision / recall",
             f"{dup['pair_precision']:.3f} / {dup['pair_recall']:.3f}"],
            ["different songs merged (false pairs)", str(dup["false_merged_pairs"])],
            ["groups found / exactly right", f"{dup['groups_found']} / {dup['groups_exact']}"],
            ["best copy is the FLAC", f"{dup['best_is_flac']} of {dup['groups_found']}"],
            ["radio edits: reported related / merged",
             f"{dup['edits_related']} / {dup['edits_merged']} of {dup['edits']}"],
            ["ingest (metadata and fingerprint stages only) / linking",
             f"{dup['ingest_s']:.0f} s / {dup['link_s']:.1f} s"],
        ]  # fmt: skip
        text += "\n\n" + table(["duplicates folder", "value"], dup_rows)
    return text + "\n\n" + source("identify")


def sing_pitch() -> str:
    """Pitch trackers on synthetic singing and on mir1k_half's voices (issue 14)."""
    if not (RESULTS_DIR / "sing.json").is_file():
        return "Not measured yet: run `python bench/sing.py`."
    r = results("sing")
    syn = r.get("synthetic_pitch", {}).get("summary", {})
    mir = r.get("mir1k_pitch", {}).get("summary", {})
    rows = []
    for tracker in sorted(set(syn) | set(mir)):
        s, m = syn.get(tracker), mir.get(tracker)
        rows.append([
            f"`{tracker}`",
            f3(s["raw_pitch_accuracy"]) + f" (n = {s['n']})" if s else "not run",
            f"{s['max_range_error_semitones']:.2f}" if s else "",
            f3(m["raw_pitch_accuracy"]) + f" (n = {m['n_clips']})" if m else "not run",
            f"{m['tessitura_abs_error']:.2f}" if m else "",
            f"{m['realtime_factor']:.1f}×" if m else "",
        ])  # fmt: skip
    header = ["tracker", "synthetic singing: raw pitch accuracy (50 cents)",
              "synthetic: worst range-end error (semitones)",
              "mir1k_half voices: raw pitch accuracy", "mir1k: mean tessitura error (semitones)",
              "speed (real time, one thread, shared machine)"]  # fmt: skip
    text = table(header, rows)
    mir_rows = r.get("mir1k_pitch", {}).get("rows", [])
    pyin_clips = {x["clip"] for x in mir_rows if x["tracker"] == "pyin"}
    paired = {t: [x for x in mir_rows if x["tracker"] == t and x["clip"] in pyin_clips]
              for t in sorted({x["tracker"] for x in mir_rows})}  # fmt: skip
    if pyin_clips and all(paired.values()):
        cells = ", ".join(
            f"`{t}` {sum(x['raw_pitch_accuracy'] for x in rs) / len(rs):.3f} at "
            f"{sum(x['audio_s'] for x in rs) / sum(x['seconds'] for x in rs):.2f}× real time"
            for t, rs in paired.items())  # fmt: skip
        text += (f"\n\nOn the {len(pyin_clips)} mir1k clips every tracker ran on: {cells} "
                 "(same process, same load).")
    return text + "\n\n" + source("sing")


def sing_encoder_name(kind: str, encoders: dict) -> str:
    """``moco:bench-vocal-timbre`` -> "MoCo (pitch shift −, time stretch +; vocal-dominant)"."""
    for rec in encoders.values():
        if kind.split(":", 1)[-1] == rec["model"]:
            roles = {"negative": "−", "positive": "+"}
            aug = ", ".join(f"{a.split('=')[0].replace('_', ' ')} {roles.get(a.split('=')[1], '')}"
                            for a in rec["augment"].split(",") if "=" in a)  # fmt: skip
            what = "MoCo" if rec["task"] == "moco" else "TJAE"
            signal = "vocal-dominant" if rec["signal"] == "dominant" else "mix"
            return f"{what} ({aug}; {signal})" if aug else f"{what} ({signal})"
    return f"`{kind}`"


def sing_retrieval_table(ret: dict, jam: dict | None) -> str:
    """Singer retrieval per embedding: mir1k (with intervals) and Jamendo side by side."""
    mir_enc = ret.get("encoders", {})
    rows = []
    for name, v in ret["summary"].items():
        label = sing_encoder_name(name, mir_enc) if ":" in name else f"`{name}`"
        row = [label, f"{f3(v['top1'])} {ci(v['top1_ci95'], 2)}" if "top1_ci95" in v
               else f3(v["top1"]), f"{f3(v['top3'])} {ci(v['top3_ci95'], 2)}"
               if "top3_ci95" in v else f3(v["top3"])]  # fmt: skip
        if jam:
            # the Jamendo encoders are the same variants, trained on the Jamendo library
            variant = next((k for k, e in mir_enc.items() if name.endswith(":" + e["model"])),
                           None)  # fmt: skip
            jkey = name
            if variant is not None and variant in jam.get("encoders", {}):
                jkey = f"{name.split(':')[0]}:{jam['encoders'][variant]['model']}"
            jv = jam["summary"].get(jkey)
            row += ([f"{f3(jv['top1'])} {ci(jv['top1_ci95'], 2)}",
                     f"{f3(jv['top3'])} {ci(jv['top3_ci95'], 2)}"] if jv else ["", ""])
        rows.append(row)
    header = ["embedding", "mir1k top-1", "mir1k top-3"]
    if jam:
        header += ["Jamendo top-1", "Jamendo top-3"]
    text = table(header, rows) + (
        f"\n\nmir1k: {ret['n_queries']} isolated-voice queries against {ret['n_catalog']} "
        f"mixtures of {ret['n_singers']} singers (chance: top-1 {ret['chance_top1']:.2f}); "
        "95 % Wilson intervals.")
    if mir_enc:
        clips = ret["clips"]
        any_rec = next(iter(mir_enc.values()))
        text += (f" The encoders were trained on the sung regions of the "
                 f"{len(clips['catalog'])} catalog and {len(clips['train'])} training mixtures "
                 f"({any_rec['epochs']} epochs, {any_rec['chunks_per_track']} chunks per clip "
                 f"per epoch; {ret['training_s']:.0f} s for all {len(mir_enc)} on one thread, "
                 "the export of the sung regions included); "
                 "no query clip or song was among them.")
    if jam:
        text += (f" Jamendo: {jam['n_queries']} queries (about {jam['segment_s']:.0f} s of "
                 f"sung lines each, from the second halves) against the {jam['n_catalog']} "
                 "songs enrolled on the sung lines of their first halves (chance: top-1 "
                 f"{jam['chance_top1']:.2f}); its encoders were trained on the first halves only.")
    return text  # fmt: skip


def sing_retrieval() -> str:
    """Singer retrieval on mir1k_half, metamorphic checks and speed (issue 14)."""
    if not (RESULTS_DIR / "sing.json").is_file():
        return "Not measured yet: run `python bench/sing.py`."
    r = results("sing")
    parts = []
    ret = r.get("singer_retrieval")
    if ret:
        parts.append(sing_retrieval_table(ret, r.get("jamendo_retrieval")))
    meta = r.get("metamorphic", {}).get("summary")
    if meta:
        cos = ", ".join(f"{k} {v:.3f}" for k, v in meta["stretch_min_cosine"].items())
        worst_c = meta.get("max_comfortable_shift_error")
        worst_c = "" if worst_c is None else f", comfortable-range end {worst_c:.2f}"
        parts.append(f"Metamorphic checks (Jamendo sung lines, k = ±2, ±4 semitones): both "
                     f"comfortable-range ends and the tessitura move by k ± 0.5 in "
                     f"{meta['range_moves_by_k']} cases (worst errors: tessitura "
                     f"{meta['max_tessitura_shift_error']:.2f} semitones{worst_c}); the "
                     f"suggested transposition moves by −k in "
                     f"{meta['transposition_moves_by_minus_k']}; time stretch 0.9/1.1, lowest "
                     f"timbre cosine: {cos}.")  # fmt: skip
        centred = meta.get("stretch_min_cosine_mean_removed")
        if centred:
            parts[-1] += (
                " With the mean of the songs' unstretched vectors removed: lowest "
                + ", ".join(f"{k} {v:.2f}" for k, v in centred.items())
                + "; a stretched line is closer to its own original than to any other song's in "
                + ", ".join(f"{v} ({k})"
                            for k, v in meta["stretch_own_above_nearest_other"].items())
                + ".")  # fmt: skip
    st = r.get("encoder_stretch")
    if st:
        parts.append(sing_figures.stretch_table(st, table))
    sp = r.get("speed")
    if sp and "recordings" in sp:
        for name, rec in sp["recordings"].items():
            parts.append(
                f"Speed, a {rec['recording_s']:.0f} s recording ({name}; {rec['voiced_s']:.0f} s "
                f"sung) against {sp['library_size']:,} tracks, on {sp['threads']} threads "
                f"(median of {sp['repeats']}): voice analysis {rec['voice_analysis_s']:.2f} s + "
                f"matching {rec['matching_s']:.3f} s = **{rec['total_s']:.2f} s** wall clock "
                f"(target {sp['target_s']:.0f} s); CPU time {rec['total_cpu_s']:.2f} s.")
    vm = r.get("voice_metamorphic", {}).get("summary")
    if vm:
        parts.append(
            f"Metamorphic check on the singer's side ({vm['singers']} mir1k singers, "
            f"{vm['recording_s']:.0f} s of isolated voice each, k = ±2, ±4 semitones, measured "
            f"as `sing` measures a recording): both comfortable-range ends and the tessitura "
            f"move by k ± 0.5 in {vm['comfortable_and_tessitura_within_half_semitone']} cases "
            f"(worst errors: tessitura {vm['max_tessitura_error']:.2f}, comfortable-range end "
            f"{vm['max_comfortable_error']:.2f}, full-range end {vm['max_range_error']:.1f} "
            f"semitones).")
    chk = r.get("speech_check", {}).get("summary")
    if chk:
        parts.append(
            f"Speech check (`bench/sing_checks.py`): held-note share of read speech "
            f"({chk['speech_windows']} windows of 8 s, 3 speakers) at most "
            f"{chk['speech_max_share']:.2f}; of amateur singing (mir1k isolated voices) at "
            f"least {chk['singing_calibration_min_share']:.2f} on the "
            f"{chk['singing_calibration_clips']} calibration clips and "
            f"{chk['singing_validation_min_share']:.2f} on the "
            f"{chk['singing_validation_clips']} validation clips. The rule's threshold is "
            f"{chk['threshold_rule']:.2f}; the shipped one, {chk['threshold_shipped']:.2f}, "
            f"refuses {chk['speech_refused']:.0%} of the speech windows and "
            f"{chk['singing_calibration_refused']:.0%} / {chk['singing_validation_refused']:.0%}"
            f" of the calibration / validation singing.")
    if ret:
        parts.append(f"The `vocals` stage (with its musicnn-mtt pass) ran at "
                     f"{ret['vocals_stage_realtime_factor']:.2f}× real time on the mir1k clips "
                     "(one thread, wall clock on the shared machine: see its load below).")
    return "\n\n".join(parts) + "\n\n" + source("sing")


def reliability_stateful() -> str:
    """The stateful ingest test's long profile (bench/stateful.py): its reach, what it found."""
    r = results("stateful")
    reach = r["reach"]
    ops = sum(v for k, v in reach.items() if k not in (
        "sequences", "steps", "ingests", "kills", "checks", "catalog_checks", "files_written"))
    broken = sum(v for k, v in reach.items() if k.startswith(("broken:", "symlink:")))
    rows = [
        ["operation sequences", num(reach.get("sequences", 0))],
        ["steps (file operations and runs)", num(reach.get("steps", 0))],
        ["file operations", num(ops)],
        ["of which broken files and links made", num(broken)],
        ["completed ingests", num(reach.get("ingests", 0))],
        ["ingests killed with SIGKILL", num(reach.get("kills", 0))],
        ["`songscape check` runs (no error allowed)", num(reach.get("checks", 0))],
        ["catalog-against-folder comparisons", num(reach.get("catalog_checks", 0))],
        ["minutes", f"{r['minutes']:.1f}"],
        ["failures", str(len(r["failures"])) + (
            f" (first: {r['failures'][0].splitlines()[0][:120]})" if r["failures"] else "")],
    ]
    return table(["long profile", "count"], rows) + "\n\n" + source("stateful")


#: Every figure block: NAME -> renderer.
TABLES: dict[str, Callable[[], str]] = {
    "reliability-stateful": reliability_stateful,  # issue 16
    "readme": readme,
    "descriptors-rhythm-backends": descriptors_rhythm_backends,  # issue 18
    "ingest-stages": ingest_stages,  # issue 18 (and every stage's cost)
    "models-probe": models_probe,
    "models-embed": models_embed,
    "training-results": training_results,
    "recommend-hetrec": recommend_hetrec,
    "recommend-coldstart": recommend_coldstart,
    "recommend-speed": recommend_speed,
    "descriptors-gtzan": descriptors_gtzan,
    "descriptors-fullclips": descriptors_fullclips,
    "highlights-jamendo": highlights_jamendo,
    "highlights-sections": highlights_sections,
    "search-index": search_index,
    "search-identify": search_identify,
    "library-ingest": library_ingest,
    "web": web,
    "scale-vectors": scale_vectors,
    "scale-redis": scale_redis,
    "scale-ingest": scale_ingest,
    "scale-capacity": scale_capacity,
    "sing-pitch": sing_pitch,  # issue 14
    "sing-retrieval": sing_retrieval,  # issue 14
    **{f"sing-{k}": (lambda f=f: f(results, table, source))  # issue 14
       for k, f in sing_figures.RENDERERS.items()},
    **{f"mix-{k}": (lambda f=f: f(results, table, source))  # issue 13
       for k, f in mix_figures.RENDERERS.items()},
    **{f"emotion-{k}": (lambda f=f: f(results, table, source))  # issue 19
       for k, f in emotion_figures.RENDERERS.items()},
    **{f"reliability-{k}": (lambda f=f: f(results, table, source))  # issue 16
       for k, f in reliability_figures.RENDERERS.items()},
    **{f"search-{k}": (lambda f=f: f(results, table, source))  # issue 20
       for k, f in segments_figures.RENDERERS.items()},
}


# ---- rendering ----------------------------------------------------------------------------


def render(text: str) -> str:
    """``text`` with every figure block regenerated.

    Raises
    ------
    KeyError
        A block names no known table.
    """

    def replace(match: re.Match) -> str:
        name = match["name"]
        if name not in TABLES:
            raise KeyError(f"unknown figure block {name!r}; known: {', '.join(TABLES)}")
        return match["open"] + TABLES[name]().rstrip("\n") + "\n" + match["close"]

    return MARKER.sub(replace, text)


def blocks(text: str) -> list[str]:
    """The names of the figure blocks in ``text``, in order."""
    return [m["name"] for m in MARKER.finditer(text)]


def stale() -> dict[Path, str]:
    """``{file: unified diff}`` of every document whose blocks differ from the results."""
    out = {}
    for path in documents():
        text = path.read_text()
        fresh = render(text)
        if fresh != text:
            rel = path.relative_to(ROOT)
            out[path] = "".join(difflib.unified_diff(
                text.splitlines(keepends=True), fresh.splitlines(keepends=True),
                f"{rel} (now)", f"{rel} (from bench/results)"))  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 with a diff when a block is stale")
    args = parser.parse_args(argv)
    diffs = stale()
    if args.check:
        for diff in diffs.values():
            sys.stdout.write(diff)
        return 1 if diffs else 0
    for path in diffs:
        path.write_text(render(path.read_text()))
        print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
