"""Back-ends: a front-end's (batch, channels, freq, frames) map in, a dict of tensors out.

Every back-end returns at least ``{"embedding": (batch, embedding_dim)}``; the
pooling over time (and frequency) is global, so inputs longer (or, thanks to
``ceil_mode`` pooling, shorter) than the training chunk work too.

* :class:`ShortChunkCNN`: 7 x (3x3 conv, batch-norm, ReLU, 2x2 max-pool), global
  max-pool, dense layer (Won et al. 2020, "Evaluation of CNN-based automatic music
  tagging models"); with ``in_channels = n_harmonics`` it is the back-end of the
  Harmonic CNN (Won et al., ICASSP 2020).
* :class:`ShortChunkResNet`: the same with 7 residual blocks of two 3x3 convs,
  the first one strided by 2 (Won et al. 2020).
* :class:`CRNN`: 4 conv blocks, max over the remaining frequency bins, a 2-layer
  GRU over the frames (Choi et al. 2017).
* :class:`SelfAttentionBackend`: conv blocks give frame features, a transformer
  encoder with a learned ``[CLS]`` token summarises them (Won et al. 2019); the
  ``[CLS]`` attention over frames is returned.
* :class:`SampleCNN`: 1-D conv blocks with size-3 kernels and 3x max-pooling on
  the output of :class:`~songscape.models.frontends.SampleLevelFrontend`
  (Lee et al. 2017).
* :class:`TJAE`: a WaveNet-style autoencoder of log-mel frames: dilated causal
  1-D convolutions with gated units and skip connections summed across dilation
  levels; the bottleneck, pooled over time, is the embedding, and a second such
  stack reconstructs the frames from the time-pooled bottleneck.

All widths are constructor arguments; the defaults are small (32-128 channels)
so that CPU training is practical.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class EmbeddingHead(nn.Module):
    """Dense -> batch-norm -> ReLU: the penultimate layer of Won et al.'s models.

    Parameters
    ----------
    in_features : int
        Pooled features in.
    embedding_dim : int
        Embedding units out.
    """

    def __init__(self, in_features: int, embedding_dim: int):
        super().__init__()
        self.dense = nn.Linear(in_features, embedding_dim)
        self.bn = nn.BatchNorm1d(embedding_dim)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, in_features) -> (batch, embedding_dim), non-negative."""
        return torch.relu(self.bn(self.dense(x)))


class ConvBlock2d(nn.Module):
    """3x3 conv (same padding) -> batch-norm -> ReLU -> max-pool (``ceil_mode``).

    Parameters
    ----------
    in_channels, out_channels : int
    pool : int or (int, int)
        Max-pool size and stride over (freq, frames); 1 for none.
    """

    def __init__(self, in_channels: int, out_channels: int, pool: int | tuple[int, int] = 2):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.pool = nn.MaxPool2d(pool, ceil_mode=True) if pool not in (1, (1, 1)) else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """(batch, in, freq, frames) -> (batch, out, ceil(freq / pool), ceil(frames / pool))."""
        return self.pool(torch.relu(self.bn(self.conv(x))))


