"""Voice-timbre embeddings of the sung parts of a signal: the baselines of ``sing``.

* ``musicnn``: the pretrained ``musicnn-msd`` 200-d penultimate layer, averaged over
  the 3 s patches (1.5 s hop) in which the voice sings;
* ``mfcc``: :func:`songscape.analysis.vocals.mfcc_timbre` (MFCC 1-19 mean and std).

Trained encoders (MoCo, TJAE from ``songscape train``) embed the same sung patches
through :func:`trained_vocal_embedding`.
"""

from __future__ import annotations

import numpy as np
import soxr

from songscape.analysis.vocals import mfcc_timbre
from songscape.audio.features import MUSICNN_SAMPLE_RATE

#: Versions of the baseline embeddings (bumped when their computation changes).
VOCAL_EMBEDDING_VERSIONS = {"musicnn": "musicnn-msd-vocal-1", "mfcc": "mfcc38-1"}
#: Seconds between musicnn patch starts.
PATCH_HOP_S = 1.5
#: A patch counts as sung when this share of its frames is.
MIN_SUNG_SHARE = 0.3


def sung_patches(
    patch_starts_s: np.ndarray,
    patch_duration_s: float,
    frame_times_s: np.ndarray,
    active: np.ndarray,
    min_share: float = MIN_SUNG_SHARE,
) -> np.ndarray:
    """Which patches are sung: at least ``min_share`` of their frames active.

    Returns a boolean mask over patches; all True when no patch qualifies (so the
    embedding falls back to the whole signal).
    """
    frame_times_s = np.asarray(frame_times_s)
    active = np.asarray(active, dtype=float)
    keep = np.zeros(len(patch_starts_s), dtype=bool)
    for i, start in enumerate(patch_starts_s):
        inside = (frame_times_s >= start) & (frame_times_s < start + patch_duration_s)
        keep[i] = inside.any() and active[inside].mean() >= min_share
    return keep if keep.any() else np.ones(len(patch_starts_s), dtype=bool)


def musicnn_vocal_embedding(
    y: np.ndarray, sr: int, frame_times_s: np.ndarray, active: np.ndarray
) -> np.ndarray:
    """``musicnn-msd`` penultimate features averaged over the sung patches (200-d)."""
    from songscape.models.heads import musicnn_patch_features

    y16 = np.asarray(y, dtype=np.float32)
    if sr != MUSICNN_SAMPLE_RATE:
        y16 = soxr.resample(y16, sr, MUSICNN_SAMPLE_RATE)
    feats, starts = musicnn_patch_features(y16, hop_s=PATCH_HOP_S)
    keep = sung_patches(starts, 3.0, frame_times_s, active)
    return feats[keep].mean(axis=0).astype(np.float32)


def baseline_vocal_embeddings(
    y: np.ndarray, sr: int, frame_times_s: np.ndarray, active: np.ndarray
) -> dict[str, tuple[str, np.ndarray]]:
    """``{kind: (version, vector)}`` of the baseline embeddings (``musicnn``, ``mfcc``)."""
    return {
        "musicnn": (VOCAL_EMBEDDING_VERSIONS["musicnn"],
                    musicnn_vocal_embedding(y, sr, frame_times_s, active)),
        "mfcc": (VOCAL_EMBEDDING_VERSIONS["mfcc"], mfcc_timbre(y, sr, frame_times_s, active)),
    }  # fmt: skip
