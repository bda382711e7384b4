"""Convolutional back-ends: short-chunk CNN and ResNet, CRNN, sample-level CNN.

* :class:`ShortChunkCNN`: 7 x (3x3 conv, batch-norm, ReLU, 2x2 max-pool), global
  max-pool, dense layer (Won et al. 2020); with ``in_channels = n_harmonics`` it is the
  back-end of the Harmonic CNN (Won et al., ICASSP 2020).
* :class:`ShortChunkResNet`: the same with 7 residual blocks (Won et al. 2020).
* :class:`CRNN`: 4 conv blocks, max over the remaining frequency bins, a 2-layer GRU
  over the frames (Choi et al. 2017).
* :class:`SampleCNN`: 1-D conv blocks on the sample-level front-end (Lee et al. 2017).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from songscape.models.backends.layers import (
    ConvBlock2d,
    EmbeddingHead,
    ResBlock2d,
    global_max_pool,
)

__all__ = ["CRNN", "SampleCNN", "ShortChunkCNN", "ShortChunkResNet"]


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
        return {"embedding": self.head(global_max_pool(self.layers(self.input_bn(x))))}


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