class ResBlock2d(nn.Module):
    """Residual block: conv3x3 (stride) -> BN -> ReLU -> conv3x3 -> BN, plus shortcut, ReLU.

    The shortcut is a strided 3x3 conv + BN when the shape changes (as Won et al.'s
    ``Res_2d``).

    Parameters
    ----------
    in_channels, out_channels : int
    stride : int
        Stride of the first conv (2 halves freq and frames, rounding up).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        """(batch, in, freq, frames) -> (batch, out, ceil(freq / stride), ceil(frames / stride))."""
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + self.shortcut(x))


def _global_max(x: Tensor) -> Tensor:
    """(batch, channels, freq, frames) -> (batch, channels)."""
    return x.amax(dim=(2, 3))


class ShortChunkCNN(nn.Module):
    """Short-chunk CNN back-end (Won et al. 2020), also the Harmonic CNN's.

    Parameters
    ----------
    in_channels : int
        Channels of the input map (1 for log-mel, ``n_harmonics`` for the harmonic
        front-end).
    channels : sequence of int
        Width of each conv block (7 in the paper: 128, 128, 256, 256, 256, 256, 512;
        default here 32, 32, 64, 64, 64, 64, 128). Each block halves freq and frames.
    embedding_dim : int
        Units of the dense embedding layer.

    Notes
    -----
    With the defaults and a 128-band input: 230 k parameters (1 input channel;
    232 k with the 6 channels of the harmonic front-end).
    """

    #: the layer type (the ResNet variant swaps in residual blocks)
    block: type[nn.Module] = ConvBlock2d

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 32, 64, 64, 64, 64, 128),
        embedding_dim: int = 128,
    ):
        super().__init__()
        widths = [int(in_channels), *map(int, channels)]
        self.input_bn = nn.BatchNorm2d(in_channels)
        self.layers = nn.Sequential(
            *(self.block(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        )
        self.head = EmbeddingHead(widths[-1], embedding_dim)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """(batch, in_channels, freq, frames) -> ``{"embedding": (batch, embedding_dim)}``."""
        return {"embedding": self.head(_global_max(self.layers(self.input_bn(x))))}


class ShortChunkResNet(ShortChunkCNN):
    """Short-chunk ResNet back-end (Won et al. 2020): 7 strided residual blocks.

    Parameters
    ----------
    in_channels : int
        Channels of the input map.
    channels : sequence of int
        Width of each residual block (paper: 128, 128, 256, 256, 256, 256, 512).
    embedding_dim : int
        Units of the dense embedding layer.

    Notes
    -----
    With the defaults: 759 k parameters.
    """

    block = ResBlock2d


class CRNN(nn.Module):
    """Convolutional recurrent network (Choi, Fazekas, Sandler, Cho 2017).

    Parameters
    ----------
    in_channels : int
        Channels of the input map.
    channels : sequence of int
        Width of each conv block.
    freq_pools, time_pools : sequence of int
        Max-pool sizes per block over frequency and frames (as many as ``channels``).
        Frequency bins left after the blocks are max-pooled away.
    rnn_hidden : int
        GRU units per layer.
    rnn_layers : int
        Stacked GRU layers.
    pooling : {"last", "mean"}
        Summary of the GRU outputs: the last frame's output (Choi et al.) or the mean.
    embedding_dim : int
        Units of the dense embedding layer on the summary.

    Notes
    -----
    Returns ``"frames"``: the GRU outputs, shape (batch, n_frames, rnn_hidden), with
    ``n_frames = frames / prod(time_pools)`` rounded up per block. With the
    defaults: 147 k parameters.
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 64, 64, 64),
        freq_pools: Sequence[int] = (2, 4, 4, 4),
        time_pools: Sequence[int] = (2, 2, 2, 2),
        rnn_hidden: int = 64,
        rnn_layers: int = 2,
        pooling: str = "last",
        embedding_dim: int = 64,
    ):
        super().__init__()
        if not len(channels) == len(freq_pools) == len(time_pools):
            raise ValueError("channels, freq_pools and time_pools need the same length")
        if pooling not in ("last", "mean"):
            raise ValueError(f"pooling must be 'last' or 'mean', got {pooling!r}")
        widths = [int(in_channels), *map(int, channels)]
        self.pooling = pooling
        self.input_bn = nn.BatchNorm2d(in_channels)
        self.layers = nn.Sequential(
            *(
                ConvBlock2d(a, b, (int(fp), int(tp)))
                for a, b, fp, tp in zip(
                    widths[:-1], widths[1:], freq_pools, time_pools, strict=True
                )
            )
        )
        self.gru = nn.GRU(widths[-1], rnn_hidden, num_layers=rnn_layers, batch_first=True)
        self.head = EmbeddingHead(rnn_hidden, embedding_dim)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """(batch, in_channels, freq, frames) -> ``embedding`` and ``frames`` (GRU outputs)."""
        features = self.layers(self.input_bn(x)).amax(dim=2).transpose(1, 2)  # (B, T', C)
        frames, _ = self.gru(features)
        summary = frames[:, -1] if self.pooling == "last" else frames.mean(dim=1)
        return {"embedding": self.head(summary), "frames": frames}


