""""Hear it in my key": a song's highlight moved to the key ``sing`` suggests."""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf

from songscape.audio.excerpt import read_excerpt
from songscape.audio.transpose import transpose
from songscape.errors import UsageError

#: Seconds of the song a preview plays (a render takes about a tenth of that on one
#: core of this 2-core machine, more under load).
PREVIEW_S = 15.0
#: Longest preview, seconds.
MAX_PREVIEW_S = 30.0
#: Largest transposition a preview accepts, semitones (``sing`` suggests at most 6).
MAX_PREVIEW_SEMITONES = 12
#: Sample rate of a preview, Hz (a preview, rendered on demand: half the CD rate halves
#: Rubber Band's time).
PREVIEW_SAMPLE_RATE = 22050


def check_preview(semitones: int, duration_s: float) -> None:
    """Raise :class:`UsageError` for a transposition or a length out of range."""
    if not -MAX_PREVIEW_SEMITONES <= semitones <= MAX_PREVIEW_SEMITONES:
        raise UsageError(f"transpose by -{MAX_PREVIEW_SEMITONES}…{MAX_PREVIEW_SEMITONES} "
                         f"semitones, not {semitones}")  # fmt: skip
    if not 0 < duration_s <= MAX_PREVIEW_S:
        raise UsageError(f"a preview lasts 0–{MAX_PREVIEW_S:.0f} s, not {duration_s}")


def key_preview(
    path: str | os.PathLike,
    start_s: float,
    semitones: int,
    duration_s: float = PREVIEW_S,
    sr: int = PREVIEW_SAMPLE_RATE,
) -> np.ndarray:
    """``duration_s`` of a song from ``start_s`` (cut at its end), moved by ``semitones``
    at its own tempo: stereo float32, shape (2, n).

    Raises
    ------
    UsageError
        Transposition or length out of range.
    DecodeError
        The file cannot be read.
    """
    check_preview(semitones, duration_s)
    try:
        length_s = sf.info(str(path)).duration
    except (sf.LibsndfileError, RuntimeError):
        length_s = None  # a format libsndfile does not read: the excerpt decodes it whole
    start_s = max(0.0, float(start_s))
    if length_s is not None:
        start_s = min(start_s, max(0.0, length_s - duration_s))
        duration_s = min(duration_s, length_s - start_s)
    y = read_excerpt(path, start_s, start_s + max(duration_s, 1.0 / sr), sr)
    return transpose(y, sr, semitones)
