"""A small real library for query by clip (issue 20), shared by the Identify panel's
browser test, the long-clip tests and the fingerprint-index cache tests.

Three 20 s excerpts of real songs (Jamendo, FLAC) ingested with only the stages these
features use (metadata, fingerprint, the default model's embed and windows), built once
per test run (:func:`tests.built_once.built_once`) and copied by the tests that change it.
Clips next to it in ``clips/``:

* ``inside.wav``: 10 s of song ``a`` from 6 s into its excerpt (identified, offset 6 s);
* ``outside.wav``: 15 s of song ``a`` from 90 s, which the library does not hold (not
  identified; longer than one 10 s window, so compared by its own windows);
* ``outside_short.wav``: 8 s of song ``a`` from 90 s (one window: its mean vector).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.built_once import built_once
from tests.helpers import ffmpeg, only_stages, shared_data

MODEL = "musicnn-msd"
#: song -> (Jamendo file, start of its 20 s excerpt in seconds)
SONGS = {
    "a": ("Confession_-_Quesabe.ogg", 40.0),
    "b": ("Fantasma_-_Los_Rombos.ogg", 60.0),
    "c": ("Guayeteo_-_JhoyKing.ogg", 30.0),
}
#: Where ``inside.wav`` starts in song a's excerpt (seconds).
INSIDE_OFFSET_S = 6.0




def _build(folder: Path) -> None:
    from songscape.ingest.pipeline import IngestOptions
    from songscape.library.library import Library

    music, clips = folder / "music", folder / "clips"
    music.mkdir()
    clips.mkdir()
    for song, (name, start) in SONGS.items():
        src = shared_data("jamendolyrics_subset10", "audio", name)
        ffmpeg("-i", str(src), "-ss", str(start), "-t", "20", "-c:a", "flac",
               str(music / f"{song}.flac"))  # fmt: skip
    ffmpeg("-i", str(music / "a.flac"), "-ss", str(INSIDE_OFFSET_S), "-t", "10",
           str(clips / "inside.wav"))  # fmt: skip
    src = shared_data("jamendolyrics_subset10", "audio", SONGS["a"][0])
    ffmpeg("-i", str(src), "-ss", "90", "-t", "15", str(clips / "outside.wav"))
    ffmpeg("-i", str(src), "-ss", "90", "-t", "8", str(clips / "outside_short.wav"))
    with Library(folder / "lib", create=True) as lib, only_stages("metadata", "fingerprint"):
        report = lib.ingest([music], IngestOptions(workers=1, embed_models=(MODEL,),
                                                   tag_models=()))  # fmt: skip
        assert report.added == len(SONGS) and report.failed == 0, report


def identify_library(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The folder holding ``lib/`` (the library), ``music/`` and ``clips/``; read only."""
    return built_once(tmp_path_factory, worker_id, "identify-clips", _build)
