"""MusiCNN and its VGG baseline (Pons & Serra, ISMIR 2018/2019) as PyTorch modules.

The architectures reproduce the TensorFlow-1 graphs of ``musicnn==0.1.0``
layer for layer so that its pretrained checkpoints load unchanged:

* **MusiCNN**: input batch-norm; a musically motivated front-end of *timbral*
  filters (7 frames x 38 and x 67 mel bands, 204 each) and *temporal* filters
  (128, 64, 32 frames x 1 band, 51 each), each max-pooled over frequency; a dense
  residual 1-D mid-end (three 7-frame convolutions of 64 filters); a back-end that
  pools every mid-end output over time (max and mean), then batch-norm, a 200-unit
  dense layer (the "penultimate" embedding) and 50 sigmoid outputs.
* **VGG**: input batch-norm and five 3x3 convolution blocks of 128 filters with
  max-pooling, then one dense output layer.

Conventions ported from the TF graph (each one changes the numbers if missed):
every block is conv -> ReLU -> batch-norm (BN *after* the ReLU) -> pool; batch
norm uses epsilon 1e-3 and the moving statistics; the timbral and mid-end convs
zero-pad 3 frames on each side then convolve VALID across the full width; the
temporal convs use TF "SAME" padding, which puts the extra frame of an even
kernel at the end; the back-end flattens ``[max, mean]`` *per channel*
(interleaved) before its batch-norm; TF conv kernels are ``[time, freq, in,
out]`` and dense kernels ``[in, out]``.

Inputs are log-mel patches of shape (batch, frames, mel bands) = (B, 187, 96),
see :func:`songscape.audio.features.musicnn_log_mel`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

TF_BATCH_NORM_EPSILON = 1e-3


def _bn2d(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=TF_BATCH_NORM_EPSILON)


def _bn1d(channels: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(channels, eps=TF_BATCH_NORM_EPSILON)


def _same_padding(kernel: int) -> tuple[int, int]:
    """TF 'SAME' padding for stride 1: the odd frame goes at the end."""
    total = kernel - 1
    return total // 2, total - total // 2


class Musicnn(nn.Module):
    """The MusiCNN tagger (front-end 561 channels, mid-end 3 x 64, back-end 200).

    Parameters
    ----------
    n_mels : int
        Mel bands of the input (96 for the released models).
    n_classes : int
        Output tags.
    midend_filters : int
        Filters per mid-end layer.
    backend_units : int
        Width of the penultimate dense layer.
    """

    def __init__(
        self,
        n_mels: int = 96,
        n_classes: int = 50,
        midend_filters: int = 64,
        backend_units: int = 200,
    ):
        super().__init__()
        self.n_mels = n_mels
        timbral_filters, temporal_filters = int(1.6 * 128), int(1.6 * 32)
        self.input_bn = _bn2d(1)
        self.timbral_widths = (int(0.4 * n_mels), int(0.7 * n_mels))
        self.timbral = nn.ModuleList(
            nn.Conv2d(1, timbral_filters, (7, width)) for width in self.timbral_widths
        )
        self.timbral_bn = nn.ModuleList(_bn2d(timbral_filters) for _ in self.timbral_widths)
        self.temporal_lengths = (128, 64, 32)
        self.temporal = nn.ModuleList(
            nn.Conv2d(1, temporal_filters, (length, 1)) for length in self.temporal_lengths
        )
        self.temporal_bn = nn.ModuleList(_bn2d(temporal_filters) for _ in self.temporal_lengths)
        self.frontend_channels = 2 * timbral_filters + 3 * temporal_filters  # 561
        self.midend = nn.ModuleList(
            [
                nn.Conv1d(self.frontend_channels, midend_filters, 7),
                nn.Conv1d(midend_filters, midend_filters, 7),
                nn.Conv1d(midend_filters, midend_filters, 7),
            ]
        )
        self.midend_bn = nn.ModuleList(_bn1d(midend_filters) for _ in range(3))
        self.pool_channels = self.frontend_channels + 3 * midend_filters  # 753
        self.pool_bn = _bn1d(2 * self.pool_channels)
        self.dense = nn.Linear(2 * self.pool_channels, backend_units)
        self.dense_bn = _bn1d(backend_units)
        self.output = nn.Linear(backend_units, n_classes)

    def forward(self, x: torch.Tensor, frames: bool = False) -> dict[str, torch.Tensor]:
        """Run the network.

        Parameters
        ----------
        x : torch.Tensor, shape (batch, frames, n_mels)
            Log-mel patches.
        frames : bool
            Also return the time-resolved layers ``timbral`` (B, T, 408),
            ``temporal`` (B, T, 153), ``cnn1``/``cnn2``/``cnn3`` (B, T, 64).

        Returns
        -------
        dict
            ``logits`` (B, n_classes), ``penultimate`` (B, 200), ``max_pool`` and
            ``mean_pool`` (B, 753), plus the frame layers when asked.
        """
        h = self.input_bn(x.unsqueeze(1))  # (B, 1, T, F)
        padded = F.pad(h, (0, 0, 3, 3))
        timbral = [
            bn(F.relu(conv(padded))).amax(dim=3)  # (B, C, T)
            for conv, bn in zip(self.timbral, self.timbral_bn, strict=True)
        ]
        temporal = [
            bn(F.relu(conv(F.pad(h, (0, 0, *_same_padding(length)))))).amax(dim=3)
            for conv, bn, length in zip(
                self.temporal, self.temporal_bn, self.temporal_lengths, strict=True
            )
        ]
        frontend = torch.cat(timbral + temporal, dim=1)  # (B, 561, T)
        cnn1 = self.midend_bn[0](F.relu(self.midend[0](F.pad(frontend, (3, 3)))))
        cnn2 = self.midend_bn[1](F.relu(self.midend[1](F.pad(cnn1, (3, 3))))) + cnn1
        cnn3 = self.midend_bn[2](F.relu(self.midend[2](F.pad(cnn2, (3, 3))))) + cnn2
        midend = torch.cat([frontend, cnn1, cnn2, cnn3], dim=1)  # (B, 753, T)
        max_pool = midend.amax(dim=2)
        mean_pool = midend.mean(dim=2)
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # interleaved per channel
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
        out = {
            "logits": self.output(penultimate),
            "penultimate": penultimate,
            "max_pool": max_pool,
            "mean_pool": mean_pool,
        }
        if frames:
            out["timbral"] = torch.cat(timbral, dim=1).transpose(1, 2)
            out["temporal"] = torch.cat(temporal, dim=1).transpose(1, 2)
            for name, value in (("cnn1", cnn1), ("cnn2", cnn2), ("cnn3", cnn3)):
                out[name] = value.transpose(1, 2)
        return out


class MusicnnVgg(nn.Module):
    """The VGG-like baseline of musicnn: five 3x3 conv blocks of ``filters`` channels.

    Its embedding (``pool5``, 256-d for 187-frame patches) is the flattened last
    pooling layer, the input of the output layer.
    """

    # (time, freq) pooling sizes and strides after each block, as in the TF graph.
    POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)),
             ((4, 4), (4, 4)))  # fmt: skip

    def __init__(self, n_mels: int = 96, n_classes: int = 50, filters: int = 128,
                 n_frames: int = 187):  # fmt: skip
        super().__init__()
        self.input_bn = _bn2d(1)
        self.convs = nn.ModuleList(
            nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1) for i in range(5)
        )
        self.bns = nn.ModuleList(_bn2d(filters) for _ in range(5))
        t, f = n_frames, n_mels
        for (kt, kf), (st, sf) in self.POOLS:
            t, f = (t - kt) // st + 1, (f - kf) // sf + 1
        self.embedding_dim = t * f * filters
        self.output = nn.Linear(self.embedding_dim, n_classes)

    def forward(self, x: torch.Tensor, frames: bool = False) -> dict[str, torch.Tensor]:
        """Run the network on (batch, frames, n_mels) patches.

        Returns ``logits`` and ``pool5`` (B, 256); with ``frames`` also ``pool1``
        ... ``pool4`` in the TF layout (B, time, freq, channels).
        """
        h = self.input_bn(x.unsqueeze(1))
        pools = []
        for conv, bn, (kernel, stride) in zip(self.convs, self.bns, self.POOLS, strict=True):
            h = F.max_pool2d(bn(F.relu(conv(h))), kernel, stride)
            pools.append(h)
        # TF flattens (time, freq, channels) in C order.
        pool5 = h.permute(0, 2, 3, 1).flatten(1)
        out = {"logits": self.output(pool5), "pool5": pool5}
        if frames:
            for i, p in enumerate(pools[:4], start=1):
                out[f"pool{i}"] = p.permute(0, 2, 3, 1)
        return out


# -- checkpoint variables -> module parameters ----------------------------------------


def _conv2d_weight(kernel: np.ndarray) -> torch.Tensor:
    """TF [kh, kw, in, out] -> torch [out, in, kh, kw]."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))


