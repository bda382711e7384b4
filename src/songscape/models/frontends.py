"""Differentiable front-ends: raw waveform in, a (batch, channels, freq, frames) map out.

* :class:`LogMelFrontend`: fixed log-mel spectrogram (``torch.stft`` and a
  librosa mel filterbank held as a buffer), the input of the short-chunk models,
  the CRNN, the self-attention model and the TJAE (Won et al. 2020).
* :class:`HarmonicFilterbank`: the data-driven harmonic filters of Won et al.
  (ICASSP 2020): triangular band-pass filters with learnable centre frequencies and
  a learnable quality factor, applied at the first ``n_harmonics`` multiples of each
  centre frequency; the harmonics are stacked as channels.
* :class:`SampleLevelFrontend`: a strided convolution on the raw samples (size 3,
  stride 3), the first layer of the sample-level CNN (Lee et al. 2017).

Every front-end keeps its constructor arguments in ``.config`` (JSON-able) so that
``type(frontend)(**frontend.config)`` rebuilds it.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch
from torch import Tensor, nn

AMPLITUDE_MIN = 1e-10  # floor of the power before taking dB (as librosa.power_to_db)
COMPRESSIONS = ("db", "log1p")


def _check_waveform(waveform: Tensor) -> Tensor:
    if waveform.ndim != 2:
        raise ValueError(f"expected a (batch, samples) waveform, got shape {tuple(waveform.shape)}")
    return waveform


class _STFTMixin(nn.Module):
    """Centred Hann-window STFT with zero padding (as ``librosa.stft(pad_mode='constant')``)."""

    n_fft: int
    hop_length: int

    def _power(self, waveform: Tensor) -> Tensor:
        """Power spectrogram, shape (batch, 1 + n_fft // 2, frames), frames = 1 + n // hop."""
        spec = torch.stft(
            _check_waveform(waveform).float(), n_fft=self.n_fft, hop_length=self.hop_length,
            window=self.window, center=True, pad_mode="constant", return_complex=True,
        )  # fmt: skip
        return spec.real.square() + spec.imag.square()


class LogMelFrontend(_STFTMixin):
    """Log-compressed mel spectrogram of a waveform.

    Parameters
    ----------
    sample_rate : int
        Input sample rate in Hz.
    n_fft : int
        FFT (and Hann window) size in samples.
    hop_length : int
        Hop between frames in samples.
    n_mels : int
        Mel bands (Slaney scale and area normalisation, as librosa's default).
    f_min, f_max : float
        Lowest and highest filter edge in Hz.
    compression : {"db", "log1p"}
        ``"db"``: ``10 log10(max(power, 1e-10))`` in dB, as torchaudio's
        ``AmplitudeToDB`` used by Won et al.; ``"log1p"``: ``log10(1 + C power)``
        (the musicnn compression, non-negative, about 0-8).
    log_scale : float
        ``C`` of the ``"log1p"`` compression (ignored for ``"db"``).

    Notes
    -----
    ``forward`` maps (batch, samples) to (batch, 1, n_mels, frames) with
    ``frames = 1 + samples // hop_length`` (centred frames with zero padding).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop_length: int = 256,
        n_mels: int = 128,
        f_min: float = 0.0,
        f_max: float = 8000.0,
        compression: str = "db",
        log_scale: float = 10000.0,
    ):
        super().__init__()
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
        if not 0 <= f_min < f_max <= sample_rate / 2:
            raise ValueError(f"need 0 <= f_min < f_max <= sample_rate / 2, got {f_min}, {f_max}")
        self.config = {
            "sample_rate": int(sample_rate), "n_fft": int(n_fft), "hop_length": int(hop_length),
            "n_mels": int(n_mels), "f_min": float(f_min), "f_max": float(f_max),
            "compression": compression, "log_scale": float(log_scale),
        }  # fmt: skip
        self.sample_rate, self.n_fft, self.hop_length = (
            int(sample_rate),
            int(n_fft),
            int(hop_length),
        )
        self.n_mels, self.compression, self.log_scale = int(n_mels), compression, float(log_scale)
        mel = librosa.filters.mel(
            sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max
        )
        self.register_buffer(
            "mel_basis", torch.from_numpy(mel.astype(np.float32)), persistent=False
        )
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    @property
    def out_channels(self) -> int:
        """Channels of the output map (1)."""
        return 1

    @property
    def out_bins(self) -> int:
        """Frequency bins of the output map (``n_mels``)."""
        return self.n_mels

    def n_frames(self, n_samples: int) -> int:
        """Frames of the output for ``n_samples`` input samples."""
        return 1 + n_samples // self.hop_length

    def forward(self, waveform: Tensor) -> Tensor:
        """(batch, samples) audio -> (batch, 1, n_mels, frames) log-mel (dB or log1p units)."""
        mel = torch.matmul(self.mel_basis, self._power(waveform))
        if self.compression == "db":
            out = 10.0 * torch.log10(mel.clamp_min(AMPLITUDE_MIN))
        else:
            out = torch.log10(1.0 + self.log_scale * mel)
        return out.unsqueeze(1)


class HarmonicFilterbank(_STFTMixin):
    """Data-driven harmonic filters (Won, Chun, Kum, Serra, ICASSP 2020).

    A bank of ``n_bands`` triangular filters on the STFT magnitude, centred at
    ``f_c`` with bandwidth ``BW = (0.1079 f + 24.7) / Q`` (the ERB of ``f`` over a
    quality factor Q). The same filters are repeated at the harmonics
    ``h f_c, h = 1..n_harmonics``; the harmonic ``h`` becomes channel ``h - 1`` of
    the output. Centre frequencies (kept in MIDI note numbers, ``center_midi``) and
    Q are learnable.

    Parameters
    ----------
    sample_rate : int
        Input sample rate in Hz.
    n_fft : int
        FFT size in samples.
    hop_length : int
        Hop in samples.
    n_harmonics : int
        Harmonics (output channels), 1 to 6.
    semitone_scale : int
        Bands per semitone of the initial centre frequencies.
    low_midi : float
        MIDI note of the lowest initial centre frequency (24 = C1, 32.7 Hz).
    high_midi : float or None
        MIDI note of the top of the initial range; ``None``: the note of
        ``sample_rate / (2 n_harmonics)`` so the highest harmonic stays below Nyquist.
    n_bands : int or None
        Bands; ``None``: ``int((high_midi - low_midi) * semitone_scale)`` (128 at
        the defaults). When given, the initial centres are linearly spaced in MIDI
        over the same range.
    q : float
        Initial quality factor (Won et al.: 1).
    learn_center, learn_q : bool
        Whether the centre frequencies / Q receive gradients.

    Notes
    -----
    ``forward`` maps (batch, samples) to (batch, n_harmonics, n_bands, frames),
    in dB (``20 log10`` of the filtered magnitude, floored at 1e-5).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop_length: int = 256,
        n_harmonics: int = 6,
        semitone_scale: int = 2,
        low_midi: float = 24.0,
        high_midi: float | None = None,
        n_bands: int | None = None,
        q: float = 1.0,
        learn_center: bool = True,
        learn_q: bool = True,
    ):
        super().__init__()
        if not 1 <= n_harmonics <= 6:
            raise ValueError(f"n_harmonics must be in 1..6, got {n_harmonics}")
        if high_midi is None:
            high_midi = float(librosa.hz_to_midi(sample_rate / (2 * n_harmonics)))
        if n_bands is None:
            n_bands = int((high_midi - low_midi) * semitone_scale)
        if n_bands < 1 or high_midi <= low_midi:
            raise ValueError(f"empty band range: midi {low_midi}..{high_midi}, {n_bands} bands")
        if q <= 0:
            raise ValueError(f"q must be positive, got {q}")
        self.config = {
            "sample_rate": int(sample_rate), "n_fft": int(n_fft), "hop_length": int(hop_length),
            "n_harmonics": int(n_harmonics), "semitone_scale": int(semitone_scale),
            "low_midi": float(low_midi), "high_midi": float(high_midi), "n_bands": int(n_bands),
            "q": float(q), "learn_center": bool(learn_center), "learn_q": bool(learn_q),
        }  # fmt: skip
        self.sample_rate, self.n_fft, self.hop_length = (
            int(sample_rate),
            int(n_fft),
            int(hop_length),
        )
        self.n_harmonics, self.n_bands = int(n_harmonics), int(n_bands)
        midi = np.linspace(low_midi, high_midi, n_bands + 1)[:-1]
        self.center_midi = nn.Parameter(
            torch.tensor(midi, dtype=torch.float32), requires_grad=learn_center
        )
        self.q = nn.Parameter(torch.tensor(float(q)), requires_grad=learn_q)
        fft_hz = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
        self.register_buffer("fft_hz", torch.tensor(fft_hz, dtype=torch.float32), persistent=False)
        self.register_buffer(
            "harmonics", torch.arange(1, n_harmonics + 1, dtype=torch.float32), persistent=False
        )
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    @property
    def out_channels(self) -> int:
        """Channels of the output map (``n_harmonics``)."""
        return self.n_harmonics

    @property
    def out_bins(self) -> int:
        """Frequency bins of the output map (``n_bands``)."""
        return self.n_bands

    def n_frames(self, n_samples: int) -> int:
        """Frames of the output for ``n_samples`` input samples."""
        return 1 + n_samples // self.hop_length

    def center_frequencies(self) -> Tensor:
        """Current centre frequencies of the fundamental filters in Hz, shape (n_bands,)."""
        return 440.0 * torch.pow(2.0, (self.center_midi - 69.0) / 12.0)

    def filterbank(self) -> Tensor:
        """Triangular filters, shape (n_harmonics * n_bands, 1 + n_fft // 2), harmonic-major."""
        f0 = (self.harmonics[:, None] * self.center_frequencies()[None, :]).reshape(-1, 1)
        bandwidth = (0.1079 * f0 + 24.7) / self.q.abs().clamp_min(1e-3)
        up = 1.0 + (2.0 / bandwidth) * (self.fft_hz[None, :] - f0)
        down = 1.0 - (2.0 / bandwidth) * (self.fft_hz[None, :] - f0)
        return torch.clamp(torch.minimum(up, down), min=0.0)

    def forward(self, waveform: Tensor) -> Tensor:
        """(batch, samples) audio -> (batch, n_harmonics, n_bands, frames) in dB."""
        magnitude = (self._power(waveform) + 1e-12).sqrt()  # (B, bins, T)
        filtered = torch.matmul(self.filterbank(), magnitude)  # (B, H * bands, T)
        db = 20.0 * torch.log10(filtered.clamp_min(1e-5))
        return db.reshape(db.shape[0], self.n_harmonics, self.n_bands, db.shape[-1])


