"""Synthetic songs with a known verse/chorus form, for structure and highlight tests.

:func:`structured_song` strings sections together, each a whole number of bars at one
tempo: ``I`` intro and ``O`` outro (a quiet sustained pad, no drums), ``V`` verse (its
own chord loop, kick only, moderate level), ``C`` chorus (another chord loop, full
drums, a repeated high melody, loudest), ``B`` bridge (a third chord loop, a darker
timbre, hats only). Every repeat of a section type is the same material, so the truth
is exact: section boundaries, labels, and the chorus regions.

Deterministic given ``seed``; mono float32 in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from songscape.audio.synth import click_track, harmonic_tone, midi_to_hz
from songscape.notation import key_name, pitch_class

#: Chord roots (scale degrees, semitones above the tonic) and triads of each section type.
_LOOPS: dict[str, list[tuple[int, tuple[int, int, int]]]] = {
    "I": [(0, (0, 4, 7)), (5, (0, 4, 7))],
    "V": [(0, (0, 4, 7)), (9, (0, 3, 7)), (5, (0, 4, 7)), (7, (0, 4, 7))],  # I vi IV V
    "C": [(5, (0, 4, 7)), (7, (0, 4, 7)), (4, (0, 3, 7)), (9, (0, 3, 7))],  # IV V iii vi
    "B": [(2, (0, 3, 7)), (7, (0, 4, 7)), (2, (0, 3, 7)), (11, (0, 3, 6))],  # ii V ii vii°
    "O": [(5, (0, 4, 7)), (0, (0, 4, 7))],
}
#: Level (linear gain) of each section type's chords.
_LEVELS = {"I": 0.25, "V": 0.5, "C": 1.0, "B": 0.55, "O": 0.25}
#: Melody (scale degrees above the tonic, one per beat) the chorus repeats every bar.
_CHORUS_MELODY = (12, 16, 19, 16)
NAMES = {"I": "intro", "V": "verse", "C": "chorus", "B": "bridge", "O": "outro"}


@dataclass
class StructuredSong:
    """A synthetic song and its form.

    ``sections`` holds ``(start_s, end_s, kind)`` with kind one of ``I V C B O``;
    ``chorus_regions`` the ``(start_s, end_s)`` of every chorus.
    """

    y: np.ndarray = field(repr=False)
    sr: int
    tempo_bpm: float
    key: str
    sections: list[tuple[float, float, str]]
    beat_times: np.ndarray = field(repr=False)
    downbeat_times: np.ndarray = field(repr=False)

    @property
    def duration_s(self) -> float:
        return len(self.y) / self.sr

    @property
    def chorus_regions(self) -> list[tuple[float, float]]:
        return [(s, e) for s, e, k in self.sections if k == "C"]

    @property
    def boundaries_s(self) -> np.ndarray:
        """Section starts and the final end, seconds."""
        return np.array([s for s, _, _ in self.sections] + [self.sections[-1][1]])


def _chord_bar(tonic_pc: int, root_deg: int, triad: tuple[int, int, int], bar_s: float,
               sr: int, rolloff: float, rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    root_pc = (tonic_pc + root_deg) % 12
    out = np.zeros(int(round(bar_s * sr)))
    for iv in triad:
        m = 55 + ((root_pc + iv - 55) % 12)
        tone = harmonic_tone(float(midi_to_hz(m + rng.normal(0, 3) / 100)), bar_s, sr,
                             n_harmonics=8, rolloff=rolloff)  # fmt: skip
        out[: len(tone)] += 0.25 * tone
    bass = harmonic_tone(float(midi_to_hz(36 + root_pc)), bar_s, sr, n_harmonics=4,
                         rolloff=rolloff + 0.5)  # fmt: skip
    out[: len(bass)] += 0.35 * bass
    return out


def structured_song(
    form: str = "IVCVCBCO",
    tempo_bpm: float = 120.0,
    tonic: str | int = "C",
    bars: dict[str, int] | None = None,
    sr: int = 22050,
    seed: int = 0,
) -> StructuredSong:
    """A song following ``form`` (letters ``I V C B O``; see the module docstring).

    Parameters
    ----------
    form : str
        Section types in order.
    tempo_bpm : float
        Beats per minute (4/4 throughout).
    tonic : str or int
        Major key's tonic (name or pitch class).
    bars : dict, optional
        Bars per section type; default 4 for intro/outro, 8 otherwise.
    sr : int
        Sample rate, Hz.
    seed : int
        Detuning and drum noise.

    Returns
    -------
    StructuredSong
    """
    rng = np.random.default_rng(seed)
    tonic_pc = pitch_class(tonic) if isinstance(tonic, str) else int(tonic) % 12
    n_bars = {"I": 4, "O": 4, "V": 8, "C": 8, "B": 8, **(bars or {})}
    beat_s = 60.0 / tempo_bpm
    bar_s = 4 * beat_s
    # One rendering per section type, so repeats are identical material.
    rendered: dict[str, np.ndarray] = {}
    for kind in dict.fromkeys(form):
        if kind not in _LOOPS:
            raise ValueError(f"unknown section type {kind!r}; use letters of 'IVCBO'")
        length_s = n_bars[kind] * bar_s
        loop = _LOOPS[kind]
        rolloff = 1.6 if kind == "B" else 1.0
        y = np.concatenate([_chord_bar(tonic_pc, *loop[b % len(loop)], bar_s, sr, rolloff, rng)
                            for b in range(n_bars[kind])])  # fmt: skip
        if kind in ("V", "C", "B"):
            drums = click_track(tempo_bpm, 4, length_s, sr, offset_s=0.0,
                                kick=kind != "B", seed=int(rng.integers(1 << 30))).y  # fmt: skip
            y[: len(drums)] += {"V": 0.5, "C": 1.0, "B": 0.6}[kind] * drums[: len(y)]
        if kind == "C":
            for b in range(n_bars[kind]):
                for j, deg in enumerate(_CHORUS_MELODY):
                    t = b * bar_s + j * beat_s
                    note = harmonic_tone(float(midi_to_hz(60 + tonic_pc + deg)), beat_s * 0.9,
                                         sr, n_harmonics=6, rolloff=0.8)  # fmt: skip
                    a = int(round(t * sr))
                    y[a:a + len(note)] += 0.35 * note[: len(y) - a]
        rendered[kind] = _LEVELS[kind] * y / max(np.max(np.abs(y)), 1e-9)
    parts, sections, t = [], [], 0.0
    for kind in form:
        parts.append(rendered[kind])
        length = len(rendered[kind]) / sr
        sections.append((t, t + length, kind))
        t += length
    y = np.concatenate(parts)
    y = (0.8 * y / max(np.max(np.abs(y)), 1e-9)).astype(np.float32)
    beats = np.arange(0.0, len(y) / sr - 1e-6, beat_s)
    return StructuredSong(
        y=y, sr=sr, tempo_bpm=tempo_bpm, key=key_name(tonic_pc, "major"), sections=sections,
        beat_times=beats, downbeat_times=beats[::4],
    )  # fmt: skip


def structured_song_specs(n: int = 6, seed: int = 0) -> list[dict]:
    """Varied keyword arguments for :func:`structured_song`: forms, tempi 90-140, keys."""
    rng = np.random.default_rng(seed)
    forms = ["IVCVCBCO", "VCVCBCC", "IVVCVCCO", "ICVCBCO", "IVCVCO", "VCBCVCO"]
    return [{"form": forms[i % len(forms)], "tempo_bpm": float(rng.integers(90, 141)),
             "tonic": int(rng.integers(12)), "seed": seed * 100 + i} for i in range(n)]  # fmt: skip
