"""Musical key and mode from a chromagram, by key-profile correlation.

The method is the Krumhansl–Schmuckler key-finding algorithm: average the chromagram
over time into a 12-bin pitch-class distribution, correlate it (Pearson) with a major
and a minor *key profile* rotated to each of the 12 tonics, and take the best of the
24 keys.

Profiles available (``profile=``):

``"krumhansl"``
    Krumhansl & Kessler (1982), probe-tone ratings.
``"temperley"``
    Temperley's Kostka–Payne corpus profiles (Temperley 2007, *Music and
    Probability*; the values music21 ships as ``TemperleyKostkaPayne``).
``"albrecht"``
    Albrecht & Shanahan (2013), corpus of 490 common-practice pieces.

The default, :data:`DEFAULT_PROFILE`, was picked by measurement (``bench/descriptors.py``,
figures in ``docs/descriptors.md``).

Key names use sharps only (``C C# D D# E F F# G G# A A# B``), followed by ``major``
or ``minor``: ``"F# major"``, ``"A minor"``, never ``"Gb major"`` or ``"Bbm"``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from songscape.notation import key_name

#: Key profiles (major, minor), index 0 = tonic.
KEY_PROFILES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "krumhansl": (
        np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]),
        np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]),
    ),
    "temperley": (
        np.array([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057,
                  0.400]),
        np.array([0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133,
                  0.330]),
    ),
    "albrecht": (
        np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008,
                  0.081]),
        np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061,
                  0.052]),
    ),
}  # fmt: skip

ProfileName = Literal["krumhansl", "temperley", "albrecht"]

#: The profile :func:`estimate_key` uses unless told otherwise (chosen by measurement).
DEFAULT_PROFILE: ProfileName = "krumhansl"


def key_scores(chroma_mean: np.ndarray, profile: ProfileName = DEFAULT_PROFILE) -> np.ndarray:
    """Pearson correlation of a pitch-class distribution with all 24 keys.

    Parameters
    ----------
    chroma_mean : np.ndarray, shape (12,)
        Pitch-class energy, index 0 = C (any non-negative scale).
    profile : str
        One of :data:`KEY_PROFILES`.

    Returns
    -------
    np.ndarray, shape (24,)
        Correlations in [-1, 1]; index ``k`` < 12 is ``k`` major, ``12 + k`` is ``k`` minor.
        All NaN when ``chroma_mean`` is constant (no pitch information).
    """
    x = np.asarray(chroma_mean, dtype=float)
    major, minor = KEY_PROFILES[profile]
    # Rows: the profile rotated so its tonic lands on pitch class k.
    rot = np.arange(12)[None, :] - np.arange(12)[:, None]  # rot[k, j] = j - k
    templates = np.vstack([major[rot % 12], minor[rot % 12]])  # (24, 12)
    t = templates - templates.mean(axis=1, keepdims=True)
    xc = x - x.mean()
    denom = np.linalg.norm(t, axis=1) * np.linalg.norm(xc)
    if not np.isfinite(denom).all() or denom.min() <= 1e-12:
        return np.full(24, np.nan)
    return (t @ xc) / denom


def key_confidence(scores: np.ndarray) -> float:
    """How clearly the best key beats the runner-up, in 0..1.

    ``(r1 - r2) / (1 - r2)``: the fraction of the distance from the runner-up's
    correlation ``r2`` to a perfect fit that the best key ``r1`` covers. 0 means a tie;
    it grows with both the margin and the fit. Relative/dominant ambiguity (a very
    common, musically mild confusion) therefore gives a low value.
    """
    s = np.sort(np.asarray(scores, dtype=float))[::-1]
    r1, r2 = s[0], s[1]
    if not np.isfinite(r1) or r2 >= 1.0:
        return 0.0
    return float(np.clip((r1 - r2) / (1.0 - r2), 0.0, 1.0))


def estimate_key(
    chroma: np.ndarray,
    *,
    profile: ProfileName = DEFAULT_PROFILE,
    weights: np.ndarray | None = None,
) -> tuple[str | None, float | None]:
    """Key and confidence from a chromagram.

    Parameters
    ----------
    chroma : np.ndarray, shape (12, n_frames) or (12,)
        Chromagram (index 0 = C), e.g. :func:`librosa.feature.chroma_stft`.
    profile : str
        Key profile, see the module docstring.
    weights : np.ndarray, shape (n_frames,), optional
        Per-frame weights for the time average (e.g. frame energy), so quiet frames,
        whose normalised chroma is mostly noise, count less.

    Returns
    -------
    key : str or None
        E.g. ``"A minor"``; None when the chroma carries no pitch information.
    confidence : float or None
        :func:`key_confidence` of the 24 correlations, in 0..1.
    """
    c = np.asarray(chroma, dtype=float)
    if c.ndim == 2:
        if c.shape[1] == 0:
            return None, None
        if weights is not None:
            w = np.asarray(weights, dtype=float)
            c = (c * w[None, :]).sum(axis=1) / max(float(w.sum()), 1e-12)
        else:
            c = c.mean(axis=1)
    if not np.isfinite(c).all() or c.max() <= 0:
        return None, None
    scores = key_scores(c, profile)
    if np.isnan(scores).any():
        return None, None
    best = int(np.argmax(scores))
    mode = "major" if best < 12 else "minor"
    return key_name(best % 12, mode), key_confidence(scores)


def mirex_key_score(estimated: str | None, reference: str) -> float:
    """MIREX weighted key score: 1 same, 0.5 fifth, 0.3 relative, 0.2 parallel, else 0.

    Thin wrapper over :func:`mir_eval.key.weighted_score` (which takes "C# major" style
    names). "Fifth" counts the estimated tonic a perfect fifth above the reference in
    the same mode, per MIREX; a None estimate scores 0.
    """
    import mir_eval

    if estimated is None:
        return 0.0
    return float(mir_eval.key.weighted_score(reference, estimated))
