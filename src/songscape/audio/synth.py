"""Synthetic music with known truth, for tests, benchmarks and the offline demo library.

Everything here is deterministic given ``seed``; no file or network access.

* :func:`click_track` — a drum pattern at a tempo and meter: a kick-like low thump on
  each downbeat, a noise "hat" on every beat (downbeats accented by ``accent_db``),
  returns the true beat and downbeat times.
* :func:`chord_progression` — a diatonic progression (I–IV–V–I in major,
  i–iv–V–i in minor, with a bass line) played with additive harmonic tones.
* :func:`demo_song` — both together: chords change on the downbeats.
* :func:`demo_song_specs` — varied parameters for a small demo library.

All signals are mono float32 in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from songscape.notation import key_name, pitch_class

__all__ = [
    "Synthesized", "beat_grid", "chord_progression", "click_track", "demo_song",
    "demo_song_specs", "harmonic_tone", "midi_to_hz", "pitch_class",
]

#: Scale degrees (semitones above the tonic) of each chord root and its triad quality.
#: Minor uses the harmonic-minor dominant (major V, raised leading tone), as in practice.
_PROGRESSIONS: dict[str, list[tuple[int, tuple[int, int, int]]]] = {
    "major": [(0, (0, 4, 7)), (5, (0, 4, 7)), (7, (0, 4, 7)), (0, (0, 4, 7))],  # I IV V I
    "minor": [(0, (0, 3, 7)), (5, (0, 3, 7)), (7, (0, 4, 7)), (0, (0, 3, 7))],  # i iv V i
}


@dataclass
class Synthesized:
    """A synthetic signal and its ground truth.

    Truth fields that do not apply to a signal (e.g. beats of a chord pad) are None.
    """

    y: np.ndarray = field(repr=False)  # mono float32, shape (n,)
    sr: int  # Hz
    tempo_bpm: float | None = None
    beat_times: np.ndarray | None = field(default=None, repr=False)  # seconds
    downbeat_times: np.ndarray | None = field(default=None, repr=False)  # seconds
    beats_per_bar: int | None = None
    key: str | None = None  # e.g. "F# major"

    @property
    def duration_s(self) -> float:
        return len(self.y) / self.sr


def midi_to_hz(midi: float | np.ndarray) -> float | np.ndarray:
    """Equal-tempered frequency (Hz) of a MIDI note number, A4 = 69 = 440 Hz."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


def _kick(
    sr: int, duration_s: float = 0.25, f_start: float = 160.0, f_end: float = 50.0
) -> np.ndarray:
    """A kick-drum-like thump: sine with an exponential pitch drop and amplitude decay."""
    t = np.arange(int(duration_s * sr)) / sr
    # Pitch falls from f_start to f_end with a ~30 ms time constant: the "thump".
    freq = f_end + (f_start - f_end) * np.exp(-t / 0.03)
    phase = 2.0 * np.pi * np.cumsum(freq) / sr
    return np.sin(phase) * np.exp(-t / 0.08)


def _hat(sr: int, rng: np.random.Generator, duration_s: float = 0.06) -> np.ndarray:
    """A closed hi-hat-like tick: high-passed white noise with a fast decay."""
    n = int(duration_s * sr)
    noise = rng.standard_normal(n + 1)
    # First difference = simple high-pass (+6 dB/octave), enough to sound "hissy".
    hp = np.diff(noise) * 0.5
    return hp * np.exp(-np.arange(n) / (0.012 * sr))


def _mix_at(out: np.ndarray, sound: np.ndarray, start: int, gain: float) -> None:
    """Add ``gain * sound`` into ``out`` starting at sample ``start`` (clipped to fit)."""
    if start >= len(out) or start < 0:
        return
    n = min(len(sound), len(out) - start)
    out[start : start + n] += gain * sound[:n]


def _normalize(y: np.ndarray, peak: float = 0.8) -> np.ndarray:
    m = float(np.max(np.abs(y))) if len(y) else 0.0
    return (y * (peak / m) if m > 0 else y).astype(np.float32)


