"""Measure acoustic fingerprints (issue 20): identification by clip, duplicates, speed.

Real music (``../shared/data``, or ``--data-dir``):

* **library**: the 10 full Jamendo songs (jamendolyrics_subset10, 28 min) and the 200
  Emotify one-minute excerpts (emotify_half), 210 tracks, fingerprinted with
  ``songscape.audio.chromaprint`` (Chromaprint 1.5 through libchromaprint) and indexed
  with :class:`songscape.recordings.index.FingerprintIndex`.
* **identification**: for each clip length (5, 10, 15 s) ``--clips`` clips from random
  library tracks at random positions (seed 0), each made 6 dB quieter, mixed with white
  noise at 20 dB SNR and re-encoded to 96 kbit/s, alternately MP3 (libmp3lame) and Ogg
  Vorbis (ffmpeg), then decoded again; identified with
  :func:`songscape.recordings.identify.identify_clip`. Reported: top-1 identification
  rate (right track; 95 % Wilson interval), the rate with the offset within 0.5 s too,
  unidentified and wrongly identified counts, offset error (median, 95th percentile,
  max, seconds), BER of the right answers.
* **not in the library**: the same number of clips per length, degraded the same way,
  from emotion4q_third and gtzan_subset100 (other recordings): false identifications
  (goal 0).
* **10,000 tracks**: the library index padded with 9,790 distractor fingerprints of
  240 s each, built from the library's own words (each distractor concatenates segments
  of real fingerprints with their 16 two-bit fields permuted and Gray-code values
  remapped, so the words have real statistics but identify nothing). The identification
  above is repeated on it (accuracy, false identifications) and timed per query: the
  whole answer (fingerprinting the decoded clip at 2 sub-hop shifts, look-up,
  alignment), p50/p95/max ms, one thread. Index build seconds and memory too. The
  distractors stand in for a real 10k catalog (an assumption, not a measurement of
  one: real catalogs share more exact words between recordings).
* **stage cost**: per-track seconds of every ingest stage (metadata, descriptors,
  fingerprint, the default model's embed+tag pass) on ``--stage-tracks`` Jamendo songs,
  decode included in the first stage that needs audio; the fingerprint stage's share of
  the total (goal < 10 %).
* **duplicates**: a folder holding 8 Jamendo songs each as the original Ogg, FLAC,
  128 kbit/s MP3 and a re-tagged copy of the MP3 (4 copies of one recording), a 60 %
  "radio edit" (the song's start, faded out) of 3 of them, and 20 other songs of one
  Emotify genre (similar music, one copy each); ingested with ``Library.ingest`` running
  only the metadata and fingerprint stages, and grouped by ``Library.duplicates``.
  Pairwise precision and recall of "same recording" against the truth, groups found
  exactly, edits reported as related and edits wrongly merged.

Result: ``bench/results/identify.json``. Usage:
``python bench/identify.py [--clips N] [--stage-tracks N] [--skip-duplicates |
--duplicates-only] [--out PATH]`` (``--duplicates-only`` merges into the result file).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from tqdm import tqdm

from record import machine, write_results
from songscape.audio.chromaprint import (
    CHROMAPRINT_SAMPLE_RATE,
    ITEM_HOP_S,
    chromaprint_version,
    chromaprint_words,
)
from songscape.audio.decode import load_audio
from songscape.catalog.fingerprints import StoredFingerprints, words_crc
from songscape.evaluation.intervals import wilson_interval
from songscape.recordings.identify import CLIP_SHIFTS, IDENTIFY_BER, identify_clip
from songscape.recordings.index import FingerprintIndex

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SR = CHROMAPRINT_SAMPLE_RATE
CLIP_LENGTHS = (5.0, 10.0, 15.0)
DISTRACTOR_S = 240.0


def library_files(data: Path) -> list[Path]:
    jamendo = sorted((data / "jamendolyrics_subset10" / "audio").glob("*.ogg"))
    emotify = sorted((data / "emotify_half" / "audio").glob("*/*.ogg"))
    return jamendo + emotify


def outside_files(data: Path) -> list[Path]:
    return sorted((data / "emotion4q_third" / "audio").glob("*.ogg")) + sorted(
        (data / "gtzan_subset100" / "audio").rglob("*.ogg")
    )


def degrade(clip: np.ndarray, codec: str, rng: np.random.Generator, tmp: str) -> np.ndarray:
    """-6 dB, white noise at 20 dB SNR, 96 kbit/s MP3 or Ogg Vorbis and back."""
    y = clip * 10 ** (-6 / 20)
    power = float(np.mean(y**2))
    y = y + rng.normal(0.0, np.sqrt(power / 10 ** (20 / 10)), len(y))
    import soundfile as sf

    wav, out = os.path.join(tmp, "clip.wav"), os.path.join(tmp, f"clip.{codec}")
    sf.write(wav, np.clip(y, -1, 1).astype(np.float32), SR, subtype="PCM_16")
    # libvorbis has no 96 kbit/s mode for 11 kHz mono: encode at 44.1 kHz.
    vorbis = ["-ar", "44100", "-c:a", "libvorbis", "-b:a", "96k"]
    args = ["-b:a", "96k"] if codec == "mp3" else vorbis
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", wav, *args, out], check=True)
    z, _ = load_audio(out, sr=SR, mono=True)
    return z


def stored_from(ids: list[str], words: list[np.ndarray]) -> StoredFingerprints:
    lengths = np.array([len(w) for w in words], dtype=np.int64)
    return StoredFingerprints(
        track_ids=list(ids),
        words=np.concatenate(words).astype(np.uint32),
        starts=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        item_hop_s=ITEM_HOP_S,
        crcs=np.array([words_crc(w) for w in words], dtype=np.int64),
    )


_GRAY_PERMS = [np.array(p, dtype=np.uint32) for p in ([0, 1, 3, 2], [1, 0, 2, 3],
               [2, 3, 1, 0], [3, 2, 0, 1], [1, 3, 2, 0], [2, 0, 1, 3])]  # fmt: skip


def transform_words(words: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Permute the 16 two-bit fields and remap their values (a bijection on words)."""
    fields = [(words >> np.uint32(2 * i)) & np.uint32(3) for i in range(16)]
    order = rng.permutation(16)
    out = np.zeros_like(words)
    for j, i in enumerate(order):
        perm = _GRAY_PERMS[rng.integers(len(_GRAY_PERMS))]
        out |= perm[fields[i]] << np.uint32(2 * j)
    return out


