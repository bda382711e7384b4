"""Renderers of the segment-level embedding figure block (issue 20), used by
bench/figures.py: partial matches by windows against whole-track vectors, and the window
index's size and speed at 10,000 tracks (bench/results/segments.json)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

LABELS = {
    "track": "whole-track vector (before)",
    "window-max": "best window (**default**)",
    "window-top2": "mean of the best two windows",
    "blend": "mean of whole-track and best window",
}


def _rate(x: float, interval: list[float]) -> str:
    return f"{x:.3f} ({interval[0]:.2f}–{interval[1]:.2f})"


def partial(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    r = results("segments")
    q = r["quality"]
    rows = [[LABELS.get(name, name), _rate(m["top1"], m["top1_ci"]),
             _rate(m["top5"], m["top5_ci"]), f"{m['mrr']:.3f}",
             f"{m['jamendo']['top1']:.2f} / {m['jamendo']['top5']:.2f}",
             f"{m['emotify']['top1']:.2f} / {m['emotify']['top5']:.2f}"]
            for name, m in q["methods"].items()]  # fmt: skip
    head = [f"{q['clip_s']:.0f} s clip from the half not in the library, compared with",
            "top-1 right track (95 % CI)", "top-5", "mean reciprocal rank",
            "Jamendo songs: top-1 / top-5", "Emotify excerpts: top-1 / top-5"]  # fmt: skip
    d = q["disagreements"]
    text = (
        f"{q['clips']} clips ({q['clips_jamendo']} from the Jamendo songs) against "
        f"{q['tracks']} tracks holding {q['windows']:,} windows of {q['window_s']:.0f} s "
        f"every {q['window_hop_s']:.0f} s ({q['model']}). Of the clips, "
        f"{d['track_wrong_window_right']} are ranked first only by the best window and "
        f"{d['track_right_window_wrong']} only by the whole-track vector."
    )
    return table(head, rows) + "\n\n" + text


def speed(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    s = results("segments")["speed"]
    w, t = s["windows_k10_ms"], s["tracks_k10_ms"]
    rows = [
        ["windows (vectors) / per track", f"{s['windows']:,} / {s['windows_per_track']}"],
        ["window vectors, float32 / index files on disk",
         f"{s['float32_mb']:,.0f} MB / {s['index_files_mb']:,.0f} MB"],
        ["catalog growth (window rows)", f"{s['catalog_growth_mb']:,.0f} MB"],
        [f"window index build ({s['kind']}) / reopen from disk",
         f"{s['build_s']:.1f} s / {s['reopen_s']:.2f} s"],
        ["10 similar tracks by windows: ms p50 / p95 / max",
         f"{w['p50']:.1f} / {w['p95']:.1f} / {w['max']:.1f}"],
        ["10 similar tracks by whole-track vectors: ms p50 / p95 / max",
         f"{t['p50']:.1f} / {t['p95']:.1f} / {t['max']:.1f}"],
    ]  # fmt: skip
    if "hnsw_windows_k10_ms" in s:
        h = s["hnsw_windows_k10_ms"]
        rows += [
            ["the windows as an HNSW graph instead: build", f"{s['hnsw_build_s']:.0f} s"],
            ["HNSW: 10 similar tracks by windows, ms p50 / p95 / max",
             f"{h['p50']:.1f} / {h['p95']:.1f} / {h['max']:.1f}"],
            ["HNSW: of the exact search's 10 tracks, found", f"{s['hnsw_recall_at_10']:.3f}"],
        ]  # fmt: skip
    head = [f"{s['tracks']:,} tracks (synthetic {s['dim']}-d vectors)", "value"]
    return table(head, rows) + "\n\n" + source("segments") + earlier_run()


def earlier_run() -> str:
    """Sentences naming the earlier runs whose parts a partial run kept (its
    ``conditions.earlier_parts``, or the older single ``conditions.earlier``), or nothing."""
    data = json.loads((Path(__file__).resolve().parent / "results" / "segments.json").read_text())
    c = data["conditions"]
    kept = sorted(set(data["results"]) - set(c.get("parts", [])))
    by_part = c.get("earlier_parts") or {part: c["earlier"] for part in kept if "earlier" in c}
    out = ""
    for part in kept:
        e = by_part.get(part)
        if e:
            out += (f" The {part} part comes from an earlier run: `{e['command']}`, "
                    f"{e.get('date')}, {e.get('cpu')} ({e.get('cpus')} CPUs, load "
                    f"{e.get('loadavg_1min')}).")  # fmt: skip
    return out


def block(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    return partial(results, table, source) + "\n\n" + speed(results, table, source)


LONG_LABELS = {
    "track": "clip's mean vector, whole-track vectors",
    "mean-window-max": "clip's mean vector, best library window (what a 10 s clip uses)",
    "own-windows": "clip's own windows, best (clip window, library window) pair (**default**)",
    "own-windows+mean": "own windows and the mean vector, best pair",
}


def long_clips(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    """Long clips (30 s): the clip's mean vector against its own windows."""
    q = results("segments")["long"]
    rows = [[LONG_LABELS.get(name, name), _rate(m["top1"], m["top1_ci"]),
             _rate(m["top5"], m["top5_ci"]), f"{m['mrr']:.3f}",
             f"{m['jamendo']['top1']:.2f} / {m['jamendo']['top5']:.2f}",
             f"{m['emotify']['top1']:.2f} / {m['emotify']['top5']:.2f}"]
            for name, m in q["methods"].items()]  # fmt: skip
    head = [f"{q['clip_s']:.0f} s clip from the half not in the library, compared by",
            "top-1 right track (95 % CI)", "top-5", "mean reciprocal rank",
            "Jamendo songs: top-1 / top-5", "Emotify excerpts: top-1 / top-5"]  # fmt: skip
    d, w = q["disagreements"], q["clip_windows"]
    spread = "" if w["min"] == w["max"] else f" ({w['min']}–{w['max']})"
    text = (
        f"{q['clips']} clips ({q['clips_jamendo']} from the Jamendo songs) against "
        f"{q['tracks']} tracks holding {q['windows']:,} windows ({q['model']}); a clip has "
        f"{w['median']:.0f} windows of its own{spread}. Of the clips, "
        f"{d['mean_wrong_own_right']} are ranked first only by the own windows and "
        f"{d['mean_right_own_wrong']} only by the mean vector against the windows"
    )
    pair = q.get("paired_own_vs_mean")
    if pair:
        t1, t5 = pair["top1"], pair["top5"]
        text += (f" (exact sign test p = {t1['sign_test_p']:.2f}); in the top 5, "
                 f"{t5['own_only']} only by the own windows and {t5['mean_only']} only by "
                 f"the mean vector (p = {t5['sign_test_p']:.3f})")  # fmt: skip
    text += "."
    return table(head, rows) + "\n\n" + text + "\n\n" + source("segments") + earlier_run()


