"""The ``sing`` speech check, calibrated and validated on real voices (``bench/sing.py``).

``check_singing`` refuses a recording as speech when fewer than
``MIN_SUSTAINED_SHARE`` of its voiced frames sit in held notes
(:func:`songscape.analysis.voice.sustained_share`). This part measures that share on

* **speech**: the three LibriSpeech readings of ``librosa_data`` (3 speakers), in 8 s
  windows every 2 s (recordings of that length are what the check sees);
* **singing, calibration**: the isolated voices (right channel) of the first 3 mir1k_half
  clips of each of the 10 singers;
* **singing, validation**: the next 3 clips of each singer (never used to set anything).

The threshold rule, fixed before measuring: the midpoint between the largest speech
share and the smallest calibration singing share (the widest margin between the two
sets), rounded to 0.01. The JSON gives the shares, the rule's threshold, the shipped
constant, and at the shipped constant the share of speech windows refused and of
singing clips refused (calibration and validation separately).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sing_retrieval import jamendo_lines
from songscape.analysis.voice import MIN_SUSTAINED_SHARE, voice_range
from songscape.audio.decode import load_audio
from songscape.models.pitch import track_pitch
from songscape.sing.voice import PITCH_HOP_S

SR = 22050
SPEECH_WINDOW_S = 8.0
SPEECH_HOP_S = 2.0


def held_share(y: np.ndarray) -> tuple[float, float]:
    """(sustained share, voiced seconds) of a recording, measured as ``sing`` does."""
    track = track_pitch(y, SR, hop_s=PITCH_HOP_S)
    rng = voice_range(track.midi, PITCH_HOP_S)
    return float(rng.sustained_share), float(rng.voiced_s)


def speech_files(data: Path) -> list[Path]:
    with open(data / "librosa_data" / "labels.csv", newline="") as f:
        rows = list(csv.reader(f))
    return [data / "librosa_data" / r[0] for r in rows if len(r) > 1 and r[1] == "speech"]


def singing_files(data: Path, per_singer: int) -> list[tuple[str, Path]]:
    by_singer: dict[str, list[Path]] = {}
    with open(data / "mir1k_half" / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            by_singer.setdefault(row["singer"], []).append(data / "mir1k_half" / row["path"])
    return [(s, p) for s in sorted(by_singer) for p in sorted(by_singer[s])[:per_singer]]


def speech_check(data: Path, calibration_per_singer: int = 3, validation_per_singer: int = 3
                 ) -> dict:  # fmt: skip
    speech = []
    for path in tqdm(speech_files(data), desc="speech"):
        y, _ = load_audio(path, sr=SR, mono=True)
        step, width = int(SPEECH_HOP_S * SR), int(SPEECH_WINDOW_S * SR)
        for start in range(0, max(1, len(y) - width + 1), step):
            share, voiced = held_share(y[start : start + width])
            speech.append({"file": path.name, "start_s": start / SR, "share": share,
                           "voiced_s": voiced})  # fmt: skip
    singing = {"calibration": [], "validation": []}
    files = singing_files(data, calibration_per_singer + validation_per_singer)
    rank: dict[str, int] = {}
    for singer, path in tqdm(files, desc="singing"):
        role = "calibration" if rank.get(singer, 0) < calibration_per_singer else "validation"
        rank[singer] = rank.get(singer, 0) + 1
        y, _ = load_audio(path, sr=SR, mono=False)
        share, voiced = held_share(y[1])
        singing[role].append({"clip": path.stem, "share": share, "voiced_s": voiced})
    speech_max = max(r["share"] for r in speech)
    sing_min = min(r["share"] for r in singing["calibration"])
    rule = round((speech_max + sing_min) / 2, 2)

    def refused(rows: list[dict]) -> float:
        return float(np.mean([r["share"] < MIN_SUSTAINED_SHARE for r in rows]))

    return {
        "summary": {
            "threshold_shipped": MIN_SUSTAINED_SHARE, "threshold_rule": rule,
            "speech_max_share": speech_max, "singing_calibration_min_share": sing_min,
            "singing_validation_min_share": min(r["share"] for r in singing["validation"]),
            "speech_windows": len(speech), "speech_refused": refused(speech),
            "singing_calibration_clips": len(singing["calibration"]),
            "singing_calibration_refused": refused(singing["calibration"]),
            "singing_validation_clips": len(singing["validation"]),
            "singing_validation_refused": refused(singing["validation"]),
        },
        "speech": speech, "singing": singing,
    }  # fmt: skip


def joined_voice(data: Path, singer: str, seconds: float) -> np.ndarray:
    """``seconds`` of one mir1k singer's isolated voice (clips joined in order)."""
    parts, total = [], 0
    for name, path in singing_files(data, per_singer=100):
        if name != singer:
            continue
        y, _ = load_audio(path, sr=SR, mono=False)
        parts.append(y[1])
        total += y.shape[1]
        if total >= seconds * SR:
            break
    return np.concatenate(parts)[: int(seconds * SR)]


def voice_metamorphic(data: Path, n_singers: int = 10, seconds: float = 30.0) -> dict:
    """The singer's side: a clean voice (``seconds`` of a mir1k singer's isolated voice)
    pitch-shifted by k = ±2, ±4 semitones and measured as ``sing`` measures a recording:
    how far the comfortable range's ends, the full range's ends and the tessitura move
    from k."""
    from songscape.audio.augment import pitch_shift

    singers = sorted({s for s, _ in singing_files(data, per_singer=1)})[:n_singers]
    rows = []
    for singer in tqdm(singers, desc="voice shifts"):
        y = joined_voice(data, singer, seconds)

        def measure(sig: np.ndarray):
            track = track_pitch(sig, SR, hop_s=PITCH_HOP_S)
            return voice_range(track.midi, PITCH_HOP_S)

        base = measure(y)
        for k in (-4, -2, 2, 4):
            rng = measure(pitch_shift(y, SR, k))
            rows.append({
                "singer": singer, "k": k,
                "comfortable_error": [rng.comfortable_midi[i] - base.comfortable_midi[i] - k
                                      for i in (0, 1)],
                "range_error": [rng.range_midi[i] - base.range_midi[i] - k for i in (0, 1)],
                "tessitura_error": rng.tessitura_midi - base.tessitura_midi - k,
            })  # fmt: skip
    ok = [abs(r["tessitura_error"]) <= 0.5 and all(abs(e) <= 0.5 for e in r["comfortable_error"])
          for r in rows]  # fmt: skip
    return {
        "summary": {
            "recording_s": seconds, "singers": len(singers),
            "comfortable_and_tessitura_within_half_semitone": f"{sum(ok)}/{len(ok)}",
            "max_tessitura_error": float(max(abs(r["tessitura_error"]) for r in rows)),
            "max_comfortable_error": float(max(abs(e) for r in rows
                                               for e in r["comfortable_error"])),
            "max_range_error": float(max(abs(e) for r in rows for e in r["range_error"])),
        },
        "rows": rows,
    }  # fmt: skip


def sung_segment(data: Path, song: Path, seconds: float) -> np.ndarray:
    """The first ``seconds`` of a Jamendo song's annotated sung lines (concatenated), mono
    at 22050 Hz."""
    y, _ = load_audio(song, sr=SR, mono=True)
    parts, total = [], 0.0
    for a, b in jamendo_lines(data, song):
        parts.append(y[int(a * SR): int(b * SR)])
        total += b - a
        if total >= seconds:
            break
    return np.concatenate(parts)[: int(seconds * SR)]