class SampleLevelFrontend(nn.Module):
    """Strided convolution on the raw waveform (Lee et al. 2017, first layer).

    Parameters
    ----------
    channels : int
        Output channels.
    kernel_size : int
        Kernel and stride in samples (3 for the 3^n-sample models).

    Notes
    -----
    ``forward`` maps (batch, samples) to (batch, channels, 1, samples // kernel_size):
    conv (no padding) -> batch-norm -> ReLU, kept 4-D like the other front-ends.
    """

    def __init__(self, channels: int = 32, kernel_size: int = 3):
        super().__init__()
        self.config = {"channels": int(channels), "kernel_size": int(kernel_size)}
        self.channels, self.kernel_size = int(channels), int(kernel_size)
        self.conv = nn.Conv1d(1, channels, kernel_size, stride=kernel_size)
        self.bn = nn.BatchNorm1d(channels)

    @property
    def out_channels(self) -> int:
        """Channels of the output map."""
        return self.channels

    @property
    def out_bins(self) -> int:
        """Frequency bins of the output map (1: there is no frequency axis)."""
        return 1

    def forward(self, waveform: Tensor) -> Tensor:
        """(batch, samples) audio -> (batch, channels, 1, samples // kernel_size)."""
        x = _check_waveform(waveform).float().unsqueeze(1)
        return torch.relu(self.bn(self.conv(x))).unsqueeze(2)