def identify_cache(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    """CLI time with the fingerprint index built from the catalog or read from its file."""
    r = results("identify_cache")
    t, p = r["cli_s"], r["in_process"]

    def span(xs: list[float]) -> str:
        return f"{min(xs):.1f}" if len(xs) == 1 else f"{min(xs):.1f}–{max(xs):.1f}"

    rows = [
        ["`songscape identify CLIP --json`", span(t["identify_build"]),
         span(t["identify_saved"]), f"{r['identify_ratio']:.1f}x"],
        ["`songscape similar --file CLIP --json`", span(t["similar_build"]),
         span(t["similar_saved"]), f"{r['similar_ratio']:.2f}x"],
    ]  # fmt: skip
    head = [f"command, library of {r['tracks']:,} tracks ({r['words']:,} words)",
            "seconds, index built from the catalog (before)", "seconds, saved index read",
            "faster (median ratio)"]  # fmt: skip
    text = (
        "Inside those commands: reading the fingerprints from the catalog "
        f"{p['catalog_read_s']:.1f} s "
        f"and sorting their words {p['sort_s']:.1f} s (what every command paid before); "
        f"checking the saved file's key against the catalog {1000 * p['key_check_s']:.0f} ms "
        f"and reading it {p['read_s']:.1f} s ({p['file_mb']:,.0f} MB); writing it once "
        f"{p['write_s']:.1f} s. The rest of each command is starting Python and songscape, "
        "decoding and fingerprinting the clip (and for `similar`, the model)."
    )
    return table(head, rows) + "\n\n" + text + "\n\n" + source("identify_cache")


RENDERERS = {"segments": block, "segments-long": long_clips, "identify-cache": identify_cache}
