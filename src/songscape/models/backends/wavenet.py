"""The TJAE back-end: a WaveNet-style autoencoder of log-mel frames.

Dilated causal 1-D convolutions with gated units and skip connections summed across
dilation levels (:class:`WaveNetStack`); the bottleneck, pooled over time, is the
embedding, and a second such stack reconstructs the frames from the time-pooled
bottleneck (:class:`TJAE`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["TJAE", "CausalConv1d", "GatedResidualLayer", "WaveNetStack"]


class CausalConv1d(nn.Conv1d):
    """1-D convolution padded on the left only, so output ``t`` sees inputs ``<= t``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left_pad = (kernel_size - 1) * dilation

    def forward(self, x: Tensor) -> Tensor:
        """(batch, in, frames) -> (batch, out, frames)."""
        return super().forward(F.pad(x, (self.left_pad, 0)))


class GatedResidualLayer(nn.Module):
    """WaveNet layer: dilated causal conv, ``tanh * sigmoid`` gate, residual and skip 1x1s.

    Parameters
    ----------
    channels : int
        Residual channels.
    skip_channels : int
        Skip-connection channels.
    kernel_size : int
        Causal kernel in frames.
    dilation : int
        Dilation in frames.
    residual : bool
        Whether the layer has a residual output (the last layer of a stack only
        feeds the skip sum, so it has none).
    """

    def __init__(
        self,
        channels: int,
        skip_channels: int,
        kernel_size: int,
        dilation: int,
        residual: bool = True,
    ):
        super().__init__()
        self.conv = CausalConv1d(channels, 2 * channels, kernel_size, dilation)
        self.residual = nn.Conv1d(channels, channels, 1) if residual else None
        self.skip = nn.Conv1d(channels, skip_channels, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(batch, channels, frames) -> (residual output, skip output (batch, skip, frames))."""
        filt, gate = self.conv(x).chunk(2, dim=1)
        h = torch.tanh(filt) * torch.sigmoid(gate)
        out = x if self.residual is None else x + self.residual(h)
        return out, self.skip(h)


class WaveNetStack(nn.Module):
    """Input 1x1 conv, gated layers with dilations 1, 2, 4, ..., summed skips, ReLU, 1x1 out.

    Parameters
    ----------
    in_channels, out_channels : int
    channels : int
        Residual channels.
    skip_channels : int
        Skip channels.
    n_layers : int
        Layers per stack; layer ``i`` has dilation ``2 ** i``.
    n_stacks : int
        Repeats of the dilation cycle.
    kernel_size : int
        Causal kernel in frames.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        channels: int,
        skip_channels: int,
        n_layers: int,
        n_stacks: int = 1,
        kernel_size: int = 2,
    ):
        super().__init__()
        self.input = nn.Conv1d(in_channels, channels, 1)
        n_total = n_stacks * n_layers
        self.layers = nn.ModuleList(
            GatedResidualLayer(
                channels, skip_channels, kernel_size, 2 ** (j % n_layers), j < n_total - 1
            )
            for j in range(n_total)
        )
        self.output = nn.Conv1d(skip_channels, out_channels, 1)

    @property
    def receptive_field(self) -> int:
        """Frames of input each output frame depends on."""
        return 1 + sum(layer.conv.left_pad for layer in self.layers)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, in_channels, frames) -> (batch, out_channels, frames), causal."""
        h = self.input(x)
        skips = 0
        for layer in self.layers:
            h, skip = layer(h)
            skips = skips + skip
        return self.output(torch.relu(skips))


class TJAE(nn.Module):
    """WaveNet-style autoencoder of log-mel frames (the "TJAE" of issue 5).

    Parameters
    ----------
    n_bins : int
        Mel bands of the input frames (the reconstruction target).
    channels : int
        Residual channels of both WaveNet stacks.
    skip_channels : int
        Skip channels.
    n_layers : int
        Gated layers per stack (dilations ``1 .. 2 ** (n_layers - 1)`` frames).
    n_stacks : int
        Repeats of the dilation cycle in the encoder and in the decoder.
    kernel_size : int
        Causal kernel in frames.
    embedding_dim : int
        Bottleneck channels; the embedding is the bottleneck averaged over frames.
    pool_frames : int
        The decoder sees the bottleneck averaged over blocks of this many frames
        (then repeated back to the frame rate), so it cannot copy frames through.
    loss : {"mse", "l1"}
        Reconstruction loss.

    Notes
    -----
    The input is the (batch, 1, n_bins, frames) front-end map; it is the
    ``"target"`` (detached) and, batch-normalised per band, the encoder's input.
    Returns ``"embedding"`` (batch, embedding_dim), ``"frames"`` (batch, frames,
    embedding_dim) the bottleneck, ``"reconstruction"`` and ``"target"``
    (batch, n_bins, frames), and the scalar ``"loss"``. With the defaults: 265 k
    parameters, receptive field 32 frames per stack.
    """

    def __init__(
        self,
        n_bins: int = 128,
        channels: int = 64,
        skip_channels: int = 64,
        n_layers: int = 5,
        n_stacks: int = 1,
        kernel_size: int = 2,
        embedding_dim: int = 64,
        pool_frames: int = 8,
        loss: str = "mse",
    ):
        super().__init__()
        if loss not in ("mse", "l1"):
            raise ValueError(f"loss must be 'mse' or 'l1', got {loss!r}")
        if pool_frames < 1:
            raise ValueError(f"pool_frames must be >= 1, got {pool_frames}")
        self.loss_kind, self.pool_frames = loss, int(pool_frames)
        self.input_bn = nn.BatchNorm1d(n_bins)
        self.encoder = WaveNetStack(
            n_bins, embedding_dim, channels, skip_channels, n_layers, n_stacks, kernel_size
        )
        self.decoder = WaveNetStack(
            embedding_dim, n_bins, channels, skip_channels, n_layers, n_stacks, kernel_size
        )

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """(batch, 1, n_bins, frames) -> embedding, frames, reconstruction, target, loss."""
        target = x.flatten(1, 2).detach()  # (B, bins, T)
        bottleneck = self.encoder(self.input_bn(target))  # (B, E, T)
        n_frames = bottleneck.shape[-1]
        pooled = F.avg_pool1d(bottleneck, self.pool_frames, ceil_mode=True)
        upsampled = pooled.repeat_interleave(self.pool_frames, dim=-1)[..., :n_frames]
        reconstruction = self.decoder(upsampled)
        if self.loss_kind == "mse":
            loss = F.mse_loss(reconstruction, target)
        else:
            loss = F.l1_loss(reconstruction, target)
        return {
            "embedding": bottleneck.mean(dim=-1),
            "frames": bottleneck.transpose(1, 2),
            "reconstruction": reconstruction,
            "target": target,
            "loss": loss,
        }
