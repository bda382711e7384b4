"""An offline demo catalog: synthetic songs with known tempo, key and meter.

The demo needs audio that exists on any fresh machine with no network, so it
synthesises it (:mod:`songscape.audio.synth`): drums plus diatonic chord
progressions, each song in its own key, tempo, meter and timbre, tagged like a
real album (FLAC with Vorbis comments). The truth is written into the tags'
comment so a user can compare songscape's descriptors with it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
from mutagen.flac import FLAC

from songscape.audio.synth import demo_song, demo_song_specs

DEMO_SAMPLE_RATE = 22050


def _genre(spec: dict) -> str:
    # A coarse, deterministic "genre" so the demo has something to colour and filter by.
    if spec["beats_per_bar"] == 3:
        return "Waltz"
    if spec["tempo_bpm"] >= 125:
        return "Dance"
    return "Ballad" if spec["brightness"] < 0.5 else "Pop"


def write_demo_songs(folder: str | os.PathLike, count: int = 20, seed: int = 0) -> list[Path]:
    """Write ``count`` synthetic songs into ``folder`` (skipping ones already there).

    Returns the paths, in track order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, spec in enumerate(demo_song_specs(count, seed=seed), start=1):
        title = spec.pop("title")
        path = folder / f"{number:02d} {title}.flac"
        paths.append(path)
        if path.exists():
            continue
        song = demo_song(sr=DEMO_SAMPLE_RATE, **spec)
        tmp = path.with_suffix(".part")
        sf.write(tmp, np.asarray(song.y, dtype=np.float32), DEMO_SAMPLE_RATE, format="FLAC")
        tags = FLAC(tmp)
        tags["title"] = title
        tags["artist"] = "songscape synth"
        tags["album"] = "Synthetic Demo"
        tags["genre"] = _genre(spec)
        tags["tracknumber"] = f"{number}/{count}"
        tags["date"] = "2026"
        tags["comment"] = (
            f"truth: {spec['tempo_bpm']} BPM, {song.key}, {spec['beats_per_bar']} beats per bar"
        )
        tags.save()
        tmp.rename(path)  # only complete files get an audio extension
    return paths
