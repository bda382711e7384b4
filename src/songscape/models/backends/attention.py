"""The self-attention back-end: CNN frame features summarised by a transformer (Won et al. 2019).

Conv blocks give frame features, a transformer encoder with a learned ``[CLS]`` token
summarises them, and the ``[CLS]`` attention over frames is returned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from songscape.models.backends.layers import ConvBlock2d, EmbeddingHead

__all__ = ["SelfAttentionBackend", "TransformerLayer", "sinusoidal_positions"]


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
