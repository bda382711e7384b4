"""The networks ``songscape train`` builds around an encoder, and how a saved one is rebuilt.

:class:`TrainedNet` puts an optional linear head on any encoder of
:mod:`songscape.models.architectures` or on the two musicnn-feature encoders here
(:class:`FeatureMLP` for ``musicnn-head``, :class:`MusicnnBackend` for ``musicnn-finetune``).
:func:`net_from_checkpoint` rebuilds one from a ``model.pt`` dict; it lives here, below the
trainer, because loading a trained model must not need the training code.
"""

from __future__ import annotations

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

FEATURE_ARCHS = ("musicnn-head", "musicnn-finetune")
#: Which musicnn layer each feature architecture trains on.
FEATURE_LAYERS = {"musicnn-head": "penultimate", "musicnn-finetune": "pooled"}
#: The pretrained model whose features the feature architectures use.
FEATURE_MODEL = "musicnn-msd"


def load_feature_model(model: str = FEATURE_MODEL) -> Any:
    """The pretrained musicnn model whose features a feature architecture uses."""
    pretrained.ensure_registered()
    return load_registered(model)


class FeatureMLP(nn.Module):
    """The ``musicnn-head`` encoder: features -> dropout -> dense -> ReLU (the embedding)."""

    def __init__(self, in_dim: int = 200, hidden_dim: int = 256, dropout: float = 0.3):
        super().__init__()
        self.config = {"in_dim": int(in_dim), "hidden_dim": int(hidden_dim),
                       "dropout": float(dropout)}  # fmt: skip
        self.arch = "musicnn-head"
        self.embedding_dim = int(hidden_dim)
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden_dim), nn.ReLU())

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"embedding": self.net(x)}


class MusicnnBackend(nn.Module):
    """The ``musicnn-finetune`` encoder: musicnn's back-end on pooled 1506-d features.

    ``pool_bn`` -> dense 200 -> ReLU -> ``dense_bn`` (the penultimate embedding), with
    the layer names of :class:`songscape.models.musicnn.Musicnn` so its pretrained
    weights load directly (:meth:`load_pretrained`).
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
        source = load_feature_model(model).net  # type: ignore[attr-defined]
        state = {k: v for k, v in source.state_dict().items()
                 if k.split(".")[0] in ("pool_bn", "dense", "dense_bn")}  # fmt: skip
        self.load_state_dict(state, strict=True)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"embedding": self.dense_bn(torch.relu(self.dense(self.pool_bn(x))))}


class TrainedNet(nn.Module):
    """An encoder with an optional linear head on its embedding (``"logits"``)."""

    def __init__(self, encoder: nn.Module, n_outputs: int = 0, dropout: float = 0.0):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.embedding_dim, n_outputs) if n_outputs else None
        self.dropout = nn.Dropout(dropout) if n_outputs and dropout else nn.Identity()

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        out = dict(self.encoder(x))
        if self.head is not None:
            out["logits"] = self.head(self.dropout(out["embedding"]))
        return out


def net_from_checkpoint(checkpoint: dict[str, Any]) -> TrainedNet:
    """Rebuild the network of a saved ``model.pt`` dict, in eval mode."""
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
) -> tuple[np.ndarray, np.ndarray]:
    """Per-patch features of a musicnn model and the patch start times.

    ``layer`` is ``"penultimate"`` (200-d) or ``"pooled"`` (1506-d: ``max_pool`` and
    ``mean_pool`` interleaved per channel, the back-end's input).

    Returns
    -------
    features : np.ndarray, shape (n_patches, dim), float32
    starts_s : np.ndarray, shape (n_patches,)
    """
    tagger = load_feature_model(model)
    seconds_per_frame = MUSICNN_HOP_LENGTH / MUSICNN_SAMPLE_RATE
    hop_frames = None if hop_s is None else max(1, round(hop_s / seconds_per_frame))
    patches, starts = frame_patches(musicnn_log_mel(y), MUSICNN_PATCH_FRAMES, hop_frames)
    out = tagger.forward_patches(patches)  # type: ignore[attr-defined]
    if layer == "pooled":
        feats = np.stack([out["max_pool"], out["mean_pool"]], axis=2).reshape(len(patches), -1)
    else:
        feats = out[layer]
    return feats.astype(np.float32), starts * seconds_per_frame
