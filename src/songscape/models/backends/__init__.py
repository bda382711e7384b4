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

One module per family: :mod:`~songscape.models.backends.cnn` (short-chunk CNN and
ResNet, CRNN, sample CNN), :mod:`~songscape.models.backends.attention` and
:mod:`~songscape.models.backends.wavenet` (TJAE); the blocks they share are in
:mod:`~songscape.models.backends.layers`. All widths are constructor arguments; the
defaults are small (32-128 channels) so that CPU training is practical.
"""

from __future__ import annotations

from songscape.models.backends.attention import (
    SelfAttentionBackend,
    TransformerLayer,
    sinusoidal_positions,
)
from songscape.models.backends.cnn import CRNN, SampleCNN, ShortChunkCNN, ShortChunkResNet
from songscape.models.backends.layers import (
    ConvBlock2d,
    EmbeddingHead,
    ResBlock2d,
    global_max_pool,
)
from songscape.models.backends.wavenet import (
    TJAE,
    CausalConv1d,
    GatedResidualLayer,
    WaveNetStack,
)

__all__ = [
    "CRNN",
    "TJAE",
    "CausalConv1d",
    "ConvBlock2d",
    "EmbeddingHead",
    "GatedResidualLayer",
    "ResBlock2d",
    "SampleCNN",
    "SelfAttentionBackend",
    "ShortChunkCNN",
    "ShortChunkResNet",
    "TransformerLayer",
    "WaveNetStack",
    "global_max_pool",
    "sinusoidal_positions",
]
