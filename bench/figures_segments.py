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
    """A sentence naming the earlier run whose part a partial run kept (its
    ``conditions.earlier``), or nothing."""
    data = json.loads((Path(__file__).resolve().parent / "results" / "segments.json").read_text())
    c, e = data["conditions"], data["conditions"].get("earlier")
    if not e:
        return ""
    kept = sorted(set(data["results"]) - set(c.get("parts", [])))
    load = e.get("loadavg_1min")
    return (f" The {', '.join(kept)} part comes from an earlier run: `{e['command']}`, "
            f"{e.get('date')}, {e.get('cpu')} ({e.get('cpus')} CPUs, load {load}).")


def block(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    return partial(results, table, source) + "\n\n" + speed(results, table, source)


RENDERERS = {"segments": block}
