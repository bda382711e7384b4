"""Trainable audio encoders by name: a front-end and a back-end behind one interface.

:func:`build_encoder` makes an :class:`Encoder` for one of :data:`ARCHITECTURES`
from a flat configuration (every key optional, see :data:`DEFAULT_CONFIGS`). An
encoder maps a (batch, samples) mono waveform at ``encoder.sample_rate`` Hz to a
dict holding at least ``"embedding"`` (batch, ``encoder.embedding_dim``), and its
``config`` (JSON-able, defaults filled in) rebuilds the same shapes:
``build_encoder(enc.arch, **enc.config)``.

================== ======================= ====================================
name               front-end               back-end (extra outputs)
================== ======================= ====================================
shortchunk-cnn     log-mel (dB)            7 conv blocks (Won et al. 2020)
shortchunk-resnet  log-mel (dB)            7 residual blocks (Won et al. 2020)
harmonic-cnn       harmonic filters (dB)   7 conv blocks (Won et al. ICASSP 2020)
crnn               log-mel (dB)            4 conv blocks + GRU (``frames``)
self-attention     log-mel (dB)            conv + transformer (``attention``,
                                           ``attention_maps``, ``frames``)
sample-cnn         strided conv (samples)  9 conv1d blocks (Lee et al. 2017)
tjae               log-mel (log1p)         WaveNet autoencoder (``frames``,
                                           ``reconstruction``, ``target``,
                                           ``loss``)
================== ======================= ====================================

The default training chunk is 59049 = 3^10 samples (3.69 s at 16 kHz).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from songscape.models import backends
from songscape.models.frontends import HarmonicFilterbank, LogMelFrontend, SampleLevelFrontend

ARCHITECTURES: tuple[str, ...] = (
    "shortchunk-cnn",
    "shortchunk-resnet",
    "harmonic-cnn",
    "crnn",
    "self-attention",
    "sample-cnn",
    "tjae",
)

DEFAULT_SAMPLE_RATE = 16000
DEFAULT_CHUNK_SAMPLES = 59049  # 3^10 samples, 3.69 s at 16 kHz

_COMMON = {"sample_rate": DEFAULT_SAMPLE_RATE, "chunk_samples": DEFAULT_CHUNK_SAMPLES}
_MEL = {"n_fft": 512, "hop_length": 256, "n_mels": 128, "f_min": 0.0, "f_max": None}
_SHORTCHUNK = {"channels": [32, 32, 64, 64, 64, 64, 128], "embedding_dim": 128}

DEFAULT_CONFIGS: dict[str, dict[str, Any]] = {
    "shortchunk-cnn": {**_COMMON, **_MEL, **_SHORTCHUNK},
    "shortchunk-resnet": {**_COMMON, **_MEL, **_SHORTCHUNK},
    "harmonic-cnn": {
        **_COMMON, "n_fft": 512, "hop_length": 256, "n_harmonics": 6, "semitone_scale": 2,
        "low_midi": 24.0, "high_midi": None, "n_bands": None, "q": 1.0,
        "learn_center": True, "learn_q": True, **_SHORTCHUNK,
    },
    "crnn": {
        **_COMMON, **_MEL, "channels": [32, 64, 64, 64], "freq_pools": [2, 4, 4, 4],
        "time_pools": [2, 2, 2, 2], "rnn_hidden": 64, "rnn_layers": 2, "pooling": "last",
        "embedding_dim": 64,
    },
    "self-attention": {
        **_COMMON, **_MEL, "channels": [32, 32, 64, 64], "time_pools": 2, "d_model": 64,
        "n_heads": 4, "n_layers": 2, "d_ff": 128, "dropout": 0.1, "embedding_dim": 64,
    },
    "sample-cnn": {
        **_COMMON, "frontend_channels": 32,
        "channels": [32, 32, 64, 64, 64, 64, 64, 64, 128], "embedding_dim": 128,
    },
    "tjae": {
        **_COMMON, **_MEL, "compression": "log1p", "channels": 64, "skip_channels": 64,
        "n_layers": 5, "n_stacks": 1, "kernel_size": 2, "embedding_dim": 64, "pool_frames": 8,
        "loss": "mse",
    },
}  # fmt: skip
"""Every configuration key of each architecture with its default value."""


class Encoder(nn.Module):
    """A waveform encoder: ``frontend`` (waveform -> map) then ``backend`` (map -> dict).

    Parameters
    ----------
    arch : str
        Architecture name (one of :data:`ARCHITECTURES`).
    config : dict
        Full, JSON-able configuration (as :func:`build_encoder` fills it in).
    frontend, backend : nn.Module
        The two halves.

    Attributes
    ----------
    arch : str
    config : dict
    sample_rate : int
        Hz of the input waveform.
    chunk_samples : int
        Samples per training input.
    embedding_dim : int
        Width of ``forward(...)["embedding"]``.
    """

    def __init__(self, arch: str, config: dict, frontend: nn.Module, backend: nn.Module):
        super().__init__()
        self.arch = arch
        self.config = copy.deepcopy(config)
        self.sample_rate = int(config["sample_rate"])
        self.chunk_samples = int(config["chunk_samples"])
        self.embedding_dim = int(config["embedding_dim"])
        self.frontend = frontend
        self.backend = backend

    def forward(self, waveform: Tensor) -> dict[str, Tensor]:
        """Encode a batch of mono waveforms.

        Parameters
        ----------
        waveform : Tensor, shape (batch, samples), float32
            Audio at ``sample_rate`` Hz; any length the pooling allows (at least
            ``chunk_samples`` always works; pooling over time is global).

        Returns
        -------
        dict of str to Tensor
            ``"embedding"`` (batch, embedding_dim) and the architecture's extra
            outputs (see the module docstring).
        """
        if waveform.ndim != 2:
            raise ValueError(f"expected a (batch, samples) waveform, got {tuple(waveform.shape)}")
        return self.backend(self.frontend(waveform))

    def n_parameters(self, trainable_only: bool = False) -> int:
        """Number of parameters (all, or only those with ``requires_grad``)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}, embedding_dim={self.embedding_dim}"


