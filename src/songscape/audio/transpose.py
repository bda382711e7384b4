"""Transposition: a stretch of music moved in pitch by whole semitones, its tempo kept.

``rubberband`` (Rubber Band's R2 engine through :mod:`pyrubberband`, Debian's
``rubberband-cli``; the default when installed) keeps transients and formants of a full
mix far better than a plain phase vocoder; ``phase-vocoder`` (``librosa.effects.
pitch_shift``) is the fallback with nothing to install.
"""

from __future__ import annotations

import numpy as np

from songscape.audio.stretch import rubberband_available

TRANSPOSE_METHODS = ("rubberband", "phase-vocoder")


def default_transpose_method() -> str:
    """``"rubberband"`` when its program is installed, else ``"phase-vocoder"``."""
    return "rubberband" if rubberband_available() else "phase-vocoder"


def transpose(
    y: np.ndarray, sr: int, semitones: float, method: str | None = None
) -> np.ndarray:
    """Shift the pitch of ``y`` by ``semitones`` keeping its duration.

    Parameters
    ----------
    y : np.ndarray, shape (channels, n) or (n,)
    sr : int
        Sample rate, Hz.
    semitones : float
        Positive: up.
    method : {"rubberband", "phase-vocoder"} or None
        None: :func:`default_transpose_method`.

    Returns
    -------
    np.ndarray, float32, the shape of ``y``
    """
    method = method or default_transpose_method()
    if method not in TRANSPOSE_METHODS:
        raise ValueError(f"unknown transpose method {method!r}; choose from {TRANSPOSE_METHODS}")
    y = np.asarray(y, dtype=np.float32)
    if semitones == 0 or y.shape[-1] == 0:
        return y.copy()
    frames = np.atleast_2d(y)
    if method == "rubberband":
        import pyrubberband

        # pyrubberband wants (n, channels); --no-threads keeps one core per render.
        out = pyrubberband.pitch_shift(frames.T, sr, float(semitones),
                                       rbargs={"--no-threads": ""})  # fmt: skip
        out = np.atleast_2d(np.asarray(out, dtype=np.float32).T)
    else:
        import librosa

        out = np.stack([librosa.effects.pitch_shift(ch, sr=sr, n_steps=float(semitones))
                        for ch in frames]).astype(np.float32)  # fmt: skip
    n = frames.shape[1]
    out = out[:, :n] if out.shape[1] >= n else np.pad(out, ((0, 0), (0, n - out.shape[1])))
    return out.reshape(y.shape)
