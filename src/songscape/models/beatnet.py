"""BeatNet's beat/downbeat network, loaded from the weights in the BeatNet wheel.

BeatNet (Heydari, Cwitkowitz & Duan, ISMIR 2021) is a convolutional-recurrent network
that maps a log-filtered spectrogram at 50 frames/s to three-way frame probabilities:
beat, downbeat, neither. Its weights ship in the ``BeatNet`` wheel on PyPI under CC BY 4.0
(commercial use allowed, with attribution). Only the weight files are used: the wheel
is installed with ``--no-deps`` (it pins an old numba and needs madmom), the network
is re-declared here in plain PyTorch, and its input features come from
:mod:`songscape.analysis.logspec`, which reproduces madmom's pipeline exactly.

Of the three published weight sets, ``model_1`` is the one trained with GTZAN held out,
so evaluating it on GTZAN does not test on its training data.
"""

from __future__ import annotations

import importlib.metadata
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from songscape.analysis.logspec import log_filtered_spectrogram
from songscape.errors import PretrainedWeightsError

#: Sample rate the network was trained at, Hz.
SAMPLE_RATE = 22050
#: Frame rate of its activations, frames per second (20 ms hop).
FRAME_RATE = 50
FRAME_LENGTH = int(0.064 * SAMPLE_RATE)  # 64 ms, samples
HOP_LENGTH = int(0.020 * SAMPLE_RATE)  # 20 ms, samples
N_FEATURES = 272
LICENCE = "CC BY 4.0 (BeatNet weights by M. Heydari, https://github.com/mjhydri/BeatNet)"
WEIGHT_SETS = {"gtzan-out": "model_1_weights.pt", "ballroom-out": "model_2_weights.pt",
               "rock-out": "model_3_weights.pt"}  # fmt: skip
DEFAULT_WEIGHTS = "gtzan-out"


class BeatDownbeatNetwork(nn.Module):
    """Conv1d over frequency → linear → 2-layer causal LSTM → 3 classes per frame.

    The layer names match BeatNet's so its state dict loads unchanged.
    """

    def __init__(self, n_features: int = N_FEATURES, hidden: int = 150, kernel: int = 10):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 2, kernel)
        self.linear0 = nn.Linear(2 * ((n_features - kernel + 1) // 2), hidden)
        self.lstm = nn.LSTM(hidden, hidden, num_layers=2, batch_first=True)
        self.linear = nn.Linear(hidden, 3)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Logits, shape (batch, frames, 3) for input (batch, frames, n_features)."""
        batch, frames, n_features = features.shape
        x = features.reshape(batch * frames, 1, n_features)
        x = nn.functional.max_pool1d(torch.relu(self.conv1(x)), 2)
        x = self.linear0(x.flatten(1)).reshape(batch, frames, -1)
        x, _ = self.lstm(x)  # zero initial state: each track starts fresh
        return self.linear(x)


def weights_path(weights: str = DEFAULT_WEIGHTS) -> Path:
    """Path of a BeatNet weight file inside the installed wheel.

    Raises
    ------
    PretrainedWeightsError
        When the BeatNet wheel is not installed or ``weights`` is unknown.
    """
    if weights not in WEIGHT_SETS:
        raise PretrainedWeightsError(
            f"unknown BeatNet weights {weights!r}; choose one of {sorted(WEIGHT_SETS)}"
        )
    try:
        dist = importlib.metadata.distribution("BeatNet")
    except importlib.metadata.PackageNotFoundError:
        raise PretrainedWeightsError(
            "the BeatNet wheel is not installed (make setup installs it with --no-deps)"
        ) from None
    path = Path(str(dist.locate_file(f"BeatNet/models/{WEIGHT_SETS[weights]}")))
    if not path.is_file():
        raise PretrainedWeightsError(f"BeatNet weights missing from the wheel: {path}")
    return path


def is_available() -> bool:
    """Whether the BeatNet weights are installed."""
    try:
        weights_path()
    except PretrainedWeightsError:
        return False
    return True


@lru_cache(maxsize=3)
def load_network(weights: str = DEFAULT_WEIGHTS) -> BeatDownbeatNetwork:
    """The network with BeatNet's weights, in eval mode (cached per process)."""
    net = BeatDownbeatNetwork()
    state = torch.load(weights_path(weights), map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    return net.eval()


def network_features(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The network's input for a mono signal at :data:`SAMPLE_RATE`, (frames, 272)."""
    if sr != SAMPLE_RATE:
        raise ValueError(f"BeatNet expects {SAMPLE_RATE} Hz audio, got {sr} Hz")
    return log_filtered_spectrogram(y, sr, FRAME_LENGTH, HOP_LENGTH, bands_per_octave=24)


def beat_activations(
    y: np.ndarray, sr: int = SAMPLE_RATE, weights: str = DEFAULT_WEIGHTS
) -> np.ndarray:
    """Per-frame probabilities of (beat that is not a downbeat, downbeat).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono signal in [-1, 1] at ``sr`` Hz.
    sr : int
        Must be :data:`SAMPLE_RATE`.
    weights : str
        One of :data:`WEIGHT_SETS`.

    Returns
    -------
    np.ndarray, shape (n_frames, 2), float32
        At :data:`FRAME_RATE` frames per second; frame ``i`` is centred on ``i / 50`` s.
    """
    return activations_from_features(network_features(y, sr), weights)


def activations_from_features(
    features: np.ndarray, weights: str = DEFAULT_WEIGHTS
) -> np.ndarray:
    """:func:`beat_activations` from precomputed :func:`network_features`."""
    net = load_network(weights)
    with torch.inference_mode():
        logits = net(torch.from_numpy(features)[None])[0]
        probs = torch.softmax(logits, dim=-1)[:, :2]
    return probs.numpy().astype(np.float32)
