"""Emotion features of labelled files, computed once and cached (training and bench).

One pass per file: decode at 22050 Hz, :func:`~songscape.analysis.descriptors.describe`
for the descriptors, resample to 16 kHz and run musicnn-msd and musicnn-mtt (the two
taggers every ingest runs) -- exactly the inputs the ``emotion`` ingest stage hands to
the heads (:func:`songscape.models.emotion.features_from_output`). The flat vector
(every block of :data:`songscape.models.emotion.BLOCKS`) and musicnn-msd's per-patch
taggram are cached per file in two :class:`~songscape.datasets.FeatureCache` files keyed
by the feature version and the networks' versions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from songscape.datasets import FeatureCache, file_key
from songscape.errors import AudioError, DatasetError
from songscape.models.emotion import (
    FEATURE_MODEL,
    SECOND_MODEL,
    AudioEmotionFeatures,
    features_from_output,
)

#: Bump when the feature computation changes (part of the cache name).
FEATURES_VERSION = 2


def audio_features(y: np.ndarray, sr: int) -> AudioEmotionFeatures:
    """The emotion features of a mono signal ``y`` at ``sr`` Hz (descriptors, both taggers).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio, float, at ``sr`` (the descriptors' rate,
        :data:`~songscape.analysis.descriptors.ANALYSIS_SAMPLE_RATE`, is expected).
    sr : int
        Sample rate, Hz.
    """
    import soxr

    from songscape.analysis.descriptors import describe
    from songscape.models.registry import get_spec, load_model

    desc = describe(y, sr)
    outputs = []
    for model in (FEATURE_MODEL, SECOND_MODEL):
        rate = get_spec(model).sample_rate
        y_model = soxr.resample(y, sr, rate).astype(np.float32) if rate != sr else y
        outputs.append(load_model(model).run(np.asarray(y_model, dtype=np.float32)))
    return features_from_output(outputs[0], desc, outputs[1])


def file_features(
    path: str | os.PathLike[str], max_seconds: float | None = None
) -> AudioEmotionFeatures:
    """The emotion features of one audio file (decode, describe, both taggers).

    ``max_seconds`` keeps only the file's first seconds (cheaper features for training
    sets of long excerpts).

    Raises
    ------
    AudioError
        The file cannot be decoded or is unusable.
    """
    from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE
    from songscape.audio.decode import load_audio

    y, _ = load_audio(path, sr=ANALYSIS_SAMPLE_RATE, mono=True)
    if max_seconds is not None:
        y = y[: int(max_seconds * ANALYSIS_SAMPLE_RATE)]
    return audio_features(y, ANALYSIS_SAMPLE_RATE)


def cached_features(
    paths: Sequence[str | os.PathLike[str]],
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Any = None,
    max_seconds: float | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Flat features and taggrams of every file, computed once per file and version.

    ``max_seconds``: see :func:`file_features` (part of the cache name).

    Returns
    -------
    X : np.ndarray, shape (n, 1006)
        Every block of :data:`~songscape.models.emotion.BLOCKS` per file (NaN: unknown).
    taggrams : list of np.ndarray, each (n_patches, 50)

    Raises
    ------
    DatasetError
        A file cannot be decoded (the message names it).
    """
    from songscape.config import default_cache_dir
    from songscape.models.registry import get_spec

    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    versions = "-".join(f"{m}-{get_spec(m).version}" for m in (FEATURE_MODEL, SECOND_MODEL))
    name = f"emotion-v{FEATURES_VERSION}-{versions}"
    if max_seconds is not None:
        name += f"-first{max_seconds:g}s"
    flat_cache = FeatureCache(root, name)
    gram_cache = FeatureCache(root, name + "-taggram")
    keys = [file_key(p, 0) for p in paths]
    computed: dict[int, AudioEmotionFeatures] = {}

    def compute(i: int) -> AudioEmotionFeatures:
        if i not in computed:
            try:
                computed[i] = file_features(paths[i], max_seconds)
            except AudioError as err:
                raise DatasetError(f"{paths[i]}: {err}") from err
        return computed[i]

    flat = flat_cache.ensure(keys, lambda i: compute(i).flat(), progress, phase="emotion features")
    grams = gram_cache.ensure(keys, lambda i: compute(i).taggram, None)
    return np.stack(flat).astype(np.float64), [np.asarray(g, dtype=np.float64) for g in grams]
