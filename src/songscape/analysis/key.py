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

#: Pitch-class names, sharps only; index = pitch class (C = 0).
PITCH_CLASS_NAMES: tuple[str, ...] = (
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
)  # fmt: skip

_FLAT_TO_SHARP = {"DB": "C#", "EB": "D#", "GB": "F#", "AB": "G#", "BB": "A#", "CB": "B", "FB": "E"}

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


def pitch_class(name: str) -> int:
    """Pitch class (C = 0 … B = 11) of a note name such as ``"F#"``, ``"Bb"`` or ``"a"``."""
    n = name.strip().upper()
    n = _FLAT_TO_SHARP.get(n, n)
    if n == "E#":
        n = "F"
    elif n == "B#":
        n = "C"
    try:
        return PITCH_CLASS_NAMES.index(n)
    except ValueError:
        raise ValueError(f"not a note name: {name!r}") from None


def key_name(tonic: int | str, mode: str) -> str:
    """The canonical key name, e.g. ``key_name(6, "major") == "F# major"``.

    Parameters
    ----------
    tonic : int or str
        Pitch class (0–11, C = 0) or a note name (flats are converted to sharps).
    mode : {"major", "minor"}
    """
    if mode not in ("major", "minor"):
        raise ValueError(f"mode must be 'major' or 'minor', not {mode!r}")
    pc = pitch_class(tonic) if isinstance(tonic, str) else int(tonic) % 12
    return f"{PITCH_CLASS_NAMES[pc]} {mode}"


def parse_key(name: str) -> tuple[int, str]:
    """Inverse of :func:`key_name`: ``"F# major"`` → ``(6, "major")``."""
    tonic, mode = name.split()
    return pitch_class(tonic), mode.lower()


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


def camelot(name: str) -> tuple[int, str]:
    """The Camelot-wheel code of a key: ``"A minor"`` → ``(8, "A")``, ``"C major"`` → ``(8, "B")``.

    The wheel orders keys by fifths (numbers 1–12, clockwise a fifth up); ``A`` marks
    minor and ``B`` major keys, and a minor key shares its number with its relative
    major. DJs mix between keys of the same number or numbers one apart.
    """
    tonic, mode = parse_key(name)
    if mode not in ("major", "minor"):
        raise ValueError(f"not a key name: {name!r}")
    # C major is 8B and each fifth up (+7 semitones) adds one; minors sit 3 semitones below.
    reference = tonic if mode == "major" else (tonic + 3) % 12
    number = (7 * reference) % 12  # steps of a fifth from C
    return (number + 7) % 12 + 1, "B" if mode == "major" else "A"


def camelot_distance(a: str, b: str) -> int:
    """Steps between two keys on the Camelot wheel: 0 same key, 1 for a mixable neighbour
    (one fifth apart in the same mode, or the relative major/minor), more otherwise.
    """
    (na, la), (nb, lb) = camelot(a), camelot(b)
    around = min((na - nb) % 12, (nb - na) % 12)
    return around + (la != lb)


def compatible_keys(name: str) -> list[str]:
    """Keys a DJ can mix into from ``name``: itself, its relative, and one fifth either way."""
    return [
        key_name(pc, mode)
        for mode in ("major", "minor")
        for pc in range(12)
        if camelot_distance(name, key_name(pc, mode)) <= 1
    ]
