"""What defines a training run (:class:`TrainConfig`) and the net it trains (:func:`build_net`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from songscape.audio.augment import AugmentationPolicy
from songscape.datasets import MULTI_LABEL_TASKS, TASKS, UNLABELLED_TASKS
from songscape.errors import TrainingError
from songscape.models.architectures import ARCHITECTURES, build_encoder
from songscape.models.heads import (
    FEATURE_ARCHS,
    FEATURE_MODEL,
    FeatureMLP,
    MusicnnBackend,
    TrainedNet,
)

__all__ = ["ALL_ARCHS", "TrainConfig", "augmentation_policy", "build_net"]

#: Every ``--arch``: the waveform encoders, then the two musicnn-feature ones.
ALL_ARCHS = (*ARCHITECTURES, *FEATURE_ARCHS)


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved with the model).

    Attributes
    ----------
    arch : str
        One of :data:`ALL_ARCHS`.
    task : str
        ``genre``/``classification``, ``tags``, ``artist``, ``moco`` or ``tjae``.
    epochs : int
        Maximum epochs (with ``--resume``: the total, counting finished ones).
    batch_size : int
        Chunks per optimiser step.
    lr, weight_decay : float
        AdamW settings.
    device : str
        ``cpu`` or ``cuda``.
    seed : int
        Seeds the split, the chunk sampling, augmentations and the weights.
    patience : int
        Epochs without a better validation loss before stopping.
    chunks_per_track : int
        Random training chunks per file per epoch.
    valid_chunks : int
        Fixed validation chunks per file (evenly spaced).
    augment : str
        Augmentation spec, e.g. ``"pitch_shift=negative,time_stretch=positive"``
        (:meth:`songscape.audio.augment.AugmentationPolicy.from_spec`); roles
        ``positive`` are used as supervised augmentations too.
    valid_fraction : float
        Fraction of groups held out for validation.
    num_threads : int or None
        ``torch.set_num_threads`` (None: leave as is).
    encoder : dict
        Overrides of the architecture's defaults (``build_encoder(arch, **encoder)``).
    hidden_dim, dropout : int, float
        ``musicnn-head`` MLP.
    moco_queue, moco_momentum, moco_temperature : int, float, float
        MoCo settings (small queue and faster momentum suit small sets).
    """

    arch: str
    task: str = "genre"
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    device: str = "cpu"
    seed: int = 0
    patience: int = 5
    chunks_per_track: int = 4
    valid_chunks: int = 4
    augment: str = ""
    valid_fraction: float = 0.2
    num_threads: int | None = None
    encoder: dict = field(default_factory=dict)
    hidden_dim: int = 256
    dropout: float = 0.3
    moco_queue: int = 512
    moco_momentum: float = 0.99
    moco_temperature: float = 0.1

    def validate(self) -> None:
        """Check the settings before any work starts.

        Raises
        ------
        TrainingError
            Unknown architecture or task, a task the architecture cannot train, a
            non-positive count or learning rate, or an unavailable device.
        """
        if self.arch not in ALL_ARCHS:
            raise TrainingError(
                f"unknown architecture {self.arch!r}; choose from {', '.join(ALL_ARCHS)}"
            )
        if self.task not in TASKS:
            raise TrainingError(f"unknown task {self.task!r}; choose from {', '.join(TASKS)}")
        if self.task == "tjae" and self.arch != "tjae":
            raise TrainingError("task tjae trains the tjae architecture: use --arch tjae")
        if self.arch in FEATURE_ARCHS and self.task in UNLABELLED_TASKS:
            raise TrainingError(f"{self.arch} needs labels (task genre, tags or artist)")
        for name in ("epochs", "batch_size", "chunks_per_track", "valid_chunks"):
            if getattr(self, name) < 1:
                raise TrainingError(f"{name} must be at least 1")
        if self.patience < 1 or self.lr <= 0:
            raise TrainingError("patience must be at least 1 and lr positive")
        if self.device not in ("cpu", "cuda"):
            raise TrainingError(f"device must be cpu or cuda, got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise TrainingError("--device cuda: no CUDA device is available to torch")

    @property
    def supervised(self) -> bool:
        """Whether the task trains on labels (not ``moco`` or ``tjae``)."""
        return self.task not in UNLABELLED_TASKS

    @property
    def multilabel(self) -> bool:
        """Whether each file may carry several labels (the ``tags`` task)."""
        return self.task in MULTI_LABEL_TASKS

    @property
    def uses_features(self) -> bool:
        """Whether the network trains on cached musicnn features, not on audio."""
        return self.arch in FEATURE_ARCHS


def build_net(config: TrainConfig, n_outputs: int) -> TrainedNet:
    """The untrained network of a run: the encoder plus a linear head of ``n_outputs``.

    ``musicnn-finetune`` starts from the pretrained ``musicnn-msd`` back-end weights;
    every other encoder starts from random weights (seed torch first).

    Raises
    ------
    TrainingError
        If ``config.encoder`` holds a setting the architecture does not take.
    """
    if config.arch == "musicnn-head":
        encoder = FeatureMLP(200, config.hidden_dim, config.dropout)
        return TrainedNet(encoder, n_outputs, dropout=config.dropout)
    if config.arch == "musicnn-finetune":
        backend = MusicnnBackend(1506, 200, config.dropout)
        backend.load_pretrained(FEATURE_MODEL)
        return TrainedNet(backend, n_outputs, dropout=config.dropout)
    try:
        encoder = build_encoder(config.arch, **config.encoder)
    except ValueError as err:
        raise TrainingError(str(err)) from err
    return TrainedNet(encoder, n_outputs)


def augmentation_policy(spec: str) -> AugmentationPolicy | None:
    """The :class:`~songscape.audio.augment.AugmentationPolicy` of an ``--augment`` spec.

    Returns None for an empty spec.

    Raises
    ------
    TrainingError
        If the spec does not parse.
    """
    if not spec:
        return None
    try:
        return AugmentationPolicy.from_spec(spec)
    except ValueError as err:
        raise TrainingError(f"--augment: {err}") from err
