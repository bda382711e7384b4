"""Synthetic singing with a known pitch: notes, vibrato, glides, breath noise.

For tests and benchmarks of the pitch trackers and range estimates (bench/sing.py):
the true f0 of every frame is known, so raw pitch accuracy and range errors can be
measured exactly. The voice is a harmonic source (partials falling 12 dB per octave)
shaped by three vowel-like formants, with a vibrato, portamento between notes,
breathy noise and short pauses between phrases.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.signal import lfilter

#: Formant centre frequencies (Hz) and bandwidths of an "ah" vowel.
FORMANTS = ((730.0, 90.0), (1090.0, 110.0), (2440.0, 170.0))


def note_contour(
    notes: Sequence[float],
    note_s: float,
    sr: int,
    glide_s: float = 0.06,
    vibrato_hz: float = 5.5,
    vibrato_cents: float = 30.0,
    rest_every: int = 4,
    rest_s: float = 0.25,
) -> np.ndarray:
    """Per-sample MIDI pitch of a melody (nan during rests).

    Parameters
    ----------
    notes : sequence of float
        MIDI numbers, one per note.
    note_s : float
        Seconds per note.
    sr : int
        Sample rate, Hz.
    glide_s : float
        Portamento into each note (linear in semitones), seconds.
    vibrato_hz, vibrato_cents : float
        Sinusoidal vibrato rate and extent (± cents).
    rest_every : int
        A rest of ``rest_s`` seconds ends every ``rest_every``-th note (0: never).

    Returns
    -------
    np.ndarray, shape (n_samples,)
    """
    n_note = int(round(note_s * sr))
    parts = []
    prev = None
    for i, note in enumerate(notes):
        seg = np.full(n_note, float(note))
        n_glide = min(n_note // 2, int(round(glide_s * sr)))
        if prev is not None and n_glide:
            seg[:n_glide] = np.linspace(prev, note, n_glide)
        parts.append(seg)
        prev = float(note)
        if rest_every and (i + 1) % rest_every == 0:
            parts.append(np.full(int(round(rest_s * sr)), np.nan))
            prev = None
    midi = np.concatenate(parts) if parts else np.zeros(0)
    t = np.arange(len(midi)) / sr
    return midi + vibrato_cents / 100.0 * np.sin(2 * np.pi * vibrato_hz * t)


def _formant_filter(y: np.ndarray, sr: int) -> np.ndarray:
    out = np.zeros_like(y)
    for freq, bw in FORMANTS:
        r = np.exp(-np.pi * bw / sr)
        theta = 2 * np.pi * freq / sr
        a = [1.0, -2 * r * np.cos(theta), r * r]
        out += lfilter([1.0 - r], a, y)
    return out


def sing_melody(
    midi: np.ndarray,
    sr: int,
    breath_db: float = -30.0,
    n_partials: int = 20,
    seed: int = 0,
    level: float = 0.3,
) -> np.ndarray:
    """Render a per-sample MIDI contour (nan = silence) as a sung vowel.

    Parameters
    ----------
    midi : np.ndarray, shape (n,)
        From :func:`note_contour`.
    sr : int
    breath_db : float
        Level of the breath noise relative to the voice, dB.
    n_partials : int
        Harmonics rendered (those above Nyquist are dropped).
    seed : int
        Seeds the noise.
    level : float
        Peak level of the result.

    Returns
    -------
    np.ndarray, shape (n,), float32
    """
    rng = np.random.default_rng(seed)
    voiced = np.isfinite(midi)
    f0 = np.where(voiced, 440.0 * 2 ** ((np.nan_to_num(midi, nan=60.0) - 69) / 12), 0.0)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    src = np.zeros(len(midi))
    for k in range(1, n_partials + 1):
        ok = f0 * k < sr / 2 - 500
        src += np.where(ok, np.sin(k * phase) / k, 0.0)
    # smooth on/offsets (10 ms) so notes start and stop like a voice
    env = np.convolve(voiced.astype(float), np.ones(int(0.01 * sr)) / int(0.01 * sr), "same")
    voice = _formant_filter(src * env, sr) + 0.3 * src * env
    voice /= max(np.max(np.abs(voice)), 1e-9)
    noise = _formant_filter(rng.standard_normal(len(midi)), sr)
    noise *= 10 ** (breath_db / 20) / max(np.std(noise), 1e-9) * np.std(voice[voiced] if
                                                                          voiced.any() else voice)
    y = voice + noise * (0.3 + env)
    return (level * y / max(np.max(np.abs(y)), 1e-9)).astype(np.float32)


def frame_truth(midi: np.ndarray, sr: int, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The true contour at a frame grid: times (s) and MIDI (nan = unvoiced)."""
    hop = max(1, round(hop_s * sr))
    times = np.arange(0, len(midi), hop) / sr
    return times, np.asarray(midi)[::hop]
