"""Helpers shared by the tests: the real music in ../shared/data and synthetic audio files."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips the test when the data set is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (the shared music data sits beside the repo)")
    return path


def gtzan_clips(
    n: int, genres: tuple[str, ...] = ("blues", "classical", "disco", "jazz")
) -> list[Path]:
    """``n`` real GTZAN clips, spread over genres."""
    root = shared_data("gtzan_subset100", "audio")
    clips = []
    i = 0
    while len(clips) < n:
        genre = genres[i % len(genres)]
        clips.append(root / genre / f"{genre}.{i // len(genres):05d}.ogg")
        i += 1
    return clips


def write_tone_file(path: Path, seed: int, duration_s: float = 4.0, sr: int = 22050) -> Path:
    """A distinct, non-silent synthetic file (tones + noise bursts) — different per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * rng.uniform(110, 880) * t)
    for onset in np.arange(0, duration_s, 60 / rng.uniform(80, 160)):
        i = int(onset * sr)
        n = min(2000, len(y) - i)
        y[i : i + n] += 0.5 * rng.standard_normal(n) * np.exp(-np.arange(n) / 300)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.5 * y).astype(np.float32), sr)
    return path


def make_bad_files(folder: Path, good_example: Path) -> dict[str, Path]:
    """One file of every kind of bad input; returns {kind: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    sr = 22050
    bad = {}
    bad["zero_byte"] = folder / "empty.ogg"
    bad["zero_byte"].write_bytes(b"")
    data = good_example.read_bytes()
    bad["truncated"] = folder / "truncated.ogg"
    bad["truncated"].write_bytes(data[: len(data) // 3])
    rng = np.random.default_rng(0)
    bad["corrupt"] = folder / "corrupt.flac"
    bad["corrupt"].write_bytes(b"fLaC" + rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    bad["not_audio"] = folder / "notes.mp3"
    bad["not_audio"].write_text("these are my liner notes, not audio\n" * 50)
    bad["silent"] = folder / "silence.wav"
    sf.write(bad["silent"], np.zeros(5 * sr, dtype=np.float32), sr)
    bad["too_short"] = folder / "blip.wav"
    t = np.arange(int(0.4 * sr)) / sr
    sf.write(bad["too_short"], (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    return bad


#: A tiny encoder for the training tests, so that a few epochs take seconds on one core.
TINY = {"channels": [8, 8, 8, 16, 16, 16, 16], "embedding_dim": 16}


def tiny_csv(folder: Path, genres=("blues", "classical"), ids=(0, 1, 5, 6)) -> Path:
    """A labels CSV of real clips: 2 groups (ids 0-4, 5-9) per genre."""
    root = shared_data("gtzan_subset100", "audio")
    lines = ["path,genre,split"]
    for g in genres:
        lines += [f"{root / g / f'{g}.{i:05d}.ogg'},{g},train" for i in ids]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "labels.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def only_stages(*names: str) -> Iterator[None]:
    """Run ingests with only the named registered stages (the model families still run);
    every stage is registered again afterwards."""
    from songscape.ingest.stages import register_stage, registered_stages, unregister_stage

    original = registered_stages()
    for stage in reversed(original):  # dependants before what they require
        if stage.name not in names:
            unregister_stage(stage.name)
    try:
        yield
    finally:
        for stage in reversed(registered_stages()):
            unregister_stage(stage.name)
        for stage in original:
            register_stage(stage)


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly (overwriting outputs); raises when it fails."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)
