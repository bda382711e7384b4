"""Write a highlight as an audio clip with a fade in and out (soundfile)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import soundfile as sf

from songscape.audio.decode import load_audio

#: Default fade length at each end of an exported clip, seconds.
DEFAULT_FADE_S = 1.5


def apply_fades(y: np.ndarray, sr: int, fade_s: float = DEFAULT_FADE_S) -> np.ndarray:
    """A copy of ``y`` (shape (n,) or (n, channels)) with raised-cosine fades at both ends.

    Each fade is ``fade_s`` seconds, at most a third of the clip.
    """
    out = np.array(y, dtype=np.float32, copy=True)
    n = min(int(round(fade_s * sr)), len(out) // 3)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)
        if out.ndim == 2:
            ramp = ramp[:, None]
        out[:n] *= ramp
        out[len(out) - n:] *= ramp[::-1]
    return out


def clip_filename(title: str, start_s: float) -> str:
    """A safe file name for a clip: the title's letters, digits, ``-_.``, plus the start."""
    stem = re.sub(r"[^\w.-]+", "_", title, flags=re.UNICODE).strip("._") or "track"
    return f"{stem[:80]}_{int(round(start_s))}s.wav"


def export_clip(
    path: str | os.PathLike,
    start_s: float,
    end_s: float,
    out_path: str | os.PathLike,
    fade_s: float = DEFAULT_FADE_S,
) -> Path:
    """Decode ``[start_s, end_s)`` of a file (its own rate and channels) and write it as
    16-bit WAV with fades. Returns the written path."""
    y, info = load_audio(path, sr=None, mono=False)
    sr = info.sample_rate
    y = np.atleast_2d(y)  # (channels, n)
    a = max(0, int(round(start_s * sr)))
    b = min(y.shape[1], int(round(end_s * sr)))
    clip = apply_fades(y[:, a:b].T, sr, fade_s)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part")
    sf.write(tmp, clip, sr, subtype="PCM_16", format="WAV")
    os.replace(tmp, out_path)
    return out_path
