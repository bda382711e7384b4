"""Where training examples come from: chunks of cached audio, or rows of cached features.

:func:`open_source` decodes a run's files once (the :class:`~songscape.datasets.AudioCache`)
and, for the musicnn-feature architectures, embeds them once (the
:class:`~songscape.datasets.FeatureCache`). The source it returns hands the loop one
example per call: :meth:`~ChunkSource.random` for training (a random chunk, augmented
when the run says so), :meth:`~ChunkSource.fixed` for validation (the same evenly spaced
chunks every epoch).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from songscape.audio.augment import AugmentationPolicy
from songscape.datasets import AudioCache, FeatureCache, LabelSet
from songscape.models.heads import FEATURE_LAYERS, FEATURE_MODEL, musicnn_patch_features
from songscape.models.registry import get_spec
from songscape.training.config import TrainConfig

__all__ = ["ChunkSource", "FeatureSource", "WaveSource", "open_source"]


class ChunkSource(Protocol):
    """What the training loop asks of its data."""

    #: Hz of the audio the network takes.
    sample_rate: int
    #: Samples per network input; None when the inputs are feature rows.
    chunk_samples: int | None

    def random(self, i: int, rng: np.random.Generator) -> np.ndarray:
        """One random training input of item ``i``."""
        ...

    def fixed(self, i: int, count: int) -> np.ndarray:
        """Up to ``count`` evenly spaced inputs of item ``i``, stacked (validation)."""
        ...


class WaveSource:
    """Random or fixed chunks of cached audio, with optional augmentation.

    Parameters
    ----------
    cache : AudioCache
        Holds every item's decoded audio.
    keys : sequence of str
        The cache key of each item, in item order.
    n_samples : int
        Samples per chunk (the encoder's input length); shorter audio is zero-padded.
    policy : AugmentationPolicy or None
        Its ``positive`` augmentations are applied to training chunks.
    """

    def __init__(
        self,
        cache: AudioCache,
        keys: Sequence[str],
        n_samples: int,
        policy: AugmentationPolicy | None = None,
    ):
        self.cache, self.keys = cache, list(keys)
        self.chunk_samples = int(n_samples)
        self.sample_rate = cache.sample_rate
        self.policy = policy

    def audio(self, i: int) -> np.ndarray:
        """The whole of item ``i``, float32 mono at :attr:`sample_rate` Hz."""
        return np.asarray(self.cache.get(self.keys[i]), dtype=np.float32)

    def _padded(self, y: np.ndarray) -> np.ndarray:
        out = np.zeros(self.chunk_samples, dtype=np.float32)
        piece = y[: self.chunk_samples]
        out[: len(piece)] = piece
        return out

    def random(self, i: int, rng: np.random.Generator) -> np.ndarray:
        """A random chunk of item ``i`` (augmented when there is a policy)."""
        y = self.cache.get(self.keys[i])
        n = self.chunk_samples
        if self.policy is not None:  # a random crop with the positive augmentations
            out = self.policy.augment_supervised(np.asarray(y, np.float32), self.sample_rate,
                                                 n, rng)  # fmt: skip
            return np.asarray(out, dtype=np.float32)
        start = int(rng.integers(0, max(1, len(y) - n + 1)))
        return self._padded(np.asarray(y[start : start + n], dtype=np.float32))

    def fixed(self, i: int, count: int) -> np.ndarray:
        """Up to ``count`` evenly spaced chunks of item ``i``, shape (k, chunk_samples)."""
        y = self.cache.get(self.keys[i])
        n = self.chunk_samples
        starts = np.unique(np.linspace(0, max(0, len(y) - n), count).round().astype(int))
        return np.stack([self._padded(np.asarray(y[s : s + n], dtype=np.float32))
                         for s in starts])  # fmt: skip


class FeatureSource:
    """Rows of per-patch features (the musicnn-feature architectures).

    Parameters
    ----------
    features : list of np.ndarray
        Per item, shape (n_patches, dim).
    sample_rate : int
        Hz of the audio the features were computed from.
    """

    chunk_samples = None

    def __init__(self, features: list[np.ndarray], sample_rate: int):
        self.features = features
        self.sample_rate = int(sample_rate)

    def random(self, i: int, rng: np.random.Generator) -> np.ndarray:
        """One random patch row of item ``i``."""
        f = self.features[i]
        return f[int(rng.integers(0, len(f)))]

    def fixed(self, i: int, count: int) -> np.ndarray:
        """Up to ``count`` evenly spaced patch rows of item ``i``."""
        f = self.features[i]
        rows = np.unique(np.linspace(0, len(f) - 1, min(count, len(f))).round().astype(int))
        return f[rows]


def open_source(
    config: TrainConfig,
    data: LabelSet,
    encoder: Any,
    cache_root: str | os.PathLike[str],
    policy: AugmentationPolicy | None = None,
    progress: Any = None,
) -> WaveSource | FeatureSource:
    """Decode (and for feature architectures, embed) the run's files; the source over them.

    Parameters
    ----------
    config : TrainConfig
    data : LabelSet
        The files, in item order.
    encoder : torch.nn.Module
        The run's encoder (gives the sample rate and chunk length of waveform inputs).
    cache_root : path
        Folder of the audio and feature caches.
    policy : AugmentationPolicy or None
        Supervised augmentations of training chunks.
    progress : object or None
        ``phase(name, total)`` / ``advance(n)`` callbacks.

    Raises
    ------
    DatasetError
        A file cannot be decoded.
    """
    root = Path(cache_root)
    if config.uses_features:
        spec = get_spec(FEATURE_MODEL)
        audio = AudioCache(root, spec.sample_rate)
        keys = audio.ensure(data.paths, progress)
        layer = FEATURE_LAYERS[config.arch]
        feats = FeatureCache(root, f"{FEATURE_MODEL}-{layer}-patches-{spec.version}")
        features = feats.ensure(
            keys,
            lambda i: musicnn_patch_features(
                np.asarray(audio.get(keys[i]), np.float32), layer=layer
            )[0],
            progress,
            phase="musicnn",
        )
        return FeatureSource(features, spec.sample_rate)
    audio = AudioCache(root, encoder.sample_rate)
    keys = audio.ensure(data.paths, progress)
    return WaveSource(audio, keys, encoder.chunk_samples, policy)
