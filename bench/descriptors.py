"""Evaluate songscape's DSP descriptors; print one JSON object.

Real music (``../shared/data`` relative to the repository root, or ``--data-dir``):

* gtzan_subset100: 93 clips (the 7 ``excluded`` rows of labels.csv dropped), annotated
  beats later than the clip's duration dropped. Beat F-measure, CMLt, AMLt and downbeat
  F-measure with mir_eval's conventions (first 5 s trimmed, 70 ms F-measure window),
  tempo Accuracy1 (within 4 %) and Accuracy2 (also x2, x3, x1/2, x1/3), meter accuracy.
* beat_fullclips: the same per clip (a 3/4 waltz and a 4/4 country excerpt).
* librosa_data: key of the two clips whose credits name a key.

Synthetic sets (songscape.audio.synth): rhythm on demo songs over tempi x meters; key
accuracy and MIREX weighted score on 24 keys x 2 timbres, for every key profile.

Timing: per-file decode (soundfile) and describe() time, real-time factor = audio
seconds / processing seconds, after a warm-up call (numba JIT); wall-clock, and
``realtime_factor_decode_plus_describe_per_cpu_s`` over the process's CPU time (on a
machine shared with other jobs the closer figure for one core of its own; on an idle
machine the two agree, since everything runs on one thread).

Result: ``bench/results/descriptors.json`` (``--json-out`` writes it elsewhere).

Usage: ``python bench/descriptors.py [--json-out PATH] [--limit N] [--data-dir DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import sys
import time
import warnings
from pathlib import Path

# One core: numpy's BLAS and numba single-threaded, as in an ingest worker.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import mir_eval
import numpy as np
import soundfile as sf

from record import RESULTS_DIR, machine, write_results
from songscape.analysis import bar_pointer
from songscape.analysis import key as key_mod
from songscape.analysis.descriptors import RhythmTracker, compute_features, describe
from songscape.audio import synth
from songscape.evaluation.intervals import bootstrap_interval, wilson_interval
from songscape.models import beatnet
from songscape.models.rhythm import (
    DEFAULT_RHYTHM_BACKEND,
    METERS,
    RHYTHM_BACKENDS,
    rhythm_tracker,
)

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OCTAVE_FACTORS = (2.0, 3.0, 1 / 2, 1 / 3)


def wilson_ci(k: int, n: int) -> list[float] | None:
    """95 % Wilson score interval of a proportion k/n (None when n = 0)."""
    return [round(v, 3) for v in wilson_interval(k, n)] if n else None


def bootstrap_ci(values: list[float]) -> list[float] | None:
    """95 % percentile-bootstrap interval of a mean (seed 0; None for fewer than 2 values)."""
    return [round(v, 3) for v in bootstrap_interval(values)] if len(values) >= 2 else None


def tempo_accuracy(est: float | None, ref: float) -> tuple[bool, bool]:
    """(Accuracy1, Accuracy2) of one estimate, 4 % tolerance."""
    if est is None:
        return False, False
    acc1 = abs(est - ref) <= 0.04 * ref
    acc2 = acc1 or any(abs(est - ref * k) <= 0.04 * ref * k for k in OCTAVE_FACTORS)
    return acc1, acc2


def beat_scores(ref: np.ndarray, est: np.ndarray) -> dict[str, float]:
    """mir_eval beat F-measure, CMLt, AMLt (both sequences trimmed of the first 5 s)."""
    r, e = mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(est)
    _, cmlt, _, amlt = mir_eval.beat.continuity(r, e)
    return {"f": mir_eval.beat.f_measure(r, e), "cmlt": cmlt, "amlt": amlt}


def summarise(values: list[float]) -> dict:
    return {"mean": round(float(np.mean(values)), 3), "ci95": bootstrap_ci(values),
            "n": len(values)}


def proportion(flags: list[bool]) -> dict:
    k, n = int(np.sum(flags)), len(flags)
    return {"value": round(k / n, 3) if n else None, "k": k, "n": n, "ci95": wilson_ci(k, n)}


def evaluate_clip(path: Path, beats_file: Path, duration_s: float | None,
                  timing: list[dict], tracker: RhythmTracker | None) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    y, sr = sf.read(path, dtype="float32")
    t1, c1 = time.perf_counter(), time.process_time()
    d = describe(y, sr, rhythm=tracker)
    t2, c2 = time.perf_counter(), time.process_time()
    dur = len(y) / sr
    timing.append({"file": path.name, "audio_s": round(dur, 2), "decode_s": round(t1 - t0, 4),
                   "describe_s": round(t2 - t1, 4), "decode_cpu_s": round(c1 - c0, 4),
                   "describe_cpu_s": round(c2 - c1, 4)})
    ann = np.loadtxt(beats_file, ndmin=2)
    ann = ann[ann[:, 0] <= (duration_s if duration_s is not None else dur)]
    out = {"name": path.stem, "tempo_est": d.tempo_bpm, "meter_est": d.beats_per_bar,
           "method": d.rhythm_method,
           **beat_scores(ann[:, 0], d.beat_times)}
    if ann.shape[1] > 1:  # second column = position in bar, 1 = downbeat
        ref_down = ann[ann[:, 1] == 1, 0]
        out["downbeat_f"] = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref_down),
                                                    mir_eval.beat.trim_beats(d.downbeat_times))
        out["meter_ref"] = int(ann[:, 1].max())
    return out


def eval_gtzan(root: Path, limit: int | None, timing: list[dict],
               tracker: RhythmTracker | None) -> dict:
    with (root / "labels.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["fault_filtered_split"] != "excluded"]
    rows = rows[:limit] if limit else rows
    clips = []
    for r in rows:
        stem = Path(r["path"]).stem.replace(".", "_")
        c = evaluate_clip(root / r["path"], root / "beats" / f"gtzan_{stem}.beats",
                          float(r["duration_s"]), timing, tracker)
        c["tempo_ref"] = float(np.loadtxt(root / "tempo" / f"gtzan_{stem}.bpm"))
        c["genre"] = r["genre"]
        clips.append(c)
    acc = [tempo_accuracy(c["tempo_est"], c["tempo_ref"]) for c in clips]
    with_down = [c for c in clips if "downbeat_f" in c]
    ratios = [c["tempo_est"] / c["tempo_ref"] for c in clips if c["tempo_est"]]
    octave_errors = {
        "x2": sum(abs(q / 2 - 1) <= 0.04 for q in ratios),
        "x1/2": sum(abs(q * 2 - 1) <= 0.04 for q in ratios),
        "x3_or_x1/3": sum(abs(q / 3 - 1) <= 0.04 or abs(q * 3 - 1) <= 0.04 for q in ratios),
    }
    return {
        "n_clips": len(clips),
        "methods_used": {m: sum(c["method"] == m for c in clips)
                         for m in sorted({str(c["method"]) for c in clips})},
        "beat_f": summarise([c["f"] for c in clips]),
        "beat_cmlt": summarise([c["cmlt"] for c in clips]),
        "beat_amlt": summarise([c["amlt"] for c in clips]),
        "downbeat_f": summarise([c["downbeat_f"] for c in with_down]),
        "tempo_acc1": proportion([a[0] for a in acc]),
        "tempo_acc2": proportion([a[1] for a in acc]),
        "tempo_octave_errors": octave_errors,
        "no_tempo": sum(c["tempo_est"] is None for c in clips),
        "meter_acc": proportion([c["meter_est"] == c["meter_ref"] for c in with_down]),
        "meter_acc_always_4_baseline": proportion([c["meter_ref"] == 4 for c in with_down]),
        "per_genre_beat_f": {
            g: round(float(np.mean([c["f"] for c in clips if c["genre"] == g])), 3)
            for g in sorted({c["genre"] for c in clips})
        },
    }


def eval_fullclips(root: Path, timing: list[dict], tracker: RhythmTracker | None) -> list[dict]:
    out = []
    with (root / "labels.csv").open() as fh:
        for r in csv.DictReader(fh):
            c = evaluate_clip(root / r["path"], root / r["beats_file"], None, timing, tracker)
            out.append({k: (round(v, 3) if isinstance(v, float) else v) for k, v in c.items()})
    return out


def eval_synthetic_rhythm(tracker: RhythmTracker | None) -> dict:
    tempi, meters = (70.0, 85.0, 100.0, 120.0, 140.0, 160.0, 180.0), (3, 4)
    rows = []
    for i, (bpm, meter) in enumerate(itertools.product(tempi, meters)):
        s = synth.demo_song(bpm, i % 12, ("major", "minor")[i % 2], meter, duration_s=20.0,
                            brightness=(i % 5) / 4, seed=100 + i)
        d = describe(s.y, s.sr, rhythm=tracker)
        a1 = d.tempo_bpm is not None and abs(d.tempo_bpm - bpm) <= 0.02 * bpm
        a2 = a1 or (d.tempo_bpm is not None and any(
            abs(d.tempo_bpm - bpm * k) <= 0.02 * bpm * k for k in OCTAVE_FACTORS))
        rows.append({"a1": a1, "a2": a2, "meter": d.beats_per_bar == meter,
                     "beat_f": mir_eval.beat.f_measure(s.beat_times, d.beat_times),
                     "downbeat_f": mir_eval.beat.f_measure(s.downbeat_times, d.downbeat_times)})
    return {
        "n": len(rows), "tempi_bpm": list(tempi), "meters": list(meters),
        "tempo_within_2pct": proportion([r["a1"] for r in rows]),
        "tempo_within_2pct_or_octave": proportion([r["a2"] for r in rows]),
        "meter_acc": proportion([r["meter"] for r in rows]),
        "beat_f": summarise([r["beat_f"] for r in rows]),
        "downbeat_f": summarise([r["downbeat_f"] for r in rows]),
    }


def eval_keys_synthetic() -> dict:
    items = []
    for i, (mode, pc) in enumerate(itertools.product(("major", "minor"), range(12))):
        a = synth.chord_progression(pc, mode, 8.0, rolloff=0.5 + (i % 4) * 0.5, seed=i)
        b = synth.demo_song(80.0 + 4 * i, pc, mode, 3 if i % 3 == 0 else 4, duration_s=15.0,
                            brightness=(i % 11) / 10, seed=i)
        items += [(a.key, compute_features(a.y, a.sr).chroma),
                  (b.key, compute_features(b.y, b.sr).chroma)]
    out = {"n": len(items), "default_profile": key_mod.DEFAULT_PROFILE}
    for profile in key_mod.KEY_PROFILES:
        est = [key_mod.estimate_key(c, profile=profile)[0] for _, c in items]
        out[profile] = {
            "accuracy": proportion([e == ref for e, (ref, _) in zip(est, items, strict=True)]),
            "mirex_weighted": round(float(np.mean(
                [key_mod.mirex_key_score(e, ref) for e, (ref, _) in zip(est, items, strict=True)]
            )), 3),
        }
    return out


def eval_keys_real(root: Path) -> list[dict]:
    # Keys named in the credits / titles. The trumpet pack is "in F" (blues/dorian: mode
    # unspecified, scored against F major). The Brahms title says F# minor, the key of
    # the piano-duet original; orchestral arrangements are commonly in G minor, so that
    # label is doubtful.
    refs = [("sorohanro_-_solo-trumpet-06.ogg", "F major"),
            ("Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
             "F# minor")]
    out = []
    for name, ref in refs:
        path = root / "audio" / name
        if not path.exists():
            continue
        y, sr = sf.read(path, dtype="float32")
        chroma = compute_features(y, sr).chroma
        row = {"file": name, "reference": ref}
        for profile in key_mod.KEY_PROFILES:
            k, conf = key_mod.estimate_key(chroma, profile=profile)
            row[profile] = {"key": k, "confidence": round(conf or 0.0, 3),
                            "mirex": key_mod.mirex_key_score(k, ref)}
        out.append(row)
    return out


def timing_summary(timing: list[dict]) -> dict:
    audio = sum(t["audio_s"] for t in timing)
    dec = sum(t["decode_s"] for t in timing)
    des = sum(t["describe_s"] for t in timing)
    cpu = sum(t["decode_cpu_s"] + t["describe_cpu_s"] for t in timing)
    rtf = [t["audio_s"] / (t["decode_s"] + t["describe_s"]) for t in timing]
    return {
        "n_files": len(timing), "audio_s": round(audio, 1),
        "decode_s": round(dec, 2), "describe_s": round(des, 2),
        "realtime_factor_describe": round(audio / des, 1),
        "realtime_factor_decode_plus_describe": round(audio / (dec + des), 1),
        "realtime_factor_per_file_min": round(min(rtf), 1),
        "realtime_factor_per_file_median": round(float(np.median(rtf)), 1),
        "realtime_factor_decode_plus_describe_per_cpu_s": round(audio / cpu, 1),
        "per_file": timing,
    }  # fmt: skip


def rhythm_stage_speed(root: Path, limit: int | None) -> dict:
    """Real-time factors of the default tracker's parts alone: features, network, DBN.

    Timed in CPU seconds of this process (one thread), which a shared machine's load
    disturbs far less than wall-clock time.
    """
    with (root / "labels.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["fault_filtered_split"] != "excluded"]
    audio_s = features_s = network_s = decoder_s = 0.0
    for r in rows[:limit] if limit else rows:
        y, sr = sf.read(root / r["path"], dtype="float32")
        t0 = time.process_time()
        feats = beatnet.network_features(y, sr)
        t1 = time.process_time()
        act = beatnet.activations_from_features(feats)
        t2 = time.process_time()
        bar_pointer.decode_bar_pointer(act, beatnet.FRAME_RATE, meters=METERS)
        t3 = time.process_time()
        audio_s += len(y) / sr
        features_s, network_s, decoder_s = (features_s + t1 - t0, network_s + t2 - t1,
                                            decoder_s + t3 - t2)  # fmt: skip
    return {"audio_s": round(audio_s, 1), "clock": "cpu",
            "features": round(audio_s / features_s, 1),
            "network": round(audio_s / network_s, 1),
            "decoder": round(audio_s / decoder_s, 1),
            "network_with_features": round(audio_s / (features_s + network_s), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json-out", type=Path, help="also write the JSON here")
    ap.add_argument("--limit", type=int, help="evaluate only the first N GTZAN clips")
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--rhythm", default=",".join(RHYTHM_BACKENDS),
                    help="comma-separated rhythm backends to compare (default: all)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning, module="mir_eval")

    backends = [b for b in args.rhythm.split(",") if b]
    if DEFAULT_RHYTHM_BACKEND not in backends:
        ap.error(f"--rhythm must include the default backend {DEFAULT_RHYTHM_BACKEND!r}")
    result: dict = {"data_dir": str(args.data_dir), "rhythm_default": DEFAULT_RHYTHM_BACKEND,
                    "rhythm_backends": {}}  # fmt: skip
    t_start = time.perf_counter()
    gtzan = args.data_dir / "gtzan_subset100"
    full = args.data_dir / "beat_fullclips"
    default_timing: list[dict] = []
    for backend in backends:
        tracker = rhythm_tracker(backend)
        describe(synth.demo_song(120.0, duration_s=5.0).y, rhythm=tracker)  # warm-up
        timing: list[dict] = []
        rows: dict = {
            "gtzan_subset100": (eval_gtzan(gtzan, args.limit, timing, tracker)
                                if gtzan.exists() else f"skipped: {gtzan} not found"),
            "beat_fullclips": eval_fullclips(full, timing, tracker) if full.exists() else "skipped",
            "synthetic_rhythm": eval_synthetic_rhythm(tracker),
        }
        if timing:
            rows["timing"] = timing_summary(timing)
        result["rhythm_backends"][backend] = rows
        if backend == DEFAULT_RHYTHM_BACKEND:
            default_timing = timing
            result.update({k: v for k, v in rows.items() if k != "timing"})
    if gtzan.exists():
        result["rhythm_stages_realtime_factor"] = rhythm_stage_speed(gtzan, args.limit)
    result["key_synthetic"] = eval_keys_synthetic()
    lib = args.data_dir / "librosa_data"
    result["key_real"] = eval_keys_real(lib) if lib.exists() else "skipped"
    if default_timing:
        result["timing"] = timing_summary(default_timing)
    result["bench_wall_s"] = round(time.perf_counter() - t_start, 1)
    print(json.dumps(result, indent=1, default=float))
    conditions = machine(threads=1, omp_num_threads=os.environ.get("OMP_NUM_THREADS"),
                         limit=args.limit)  # fmt: skip
    # the per-file timings stay on stdout: the result file keeps the summaries (small)
    saved = json.loads(json.dumps(result, default=float))
    # Backends not re-run this time keep their rows from the previous result file,
    # marked with the date they were measured.
    previous_path = args.json_out or RESULTS_DIR / "descriptors.json"
    if previous_path.is_file():
        previous = json.loads(previous_path.read_text())
        for name, rows in previous["results"].get("rhythm_backends", {}).items():
            if name not in saved["rhythm_backends"]:
                rows.setdefault("measured", previous["conditions"].get("date"))
                saved["rhythm_backends"][name] = rows
    for timing in [saved.get("timing", {})] + [
        b.get("timing", {}) for b in saved["rhythm_backends"].values()
    ]:
        timing.pop("per_file", None)
    write_results(__file__, saved, conditions, args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
