"""Voice-timbre embeddings of the sung parts of a signal: the baselines of ``sing``.

* ``musicnn``: the pretrained ``musicnn-msd`` 200-d penultimate layer, averaged over
  the 3 s patches (1.5 s hop) in which the voice sings;
* ``mfcc``: :func:`songscape.analysis.vocals.mfcc_timbre` (MFCC 1-19 mean and std).

Trained vocal encoders: a model trained by ``songscape train --source vocals`` (task
``moco`` or ``tjae``, on the library's sung regions) is a *vocal model*
(:func:`vocal_models`); its kind is ``<task>:<name>`` (``moco:vocal-timbre``), its
version the registry's (``trained-<checkpoint sha1>``), and
:func:`trained_vocal_embedding` embeds the sung regions of a signal with it: the mean of
its embeddings of half-overlapping chunks.
"""

from __future__ import annotations

import numpy as np
import soxr

from songscape.analysis.vocals import mfcc_timbre, sung_audio
from songscape.audio.features import MUSICNN_SAMPLE_RATE

#: Versions of the baseline embeddings (bumped when their computation changes).
VOCAL_EMBEDDING_VERSIONS = {"musicnn": "musicnn-msd-vocal-1", "mfcc": "mfcc38-1"}
#: Seconds between musicnn patch starts.
PATCH_HOP_S = 1.5
#: A patch counts as sung when this share of its frames is.
MIN_SUNG_SHARE = 0.3
#: ``data.source`` prefix of a model trained on a library's vocal segments; the rest
#: names the signal it was trained on (``library-vocals:dominant``, ``…:mix``).
VOCAL_TRAINING_SOURCE = "library-vocals"
#: The signals the sung regions are taken from: the vocal-dominant separation or the mix.
VOCAL_SIGNALS = ("dominant", "mix")
#: Tasks whose models are vocal embeddings.
VOCAL_TASKS = ("moco", "tjae")


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


def spread_patches(keep: np.ndarray, max_patches: int | None) -> np.ndarray:
    """At most ``max_patches`` of the True entries of ``keep``, evenly spread (first and
    last kept); ``keep`` itself when it has no more (or ``max_patches`` is None)."""
    keep = np.asarray(keep, dtype=bool)
    chosen = np.flatnonzero(keep)
    if max_patches is None or len(chosen) <= max_patches:
        return keep
    if max_patches < 1:
        raise ValueError("max_patches must be at least 1")
    picked = chosen[np.round(np.linspace(0, len(chosen) - 1, max_patches)).astype(int)]
    out = np.zeros_like(keep)
    out[picked] = True
    return out


def musicnn_vocal_embedding(
    y: np.ndarray,
    sr: int,
    frame_times_s: np.ndarray,
    active: np.ndarray,
    max_patches: int | None = None,
) -> np.ndarray:
    """``musicnn-msd`` penultimate features averaged over the sung patches (200-d).

    ``max_patches``: use at most this many sung patches, evenly spread over the signal
    (None: all); the cost of the network pass is proportional to their number.
    """
    from songscape.models.heads import musicnn_patch_features

    y16 = np.asarray(y, dtype=np.float32)
    if sr != MUSICNN_SAMPLE_RATE:
        y16 = soxr.resample(y16, sr, MUSICNN_SAMPLE_RATE)

    def keep(starts_s: np.ndarray) -> np.ndarray:
        sung = sung_patches(starts_s, 3.0, frame_times_s, active)
        return spread_patches(sung, max_patches)

    # Only the chosen patches go through the network (the others would be dropped).
    feats, _ = musicnn_patch_features(y16, hop_s=PATCH_HOP_S, keep_patches=keep)
    return feats.mean(axis=0).astype(np.float32)


def baseline_vocal_embeddings(
    y: np.ndarray,
    sr: int,
    frame_times_s: np.ndarray,
    active: np.ndarray,
    max_patches: int | None = None,
) -> dict[str, tuple[str, np.ndarray]]:
    """``{kind: (version, vector)}`` of the baseline embeddings (``musicnn``, ``mfcc``);
    ``max_patches``: see :func:`musicnn_vocal_embedding`."""
    return {
        "musicnn": (VOCAL_EMBEDDING_VERSIONS["musicnn"],
                    musicnn_vocal_embedding(y, sr, frame_times_s, active, max_patches)),
        "mfcc": (VOCAL_EMBEDDING_VERSIONS["mfcc"], mfcc_timbre(y, sr, frame_times_s, active)),
    }  # fmt: skip


def vocal_model_signal(meta: dict) -> str | None:
    """The signal a trained model's metadata says it learnt from (None: not a vocal model)."""
    source = str((meta.get("data") or {}).get("source", ""))
    prefix, _, signal = source.partition(":")
    if meta.get("task") not in VOCAL_TASKS or prefix != VOCAL_TRAINING_SOURCE:
        return None
    return signal.split(":")[0] if signal.split(":")[0] in VOCAL_SIGNALS else "dominant"


def vocal_models() -> dict[str, str]:
    """``{model name: signal}`` of the registered vocal models (see the module docstring)."""
    from songscape.errors import TrainedModelError
    from songscape.models import trained
    from songscape.models.registry import model_names

    trained.ensure_scanned()
    out = {}
    for name in model_names():
        if not trained.is_trained(name):
            continue
        try:
            signal = vocal_model_signal(trained.trained_metadata(name))
        except (TrainedModelError, OSError):
            continue
        if signal is not None:
            out[name] = signal
    return out


def vocal_kind(model: str) -> str:
    """The ``vocal_embeddings`` kind of a vocal model, ``<task>:<name>``."""
    from songscape.models import trained

    return f"{trained.trained_metadata(model)['task']}:{model}"


def trained_vocal_embedding(
    model: str, y: np.ndarray, sr: int, regions: np.ndarray | None = None
) -> tuple[str, np.ndarray]:
    """(version, vector) of a trained vocal model on the sung regions of a signal.

    Parameters
    ----------
    model : str
        A registered vocal model (:func:`vocal_models`).
    y : np.ndarray, shape (n,)
        Mono audio (the signal the model learnt from: the vocal-dominant one or the mix;
        a voice recording as it is).
    sr : int
        Its sample rate, Hz.
    regions : np.ndarray, shape (n_regions, 2), optional
        Sung regions, seconds (None: all of ``y``; no region: all of ``y`` too).

    Returns
    -------
    version : str
        The model's registry version (changes when it is retrained).
    vector : np.ndarray, float32
        The mean embedding of the chunks (hop: half a chunk).
    """
    from songscape.models.registry import get_spec, load_model

    spec = get_spec(model)
    sung = sung_audio(y, sr, regions) if regions is not None and len(regions) else y
    if len(sung) == 0:
        sung = np.asarray(y, dtype=np.float32)
    sung = np.asarray(sung, dtype=np.float32)
    if sr != spec.sample_rate:
        sung = soxr.resample(sung, sr, spec.sample_rate)
    out = load_model(model).run(sung, hop_s=spec.patch_duration_s / 2)
    return spec.version, np.asarray(out.embedding, dtype=np.float32)
