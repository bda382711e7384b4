"""Read a stretch of a file as stereo float32 at a chosen rate, without decoding the
rest when the format allows seeking."""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf
import soxr

from songscape.audio.decode import load_audio
from songscape.errors import DecodeError


def read_excerpt(
    path: str | os.PathLike, start_s: float, end_s: float, sr: int, channels: int = 2
) -> np.ndarray:
    """Samples ``[start_s, end_s)`` of ``path`` as float32, shape (channels, n).

    ``n`` is ``round((end_s - start_s) · sr)``: the excerpt is zero-padded if the file
    ends early. Mono files are copied to every channel; more channels than asked are
    averaged into mono first. Seeks with libsndfile (WAV, FLAC, Ogg, MP3); other formats
    are decoded whole through :func:`~songscape.audio.decode.load_audio`.

    Raises
    ------
    DecodeError
        The file cannot be read.
    """
    if not end_s > start_s >= 0:
        raise ValueError(f"need 0 <= start_s < end_s, got {start_s}, {end_s}")
    n_out = int(round((end_s - start_s) * sr))
    try:
        with sf.SoundFile(str(path)) as f:
            native = f.samplerate
            f.seek(min(int(round(start_s * native)), f.frames))
            data = f.read(
                int(round((end_s - start_s) * native)) + 1, dtype="float32", always_2d=True
            ).T
    except (sf.LibsndfileError, RuntimeError, OSError):
        full, info = load_audio(path, sr=None, mono=False)
        native = info.sample_rate
        data = full[:, int(round(start_s * native)) : int(round(end_s * native)) + 1]
    except Exception as err:  # noqa: BLE001 - a broken file is a DecodeError to the caller
        raise DecodeError(f"cannot read {path}: {err}") from err
    if data.shape[0] != channels:
        mono = data.mean(axis=0, keepdims=True)
        data = np.repeat(mono, channels, axis=0)
    if native != sr and data.shape[1]:
        data = soxr.resample(data.T, native, sr, quality="HQ").T
    data = np.asarray(data, dtype=np.float32)
    if data.shape[1] >= n_out:
        return np.ascontiguousarray(data[:, :n_out])
    return np.pad(data, ((0, 0), (0, n_out - data.shape[1])))
