"""The attention highlight model: a self-attention tagger's attention over a whole track.

Ha et al. (2017) find highlights with the attention a music tagger puts on each moment
of a song, times that moment's mel energy. songscape's model for this is a ``songscape
train`` model of the ``self-attention`` architecture (Won et al. 2019's CNN +
transformer, whose ``[CLS]`` token attends over the frames), trained with musicnn's
tags as targets (``songscape highlight-train``, see
:mod:`songscape.highlights.training`), registered like any trained model under
:data:`DEFAULT_ATTENTION_MODEL`.

:func:`attention_curve` runs its encoder on the whole track (in pieces of at most
:data:`MAX_PIECE_S`, so memory stays bounded; each piece's attention sums to its share
of the track's frames) and returns the attention per frame with the mel energy of
the same frames (from the model's own log-mel front-end).
"""

from __future__ import annotations

import zlib

import numpy as np

from songscape.analysis.highlight import AttentionCurve
from songscape.errors import UnknownModelError
from songscape.models.registry import get_spec, load_model

#: Registry name of the attention highlight model ``songscape highlight-train`` makes.
DEFAULT_ATTENTION_MODEL = "highlight-attention"
#: Longest piece of audio attended over at once, seconds (bounds the attention matrix).
MAX_PIECE_S = 180.0


def attention_model_version(name: str = DEFAULT_ATTENTION_MODEL) -> str | None:
    """The installed attention model's version (checkpoint hash), or None when it is not
    installed or is not a ``self-attention`` network."""
    try:
        spec = get_spec(name)
    except UnknownModelError:
        return None
    if "self-attention" not in spec.description:
        return None
    return spec.version


def version_number(version: str | None) -> int:
    """A stable non-negative integer for a model version string (0 for None)."""
    return 0 if version is None else zlib.crc32(version.encode()) & 0x7FFFFFF


def attention_curve(y: np.ndarray, name: str = DEFAULT_ATTENTION_MODEL) -> AttentionCurve:
    """The model's attention and mel energy over a track.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio at the model's sample rate (``get_spec(name).sample_rate`` Hz).
    name : str
        Registry name of a trained ``self-attention`` model.

    Returns
    -------
    AttentionCurve
        ``attention`` (non-negative, summing to 1 over the track) and ``mel_energy``
        (linear mel power summed over bands) per transformer frame, at ``rate_hz``.
    """
    import torch

    model = load_model(name)
    encoder = getattr(model, "net", None) and model.net.encoder
    if getattr(encoder, "arch", None) != "self-attention":
        raise ValueError(f"model {name!r} is not a self-attention network")
    sr = encoder.sample_rate
    y = np.asarray(y, dtype=np.float32)
    piece = int(MAX_PIECE_S * sr)
    min_len = int(encoder.chunk_samples // 4)
    attention, energy, rate = [], [], None
    with torch.inference_mode():
        for start in range(0, max(len(y), 1), piece):
            seg = y[start:start + piece]
            if len(seg) < min_len:  # a tail shorter than a quarter chunk: pad it
                seg = np.pad(seg, (0, min_len - len(seg)))
            wave = torch.from_numpy(np.ascontiguousarray(seg))[None]
            mel_db = encoder.frontend(wave)  # (1, 1, n_mels, frames) in dB
            att = encoder.backend(mel_db)["attention"][0].float().numpy()
            power = (10.0 ** (mel_db[0, 0].float().numpy() / 10.0)).sum(axis=0)
            # Mel frames -> transformer frames: average consecutive groups.
            groups = np.array_split(power, len(att))
            if rate is None:
                rate = len(att) / (len(seg) / sr)
            attention.append(att * len(att))  # each piece weighs by its frame count
            energy.append(np.array([g.mean() if len(g) else 0.0 for g in groups]))
    att_all = np.concatenate(attention)
    att_all = att_all / max(float(att_all.sum()), 1e-12)
    return AttentionCurve(attention=att_all, mel_energy=np.concatenate(energy),
                          rate_hz=float(rate), model=name)  # fmt: skip