def _f_max(cfg: dict) -> float:
    return cfg["sample_rate"] / 2 if cfg["f_max"] is None else float(cfg["f_max"])


def _log_mel(cfg: dict, compression: str = "db") -> LogMelFrontend:
    return LogMelFrontend(
        sample_rate=cfg["sample_rate"], n_fft=cfg["n_fft"], hop_length=cfg["hop_length"],
        n_mels=cfg["n_mels"], f_min=cfg["f_min"], f_max=_f_max(cfg),
        compression=cfg.get("compression", compression),
    )  # fmt: skip


def _shortchunk_cnn(cfg: dict) -> tuple[nn.Module, nn.Module]:
    return _log_mel(cfg), backends.ShortChunkCNN(1, cfg["channels"], cfg["embedding_dim"])


def _shortchunk_resnet(cfg: dict) -> tuple[nn.Module, nn.Module]:
    return _log_mel(cfg), backends.ShortChunkResNet(1, cfg["channels"], cfg["embedding_dim"])


def _harmonic_cnn(cfg: dict) -> tuple[nn.Module, nn.Module]:
    frontend = HarmonicFilterbank(
        sample_rate=cfg["sample_rate"], n_fft=cfg["n_fft"], hop_length=cfg["hop_length"],
        n_harmonics=cfg["n_harmonics"], semitone_scale=cfg["semitone_scale"],
        low_midi=cfg["low_midi"], high_midi=cfg["high_midi"], n_bands=cfg["n_bands"],
        q=cfg["q"], learn_center=cfg["learn_center"], learn_q=cfg["learn_q"],
    )  # fmt: skip
    backend = backends.ShortChunkCNN(cfg["n_harmonics"], cfg["channels"], cfg["embedding_dim"])
    return frontend, backend