def _conv1d_weight(kernel: np.ndarray) -> torch.Tensor:
    """A full-width TF 2-D kernel [k, width, 1, out] -> torch Conv1d weight [out, width, k]."""
    return torch.from_numpy(np.ascontiguousarray(kernel[:, :, 0, :].transpose(2, 1, 0)))


def _dense_weight(kernel: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(kernel.T))


def _batch_norm(prefix: str, variables: Mapping[str, np.ndarray], tf_name: str) -> dict:
    return {
        f"{prefix}.weight": torch.from_numpy(variables[f"{tf_name}/gamma"].copy()),
        f"{prefix}.bias": torch.from_numpy(variables[f"{tf_name}/beta"].copy()),
        f"{prefix}.running_mean": torch.from_numpy(variables[f"{tf_name}/moving_mean"].copy()),
        f"{prefix}.running_var": torch.from_numpy(variables[f"{tf_name}/moving_variance"].copy()),
        f"{prefix}.num_batches_tracked": torch.tensor(0),
    }


def _bn_name(i: int) -> str:
    return "batch_normalization" if i == 0 else f"batch_normalization_{i}"


def _conv_name(i: int) -> str:
    return "conv2d" if i == 0 else f"conv2d_{i}"


def musicnn_state_dict(variables: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Map the variables of a musicnn TF checkpoint onto :class:`Musicnn` parameters.

    The TF layers are named by creation order: ``conv2d``..``conv2d_7`` (timbral
    x2, temporal x3, mid-end x3), ``batch_normalization``..``_10`` (input, one per
    conv, pooled features, penultimate), ``dense`` and ``dense_1``.
    """
    state: dict[str, torch.Tensor] = {}
    state.update(_batch_norm("input_bn", variables, _bn_name(0)))
    modules = [("timbral", i) for i in range(2)] + [("temporal", i) for i in range(3)]
    for layer, (group, i) in enumerate(modules):
        tf = _conv_name(layer)
        state[f"{group}.{i}.weight"] = _conv2d_weight(variables[f"{tf}/kernel"])
        state[f"{group}.{i}.bias"] = torch.from_numpy(variables[f"{tf}/bias"].copy())
        state.update(_batch_norm(f"{group}_bn.{i}", variables, _bn_name(layer + 1)))
    for i in range(3):
        tf = _conv_name(5 + i)
        state[f"midend.{i}.weight"] = _conv1d_weight(variables[f"{tf}/kernel"])
        state[f"midend.{i}.bias"] = torch.from_numpy(variables[f"{tf}/bias"].copy())
        state.update(_batch_norm(f"midend_bn.{i}", variables, _bn_name(6 + i)))
    state.update(_batch_norm("pool_bn", variables, _bn_name(9)))
    state["dense.weight"] = _dense_weight(variables["dense/kernel"])
    state["dense.bias"] = torch.from_numpy(variables["dense/bias"].copy())
    state.update(_batch_norm("dense_bn", variables, _bn_name(10)))
    state["output.weight"] = _dense_weight(variables["dense_1/kernel"])
    state["output.bias"] = torch.from_numpy(variables["dense_1/bias"].copy())
    return state


def vgg_state_dict(variables: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Map the variables of a musicnn VGG checkpoint onto :class:`MusicnnVgg` parameters."""
    state: dict[str, torch.Tensor] = {}
    state.update(_batch_norm("input_bn", variables, _bn_name(0)))
    for i in range(5):
        tf = f"{i + 1}CNN"
        state[f"convs.{i}.weight"] = _conv2d_weight(variables[f"{tf}/kernel"])
        state[f"convs.{i}.bias"] = torch.from_numpy(variables[f"{tf}/bias"].copy())
        state.update(_batch_norm(f"bns.{i}", variables, _bn_name(i + 1)))
    state["output.weight"] = _dense_weight(variables["dense/kernel"])
    state["output.bias"] = torch.from_numpy(variables["dense/bias"].copy())
    return state
