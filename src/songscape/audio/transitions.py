"""How two overlapping pieces of audio are joined: an equal-power crossfade, or a DJ's
bass swap.

Both take the outgoing piece's tail and the incoming piece's head, already aligned and of
equal length, and return their mix. The bass swap splits each into lows and the rest
with a zero-phase low-pass (so ``lows + rest`` is the signal again, exactly) and
exchanges the lows at one moment, the *swap*, with a short ramp: the two bass lines never
play together, which is what makes a plain crossfade of two beat-matched tracks muddy.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

#: Transition styles.
TRANSITION_STYLES = ("bass-swap", "crossfade")
#: Crossover between "lows" and the rest, Hz.
DEFAULT_BASS_CUTOFF_HZ = 180.0


def equal_power_gains(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fade-out and fade-in gains over ``n`` samples with ``out² + in² = 1``."""
    phase = (np.arange(n) + 0.5) / max(n, 1) * (np.pi / 2)
    return np.cos(phase), np.sin(phase)


def split_lows(
    x: np.ndarray,
    sr: int,
    cutoff_hz: float = DEFAULT_BASS_CUTOFF_HZ,
) -> tuple[np.ndarray, np.ndarray]:
    """``(lows, rest)`` of ``x`` (channels, n): a 4th-order Butterworth low-pass run forward
    and backward (zero phase), and the remainder, so ``lows + rest == x``."""
    if x.shape[-1] < 64:
        return np.zeros_like(x), x.copy()
    sos = scipy.signal.butter(4, cutoff_hz, btype="low", fs=sr, output="sos")
    lows = scipy.signal.sosfiltfilt(sos, x, axis=-1).astype(x.dtype)
    return lows, x - lows


def ramp(n: int, at: int, length: int) -> np.ndarray:
    """0 before sample ``at``, a raised-cosine rise over ``length`` samples, then 1."""
    t = np.clip((np.arange(n) - at) / max(length, 1), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * t)


def crossfade(outgoing: np.ndarray, incoming: np.ndarray) -> np.ndarray:
    """Equal-power crossfade of two aligned pieces (channels, n)."""
    fade_out, fade_in = equal_power_gains(outgoing.shape[-1])
    return (outgoing * fade_out + incoming * fade_in).astype(np.float32)


def bass_swap(
    outgoing: np.ndarray,
    incoming: np.ndarray,
    sr: int,
    swap_sample: int,
    swap_ramp_samples: int,
    cutoff_hz: float = DEFAULT_BASS_CUTOFF_HZ,
) -> np.ndarray:
    """Join two aligned pieces (channels, n) as a DJ does on a three-band mixer.

    The incoming track's mids and highs rise (equal power) over the whole overlap while
    the outgoing track's fall; the lows stay with the outgoing track until
    ``swap_sample`` and pass to the incoming one over ``swap_ramp_samples`` (a beat is
    typical).
    """
    n = outgoing.shape[-1]
    out_lows, out_rest = split_lows(outgoing, sr, cutoff_hz)
    in_lows, in_rest = split_lows(incoming, sr, cutoff_hz)
    fade_out, fade_in = equal_power_gains(n)
    swap = ramp(n, swap_sample, swap_ramp_samples)
    mixed = out_rest * fade_out + in_rest * fade_in + out_lows * (1 - swap) + in_lows * swap
    return mixed.astype(np.float32)
