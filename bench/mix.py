"""Measure DJ mixes (issue 13); write ``bench/results/mix.json``.

Real music: a library of ``jamendolyrics_subset10`` (10 full songs, 28 min; built with
``songscape ingest`` into ``--library`` unless it exists). Nothing here is tuned on it.

* ``quality``: three mixes of those songs, each planned by ``Library.plan_mix`` with
  ``--reorder`` and rendered by ``Library.render_mix``: full songs (bass swap, Rubber
  Band), and highlights with each transition style × warp (bass swap / crossfade ×
  Rubber Band / varispeed, one plan, four renders). For every rendered mix: the length
  against the plan (relative error), the largest sample and the true peak (×4
  oversampled), and per transition the short-term loudness ``step``/``bump``/``jump``
  (``evaluation.mix_quality.transition_loudness``) and the **excess** over what the two
  tracks do heard alone (``transition_excess_lu``: a quiet intro that dips by itself is
  the music, not the transition); per beat-matched transition the
  **phase offset**: how far the incoming track's rhythm sits from the outgoing one's
  under the overlap, from the cross-correlation of the two warped segments' onset
  envelopes (``evaluation.mix_quality.onset_lag_s``, 2.9 ms frames refined by a
  parabola; BeatNet's 20 ms frames and its phase choice on short excerpts are too coarse
  for a 20 ms goal); and the **pulse**: the beat tracker run on the rendered mix around
  the transition, the coefficient of variation of its beat intervals in the overlap.
* ``speed``: the render's real-time factor (mix seconds per wall second and per CPU
  second of this process and its Rubber Band children); planning a 20-track mix from a
  seed over a 10,000-track synthetic catalog (beat grids and energy curves stored for
  every track) and ordering 12 tracks exactly.
* ``memory``: peak RSS of a fresh process rendering a 10-minute and a 60-minute mix (the
  songs repeated, the longest first so that both hold it — one segment is in memory at a
  time, so the longest sets the peak; varispeed, so the figure is the renderer's own).

Usage: ``python bench/mix.py [--library DIR] [--parts planning,quality,memory]
[--out PATH]`` (parts not run keep their previous results).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import soundfile as sf

from record import machine, write_results
from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE, describe
from songscape.audio.limiter import sample_true_peaks
from songscape.evaluation.mix_quality import (
    onset_lag_s,
    pulse_steadiness,
    short_term_loudness,
    short_term_loudness_file,
    transition_excess_lu,
    transition_loudness,
)
from songscape.library.library import Library
from songscape.mix.plan import MixOptions, MixPlan
from songscape.mix.render import loudness_gain_db, segment_audio
from songscape.models.rhythm import rhythm_tracker

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
JAMENDO = DATA / "jamendolyrics_subset10" / "audio"
CONTEXT_S = 6.0


def cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def library(path: Path) -> Library:
    if not (path / "catalog.sqlite").exists():
        subprocess.run(
            [sys.executable, "-m", "songscape.cli", "--library", str(path), "ingest", str(JAMENDO)],
            check=True,
        )
    return Library(path)


def track_beats(y: np.ndarray, sr: int) -> np.ndarray:
    """Beat times (s) of stereo audio ``y`` by the default tracker (BeatNet + DBN)."""
    import soxr

    mono = soxr.resample(y.mean(axis=0), sr, ANALYSIS_SAMPLE_RATE)
    return describe(mono, ANALYSIS_SAMPLE_RATE, rhythm=rhythm_tracker()).beat_times


def file_peaks(path: Path) -> tuple[float, float]:
    """Largest absolute sample and true peak (dBTP) of a file, block by block."""
    peak, true_peak = 0.0, 0.0
    context = None
    with sf.SoundFile(str(path)) as f:
        for block in f.blocks(blocksize=1 << 18, dtype="float32", always_2d=True):
            x = block.T
            peak = max(peak, float(np.abs(x).max()))
            true_peak = max(true_peak, float(sample_true_peaks(x, context).max()))
            context = x[:, -32:]
    return peak, 20 * np.log10(max(true_peak, 1e-12))


def beat_checks(plan: MixPlan, audio: Path) -> list[dict]:
    """Phase offset and pulse steadiness of each beat-matched transition."""
    sr = plan.options.sample_rate
    out = []
    for t in plan.transitions:
        if t.kind != "beatmatched":
            continue
        a, b = plan.segments[t.index], plan.segments[t.index + 1]
        n = int(round(a.mix_end_s * sr)) - int(round(b.mix_start_s * sr))
        tail = segment_audio(a, sr, plan.options.warp)[:, -n:]
        head = segment_audio(b, sr, plan.options.warp)[:, :n]
        beat_s = 60.0 / plan.master_tempo_bpm
        # The nearest peak within a quarter beat: a search over ±½ beat sometimes prefers an
        # off-beat accent (Rubber Band softens transients); a real misalignment shows as a
        # peak at the window's edge, flagged below.
        window = beat_s / 4
        lag = onset_lag_s(tail, head, sr, max_lag_s=window)
        start = max(0.0, t.mix_start_s - CONTEXT_S)
        with sf.SoundFile(str(audio)) as f:
            f.seek(int(start * sr))
            y = f.read(
                int((t.mix_end_s + CONTEXT_S - start) * sr), dtype="float32", always_2d=True
            ).T
        mixed = track_beats(y, sr) + start
        out.append(
            {
                "index": t.index,
                "bars": t.bars,
                "stretch_a": round(a.stretch, 4),
                "stretch_b": round(b.stretch, 4),
                "phase_offset_ms": round(1000 * lag, 1),
                "at_window_edge": bool(abs(lag) > 0.9 * window),
                "pulse_cv": pulse_steadiness(mixed, t.mix_start_s, t.mix_end_s),
            }
        )
    return out


def alone_curves(plan: MixPlan, times: np.ndarray) -> list[np.ndarray]:
    """Each segment's short-term loudness heard alone — warped and loudness-matched as
    the renderer does it, without fades or rides — at the mix's window times (NaN where
    its window is not all inside the segment)."""
    sr, out = plan.options.sample_rate, []
    for seg in plan.segments:
        y = segment_audio(seg, sr, plan.options.warp)
        gain_db, _ = loudness_gain_db(y, sr, plan.options.target_lufs)
        t, lufs = short_term_loudness(y * np.float32(10 ** (gain_db / 20)), sr)
        out.append(np.interp(times - seg.mix_start_s, t, lufs, left=np.nan, right=np.nan))
        del y
    return out


def check_mix(plan: MixPlan, result: dict, beats: bool) -> dict:
    audio = Path(result["files"]["audio"])
    info = sf.info(str(audio))
    times, lufs = short_term_loudness_file(str(audio))
    alone = alone_curves(plan, times)
    loud = [
        {
            "index": t.index,
            "kind": t.kind,
            **transition_loudness(times, lufs, t.mix_start_s, t.mix_end_s),
            "excess_lu": round(
                transition_excess_lu(
                    times, lufs, t.mix_start_s, t.mix_end_s, alone[t.index : t.index + 2]
                ),
                2,
            ),
        }
        for t in plan.transitions
    ]
    peak, tp = file_peaks(audio)
    out = {
        "duration_s": round(info.duration, 2),
        "length_error": round(abs(info.duration - plan.duration_s) / plan.duration_s, 5),
        "max_sample": round(peak, 4),
        "true_peak_dbtp": round(tp, 2),
        "transitions": len(plan.transitions),
        "beatmatched": sum(t.kind == "beatmatched" for t in plan.transitions),
        "max_jump_lu": max((x["jump_lu"] for x in loud), default=None),
        "max_excess_lu": max((x["excess_lu"] for x in loud), default=None),
        "loudness": loud,
        "render": result["render"],
        "mean_cost": plan.to_json()["order"]["mean_cost"],
    }
    if beats:
        checks = beat_checks(plan, audio)
        offsets = [abs(c["phase_offset_ms"]) for c in checks]
        cvs = [c["pulse_cv"] for c in checks if c["pulse_cv"] is not None]
        out["beats"] = {
            "phase_offset_median_ms": round(float(np.median(offsets)), 1) if offsets else None,
            "phase_offset_max_ms": round(float(np.max(offsets)), 1) if offsets else None,
            "pulse_cv_max": round(max(cvs), 4) if cvs else None,
            "per_transition": checks,
        }
    return out


def render_timed(lib: Library, plan: MixPlan, out: Path) -> dict:
    cpu, wall = cpu_seconds(), time.perf_counter()
    result = lib.render_mix(plan, out)
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    result["render"]["cpu_seconds"] = round(cpu, 2)
    result["render"]["realtime_factor_per_cpu"] = round(plan.duration_s / cpu, 2)
    return result


def quality(lib: Library, work: Path) -> dict:
    ids = [t["id"] for t in lib.tracks(status="ok")]
    results = {}
    plan = lib.plan_mix(ids, options=MixOptions(segments="full", reorder=True))
    print(json.dumps({"planned": "full", "duration_s": plan.duration_s}), flush=True)
    results["full/bass-swap/rubberband"] = check_mix(
        plan, render_timed(lib, plan, work / "full.flac"), True
    )
    print(
        json.dumps(
            {
                "full": {
                    k: v for k, v in results["full/bass-swap/rubberband"].items() if k != "loudness"
                }
            },
            default=str,
        ),
        flush=True,
    )
    for style in ("bass-swap", "crossfade"):
        for warp in ("rubberband", "varispeed"):
            options = MixOptions(segments="highlight", reorder=True, style=style, warp=warp)
            plan = lib.plan_mix(ids, options=options)
            name = f"highlights/{style}/{warp}"
            result = render_timed(lib, plan, work / f"hl-{style}-{warp}.flac")
            results[name] = check_mix(plan, result, True)
            results[name]["bass_clash_fraction"] = bass_clash_fraction(plan)
            print(
                json.dumps(
                    {name: {k: v for k, v in results[name].items() if k != "loudness"}}, default=str
                ),
                flush=True,
            )
    return results


def bass_clash_fraction(plan: MixPlan) -> float | None:
    """Share of the beat-matched overlaps' time (100 ms frames) in which both tracks'
    bass (below 180 Hz, with the gains the transition applies) plays within 6 dB of the
    other — two bass lines at once, the mud a bass swap avoids."""
    from songscape.audio.transitions import equal_power_gains, ramp, split_lows

    sr = plan.options.sample_rate
    clash, frames = 0, 0
    for t in plan.transitions:
        if t.kind != "beatmatched":
            continue
        a, b = plan.segments[t.index], plan.segments[t.index + 1]
        n = int(round(a.mix_end_s * sr)) - int(round(b.mix_start_s * sr))
        la, _ = split_lows(segment_audio(a, sr, plan.options.warp)[:, -n:], sr)
        lb, _ = split_lows(segment_audio(b, sr, plan.options.warp)[:, :n], sr)
        if t.style == "bass-swap" and t.swap_s is not None:
            swap_at = int(round((t.swap_s - t.mix_start_s) * sr))
            gain_b = ramp(n, swap_at, int(60 / plan.master_tempo_bpm * sr))
            gain_a = 1 - gain_b
        else:
            gain_a, gain_b = equal_power_gains(n)
        hop = sr // 10
        for k in range(0, n - hop + 1, hop):
            pa = float(((la[:, k : k + hop] * gain_a[k : k + hop]) ** 2).mean())
            pb = float(((lb[:, k : k + hop] * gain_b[k : k + hop]) ** 2).mean())
            frames += 1
            loud = max(pa, pb) > 1e-5
            clash += bool(loud and min(pa, pb) > max(pa, pb) / 4)
    return round(clash / frames, 4) if frames else None


def planning_speed(work: Path) -> dict:
    from songscape.catalog import analysis
    from songscape.catalog.store import LibraryStore
    from songscape.mix.plan import plan_mix
    from songscape.mix.tracks import load_mix_tracks
    from songscape.synthetic.catalogs import build_synthetic_library

    root = work / "synthetic"
    ids = build_synthetic_library(root, 10_000, seed=3)
    rng = np.random.default_rng(0)
    with LibraryStore(root) as store, store.transaction() as conn:
        for track_id in ids:
            d = store.descriptors(track_id)
            beat = 60.0 / d["tempo_bpm"]
            beats = np.arange(0.5, 200.0, beat)
            analysis.put_array(conn, track_id, "beat_times", beats)
            analysis.put_array(conn, track_id, "downbeat_times", beats[::4])
            analysis.put_array(
                conn,
                track_id,
                "energy_curve",
                -20 + 3 * rng.standard_normal(int(200 * d["energy_rate_hz"])),
            )
    lib = Library(root)
    seeds = rng.choice(ids, 5, replace=False)
    times = []
    for seed in seeds:
        started = time.perf_counter()
        chosen, first, _ = lib.mix_candidates(seed=str(seed), count=20)
        plan = plan_mix(load_mix_tracks(lib.store, chosen), MixOptions(), start=first)
        times.append(time.perf_counter() - started)
    exact = []
    for _ in seeds:
        chosen = list(rng.choice(ids, 12, replace=False))
        started = time.perf_counter()
        plan_mix(load_mix_tracks(lib.store, chosen), MixOptions(segments="full"))
        exact.append(time.perf_counter() - started)
    return {
        "catalog_tracks": len(ids),
        "seed_mix_tracks": 20,
        "seed_plan_s": [round(t, 3) for t in times],
        "seed_plan_s_max": round(max(times), 3),
        "order_method": plan.order_method,
        "exact_12_plan_s": [round(t, 3) for t in exact],
        "exact_12_plan_s_max": round(max(exact), 3),
    }


MEMORY_CHILD = """
import json, resource, sys
from songscape.library.library import Library
from songscape.mix.plan import MixOptions
lib = Library(sys.argv[1])
ids = [t["id"] for t in lib.tracks(status="ok")]
minutes, total = float(sys.argv[3]), 0.0
plan = lib.plan_mix(ids, options=MixOptions(segments="full", reorder=False, warp="varispeed"))
# longest song first: the peak is set by the longest segment in memory, so both mixes
# must hold it for the comparison to show whether the length of the mix matters
songs = sorted(plan.segments, key=lambda s: -s.duration_s)
seq = []
while total < minutes * 60:
    for s in songs:
        seq.append(s.track.track_id); total += s.duration_s - 6
        if total >= minutes * 60: break
