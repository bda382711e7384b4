"""The networks ``songscape train`` builds around an encoder, and how a saved one is rebuilt.

:class:`TrainedNet` puts an optional linear head on any encoder of
:mod:`songscape.models.architectures` or on the two musicnn-feature encoders here
(:class:`FeatureMLP` for ``musicnn-head``, :class:`MusicnnBackend` for ``musicnn-finetune``),
which train on per-patch features of the pretrained ``musicnn-msd``
(:func:`musicnn_patch_features`). :func:`net_from_checkpoint` rebuilds one from a
``model.pt`` dict; it lives here, below the trainer, because loading a trained model
(:mod:`songscape.models.trained`) must not need the training code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from songscape.audio.features import (
    MUSICNN_HOP_LENGTH,
    MUSICNN_PATCH_FRAMES,
    MUSICNN_SAMPLE_RATE,
    frame_patches,
    musicnn_log_mel,
)
from songscape.models import pretrained
from songscape.models.architectures import build_encoder
from songscape.models.spec import load_registered

#: The architectures that train on cached musicnn features instead of audio.
FEATURE_ARCHS = ("musicnn-head", "musicnn-finetune")
#: Which musicnn layer each feature architecture trains on.
FEATURE_LAYERS = {"musicnn-head": "penultimate", "musicnn-finetune": "pooled"}
#: The pretrained model whose features the feature architectures use.
FEATURE_MODEL = "musicnn-msd"


def load_feature_model(model: str = FEATURE_MODEL) -> pretrained.MusicnnTagger:
    """The pretrained musicnn model whose features a feature architecture uses.

    Raises
    ------
    TypeError
        ``model`` is not one of the pretrained musicnn ports.
    """
    pretrained.ensure_registered()
    tagger = load_registered(model)
    if not isinstance(tagger, pretrained.MusicnnTagger):
        raise TypeError(f"{model!r} is not a pretrained musicnn model")
    return tagger


class FeatureMLP(nn.Module):
    """The ``musicnn-head`` encoder: features -> dropout -> dense -> ReLU (the embedding).

    Parameters
    ----------
    in_dim : int
        Feature dimension (200: musicnn's penultimate layer).
    hidden_dim : int
        Units of the dense layer, the embedding dimension.
    dropout : float
        Dropout on the input features.
    """

    def __init__(self, in_dim: int = 200, hidden_dim: int = 256, dropout: float = 0.3):
        super().__init__()
        self.config = {"in_dim": int(in_dim), "hidden_dim": int(hidden_dim),
                       "dropout": float(dropout)}  # fmt: skip
        self.arch = "musicnn-head"
        self.embedding_dim = int(hidden_dim)
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden_dim), nn.ReLU())

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """(batch, in_dim) -> ``{"embedding": (batch, hidden_dim)}``."""
        return {"embedding": self.net(x)}


class MusicnnBackend(nn.Module):
    """The ``musicnn-finetune`` encoder: musicnn's back-end on pooled 1506-d features.

    ``pool_bn`` -> dense 200 -> ReLU -> ``dense_bn`` (the penultimate embedding), with
    the layer names of :class:`songscape.models.musicnn.Musicnn` so its pretrained
    weights load directly (:meth:`load_pretrained`).

    Parameters
    ----------
    in_dim : int
        Pooled feature dimension (1506: max and mean pool of 753 channels).
    hidden_dim : int
        Units of the dense layer, the embedding dimension (200 to load musicnn's weights).
    dropout : float
        Kept in :attr:`config` for the head put on top (the back-end itself has none).
    """

    def __init__(self, in_dim: int = 1506, hidden_dim: int = 200, dropout: float = 0.3):
        super().__init__()
        self.config = {"in_dim": int(in_dim), "hidden_dim": int(hidden_dim),
                       "dropout": float(dropout)}  # fmt: skip
        self.arch = "musicnn-finetune"
        self.embedding_dim = int(hidden_dim)
        self.pool_bn = nn.BatchNorm1d(in_dim, eps=1e-3)
        self.dense = nn.Linear(in_dim, hidden_dim)
        self.dense_bn = nn.BatchNorm1d(hidden_dim, eps=1e-3)

    def load_pretrained(self, model: str = FEATURE_MODEL) -> None:
        """Copy the back-end weights (``pool_bn``, ``dense``, ``dense_bn``) of ``model``."""
        source = load_feature_model(model).net
        state = {k: v for k, v in source.state_dict().items()
                 if k.split(".")[0] in ("pool_bn", "dense", "dense_bn")}  # fmt: skip
        self.load_state_dict(state, strict=True)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """(batch, in_dim) -> ``{"embedding": (batch, hidden_dim)}``."""
        return {"embedding": self.dense_bn(torch.relu(self.dense(self.pool_bn(x))))}


class TrainedNet(nn.Module):
    """An encoder with an optional linear head on its embedding (``"logits"``).

    Parameters
    ----------
    encoder : torch.nn.Module
        Returns a dict with ``"embedding"`` (batch, ``encoder.embedding_dim``).
    n_outputs : int
        Classes (tags) of the head; 0 for none (unlabelled tasks).
    dropout : float
        Dropout on the embedding before the head.
    """

    def __init__(self, encoder: nn.Module, n_outputs: int = 0, dropout: float = 0.0):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.embedding_dim, n_outputs) if n_outputs else None
        self.dropout = nn.Dropout(dropout) if n_outputs and dropout else nn.Identity()

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """The encoder's outputs, plus ``"logits"`` (batch, n_outputs) with a head."""
        out = dict(self.encoder(x))
        if self.head is not None:
            out["logits"] = self.head(self.dropout(out["embedding"]))
        return out


def net_from_checkpoint(checkpoint: dict[str, Any]) -> TrainedNet:
    """Rebuild the network of a saved ``model.pt`` dict, in eval mode.

    Uses its ``kind``, ``arch``, ``encoder_config``, ``head``, ``labels`` and
    ``net_state`` (see :func:`songscape.training.checkpoints.model_checkpoint`).
    """
    if checkpoint.get("kind") == "features":
        cfg = checkpoint["encoder_config"]
        kind = MusicnnBackend if checkpoint["arch"] == "musicnn-finetune" else FeatureMLP
        encoder = kind(cfg["in_dim"], cfg["hidden_dim"], cfg["dropout"])
        net = TrainedNet(encoder, len(checkpoint["labels"]), dropout=cfg["dropout"])
    else:
        encoder = build_encoder(checkpoint["arch"], **checkpoint["encoder_config"])
        net = TrainedNet(encoder, len(checkpoint["labels"]) if checkpoint["head"] else 0)
    net.load_state_dict(checkpoint["net_state"], strict=True)
    net.eval()
    return net


# ---- musicnn features (musicnn-head) ------------------------------------------------------


def musicnn_patch_features(
    y: np.ndarray,
    model: str = FEATURE_MODEL,
    hop_s: float | None = None,
    layer: str = "penultimate",
    keep_patches: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-patch features of a musicnn model and the patch start times.

    ``layer`` is ``"penultimate"`` (200-d) or ``"pooled"`` (1506-d: ``max_pool`` and
    ``mean_pool`` interleaved per channel, the back-end's input). ``keep_patches``, given
    the start times of all patches (seconds), returns a boolean mask of those to compute;
    only they go through the network and are returned (None: all).

    Returns
    -------
    features : np.ndarray, shape (n_patches, dim), float32
    starts_s : np.ndarray, shape (n_patches,)
    """
    tagger = load_feature_model(model)
    seconds_per_frame = MUSICNN_HOP_LENGTH / MUSICNN_SAMPLE_RATE
    hop_frames = None if hop_s is None else max(1, round(hop_s / seconds_per_frame))
    patches, starts = frame_patches(musicnn_log_mel(y), MUSICNN_PATCH_FRAMES, hop_frames)
    if keep_patches is not None:
        keep = np.asarray(keep_patches(starts * seconds_per_frame), dtype=bool)
        patches, starts = patches[keep], starts[keep]
    out = tagger.forward_patches(patches)
    if layer == "pooled":
        feats = np.stack([out["max_pool"], out["mean_pool"]], axis=2).reshape(len(patches), -1)
    else:
        feats = out[layer]
    return feats.astype(np.float32), starts * seconds_per_frame
