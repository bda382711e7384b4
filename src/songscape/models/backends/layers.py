"""Building blocks shared by the back-ends: the embedding layer and the 2-D conv blocks."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ConvBlock2d", "EmbeddingHead", "ResBlock2d", "global_max_pool"]


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


def global_max_pool(x: Tensor) -> Tensor:
    """Max over frequency and frames: (batch, channels, freq, frames) -> (batch, channels)."""
    return x.amax(dim=(2, 3))
