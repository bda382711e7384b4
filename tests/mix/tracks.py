"""Mix tracks with known grids for the mix tests: click trains written to WAV files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from songscape.analysis.loudness import energy_curve, integrated_loudness
from songscape.mix.tracks import MixTrack, grid_problem

SR = 22050


def click_song(
    folder: Path,
    name: str,
    tempo_bpm: float,
    click_hz: float,
    bars: int = 24,
    key: str | None = "A minor",
    jitter_s: float = 0.004,
    seed: int = 0,
    embedding: np.ndarray | None = None,
) -> MixTrack:
    """A 4/4 track of ``bars`` bars: a ``click_hz`` tone burst on every beat (louder on
    downbeats) over a quiet hum, starting 0.5 s in; its true grid is the MixTrack's."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / tempo_bpm
    beats = 0.5 + np.arange(bars * 4 + 1) * beat + rng.uniform(-jitter_s, jitter_s, bars * 4 + 1)
    duration = beats[-1] + 1.0
    t = np.arange(int(duration * SR)) / SR
    y = 0.05 * np.sin(2 * np.pi * 110 * t)
    n = int(0.03 * SR)
    burst = np.sin(2 * np.pi * click_hz * np.arange(n) / SR) * np.exp(-np.arange(n) / (0.006 * SR))
    for k, b in enumerate(beats):
        i = int(round(b * SR))
        y[i : i + n] += (0.8 if k % 4 == 0 else 0.5) * burst[: len(y) - i]
    y = y.astype(np.float32)
    path = folder / f"{name}.wav"
    sf.write(path, np.stack([y, y]).T, SR)
    downbeats = beats[::4]
    return MixTrack(
        track_id=name,
        path=str(path),
        title=name,
        artist=None,
        duration_s=duration,
        tempo_bpm=tempo_bpm,
        beats_per_bar=4,
        key=key,
        loudness_lufs=integrated_loudness(y, SR),
        beat_times=beats,
        downbeat_times=downbeats,
        energy_db=energy_curve(y, SR),
        energy_rate_hz=2.0,
        sections=[(0.0, duration, "A")],
        highlight=(downbeats[8], downbeats[8] + 16 * beat),
        embedding=embedding,
        grid_problem=grid_problem(beats, downbeats, 4, tempo_bpm),
    )


def noise_song(folder: Path, name: str, seconds: float = 30.0) -> MixTrack:
    """A track without a beat (filtered noise): no trusted grid."""
    rng = np.random.default_rng(7)
    y = np.convolve(rng.standard_normal(int(seconds * SR)), np.ones(40) / 40, "same")
    y = (0.2 * y / np.abs(y).max()).astype(np.float32)
    path = folder / f"{name}.wav"
    sf.write(path, y, SR)
    return MixTrack(
        track_id=name, path=str(path), title=name, artist="Noise", duration_s=seconds,
        tempo_bpm=None, beats_per_bar=None, key=None, loudness_lufs=integrated_loudness(y, SR),
        beat_times=np.zeros(0), downbeat_times=np.zeros(0), energy_db=energy_curve(y, SR),
        energy_rate_hz=2.0, grid_problem=grid_problem(np.zeros(0), np.zeros(0), None, None),
    )  # fmt: skip