def sinusoidal_positions(n: int, dim: int, device: torch.device | None = None) -> Tensor:
    """Transformer sinusoidal position encodings, shape (n, dim) (Vaswani et al. 2017)."""
    position = torch.arange(n, dtype=torch.float32, device=device)[:, None]
    freqs = torch.exp(
        torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim)
    )
    table = torch.zeros(n, dim, device=device)
    table[:, 0::2] = torch.sin(position * freqs)
    table[:, 1::2] = torch.cos(position * freqs[: dim // 2])
    return table


class TransformerLayer(nn.Module):
    """Post-norm transformer encoder layer (BERT style) that returns its attention.

    Parameters
    ----------
    d_model : int
        Token width.
    n_heads : int
        Attention heads (must divide ``d_model``).
    d_ff : int
        Hidden units of the feed-forward block.
    dropout : float
        Dropout on attention weights and both residual branches.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1):
        super().__init__()
        self.attention = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(batch, tokens, d_model) -> same shape, and weights (batch, heads, tokens, tokens)."""
        attended, weights = self.attention(x, x, x, need_weights=True, average_attn_weights=False)
        x = self.norm1(x + self.dropout(attended))
        x = self.norm2(x + self.dropout(self.ff(x)))
        return x, weights


class SelfAttentionBackend(nn.Module):
    """CNN frame features summarised by a transformer with a ``[CLS]`` token (Won et al. 2019).

    Parameters
    ----------
    in_channels : int
        Channels of the input map.
    channels : sequence of int
        Width of each conv block; each halves the frequency bins, the first
        ``time_pools`` of them also the frames. Remaining frequency bins are max-pooled.
    time_pools : int
        Leading conv blocks that also pool 2x over frames.
    d_model : int
        Token width (frame features are projected to it).
    n_heads : int
        Attention heads.
    n_layers : int
        Transformer layers.
    d_ff : int
        Feed-forward units per layer.
    dropout : float
        Transformer dropout.
    embedding_dim : int
        Units of the dense embedding layer on the final ``[CLS]`` token.

    Notes
    -----
    Returns ``"attention"`` (batch, n_frames): the last layer's ``[CLS]`` attention
    over the frame tokens, averaged over heads and renormalised to sum to 1 (the
    weight ``[CLS]`` puts on itself is dropped); ``"attention_maps"``
    (batch, n_layers, n_heads, 1 + n_frames, 1 + n_frames), token 0 being ``[CLS]``;
    ``"frames"`` (batch, n_frames, d_model), the final frame tokens. With the
    defaults: 141 k parameters.
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 32, 64, 64),
        time_pools: int = 2,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        d_ff: int = 128,
        dropout: float = 0.1,
        embedding_dim: int = 64,
    ):
        super().__init__()
        widths = [int(in_channels), *map(int, channels)]
        self.input_bn = nn.BatchNorm2d(in_channels)
        self.layers = nn.Sequential(
            *(
                ConvBlock2d(a, b, (2, 2 if i < time_pools else 1))
                for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True))
            )
        )
        self.project = nn.Linear(widths[-1], d_model)
        self.cls_token = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
        self.transformer = nn.ModuleList(
            TransformerLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_layers)
        )
        self.head = EmbeddingHead(d_model, embedding_dim)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """(batch, in_channels, freq, frames) -> embedding, attention, attention_maps, frames."""
        features = self.layers(self.input_bn(x)).amax(dim=2).transpose(1, 2)  # (B, T', C)
        tokens = self.project(features)
        tokens = tokens + sinusoidal_positions(tokens.shape[1], tokens.shape[2], tokens.device)
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        maps = []
        for layer in self.transformer:
            tokens, weights = layer(tokens)
            maps.append(weights)
        cls_attention = maps[-1][:, :, 0, 1:].mean(dim=1)  # (B, T')
        cls_attention = cls_attention / cls_attention.sum(dim=1, keepdim=True).clamp_min(1e-12)
        return {
            "embedding": self.head(tokens[:, 0]),
            "attention": cls_attention,
            "attention_maps": torch.stack(maps, dim=1),
            "frames": tokens[:, 1:],
        }


class SampleCNN(nn.Module):
    """Sample-level CNN back-end (Lee, Park, Kim, Nam 2017).

    Parameters
    ----------
    in_channels : int
        Channels of the sample-level front-end's output.
    channels : sequence of int
        Width of each block: 1-D conv of size 3 (same padding) -> batch-norm -> ReLU
        -> max-pool 3. Nine blocks after the stride-3 front-end take 3^10 = 59049
        samples down to one frame (paper widths: 128, 128, 256 x 6, 512).
    embedding_dim : int
        Units of the dense embedding layer.

    Notes
    -----
    The input is (batch, in_channels, 1, frames). With the defaults: 117 k
    parameters (with the 32-channel front-end's 192).
    """

    def __init__(
        self,
        in_channels: int = 32,
        channels: Sequence[int] = (32, 32, 64, 64, 64, 64, 64, 64, 128),
        embedding_dim: int = 128,
    ):
        super().__init__()
        widths = [int(in_channels), *map(int, channels)]
        blocks = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            blocks += [
                nn.Conv1d(a, b, 3, padding=1),
                nn.BatchNorm1d(b),
                nn.ReLU(),
                nn.MaxPool1d(3, ceil_mode=True),
            ]
        self.layers = nn.Sequential(*blocks)
        self.head = EmbeddingHead(widths[-1], embedding_dim)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """(batch, in_channels, 1, frames) -> ``{"embedding": (batch, embedding_dim)}``."""
        return {"embedding": self.head(self.layers(x.flatten(1, 2)).amax(dim=2))}


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
