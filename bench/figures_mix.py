"""Renderers of the DJ-mix figure blocks (issue 13), used by bench/figures.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _percent(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f} %"


def _when(r: dict, part: str, label: str) -> str:
    """When a part of bench/mix.py last ran, and the machine's load then."""
    m = r.get("measured", {}).get(part)
    if m is None:
        return ""
    return f" {label} measured on {m['date']} at load {m['loadavg_1min']}."


def mix_quality(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    quality = results("mix")["quality"]
    rows = []
    for name, r in quality.items():
        beats = r.get("beats") or {}
        render = r["render"]
        rows.append([
            name.replace("/", " · "), f"{r['duration_s'] / 60:.1f}",
            f"{r['beatmatched']} / {r['transitions']}", f"{100 * r['length_error']:.2f} %",
            f"{r['true_peak_dbtp']:.2f}", f"{r['max_excess_lu']:.1f} / {r['max_jump_lu']:.1f}",
            f"{_ms(beats.get('phase_offset_median_ms'))} / {_ms(beats.get('phase_offset_max_ms'))}",
            "–" if beats.get("pulse_cv_max") is None else f"{beats['pulse_cv_max']:.3f}",
            _percent(r.get("bass_clash_fraction")),
            f"{render['realtime_factor']:.1f} / {render['realtime_factor_per_cpu']:.1f}",
        ])  # fmt: skip
    head = ["mix · style · warp", "minutes", "beat-matched / transitions", "length error",
            "true peak (dBTP)", "loudness jump: transition / with the music's own (LU)",
            "phase offset median / worst (ms)",
            "pulse CV (worst)", "bass clash", "render × real time (wall / per CPU)"]  # fmt: skip
    text = (
        "Mixes of the ten jamendolyrics_subset10 songs in the smoothest order. Goals (issue "
        "13): phase offset < 20 ms, loudness jump ≤ 2 LU, no clipping (true peak ≤ −1 dBTP), "
        "length within 1 %, rendering ≥ 10× real time per core. *Loudness jump*, the "
        "largest over all transitions of the 3 s short-term loudness: *with the music's "
        "own*, the larger of the step between the 3 s before and the 3 s after and any "
        "excursion outside them up to 3 s after the end; *transition*, only the part of "
        "that excursion also outside what each track does heard alone at that moment; "
        "*bass clash*: share of beat-matched "
        "overlap time in which both bass lines sound within 6 dB of each other."
    ) + _when(results("mix"), "quality", "These mixes were")
    return table(head, rows) + "\n\n" + text + "\n\n" + source("mix")


def mix_speed(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    r = results("mix")
    p = r["planning"]
    rows = [
        [f"plan a {p['seed_mix_tracks']}-track mix from a seed over {p['catalog_tracks']:,} tracks",
         f"{p['seed_plan_s_max']:.2f} s (worst of {len(p['seed_plan_s'])})", "< 1 s"],
        ["plan 12 tracks, exact order", f"{p['exact_12_plan_s_max']:.2f} s", ""],
    ]  # fmt: skip
    for m in r.get("memory", []):
        rows.append([f"render a {m['minutes']:.0f}-minute mix: peak memory",
                     f"{m['peak_rss_mb']:.0f} MB", "bounded"])  # fmt: skip
    text = (
        (
            "The 10,000 tracks are synthetic (descriptors, beat grids, energy curves and "
            "embeddings written into the catalog); the memory rows render the ten Jamendo "
            "songs repeated, with varispeed. `--parts` re-runs only some parts: the rows of "
            "the others come from the previous run of `bench/mix.py`."
        )
        + _when(r, "planning", "Planning was")
        + _when(r, "memory", "Memory was")
    )
    return table(["what", "measured", "goal"], rows) + "\n\n" + text + "\n\n" + source("mix")


def readme_rows(results: Callable[[str], Any]) -> list[list[str]]:
    """The README's rows: a full-song mix of real songs, and planning over 10k tracks."""
    r = results("mix")
    full = r["quality"]["full/bass-swap/rubberband"]
    beats = full.get("beats") or {}
    p = r["planning"]
    return [
        [
            f"DJ mix of 10 real songs ({full['duration_s'] / 60:.0f} min, "
            f"{full['beatmatched']} of {full['transitions']} transitions beat-matched)",
            f"phase offset worst {_ms(beats.get('phase_offset_max_ms'))} ms, loudness jump "
            f"≤ {full['max_excess_lu']:.1f} LU ({full['max_jump_lu']:.1f} with the music's own), "
            f"true peak {full['true_peak_dbtp']:.1f} dBTP, "
            f"{full['render']['realtime_factor_per_cpu']:.1f}x real time per CPU second",
            "goals < 20 ms, ≤ 2 LU, ≤ −1 dBTP, ≥ 10x",
            "`bench/mix.py`",
        ],
        [
            f"plan a {p['seed_mix_tracks']}-track mix from a seed, {p['catalog_tracks']:,} "
            "synthetic tracks",
            f"{p['seed_plan_s_max']:.2f} s",
            "goal < 1 s",
            "`bench/mix.py`",
        ],
    ]


RENDERERS = {"quality": mix_quality, "speed": mix_speed}
