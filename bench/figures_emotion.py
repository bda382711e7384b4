"""Renderers of the emotion figure blocks (issue 19), used by bench/figures.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

GEMS = ("amazement", "solemnity", "tenderness", "nostalgia", "calmness", "power",
        "joyful_activation", "tension", "sadness")  # fmt: skip


def _ci(interval: list[float]) -> str:
    lo, hi = interval
    return f"[{lo:.2f}, {hi:.2f}]"


def emotion_4q(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    r = results("emotion")["emotion4q"]
    rows = []
    for name, row in r["rows"].items():
        v, a, q = row["valence_auc"], row["arousal_auc"], row["quadrant"]
        rows.append([name, f"{v['auc']:.3f} {_ci(v['ci95'])}", f"{a['auc']:.3f} {_ci(a['ci95'])}",
                     f"{q['accuracy']:.3f} {_ci(q['ci95'])}", f"{q['macro_f1']:.3f}"])  # fmt: skip
    head = ["model", "valence ROC-AUC", "arousal ROC-AUC", "4-quadrant accuracy", "macro F1"]
    text = (f"{r['n']} clips, {r['folds']} folds grouped by artist ({r['n_groups']} artists), "
            f"stratified by quadrant; chance: AUC 0.5, accuracy 0.25. Anchor: {r['anchor']}. "
            f"Goal: {r['goal']}.")  # fmt: skip
    return table(head, rows) + "\n\n" + text + "\n\n" + source("emotion")


def _excerpt(seconds: float | None) -> str:
    return "each one whole, up to 60 s" if seconds is None else f"first {seconds:.0f} s of each"


def emotion_emotify(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    r = results("emotion")["emotify"]
    rows = []
    for name, row in r["rows"].items():
        cells = [name, f"**{row['mean_spearman']:.3f}**"]
        cells += [f"{row['spearman'][g]['rho']:.2f}" for g in GEMS]
        cells += [
            f"{row['valence_spearman']['rho']:.2f}",
            f"{row['arousal_spearman']['rho']:.2f}",
            f"{row['top_emotion']['accuracy']:.3f} {_ci(row['top_emotion']['ci95'])}",
        ]
        rows.append(cells)  # fmt: skip
    head = ["model", "mean ρ (9)", *[g.replace("_", " ") for g in GEMS], "valence ρ",
            "arousal ρ", "top-emotion accuracy"]  # fmt: skip
    # The trained heads' row (nested CV) when there is one, else the best row.
    nested = [kv for kv in r["rows"].items() if "nested CV" in kv[0]]
    best = nested[0] if nested else max(r["rows"].items(), key=lambda kv: kv[1]["mean_spearman"])
    ci = {g: best[1]["spearman"][g]["ci95"] for g in GEMS}
    text = (
        f"{r['n']} excerpts ({_excerpt(r.get('seconds_per_excerpt'))}), "
        f"{r['folds']} folds of held-out blocks of 10 consecutive files "
        f"({r['n_groups']} blocks), stratified by genre; Spearman's ρ of out-of-fold "
        f"predictions with the listeners' shares. Goal: {r['goal']}. 95 % bootstrap "
        f"intervals of the row {best[0]!r}: "
        + ", ".join(f"{g.replace('_', ' ')} {_ci(ci[g])}" for g in GEMS)
        + ". Valence/arousal truth is the listeners' shares through the GEMS mapping."
    )
    zero = r["rows"].get("zero-shot tag mapping (no training)", {}).get("estimate_arousal_spearman")
    if zero:
        text += (" The zero-shot row's arousal ρ is its GEMS scores' through the mapping; the "
                 "arousal the zero-shot estimate reports (with its loudness/onset-rate cue) has ρ "
                 + ", ".join(f"{v['rho']:.2f} {_ci(v['ci95'])} ({k})" for k, v in zero.items())
                 + ".")  # fmt: skip
    return table(head, rows) + "\n\n" + text + "\n\n" + source("emotion")


def emotion_lyrics(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    r = results("emotion")["lyrics"]

    def f(x: float | None) -> str:
        return "–" if x is None else f"{x:+.2f}"

    rows = [[s["song"], s["language_labelled"], s["language_detected"],
             "yes" if s["lyrics_used"] else "no", f(s["forced_valence"]),
             f"{s['lexicon_coverage']:.2f}", f(s["audio_valence"]), f(s["fused_valence"])]
            for s in r["jamendo"]]  # fmt: skip
    t1 = table(
        [
            "Jamendo song",
            "language",
            "detected",
            "used",
            "English models' valence (forced)",
            "VADER lexicon coverage",
            "audio valence",
            "fused valence",
        ],
        rows,
    )
    rows = [[f"{s['clip']} {s['title']}", s["quadrant"], f"{s['valence_mean']:.2f}",
             f"{s['arousal_mean']:.2f}", s["language_detected"],
             "yes" if s["lyrics_used"] else "no", f(s["lyrics_valence"]),
             f(s["audio_valence"]), f(s["audio_arousal"]), f(s["fused_valence"]),
             s["predicted_quadrant_audio"], s["predicted_quadrant_fused"]]
            for s in r["pmemo"]]  # fmt: skip
    t2 = table(["PMEmo chorus", "quadrant", "valence (0..1)", "arousal (0..1)", "lyrics",
                "used", "lyrics valence", "audio valence", "audio arousal", "fused valence",
                "quadrant (audio)", "quadrant (fused)"], rows)  # fmt: skip
    return t1 + "\n\n" + t2 + "\n\n" + source("emotion")


def emotion_checks(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    r = results("emotion")
    rows = []
    m = r.get("metamorphic")
    if m:
        for name in ("fused head", "zero-shot", "zero-shot, tags alone"):
            if name in m:
                x = m[name]
                extra = ""
                if "share_ci95" in x:
                    extra = (
                        f" {_ci(x['share_ci95'])}, one-sided sign test p = {x['sign_test_p']:.2g}"
                    )
                rows.append([f"metamorphic ({m['transform']}, {m['n']} 4Q clips): arousal, "
                             f"{name}", f"mean change {x['mean_change']:+.3f}; lowered in "
                             f"{x['share_lowered']:.0%} of clips{extra}"])  # fmt: skip
    s = r.get("speed")
    if s:
        share = s["emotion_share"]
        rows.append([f"speed: emotion stage's share of the per-track stage time "
                     f"({s['files']} PMEmo clips, {s['audio_s']:.0f} s of audio; "
                     f"{'heads: ' + ', '.join(s['heads']) if s.get('heads') else 'zero-shot'})",
                     f"{share:.1%} ({s['stage_s'].get('emotion', 0):.2f} s of "
                     f"{sum(s['stage_s'].values()):.1f} s; target < 5 %)"])  # fmt: skip
    return table(["check", "result"], rows) + "\n\n" + source("emotion")


#: Block name suffix -> renderer(results, table, source).
RENDERERS = {"4q": emotion_4q, "emotify": emotion_emotify, "lyrics": emotion_lyrics,
             "checks": emotion_checks}  # fmt: skip