def distractors(library: list[np.ndarray], n: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    target = int(DISTRACTOR_S / ITEM_HOP_S)
    out = []
    for _ in tqdm(range(n), desc="distractors", leave=False):
        parts, have = [], 0
        while have < target:
            src = library[rng.integers(len(library))]
            start = int(rng.integers(0, max(1, len(src) - 200)))
            seg = src[start : start + min(target - have, int(rng.integers(200, 800)))]
            parts.append(transform_words(seg, rng))
            have += len(seg)
        out.append(np.concatenate(parts)[:target])
    return out


def make_clips(audio: list[np.ndarray], length: float, n: int, rng, tmp: str, label: str):
    clips = []
    for i in tqdm(range(n), desc=f"{label} {length:g} s clips", leave=False):
        t = int(rng.integers(len(audio)))
        y = audio[t]
        if len(y) < length * SR:
            continue
        start = float(rng.uniform(0, len(y) / SR - length))
        clip = y[int(start * SR) : int(start * SR) + int(length * SR)]
        codec = "mp3" if i % 2 else "ogg"
        clips.append({"track": t, "start_s": start, "codec": codec,
                      "y": degrade(clip, codec, rng, tmp)})  # fmt: skip
    return clips


def evaluate(index: FingerprintIndex, clips: list[dict], ids: list[str] | None) -> dict:
    """Identify every clip; ``ids`` None means the clips are not in the library."""
    times, correct, located, wrong, none_, errors, bers = [], 0, 0, 0, 0, [], []
    for c in clips:
        t0 = time.perf_counter()
        found = identify_clip(c["y"], SR, index)
        times.append(time.perf_counter() - t0)
        if found is None:
            none_ += 1
        elif ids is not None and found.track_id == ids[c["track"]]:
            correct += 1
            err = abs(found.offset_s - c["start_s"])
            errors.append(err)
            bers.append(found.ber)
            located += err <= 0.5
        else:
            wrong += 1
    n = len(clips)
    ms = np.array(times) * 1000
    out = {
        "n": n,
        "not_identified": none_,
        "wrong": wrong,
        "ms_p50": round(float(np.percentile(ms, 50)), 1),
        "ms_p95": round(float(np.percentile(ms, 95)), 1),
        "ms_max": round(float(ms.max()), 1),
    }
    if ids is not None:
        lo, hi = wilson_interval(correct, n)
        out |= {
            "top1": round(correct / n, 4),
            "top1_ci95": [round(lo, 4), round(hi, 4)],
            "top1_offset_within_0_5s": round(located / n, 4),
            "offset_error_s_median": round(float(np.median(errors)), 3) if errors else None,
            "offset_error_s_p95": round(float(np.percentile(errors, 95)), 3) if errors else None,
            "offset_error_s_max": round(float(np.max(errors)), 3) if errors else None,
            "ber_correct_median": round(float(np.median(bers)), 4) if bers else None,
            "ber_correct_max": round(float(np.max(bers)), 4) if bers else None,
        }
    else:
        out["false_identifications"] = wrong
    return out


def stage_costs(files: list[Path]) -> dict:
    """Seconds per stage of the ingest pipeline on each file (decode in the first)."""
    from songscape.ingest.model_stages import DEFAULT_TAG_MODELS, model_stage_names
    from songscape.ingest.stages import TrackContext, pipeline_stages
    from songscape.ingest.work import run_item  # noqa: F401  (registers every stage)
    from songscape.models.registry import DEFAULT_MODEL

    stages = pipeline_stages(model_stage_names((DEFAULT_MODEL,), DEFAULT_TAG_MODELS))
    totals: dict[str, float] = {s.name: 0.0 for s in stages}
    audio_s = 0.0
    warm = TrackContext(files[0])
    for s in stages:  # warm-up: model loading and JIT are not per-track costs
        s.run(warm)
    for f in tqdm(files, desc="stage costs", leave=False):
        ctx = TrackContext(f)
        for s in stages:
            t0 = time.perf_counter()
            s.run(ctx)
            totals[s.name] += time.perf_counter() - t0
        audio_s += ctx.audio_seconds_decoded
    total = sum(totals.values())
    n = len(files)
    return {
        "tracks": n,
        "audio_s": round(audio_s, 1),
        "per_track_s": {k: round(v / n, 4) for k, v in totals.items()},
        "total_per_track_s": round(total / n, 3),
        "fingerprint_per_track_s": round(totals["fingerprint"] / n, 4),
        "fingerprint_ms_per_audio_s": round(1000 * totals["fingerprint"] / audio_s, 3),
        "fingerprint_share": round(totals["fingerprint"] / total, 4),
    }


def duplicates_bench(data: Path, tmp: str) -> dict:
    from songscape.ingest.pipeline import IngestOptions
    from songscape.ingest.stages import registered_stages, unregister_stage
    from songscape.library.library import Library

    folder = Path(tmp) / "music"
    folder.mkdir()
    songs = sorted((data / "jamendolyrics_subset10" / "audio").glob("*.ogg"))[:8]
    others = sorted((data / "emotify_half" / "audio" / "classical").glob("*.ogg"))[:20]
    truth: dict[str, str] = {}  # file name -> recording label

    def ff(*args: str) -> None:
        subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)

    for i, song in enumerate(tqdm(songs, desc="duplicate folder", leave=False)):
        rec = f"song{i}"
        base = folder / f"{rec}"
        ff("-i", str(song), "-c", "copy", f"{base}.ogg")
        ff("-i", str(song), "-c:a", "flac", f"{base}.flac")
        ff("-i", str(song), "-b:a", "128k", f"{base}.mp3")
        ff("-i", f"{base}.mp3", "-c", "copy", "-metadata", f"title=Retagged {i}",
           "-metadata", "artist=Someone Else", "-metadata", "album=A Compilation",
           f"{base}_retagged.mp3")  # fmt: skip
        for suffix in (".ogg", ".flac", ".mp3", "_retagged.mp3"):
            truth[f"{rec}{suffix}"] = rec
        if i < 3:
            sr = 22050
            y, _ = load_audio(song, sr=sr)
            cut = 0.6 * len(y) / sr
            ff("-i", str(song), "-t", f"{cut:.2f}", "-af", f"afade=t=out:st={cut - 3:.2f}:d=3",
               "-b:a", "192k", str(folder / f"{rec}_radio_edit.mp3"))  # fmt: skip
            truth[f"{rec}_radio_edit.mp3"] = f"{rec}_edit"
    for j, other in enumerate(others):
        ff("-i", str(other), "-c", "copy", str(folder / f"classical{j}.ogg"))
        truth[f"classical{j}.ogg"] = f"classical{j}"

    # Only the stages duplicates use: the other stages (descriptors, structure, models)
    # change nothing here and would take most of the time.
    kept = {"metadata", "fingerprint"}
    original = registered_stages()
    for stage in reversed(original):
        if stage.name not in kept:
            unregister_stage(stage.name)
    with Library(Path(tmp) / "library", create=True) as lib:
        t0 = time.perf_counter()
        lib.ingest([folder], IngestOptions(workers=1, embed_models=(), tag_models=()))
        ingest_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = lib.duplicates()
        link_s = time.perf_counter() - t0
    name_of = {}
    for g_i, group in enumerate(report["groups"]):
        for c in group["copies"]:
            name_of[Path(c["path"]).name] = g_i
    names = sorted(truth)
    tp = fp = fn = 0
    for a_i, a in enumerate(names):
        for b in names[a_i + 1 :]:
            same_truth = truth[a] == truth[b]
            same_found = a in name_of and b in name_of and name_of[a] == name_of[b]
            tp += same_truth and same_found
            fp += (not same_truth) and same_found
            fn += same_truth and not same_found
    true_groups = {}
    for name, rec in truth.items():
        true_groups.setdefault(rec, set()).add(name)
    true_sets = {frozenset(g) for g in true_groups.values() if len(g) > 1}
    found_sets = {frozenset(Path(c["path"]).name for c in g["copies"]) for g in report["groups"]}
    edits = [n for n in names if "radio_edit" in n]
    related_names = {Path(r[k]["path"]).name for r in report["related"] for k in ("a", "b")}
    best_ok = sum(
        1 for g in report["groups"]
        if next(c for c in g["copies"] if c["best"])["path"].endswith(".flac")
    )  # fmt: skip
    return {
        "files": len(truth),
        "recordings_with_copies": len(true_sets),
        "true_pairs": tp + fn,
        "pair_precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "pair_recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "false_merged_pairs": fp,
        "groups_found": len(found_sets),
        "groups_exact": len(true_sets & found_sets),
        "best_is_flac": best_ok,
        "edits": len(edits),
        "edits_related": sum(e in related_names for e in edits),
        "edits_merged": sum(e in name_of for e in edits),
        "related_pairs": len(report["related"]),
        "ingest_s": round(ingest_s, 1),
        "link_s": round(link_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--clips", type=int, default=100, help="clips per length (and outside)")
    ap.add_argument("--stage-tracks", type=int, default=6)
    ap.add_argument("--library-size", type=int, default=10_000)
    ap.add_argument("--skip-duplicates", action="store_true")
    ap.add_argument(
        "--duplicates-only",
        action="store_true",
        help="run only the duplicates part and merge it into the result file",
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    data = args.data_dir
    rng = np.random.default_rng(0)
    if args.duplicates_only:
        import json

        from record import RESULTS_DIR

        path = args.out or RESULTS_DIR / "identify.json"
        previous = json.loads(Path(path).read_text())
        with tempfile.TemporaryDirectory() as tmp:
            previous["results"]["duplicates"] = duplicates_bench(data, tmp)
        print(previous["results"]["duplicates"], file=sys.stderr)
        conditions = previous["conditions"] | {"duplicates_run": machine()}
        provenance = (
            "measured by the command above, except the duplicates part: "
            "`python bench/identify.py --duplicates-only` (conditions.duplicates_run)"
        )
        written = write_results(
            __file__, previous["results"], conditions, out=path, provenance=provenance
        )
        # Keep the command of the main run; the provenance names the duplicates run.
        payload = json.loads(written.read_text())
        payload["command"] = previous["command"]
        written.write_text(json.dumps(payload, indent=1, default=float) + "\n")
        print(written)
        return 0

    files = library_files(data)
    audio, words, fp_s = [], [], 0.0
    for f in tqdm(files, desc="library fingerprints", leave=False):
        y, _ = load_audio(f, sr=SR, mono=True)
        t0 = time.perf_counter()
        words.append(chromaprint_words(y, SR))
        fp_s += time.perf_counter() - t0
        audio.append(y)
    ids = [f"t{i:05d}" for i in range(len(files))]
    audio_total = sum(len(y) for y in audio) / SR
    small = FingerprintIndex(stored_from(ids, words))
    results: dict = {
        "library": {
            "tracks": len(files),
            "audio_min": round(audio_total / 60, 1),
            "words": small.n_words,
            "fingerprint_ms_per_audio_s": round(1000 * fp_s / audio_total, 3),
        },
        "settings": {"identify_ber": IDENTIFY_BER, "clip_shifts": CLIP_SHIFTS,
                     "chromaprint": chromaprint_version(), "item_hop_s": round(ITEM_HOP_S, 4)},
    }  # fmt: skip
    outside_audio = [load_audio(f, sr=SR, mono=True)[0] for f in tqdm(outside_files(data),
                     desc="outside audio", leave=False)]  # fmt: skip
    clips, outside = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for length in CLIP_LENGTHS:
            clips[length] = make_clips(audio, length, args.clips, rng, tmp, "library")
            outside[length] = make_clips(outside_audio, length, args.clips, rng, tmp, "outside")

    t0 = time.perf_counter()
    extra = distractors(words, max(0, args.library_size - len(words)))
    big_ids = ids + [f"d{i:05d}" for i in range(len(extra))]
    big_stored = stored_from(big_ids, words + extra)
    t_make = time.perf_counter() - t0
    t0 = time.perf_counter()
    big = FingerprintIndex(big_stored)
    build_s = time.perf_counter() - t0
    results["library_10k"] = {
        "tracks": len(big),
        "words": big.n_words,
        "distractor_s": DISTRACTOR_S,
        "build_s": round(build_s, 2),
        "distractors_made_s": round(t_make, 1),
        "index_mb": round((big.nbytes() + big_stored.words.nbytes) / 2**20, 1),
    }
    rows = []
    for length in CLIP_LENGTHS:
        for name, index in (("210", small), ("10k", big)):
            rows.append({"clip_s": length, "library": name, "in_library": True,
                         **evaluate(index, clips[length], ids)})  # fmt: skip
            rows.append({"clip_s": length, "library": name, "in_library": False,
                         **evaluate(index, outside[length], None)})  # fmt: skip
            print(rows[-2], file=sys.stderr)
            print(rows[-1], file=sys.stderr)
    results["identification"] = rows
    jamendo = [f for f in files if "jamendolyrics" in str(f)][: args.stage_tracks]
    results["stage_cost"] = stage_costs(jamendo)
    print(results["stage_cost"], file=sys.stderr)
    if not args.skip_duplicates:
        with tempfile.TemporaryDirectory() as tmp:
            results["duplicates"] = duplicates_bench(data, tmp)
        print(results["duplicates"], file=sys.stderr)
    conditions = machine(threads=1, clips_per_length=args.clips, seed=0,
                         data=str(data), stage_tracks=args.stage_tracks)  # fmt: skip
    path = write_results(__file__, results, conditions, out=args.out)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