def beat_grid(
    tempo_bpm: float,
    duration_s: float,
    *,
    beats_per_bar: int = 4,
    offset_s: float = 0.5,
    pickup_beats: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """True beat and downbeat times (seconds) of a steady tempo.

    Parameters
    ----------
    tempo_bpm : float
        Beats per minute.
    duration_s : float
        Signal length, seconds; beats after ``duration_s - 0.1`` are dropped.
    beats_per_bar : int
        Meter (beats per bar).
    offset_s : float
        Time of the first beat, seconds.
    pickup_beats : int
        Beats before the first downbeat (an anacrusis), 0 … ``beats_per_bar - 1``.

    Returns
    -------
    beat_times, downbeat_times : np.ndarray
        Seconds, increasing; downbeats are a subset of beats.
    """
    period = 60.0 / tempo_bpm
    n = int(np.floor((duration_s - 0.1 - offset_s) / period)) + 1
    beats = offset_s + period * np.arange(max(n, 0))
    index = np.arange(len(beats))
    downbeats = beats[(index - pickup_beats) % beats_per_bar == 0]
    return beats, downbeats


def click_track(
    tempo_bpm: float,
    beats_per_bar: int = 4,
    duration_s: float = 20.0,
    sr: int = 22050,
    accent_db: float = 6.0,
    *,
    offset_s: float = 0.5,
    pickup_beats: int = 0,
    kick: bool = True,
    jitter_s: float = 0.0,
    seed: int = 0,
) -> Synthesized:
    """A drum pattern with accented downbeats.

    Every beat gets a hi-hat tick; the downbeat's tick is ``accent_db`` louder and, when
    ``kick`` is set, a kick thump plays on it too (so downbeats differ in both level and
    low-frequency content, as in most popular music).

    Parameters
    ----------
    tempo_bpm : float
        Tempo, beats per minute.
    beats_per_bar : int
        Meter, e.g. 3 or 4.
    duration_s : float
        Length, seconds.
    sr : int
        Sample rate, Hz.
    accent_db : float
        Level of the downbeat hat over the other beats, dB.
    offset_s : float
        Time of the first beat, seconds.
    pickup_beats : int
        Beats before the first downbeat.
    kick : bool
        Add a kick on each downbeat.
    jitter_s : float
        Standard deviation of random timing deviations of the played onsets, seconds
        (the returned truth is the unjittered grid, as a human-played track's would be).
    seed : int
        Random seed (noise of the hats, jitter).

    Returns
    -------
    Synthesized
        ``y`` plus ``beat_times``, ``downbeat_times``, ``tempo_bpm``, ``beats_per_bar``.
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sr))
    y = np.zeros(n)
    beats, downbeats = beat_grid(
        tempo_bpm, duration_s, beats_per_bar=beats_per_bar, offset_s=offset_s,
        pickup_beats=pickup_beats,
    )
    is_down = np.isin(beats, downbeats)
    accent = 10.0 ** (accent_db / 20.0)
    kick_sound = _kick(sr)
    for t, down in zip(beats, is_down, strict=True):
        played = t + (rng.normal(0.0, jitter_s) if jitter_s > 0 else 0.0)
        start = int(round(played * sr))
        _mix_at(y, _hat(sr, rng), start, 0.3 * (accent if down else 1.0))
        if down and kick:
            _mix_at(y, kick_sound, start, 0.9)
    return Synthesized(
        y=_normalize(y), sr=sr, tempo_bpm=float(tempo_bpm), beat_times=beats,
        downbeat_times=downbeats, beats_per_bar=beats_per_bar,
    )


def harmonic_tone(
    freq_hz: float,
    duration_s: float,
    sr: int = 22050,
    *,
    n_harmonics: int = 8,
    rolloff: float = 1.0,
    attack_s: float = 0.01,
    release_s: float = 0.08,
    decay_s: float | None = None,
) -> np.ndarray:
    """A harmonic-rich tone: additive partials ``k * freq_hz`` with amplitude ``k**-rolloff``.

    Parameters
    ----------
    freq_hz : float
        Fundamental, Hz.
    duration_s : float
        Length, seconds (including the release).
    sr : int
        Sample rate, Hz.
    n_harmonics : int
        Number of partials; those above Nyquist are skipped.
    rolloff : float
        Spectral tilt: larger is darker (1 ≈ sawtooth-like, 2 ≈ mellow).
    attack_s, release_s : float
        Linear fade-in and fade-out, seconds.
    decay_s : float, optional
        Exponential decay time constant, seconds (a plucked/piano-like envelope);
        None sustains.
    """
    n = int(round(duration_s * sr))
    t = np.arange(n) / sr
    y = np.zeros(n)
    for k in range(1, n_harmonics + 1):
        if k * freq_hz >= sr / 2:
            break
        y += k ** (-rolloff) * np.sin(2.0 * np.pi * k * freq_hz * t)
    env = np.ones(n)
    na, nr = min(int(attack_s * sr), n), min(int(release_s * sr), n)
    if na:
        env[:na] = np.linspace(0.0, 1.0, na)
    if nr:
        env[n - nr :] *= np.linspace(1.0, 0.0, nr)
    if decay_s is not None:
        env *= np.exp(-t / decay_s)
    return y * env


def _voicing(tonic_pc: int, root_deg: int, triad: tuple[int, int, int]) -> tuple[list[int], int]:
    """MIDI notes of a close-position triad around middle C, plus a bass root (octave 2)."""
    root_pc = (tonic_pc + root_deg) % 12
    # Place the chord tones between MIDI 55 (G3) and 66 (F#4): smooth voice leading.
    notes = sorted(55 + ((root_pc + iv - 55) % 12) for iv in triad)
    bass = 36 + root_pc  # C2 … B2
    return notes, bass


def chord_progression(
    tonic: str | int,
    mode: str = "major",
    duration_s: float = 8.0,
    sr: int = 22050,
    *,
    chord_duration_s: float = 2.0,
    offset_s: float = 0.0,
    n_harmonics: int = 8,
    rolloff: float = 1.0,
    bass: bool = True,
    decay_s: float | None = None,
    seed: int = 0,
) -> Synthesized:
    """A diatonic chord progression in a given key.

    Plays I–IV–V–I (major) or i–iv–V–i (minor, harmonic-minor dominant), repeating, each
    chord ``chord_duration_s`` long, as close-position triads around middle C plus the
    chord root in the bass.

    Parameters
    ----------
    tonic : str or int
        Tonic note name (``"F#"``, ``"Bb"``) or pitch class (C = 0).
    mode : {"major", "minor"}
    duration_s : float
        Length, seconds.
    sr : int
        Sample rate, Hz.
    chord_duration_s : float
        Length of each chord, seconds.
    offset_s : float
        Silence before the first chord, seconds.
    n_harmonics, rolloff, decay_s
        Timbre, see :func:`harmonic_tone`.
    bass : bool
        Add the chord root two octaves below.
    seed : int
        Random seed (tiny per-note detuning and level variation, so chords are not
        perfectly periodic).

    Returns
    -------
    Synthesized
        ``y`` and ``key`` (e.g. ``"D minor"``).
    """
    rng = np.random.default_rng(seed)
    tonic_pc = pitch_class(tonic) if isinstance(tonic, str) else int(tonic) % 12
    progression = _PROGRESSIONS[mode]
    n = int(round(duration_s * sr))
    y = np.zeros(n)
    t0, i = offset_s, 0
    while t0 < duration_s - 0.05:
        root_deg, triad = progression[i % len(progression)]
        notes, bass_note = _voicing(tonic_pc, root_deg, triad)
        length = min(chord_duration_s, duration_s - t0)
        start = int(round(t0 * sr))
        for m in notes:
            cents = rng.normal(0.0, 3.0)  # a few cents of detuning, like real instruments
            tone = harmonic_tone(
                float(midi_to_hz(m + cents / 100.0)), length, sr, n_harmonics=n_harmonics,
                rolloff=rolloff, decay_s=decay_s,
            )
            _mix_at(y, tone, start, 0.25 * rng.uniform(0.85, 1.0))
        if bass:
            tone = harmonic_tone(
                float(midi_to_hz(bass_note)), length, sr, n_harmonics=max(n_harmonics // 2, 1),
                rolloff=rolloff + 0.5, decay_s=decay_s,
            )
            _mix_at(y, tone, start, 0.35)
        t0 += chord_duration_s
        i += 1
    return Synthesized(y=_normalize(y), sr=sr, key=key_name(tonic_pc, mode))


def demo_song(
    tempo_bpm: float = 120.0,
    tonic: str | int = "C",
    mode: str = "major",
    beats_per_bar: int = 4,
    duration_s: float = 30.0,
    sr: int = 22050,
    *,
    brightness: float = 0.5,
    drums_db: float = -6.0,
    offset_s: float = 0.5,
    seed: int = 0,
) -> Synthesized:
    """A short synthetic "song": drums plus a chord progression that changes every bar.

    Parameters
    ----------
    tempo_bpm : float
        Tempo, beats per minute.
    tonic : str or int
        Key tonic (note name or pitch class).
    mode : {"major", "minor"}
    beats_per_bar : int
        Meter, 3 or 4.
    duration_s : float
        Length, seconds.
    sr : int
        Sample rate, Hz.
    brightness : float
        0 (dark, few steep partials, plucked) … 1 (bright, many flat partials, sustained).
    drums_db : float
        Level of the drums relative to the chords, dB.
    offset_s : float
        Time of the first beat (and first chord), seconds.
    seed : int
        Random seed.

    Returns
    -------
    Synthesized
        With all truth fields set.
    """
    b = float(np.clip(brightness, 0.0, 1.0))
    drums = click_track(
        tempo_bpm, beats_per_bar, duration_s, sr, accent_db=6.0, offset_s=offset_s, seed=seed,
    )
    chords = chord_progression(
        tonic, mode, duration_s, sr, chord_duration_s=beats_per_bar * 60.0 / tempo_bpm,
        offset_s=offset_s, n_harmonics=int(round(4 + 12 * b)), rolloff=2.2 - 1.6 * b,
        decay_s=None if b > 0.5 else 0.6 + 2.0 * b, seed=seed + 1,
    )
    g = 10.0 ** (drums_db / 20.0)
    y = _normalize(chords.y.astype(float) + g * drums.y.astype(float))
    return Synthesized(
        y=y, sr=sr, tempo_bpm=float(tempo_bpm), beat_times=drums.beat_times,
        downbeat_times=drums.downbeat_times, beats_per_bar=beats_per_bar, key=chords.key,
    )


def demo_song_specs(n: int = 20, seed: int = 0) -> list[dict]:
    """Varied, deterministic keyword arguments for :func:`demo_song` (a demo library).

    Tempi 70–180 BPM, all 24 keys drawn without repeats until exhausted, meter 3 in
    about a quarter of songs, brightness 0..1, durations 20–40 s. Each dict also has a
    ``"title"``.
    """
    rng = np.random.default_rng(seed)
    keys = [(pc, m) for m in ("major", "minor") for pc in range(12)]
    order = rng.permutation(len(keys))
    specs = []
    for i in range(n):
        pc, mode = keys[order[i % len(keys)]]
        meter = 3 if rng.random() < 0.25 else 4
        tempo = float(np.round(rng.uniform(70.0, 180.0), 1))
        specs.append({
            "title": f"Demo {i + 1:02d} in {key_name(pc, mode)}",
            "tempo_bpm": tempo,
            "tonic": pc,
            "mode": mode,
            "beats_per_bar": meter,
            "duration_s": float(np.round(rng.uniform(20.0, 40.0), 1)),
            "brightness": float(np.round(rng.uniform(0.0, 1.0), 2)),
            "seed": seed * 1000 + i,
        })
    return specs
