"""Measure ``sing``: pitch trackers, range estimates, metamorphic checks, singer retrieval, speed.

Writes ``bench/results/sing.json``. Parts (each a key of ``results``):

``synthetic_pitch``
    Synthetic sung melodies with a known f0 (``songscape.audio.voice_synth``: vibrato
    ±30 cents at 5.5 Hz, 60 ms glides, breath noise at -30 and -20 dB, three ranges):
    raw pitch accuracy (``mir_eval.melody``, 50 cents) per tracker, and the error of the
    estimated full range's ends against the range of the true contour (semitones).
``mir1k_pitch``
    mir1k_half's isolated voices (right channel), ``--mir1k-per-singer`` clips per
    singer (the first by name): raw pitch accuracy against the PitchLabel files (frames
    of 20 ms, first centred at 20 ms) and the tessitura error (median estimated minus
    median labelled pitch, semitones), per tracker. ``crepe-full`` runs on
    ``--full-limit`` clips only (about 20x the compute of ``tiny``).
``metamorphic``
    Jamendo songs (``--jamendo-songs``): the first ``--segment-s`` seconds of sung lines
    (line annotations), vocal-dominant signal (Spleeter's vocal stem) as in the ``vocals``
    stage, read as a song's vocal line (pitch, frames within 13 semitones of the median,
    octave-error runs folded back, note histogram: ``analysis.voice.sung_line``).
    Pitch-shifted by k = ±2, ±4 semitones (librosa): the estimated
    comfortable range and tessitura must move by k ± 0.5, and the suggested
    transposition for a fixed singer (whose comfortable range is the original line's)
    by -k; time-stretched by 0.9 and 1.1: the cosine of each timbre embedding with the
    original's must be ≥ 0.9 (also reported after removing the mean of the songs'
    un-stretched vectors, and against the nearest other song's original).
``singer_retrieval``
    mir1k_half: catalog mixtures, training mixtures and isolated-voice queries of other
    songs (``bench/sing_retrieval.py``: which clips play which role is recorded in
    ``clips``); the vocal encoders (MoCo timbre, MoCo timbre and expression, TJAE mood,
    and MoCo timbre on the mix) trained on catalog + training clips. Top-1 / top-3
    accuracy with Wilson 95 % intervals per embedding kind, the baseline fusion and the
    full fusion (default weights); nothing is tuned on it.
``jamendo_retrieval``
    The Jamendo songs enrolled on the sung lines of their first half, queried with
    segments of sung lines of their second half (``bench/sing_retrieval.py``).
``encoder_stretch`` (part ``stretch``)
    Time stretch 0.9 / 1.1 of the first ``--segment-s`` seconds of sung lines of
    ``--jamendo-songs`` songs, for the baselines and the vocal encoders the ``retrieval``
    part trained in the same ``--work`` (run it first, or in the same call): raw and
    mean-removed cosines against another song's (``bench/sing_stretch.py``).
``training_20_epochs``
    ``singer_retrieval`` and ``encoder_stretch`` again with ``--epochs 20`` (a variant
    run merged with ``--merge ... --nest-as training_20_epochs``): the encoders'
    training length.
``voice_metamorphic``
    The singer's side of the metamorphic check: 30 s of each mir1k singer's isolated
    voice pitch-shifted by ±2, ±4 semitones, measured as ``sing`` measures a recording
    (``bench/sing_checks.py``).
``speech_check``
    The speech check's threshold, calibrated and validated on real speech and singing
    (``bench/sing_checks.py``).
``speed``
    A 30 s recording (synthetic, sung throughout: the worst case; and a mir1k singer's
    isolated voice, pauses kept) against a synthetic library of ``--library-size`` tracks
    (``songscape.synthetic``; vocal lines and baseline vectors stored as the stage
    would): wall and CPU seconds of the voice analysis, of the matching and in total, on
    every core as ``sing`` runs (median of 3; the library's vocal table is read once per
    catalog version, so the warm-up answer pays that read);
    and the ``vocals`` stage's cost per track (real-time factor) on the
    retrieval catalog.

Usage: ``python bench/sing.py [--quick] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import mir_eval  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from record import machine, write_results  # noqa: E402
from sing_checks import (  # noqa: E402
    joined_voice,
    singing_files,
    speech_check,
    sung_segment,
    voice_metamorphic,
)
from sing_retrieval import VARIANTS, jamendo_retrieval, mir1k_retrieval  # noqa: E402
from sing_stretch import cosine, encoder_stretch  # noqa: E402
from songscape.analysis.voice import sung_line, voice_range  # noqa: E402
from songscape.audio.augment import pitch_shift, time_stretch  # noqa: E402
from songscape.audio.decode import load_audio  # noqa: E402
from songscape.audio.voice_synth import frame_truth, note_contour, sing_melody  # noqa: E402
from songscape.catalog.vocals import NOTE_HIST_LOW  # noqa: E402
from songscape.ingest.vocals_stage import note_histogram  # noqa: E402
from songscape.models.pitch import PITCH_TRACKERS, track_pitch  # noqa: E402
from songscape.models.spleeter import melody_signal  # noqa: E402
from songscape.models.vocal_timbre import baseline_vocal_embeddings  # noqa: E402
from songscape.sing.match import (  # noqa: E402
    best_transpositions,
    histogram_medians,
    range_fit_matrix,
)

torch.set_num_threads(1)
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SR = 22050
HOP = 0.02


def rpa(ref_t, ref_midi, est_t, est_midi) -> float:
    """Raw pitch accuracy (50 cents) of a contour against a reference (nan = unvoiced)."""
    def hz(m):
        return np.where(np.isfinite(m), 440.0 * 2 ** ((np.nan_to_num(m) - 69) / 12), 0.0)

    scores = mir_eval.melody.evaluate(ref_t, hz(ref_midi), est_t, hz(est_midi))
    return float(scores["Raw Pitch Accuracy"])


def synthetic_pitch(trackers, note_s: float, breaths) -> dict:
    melodies = {"low": [45, 47, 48, 50, 52, 50, 48, 47, 45, 43, 45, 48, 52, 55, 52, 48],
                "mid": [57, 59, 60, 62, 64, 65, 64, 62, 60, 59, 57, 60, 64, 67, 64, 60],
                "high": [67, 69, 71, 72, 74, 76, 74, 72, 71, 69, 67, 71, 74, 79, 74, 71]}
    rows = []
    for name, notes in tqdm(melodies.items(), desc="synthetic"):
        for breath in breaths:
            midi = note_contour(notes, note_s, SR)
            y = sing_melody(midi, SR, breath_db=breath, seed=len(rows))
            t_ref, m_ref = frame_truth(midi, SR, HOP)
            truth = voice_range(m_ref, HOP)
            for tracker in trackers:
                track = track_pitch(y, SR, tracker=tracker, hop_s=HOP)
                est = voice_range(track.midi, HOP)
                rows.append({
                    "melody": name, "breath_db": breath, "tracker": tracker,
                    "raw_pitch_accuracy": rpa(t_ref, m_ref, track.times_s, track.midi),
                    "range_low_error": est.range_midi[0] - truth.range_midi[0],
                    "range_high_error": est.range_midi[1] - truth.range_midi[1],
                })  # fmt: skip
    summary = {}
    for tracker in trackers:
        r = [x for x in rows if x["tracker"] == tracker]
        errs = np.abs([[x["range_low_error"], x["range_high_error"]] for x in r])
        summary[tracker] = {"raw_pitch_accuracy": float(np.mean([x["raw_pitch_accuracy"]
                                                                 for x in r])),
                            "max_range_error_semitones": float(errs.max()),
                            "within_one_semitone": bool(errs.max() <= 1.0),
                            "n": len(r)}  # fmt: skip
    return {"summary": summary, "rows": rows}


def mir1k_files(per_singer: int) -> list[tuple[str, Path]]:
    return singing_files(DATA, per_singer)


def mir1k_labels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    pv = np.loadtxt(DATA / "mir1k_half" / "PitchLabel" / f"{path.stem}.pv")
    return 0.02 + 0.02 * np.arange(len(pv)), np.where(pv > 0, pv, np.nan)


def mir1k_pitch(trackers, per_singer: int, full_limit: int, pyin_limit: int) -> dict:
    files = mir1k_files(per_singer)
    rows = []
    for i, (singer, path) in enumerate(tqdm(files, desc="mir1k pitch")):
        y, _ = load_audio(path, sr=16000, mono=False)
        voice = y[1]
        t_ref, m_ref = mir1k_labels(path)
        for tracker in trackers:
            limit = {"crepe-full": full_limit, "pyin": pyin_limit}.get(tracker, len(files))
            if i % max(1, len(files) // max(limit, 1)) != 0 or i // max(1, len(files)
                                                                     // max(limit, 1)) >= limit:
                continue
            t0 = time.perf_counter()
            track = track_pitch(voice, 16000, tracker=tracker, hop_s=HOP)
            rows.append({
                "clip": path.stem, "singer": singer, "tracker": tracker,
                "seconds": time.perf_counter() - t0, "audio_s": len(voice) / 16000,
                "raw_pitch_accuracy": rpa(t_ref, m_ref, track.times_s, track.midi),
                "tessitura_error": float(np.nanmedian(track.midi) - np.nanmedian(m_ref)),
            })  # fmt: skip
    summary = {}
    for tracker in trackers:
        r = [x for x in rows if x["tracker"] == tracker]
        if r:
            summary[tracker] = {
                "raw_pitch_accuracy": float(np.mean([x["raw_pitch_accuracy"] for x in r])),
                "tessitura_abs_error": float(np.mean([abs(x["tessitura_error"]) for x in r])),
                "realtime_factor": float(sum(x["audio_s"] for x in r)
                                         / sum(x["seconds"] for x in r)),
                "n_clips": len(r)}  # fmt: skip
    return {"summary": summary, "rows": rows}


def metamorphic(n_songs: int, segment_s: float) -> dict:
    songs = sorted((DATA / "jamendolyrics_subset10" / "audio").glob("*.ogg"))[:n_songs]
    shifts, stretches, stretched, originals = [], [], [], {}
    for song in tqdm(songs, desc="metamorphic"):
        seg = melody_signal(sung_segment(DATA, song, segment_s), SR)

        def measure(y, singer=None):
            # the segment is a song's vocal line: as the vocals stage reads it
            track = track_pitch(y, SR, hop_s=HOP)
            sung = sung_line(track.midi, HOP)
            rng = voice_range(sung, HOP)
            # the singer: the original line's own comfortable range and tessitura
            singer = (rng.comfortable_midi, rng.tessitura_midi) if singer is None else singer
            hist = note_histogram(sung, HOP)[None]
            fit = range_fit_matrix(hist, NOTE_HIST_LOW, singer[0])
            shift = best_transpositions(fit, histogram_medians(hist, NOTE_HIST_LOW), singer[1])
            emb = baseline_vocal_embeddings(y, SR, track.times_s, np.isfinite(track.midi))
            return (rng, int(shift[1][0]), {k: v for k, (_, v) in emb.items()}, singer)

        # a fixed singer: the one whose comfortable range is the original line's own
        base_rng, base_t, base_emb, singer = measure(seg)
        for k in (-4, -2, 2, 4):
            rng, t, _, _ = measure(pitch_shift(seg, SR, k), singer)
            shifts.append({
                "song": song.stem, "k": k,
                "range_shift": [rng.range_midi[i] - base_rng.range_midi[i] for i in (0, 1)],
                "comfortable_shift": [rng.comfortable_midi[i] - base_rng.comfortable_midi[i]
                                      for i in (0, 1)],
                "tessitura_shift": rng.tessitura_midi - base_rng.tessitura_midi,
                "transposition": t, "expected_transposition": int(np.clip(base_t - k, -6, 6)),
            })  # fmt: skip
        originals[song.stem] = base_emb
        for rate in (0.9, 1.1):
            _, _, emb, _ = measure(time_stretch(seg, rate), singer)
            stretched.append(emb)
            stretches.append({"song": song.stem, "rate": rate, "cosine": {
                kind: cosine(v, base_emb[kind]) for kind, v in emb.items()}})  # fmt: skip
    # The raw cosine of these vectors is high between any two songs (they share a large
    # mean); removing the mean of the songs' un-stretched vectors (as matching removes the
    # library's mean) makes the check informative: the stretched line against its own
    # original, and against the nearest other song's original.
    means = {k: np.mean([o[k] for o in originals.values()], axis=0)
             for k in (stretched[0] if stretched else {})}  # fmt: skip
    for row, emb in zip(stretches, stretched, strict=True):
        row["cosine_mean_removed"] = {
            k: cosine(v - means[k], originals[row["song"]][k] - means[k]) for k, v in emb.items()}
        row["nearest_other_cosine_mean_removed"] = {
            k: max((cosine(v - means[k], o[k] - means[k]) for name, o in originals.items()
                    if name != row["song"]), default=float("nan")) for k, v in emb.items()}
    ok_shift = [abs(s["tessitura_shift"] - s["k"]) <= 0.5
                and all(abs(c - s["k"]) <= 0.5 for c in s["comfortable_shift"]) for s in shifts]
    ok_t = [s["transposition"] == s["expected_transposition"] for s in shifts]
    kinds = sorted({k for s in stretches for k in s["cosine"]})
    return {
        "summary": {
            "range_moves_by_k": f"{sum(ok_shift)}/{len(ok_shift)}",
            "transposition_moves_by_minus_k": f"{sum(ok_t)}/{len(ok_t)}",
            "max_tessitura_shift_error": float(max(abs(s["tessitura_shift"] - s["k"])
                                                   for s in shifts)),
            "max_comfortable_shift_error": float(max(abs(c - s["k"]) for s in shifts
                                                     for c in s["comfortable_shift"])),
            "stretch_min_cosine": {k: float(min(s["cosine"][k] for s in stretches))
                                   for k in kinds},
            "stretch_min_cosine_mean_removed": {
                k: float(min(s["cosine_mean_removed"][k] for s in stretches)) for k in kinds},
            "stretch_own_above_nearest_other": {k: "{}/{}".format(
                sum(s["cosine_mean_removed"][k] > s["nearest_other_cosine_mean_removed"][k]
                    for s in stretches), len(stretches)) for k in kinds},
        },
        "shifts": shifts, "stretches": stretches,
    }  # fmt: skip


def speed(library_size: int, repeats: int = 3) -> dict:
    """One answer's wall and CPU seconds on every core (as ``sing`` and the server run),
    the median of ``repeats``, for a synthetic voice singing without a pause (the worst
    case: every frame and patch is sung) and a real one with its pauses."""
    from songscape.library.library import Library
    from songscape.synthetic.catalogs import build_synthetic_library
    from songscape.synthetic.vocals import add_synthetic_vocals

    threads_before = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    notes = [55, 57, 59, 60, 62, 64, 65, 64, 62, 60, 59, 57] * 5
    synthetic = sing_melody(note_contour(notes, 0.5, SR), SR)[: 30 * SR]
    voices = {"synthetic, sung throughout": synthetic,
              "mir1k abjones, isolated voice": joined_voice(DATA, "abjones", 30.0)}  # fmt: skip
    out: dict = {"library_size": library_size, "threads": torch.get_num_threads(),
                 "repeats": repeats, "target_s": 2.0, "recordings": {}}  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "lib"
            t0 = time.perf_counter()
            ids = build_synthetic_library(root, library_size, seed=0, n_tags=5)
            add_synthetic_vocals(root, ids, seed=0)
            out["library_build_s"] = time.perf_counter() - t0
            with Library(root) as lib:
                lib.sing(voices["synthetic, sung throughout"][: 8 * SR], sr=SR, k=10)  # warm-up
                for name, y in voices.items():
                    runs = []
                    for _ in range(repeats):
                        t0, c0 = time.perf_counter(), time.process_time()
                        analysis = lib.voice(y, sr=SR)
                        t1, c1 = time.perf_counter(), time.process_time()
                        lib.sing_analysis(analysis, k=10)
                        t2, c2 = time.perf_counter(), time.process_time()
                        runs.append((t1 - t0, t2 - t1, t2 - t0, c1 - c0, c2 - c1, c2 - c0))
                    med = np.median(np.array(runs), axis=0)
                    out["recordings"][name] = {
                        "recording_s": len(y) / SR, "voiced_s": analysis.range.voiced_s,
                        "voice_analysis_s": med[0], "matching_s": med[1], "total_s": med[2],
                        "voice_analysis_cpu_s": med[3], "matching_cpu_s": med[4],
                        "total_cpu_s": med[5], "runs": runs}  # fmt: skip
    finally:
        torch.set_num_threads(threads_before)
    return out


def merge(files: list[str], out: str | None, nest_as: str | None = None) -> int:
    """One result file from the files of several ``--only`` runs (run side by side).

    ``nest_as``: the last file's results go under that key instead (a variant of parts
    already in the result, e.g. ``training_20_epochs`` for a run with ``--epochs 20``).
    """
    import json

    results, runs = {}, []
    for i, name in enumerate(files):
        data = json.loads(Path(name).read_text())
        if nest_as and i == len(files) - 1:
            data["results"] = {nest_as: {k: v for k, v in data["results"].items()
                                         if k != "not_measured"}}  # fmt: skip
        results.update(data["results"])
        parts = set(data["results"]) - {"not_measured"}
        for run in runs:  # parts measured again replace the earlier measurement
            run["parts"] = [k for k in run["parts"] if k not in parts]
        # a file merged earlier brings its own runs
        runs += data["conditions"].get("runs") or [
            {"command": data["command"], "conditions": data["conditions"],
             "parts": sorted(parts)}]  # fmt: skip
    runs = [run for run in runs if run["parts"]]
    if "encoders" in results.get("singer_retrieval", {}):  # the trained encoders are measured
        results.pop("not_measured", None)
    conditions = machine(threads=1, runs=runs)
    path = write_results(__file__, results, conditions, out=out,
                         provenance="merged from the --only runs in conditions.runs, "
                                    "measured side by side")  # fmt: skip
    print(path, file=sys.stderr)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--out", help="result file (default bench/results/sing.json)")
    p.add_argument("--trackers", nargs="+", default=list(PITCH_TRACKERS))
    p.add_argument("--pyin-limit", type=int, default=1000,
                   help="mir1k clips pYIN runs on (it is the slowest tracker)")
    p.add_argument("--note-s", type=float, default=0.5, help="synthetic note length, s")
    p.add_argument("--breath-db", type=float, nargs="+", default=[-30.0, -20.0])
    p.add_argument("--mir1k-per-singer", type=int, default=3)
    p.add_argument("--full-limit", type=int, default=10)
    p.add_argument("--jamendo-songs", type=int, default=3)
    p.add_argument("--segment-s", type=float, default=20.0)
    p.add_argument("--catalog-per-singer", type=int, default=3)
    p.add_argument("--queries-per-singer", type=int, default=2)
    p.add_argument("--library-size", type=int, default=10000)
    p.add_argument("--train-per-singer", type=int, default=2)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--epochs", type=int, default=6, help="encoder training epochs")
    p.add_argument("--chunks", type=int, default=4, help="training chunks per file per epoch")
    p.add_argument("--query-segment-s", type=float, default=15.0)
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "songscape-bench-sing"),
                   help="analysis cache, training segments and the trained encoders")
    parts = ["synthetic", "mir1k", "metamorphic", "retrieval", "jamendo", "speed", "speech",
             "voice-shift", "stretch"]
    p.add_argument("--skip", nargs="*", default=[], choices=parts)
    p.add_argument("--only", nargs="*", choices=parts, help="run only these parts")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="combine result files of --only runs into one (nothing is measured)")
    p.add_argument("--nest-as", metavar="KEY",
                   help="with --merge: put the last file's results under KEY (a variant run)")
    args = p.parse_args()
    if args.merge:
        return merge(args.merge, args.out, args.nest_as)
    if args.only:
        args.skip = [x for x in parts if x not in args.only]
    if args.quick:
        args.mir1k_per_singer, args.full_limit, args.jamendo_songs = 1, 2, 1
        args.segment_s, args.catalog_per_singer, args.queries_per_singer = 12.0, 1, 1
        args.library_size = 1000
    results: dict = {}
    steps = [("synthetic_pitch", "synthetic",
              lambda: synthetic_pitch(args.trackers, args.note_s, args.breath_db)),
             ("mir1k_pitch", "mir1k", lambda: mir1k_pitch(args.trackers, args.mir1k_per_singer,
                                                           args.full_limit, args.pyin_limit)),
             ("speed", "speed", lambda: speed(args.library_size)),
             ("speech_check", "speech", lambda: speech_check(DATA)),
             ("voice_metamorphic", "voice-shift", lambda: voice_metamorphic(DATA)),
             ("singer_retrieval", "retrieval",
              lambda: mir1k_retrieval(DATA, Path(args.work) / "mir1k", args.catalog_per_singer,
                                      args.train_per_singer, args.queries_per_singer,
                                      args.variants, args.epochs, args.chunks)),
             ("encoder_stretch", "stretch",
              lambda: encoder_stretch(DATA, Path(args.work) / "mir1k" / "models",
                                      args.jamendo_songs, args.segment_s)),
             ("jamendo_retrieval", "jamendo",
              lambda: jamendo_retrieval(DATA, Path(args.work), args.variants, args.epochs,
                                        args.chunks, args.query_segment_s, 3)),
             ("metamorphic", "metamorphic", lambda: metamorphic(args.jamendo_songs,
                                                                args.segment_s))]  # fmt: skip
    for key, name, fn in steps:
        if name in args.skip:
            continue
        t0 = time.perf_counter()
        results[key] = fn()
        results[key]["bench_s"] = round(time.perf_counter() - t0, 1)
        print(key, results[key].get("summary", results[key]), file=sys.stderr, flush=True)
        # written after every part, so a long run that is stopped keeps what it measured
        conditions = machine(threads=1, **{k: v for k, v in vars(args).items() if k != "out"})
        path = write_results(__file__, results, conditions, out=args.out)
    print(path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
