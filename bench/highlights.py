"""Evaluate sections and highlights; write ``bench/results/highlights.json``.

Highlights on real music, ``jamendolyrics_subset10`` (10 full songs with line-level
lyric timing): a lyric line that occurs at least twice in a song (case, punctuation and
spacing ignored) is a repeated line; the chorus regions are the union of the repeated
lines' intervals, lines less than :data:`MERGE_GAP_S` apart joined. Songs without a
repeated line are left out (1 of 10). For each method (``signal``, ``attention``,
``fused``) and the baselines "start at 0:00" and "start at 30 % of the song", per song:
the fraction of the 30 s window inside a chorus region; reported: its mean over songs,
the number of songs with at least half of the window in a chorus, and the number with
any overlap; also the best achievable window (the oracle). Nothing was tuned on these
songs: the signal weights were set a priori and the attention model is trained on
the songs' audio with musicnn's tags as targets (no chorus information).

Sections: boundary hit rate F-measure (``mir_eval.segment.detection``, windows 0.5 s
and 3 s, ``trim=True``: the track's start and end are not counted) on synthetic
verse/chorus songs (``songscape.audio.song_forms``, 6 forms and tempi) and on
``structure_sargon_cut``; the synthetic songs also give the chorus fraction of the
signal highlight.

Speed: the structure and highlight stages' real-time factor (audio seconds per wall
second, one thread) on the Jamendo songs, and the descriptors stage's for comparison.

The attention model is the registered ``highlight-attention`` (``--attention-model
none``: signal only); ``--train-attention`` first trains it on the ten Jamendo songs'
audio with ``songscape.highlights.training`` (musicnn tags as targets: no labels, no
chorus information), which is what the recorded figures used.

Usage: ``python bench/highlights.py [--out PATH] [--limit N] [--attention-model NAME]
[--train-attention]``.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import mir_eval
import numpy as np

from record import machine, write_results
from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE, describe
from songscape.analysis.highlight import compute_highlights
from songscape.analysis.structure import analyze_structure
from songscape.audio.decode import load_audio
from songscape.audio.song_forms import structured_song, structured_song_specs
from songscape.models.highlight_attention import (
    DEFAULT_ATTENTION_MODEL,
    attention_curve,
    attention_model_version,
)

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MERGE_GAP_S = 2.0
LENGTH_S = 30.0
METHODS = ("signal", "attention", "fused")


def normalize_line(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w ]+", " ", text).split())


def chorus_regions(lines_csv: Path) -> list[tuple[float, float]]:
    """Union of the intervals of lines that occur at least twice (gaps < MERGE_GAP_S joined)."""
    rows = list(csv.DictReader(lines_csv.open(encoding="utf-8")))
    counts = Counter(normalize_line(r["lyrics_line"]) for r in rows)
    spans = sorted((float(r["start_time"]), float(r["end_time"])) for r in rows
                   if counts[normalize_line(r["lyrics_line"])] >= 2)  # fmt: skip
    merged: list[list[float]] = []
    for s, e in spans:
        if merged and s - merged[-1][1] <= MERGE_GAP_S:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def fraction_in(regions: list[tuple[float, float]], start: float, end: float) -> float:
    inside = sum(max(0.0, min(end, e) - max(start, s)) for s, e in regions)
    return inside / max(end - start, 1e-9)


def boundary_f(ref: np.ndarray, est: np.ndarray, window: float) -> float:
    ref_iv = np.stack([ref[:-1], ref[1:]], axis=1)
    est_iv = np.stack([est[:-1], est[1:]], axis=1)
    return float(mir_eval.segment.detection(ref_iv, est_iv, window=window, trim=True)[2])


def summarize(fractions: list[float]) -> dict:
    f = np.asarray(fractions, dtype=float)
    return {"mean_fraction_in_chorus": round(float(f.mean()), 3),
            "songs_half_in_chorus": int((f >= 0.5).sum()),
            "songs_any_overlap": int((f > 0).sum()), "n_songs": len(f),
            "per_song": [round(float(x), 3) for x in f]}  # fmt: skip


def attention_training(name: str) -> dict:
    """How the attention model was trained (from its model.json)."""
    from songscape.models.trained import trained_metadata

    meta = trained_metadata(name)
    return {"arch": meta["arch"], "task": meta["task"], "labels": meta["labels"],
            "train_files": [Path(p).name for p in meta["split"]["train"]],
            "valid_files": [Path(p).name for p in meta["split"]["valid"]],
            "epochs_run": meta["epochs_run"], "best_epoch": meta["best_epoch"],
            "valid_metrics": meta["valid_metrics"], "train_s": meta["train_s"],
            "targets": "top-5 musicnn-msd tags per file (track mean), no chorus information"}


def jamendo(data: Path, limit: int | None, attention_model: str | None) -> dict:
    root = data / "jamendolyrics_subset10"
    songs = sorted((root / "audio").glob("*.ogg"))[:limit]
    per_method: dict[str, list[float]] = {m: [] for m in (*METHODS, "start_0", "start_30pct",
                                                          "oracle")}  # fmt: skip
    names, timing = [], {"audio_s": 0.0, "descriptors_s": 0.0, "structure_s": 0.0,
                         "highlight_signal_s": 0.0, "highlight_attention_s": 0.0}  # fmt: skip
    use_attention = attention_model is not None and attention_model_version(attention_model)
    skipped = []
    for path in songs:
        regions = chorus_regions(root / "annotations" / "lines" / f"{path.stem}.csv")
        if not regions:
            skipped.append(path.stem)
            continue
        y, _ = load_audio(path, sr=ANALYSIS_SAMPLE_RATE)
        dur = len(y) / ANALYSIS_SAMPLE_RATE
        t0 = time.perf_counter()
        d = describe(y, ANALYSIS_SAMPLE_RATE)
        t1 = time.perf_counter()
        st = analyze_structure(y, ANALYSIS_SAMPLE_RATE, d.beat_times, d.downbeat_times,
                               d.energy_curve, d.energy_rate_hz)  # fmt: skip
        t2 = time.perf_counter()
        found = compute_highlights(st, d.energy_curve, d.energy_rate_hz, d.downbeat_times,
                                   d.beat_times, LENGTH_S)  # fmt: skip
        t3 = time.perf_counter()
        timing["audio_s"] += dur
        timing["descriptors_s"] += t1 - t0
        timing["structure_s"] += t2 - t1
        timing["highlight_signal_s"] += t3 - t2
        if use_attention:
            t4 = time.perf_counter()
            y16, _ = load_audio(path, sr=16000)
            curve = attention_curve(y16, attention_model)
            found = compute_highlights(st, d.energy_curve, d.energy_rate_hz, d.downbeat_times,
                                       d.beat_times, LENGTH_S, attention=curve)  # fmt: skip
            timing["highlight_attention_s"] += time.perf_counter() - t4
        for m, h in found.items():
            per_method[m].append(fraction_in(regions, h.start_s, h.end_s))
        per_method["start_0"].append(fraction_in(regions, 0.0, LENGTH_S))
        s30 = 0.3 * dur
        per_method["start_30pct"].append(fraction_in(regions, s30, s30 + LENGTH_S))
        per_method["oracle"].append(float(max(fraction_in(regions, t, t + LENGTH_S)
                                              for t in np.arange(0.0, dur - LENGTH_S, 0.25))))
        names.append(path.stem)
        print(path.stem, {m: round(v[-1], 2) for m, v in per_method.items() if v},
              f"sections {''.join(s.label for s in st.sections)} chorus {st.chorus}",
              file=sys.stderr, flush=True)  # fmt: skip
    audio = timing["audio_s"]
    speed = {
        "audio_s": round(audio, 1),
        "rtf_descriptors": round(audio / timing["descriptors_s"], 1),
        "rtf_structure": round(audio / timing["structure_s"], 1),
        "rtf_highlight_signal": round(audio / max(timing["highlight_signal_s"], 1e-9), 1),
        "rtf_highlight_attention": (round(audio / timing["highlight_attention_s"], 1)
                                    if use_attention else None),
    }  # fmt: skip
    return {
        "songs": names, "skipped_no_repeated_lines": skipped,
        "methods": {m: summarize(v) for m, v in per_method.items() if v},
        "attention_model": attention_model if use_attention else None,
        "attention_training": attention_training(attention_model) if use_attention else None,
        "speed": speed,
    }  # fmt: skip


def synthetic(n: int) -> dict:
    rows = []
    for spec in structured_song_specs(n):
        song = structured_song(**spec)
        d = describe(song.y, song.sr)
        st = analyze_structure(song.y, song.sr, d.beat_times, d.downbeat_times,
                               d.energy_curve, d.energy_rate_hz)  # fmt: skip
        h = compute_highlights(st, d.energy_curve, d.energy_rate_hz, d.downbeat_times,
                               d.beat_times, LENGTH_S)["signal"]  # fmt: skip
        rows.append({
            "form": spec["form"], "tempo_bpm": spec["tempo_bpm"],
            "f_0.5s": round(boundary_f(song.boundaries_s, st.boundaries_s, 0.5), 3),
            "f_3s": round(boundary_f(song.boundaries_s, st.boundaries_s, 3.0), 3),
            "signal_fraction_in_chorus": round(fraction_in(song.chorus_regions, h.start_s,
                                                           h.end_s), 3),
            "labels": "".join(s.label for s in st.sections),
        })  # fmt: skip
        print(rows[-1], file=sys.stderr, flush=True)
    mean = {k: round(float(np.mean([r[k] for r in rows])), 3)
            for k in ("f_0.5s", "f_3s", "signal_fraction_in_chorus")}  # fmt: skip
    return {"songs": rows, "mean": mean}


def sargon(data: Path) -> dict:
    root = data / "structure_sargon_cut"
    rows = list(csv.DictReader((root / "labels.csv").open()))
    ref = np.array([float(r["segment_start_s"]) for r in rows]
                   + [float(rows[-1]["segment_end_s"])])  # fmt: skip
    y, _ = load_audio(root / rows[0]["path"], sr=ANALYSIS_SAMPLE_RATE)
    d = describe(y, ANALYSIS_SAMPLE_RATE)
    st = analyze_structure(y, ANALYSIS_SAMPLE_RATE, d.beat_times, d.downbeat_times,
                           d.energy_curve, d.energy_rate_hz)  # fmt: skip
    est = st.boundaries_s
    est[-1] = ref[-1] = max(est[-1], ref[-1])
    return {"f_0.5s": round(boundary_f(ref, est, 0.5), 3),
            "f_3s": round(boundary_f(ref, est, 3.0), 3),
            "reference_s": ref.round(2).tolist(),
            "estimated_s": est.round(2).tolist()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--synthetic", type=int, default=6)
    parser.add_argument("--attention-model", default=DEFAULT_ATTENTION_MODEL)
    parser.add_argument("--out", default=None)
    parser.add_argument("--train-attention", action="store_true",
                        help="first train the attention model on the Jamendo songs' audio "
                        "(musicnn-msd top-5 tags as targets; replaces an installed one)")
    args = parser.parse_args(argv)
    if args.train_attention:
        from songscape.highlights.training import train_attention_model

        audio = sorted((args.data_dir / "jamendolyrics_subset10" / "audio").glob("*.ogg"))
        train_attention_model([str(p) for p in audio], name=args.attention_model, epochs=20,
                              overwrite=True)  # fmt: skip
    results = {
        "jamendolyrics": jamendo(args.data_dir, args.limit, args.attention_model),
        "synthetic": synthetic(args.synthetic),
        "sargon": sargon(args.data_dir),
        "length_s": LENGTH_S, "merge_gap_s": MERGE_GAP_S,
    }  # fmt: skip
    path = write_results(__file__, results, machine(threads=1), out=args.out)
    print(path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