def _crnn(cfg: dict) -> tuple[nn.Module, nn.Module]:
    backend = backends.CRNN(
        1, cfg["channels"], cfg["freq_pools"], cfg["time_pools"], cfg["rnn_hidden"],
        cfg["rnn_layers"], cfg["pooling"], cfg["embedding_dim"],
    )  # fmt: skip
    return _log_mel(cfg), backend


def _self_attention(cfg: dict) -> tuple[nn.Module, nn.Module]:
    backend = backends.SelfAttentionBackend(
        1, cfg["channels"], cfg["time_pools"], cfg["d_model"], cfg["n_heads"], cfg["n_layers"],
        cfg["d_ff"], cfg["dropout"], cfg["embedding_dim"],
    )  # fmt: skip
    return _log_mel(cfg), backend


def _sample_cnn(cfg: dict) -> tuple[nn.Module, nn.Module]:
    frontend = SampleLevelFrontend(cfg["frontend_channels"], kernel_size=3)
    backend = backends.SampleCNN(cfg["frontend_channels"], cfg["channels"], cfg["embedding_dim"])
    return frontend, backend


def _tjae(cfg: dict) -> tuple[nn.Module, nn.Module]:
    backend = backends.TJAE(
        n_bins=cfg["n_mels"], channels=cfg["channels"], skip_channels=cfg["skip_channels"],
        n_layers=cfg["n_layers"], n_stacks=cfg["n_stacks"], kernel_size=cfg["kernel_size"],
        embedding_dim=cfg["embedding_dim"], pool_frames=cfg["pool_frames"], loss=cfg["loss"],
    )  # fmt: skip
    return _log_mel(cfg, compression="log1p"), backend


_BUILDERS: dict[str, Callable[[dict], tuple[nn.Module, nn.Module]]] = {
    "shortchunk-cnn": _shortchunk_cnn,
    "shortchunk-resnet": _shortchunk_resnet,
    "harmonic-cnn": _harmonic_cnn,
    "crnn": _crnn,
    "self-attention": _self_attention,
    "sample-cnn": _sample_cnn,
    "tjae": _tjae,
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy / torch scalars
        return value.item()
    return value


def build_encoder(arch: str, **config: Any) -> Encoder:
    """Build an encoder by architecture name.

    Parameters
    ----------
    arch : str
        One of :data:`ARCHITECTURES`.
    **config
        Overrides of :data:`DEFAULT_CONFIGS` ``[arch]``: ``sample_rate`` (Hz),
        ``chunk_samples`` (samples per training input), ``embedding_dim`` and the
        front-/back-end widths. Sequences may be lists or tuples. ``None`` defaults
        are derived: ``f_max`` is ``sample_rate / 2``; the harmonic front-end's
        ``high_midi`` and ``n_bands`` follow Won et al. (see
        :class:`~songscape.models.frontends.HarmonicFilterbank`).

    Returns
    -------
    Encoder
        In training mode, freshly initialised; ``encoder.config`` holds every key.

    Raises
    ------
    ValueError
        For an unknown architecture (the message lists :data:`ARCHITECTURES`), an
        unknown configuration key (the message lists the valid ones) or a bad value.
    """
    if arch not in _BUILDERS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    defaults = DEFAULT_CONFIGS[arch]
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown config key(s) {unknown} for {arch!r}; valid keys: {', '.join(defaults)}"
        )
    cfg = {key: _jsonable(config.get(key, default)) for key, default in defaults.items()}
    for key in ("sample_rate", "chunk_samples", "embedding_dim"):
        if not isinstance(cfg[key], int) or isinstance(cfg[key], bool) or cfg[key] < 1:
            raise ValueError(f"{key} must be a positive integer, got {cfg[key]!r}")
    frontend, backend = _BUILDERS[arch](cfg)
    return Encoder(arch, cfg, frontend, backend)
