"""Time-stretch invariance of every vocal embedding, the trained encoders included.

Issue 14 asks that time-stretching a recording by 0.9...1.1 leave "the timbre
embedding's cosine >= 0.9". ``encoder_stretch`` measures it on the first ``segment_s``
seconds of sung lines of each Jamendo song (line annotations): the mix is stretched
(librosa's phase vocoder, the whole line: nothing cropped or padded), then read as the
``vocals`` stage reads a song (Spleeter's vocal stem; the mix itself for an encoder
trained on the mix). Embeddings: the baselines (musicnn, MFCC) and every vocal encoder
that the ``retrieval`` part trained in the same ``--work`` folder (MoCo timbre, MoCo
timbre and expression, TJAE mood, MoCo on the mix).

Per embedding, two cosines of each stretched line with its original:

* ``raw``: the issue's figure;
* ``centred``: after removing the mean vector of the original lines of all songs of the
  run. Vectors that share a large mean pass a raw-cosine check whatever they encode, so
  the centred cosine is the informative one;

and, to read them against, the same cosines between the originals of two *different*
songs, and ``closer_than_other_songs``: the share of stretched lines whose centred cosine
with their own original is above their centred cosine with every other song's original
(the stretch keeps the line recognisably itself).
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import librosa
import numpy as np
from tqdm import tqdm

from sing_checks import sung_segment
from songscape.models import trained
from songscape.models.spleeter import melody_signal
from songscape.models.vocal_timbre import (
    baseline_vocal_embeddings,
    trained_vocal_embedding,
    vocal_models,
)

SR = 22050
HOP_S = 0.02
RATES = (0.9, 1.1)
#: Prefix of the encoders the retrieval part trains (``bench-vocal-<variant>``).
BENCH_PREFIX = "bench-vocal-"


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def embeddings(mix: np.ndarray, encoders: dict[str, str]) -> dict[str, np.ndarray]:
    """``{kind: vector}`` of a sung line: the baselines and each trained encoder."""
    stem = melody_signal(mix, SR)
    times = np.arange(0, len(stem) / SR, HOP_S)
    out = {k: v for k, (_, v) in
           baseline_vocal_embeddings(stem, SR, times, np.ones(len(times), bool)).items()}
    for name, signal in encoders.items():
        out[name.removeprefix(BENCH_PREFIX)] = trained_vocal_embedding(
            name, mix if signal == "mix" else stem, SR)[1]  # fmt: skip
    return out


def encoder_stretch(data: Path, models_dir: Path, n_songs: int, segment_s: float) -> dict:
    """See the module docstring; ``models_dir``: the retrieval part's ``<work>/mir1k/models``."""
    trained.ensure_scanned()  # the default directory first, then the bench's (see refresh)
    trained.refresh(models_dir)
    encoders = {n: s for n, s in vocal_models().items() if n.startswith(BENCH_PREFIX)}
    if not encoders:
        raise SystemExit(f"no trained vocal encoder in {models_dir}: run the retrieval part "
                         "with the same --work first (--only retrieval stretch)")  # fmt: skip
    songs = sorted((data / "jamendolyrics_subset10" / "audio").glob("*.ogg"))[:n_songs]
    original, stretched = [], []
    for song in tqdm(songs, desc="stretch"):
        mix = sung_segment(data, song, segment_s)
        original.append(embeddings(mix, encoders))
        # the whole line stretched (not cropped back to its length: no padded silence)
        stretched.append({rate: embeddings(librosa.effects.time_stretch(mix, rate=rate), encoders)
                          for rate in RATES})  # fmt: skip
    summary = {}
    for kind in original[0]:
        base = np.stack([o[kind] for o in original]).astype(np.float64)
        mean = base.mean(axis=0)
        raw, centred, closer = [], [], []
        for i, by_rate in enumerate(stretched):
            for rate in RATES:
                v = by_rate[rate][kind].astype(np.float64)
                raw.append(cosine(v, base[i]))
                centred.append(cosine(v - mean, base[i] - mean))
                others = [cosine(v - mean, base[j] - mean) for j in range(len(base)) if j != i]
                closer.append(bool(centred[-1] > max(others)))
        pairs = list(combinations(range(len(base)), 2))
        summary[kind] = {
            "raw_min": min(raw), "raw_share_ge_0.9": float(np.mean(np.array(raw) >= 0.9)),
            "centred_min": min(centred), "centred_median": float(np.median(centred)),
            "other_songs_raw_median": float(np.median([cosine(base[i], base[j])
                                                      for i, j in pairs])),
            "other_songs_centred_median": float(np.median(
                [cosine(base[i] - mean, base[j] - mean) for i, j in pairs])),
            "closer_than_other_songs": float(np.mean(closer)),
        }  # fmt: skip
    return {"summary": summary, "n_songs": len(songs), "segment_s": segment_s,
            "rates": list(RATES), "encoders": sorted(encoders)}  # fmt: skip
