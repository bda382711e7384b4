"""Names of pitch classes and keys, and the Camelot wheel DJs mix by.

Key names use sharps only (``C C# D D# E F F# G G# A A# B``), followed by ``major``
or ``minor``: ``"F# major"``, ``"A minor"``, never ``"Gb major"`` or ``"Bbm"``.
Plain music theory, shared by the analysis (which estimates keys), the synthetic test
songs (which are written in one) and search (which filters and mixes by key).
"""

from __future__ import annotations

#: Pitch-class names, sharps only; index = pitch class (C = 0).
PITCH_CLASS_NAMES: tuple[str, ...] = (
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
)  # fmt: skip

_FLAT_TO_SHARP = {"DB": "C#", "EB": "D#", "GB": "F#", "AB": "G#", "BB": "A#", "CB": "B", "FB": "E"}

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