plan = lib.plan_mix(seq, options=MixOptions(segments="full", reorder=False, warp="varispeed"))
result = lib.render_mix(plan, sys.argv[2])
print(json.dumps({"minutes": round(plan.duration_s / 60, 1), "peak_rss_mb": round(
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "render": result["render"]}))
"""


def memory(lib_path: Path, work: Path) -> list[dict]:
    rows = []
    for minutes in (10, 60):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                MEMORY_CHILD,
                str(lib_path),
                str(work / f"m{minutes}.ogg"),
                str(minutes),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--library", type=Path, default=Path(tempfile.gettempdir()) / "songscape-bench-mix"
    )
    parser.add_argument(
        "--parts",
        default="planning,quality,memory",
        help="comma-separated parts to run; the others keep their previous results",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    lib = library(args.library)
    parts = set(args.parts.split(","))
    previous = Path(__file__).resolve().parent / "results" / "mix.json"
    results: dict = json.loads(previous.read_text())["results"] if previous.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        measured = results.setdefault("measured", {})  # when and how loaded, per part
        for part, run in (
            ("planning", lambda: planning_speed(work)),
            ("quality", lambda: quality(lib, work)),
            ("memory", lambda: memory(args.library, work)),
        ):
            if part in parts:
                load_before = os.getloadavg()[0]
                results[part] = run()
                measured[part] = {
                    "date": time.strftime("%Y-%m-%d"),
                    "loadavg_1min": round((load_before + os.getloadavg()[0]) / 2, 2),
                }
                print(json.dumps({part: results[part]}, default=str)[:2000], flush=True)
    write_results("mix", results, machine(threads=1, library=str(args.library)), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
