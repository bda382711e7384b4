"""Emotion features of labelled files, computed once and cached (training and bench).

One pass per file: decode at 22050 Hz, :func:`~songscape.analysis.descriptors.describe`
for the descriptors, resample to 16 kHz and run musicnn-msd for the embedding and the
taggram -- exactly the inputs the ``emotion`` ingest stage hands to the heads
(:func:`songscape.models.emotion.features_from_output`). The flat vector
(embedding, tags, descriptors) and the per-patch taggram are cached per file in two
:class:`~songscape.datasets.FeatureCache` files keyed by the musicnn version.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from songscape.datasets import FeatureCache, file_key
from songscape.errors import AudioError, DatasetError
from songscape.models.emotion import FEATURE_MODEL, AudioEmotionFeatures, features_from_output

#: Bump when the feature computation changes (part of the cache name).
FEATURES_VERSION = 1


def file_features(
    path: str | os.PathLike[str], max_seconds: float | None = None
) -> AudioEmotionFeatures:
    """The emotion features of one audio file (decode, describe, musicnn-msd).

    ``max_seconds`` keeps only the file's first seconds (cheaper features for training
    sets of long excerpts).

    Raises
    ------
    AudioError
        The file cannot be decoded or is unusable.
    """
    import soxr

    from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE, describe
    from songscape.audio.decode import load_audio
    from songscape.models.registry import get_spec, load_model

    y, _ = load_audio(path, sr=ANALYSIS_SAMPLE_RATE, mono=True)
    if max_seconds is not None:
        y = y[: int(max_seconds * ANALYSIS_SAMPLE_RATE)]
    desc = describe(y, ANALYSIS_SAMPLE_RATE)
    spec = get_spec(FEATURE_MODEL)
    y16 = soxr.resample(y, ANALYSIS_SAMPLE_RATE, spec.sample_rate).astype(np.float32)
    output = load_model(FEATURE_MODEL).run(y16)
    return features_from_output(output, desc)


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
    X : np.ndarray, shape (n, 256)
        embedding (200), tags (50), descriptors (6) per file (NaN: unknown descriptor).
    taggrams : list of np.ndarray, each (n_patches, 50)

    Raises
    ------
    DatasetError
        A file cannot be decoded (the message names it).
    """
    from songscape.config import default_cache_dir
    from songscape.models.registry import get_spec

    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    version = get_spec(FEATURE_MODEL).version
    name = f"emotion-v{FEATURES_VERSION}-{FEATURE_MODEL}-{version}"
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
