"""The ``vocals`` stage on a real karaoke clip, and its pieces."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from songscape.catalog import vocals as vocals_catalog
from songscape.ingest.pipeline import IngestOptions
from songscape.ingest.stages import get_stage
from songscape.ingest.vocals_stage import VocalsStage, note_histogram, vocals_stage_name
from songscape.library.library import Library
from tests.helpers import shared_data


def test_note_histogram_counts_seconds_per_semitone():
    midi = np.array([60.2, 59.8, np.nan, 64.4, 10.0, 130.0])
    h = note_histogram(midi, 0.02)
    assert h.shape == (vocals_catalog.NOTE_HIST_BINS,)
    assert h[60 - vocals_catalog.NOTE_HIST_LOW] == pytest.approx(0.04)
    assert h[64 - vocals_catalog.NOTE_HIST_LOW] == pytest.approx(0.02)
    assert h.sum() == pytest.approx(0.06)  # nan and out-of-range notes are left out


def test_stage_names_resolve_per_tracker():
    stage = get_stage(vocals_stage_name("pyin"))
    assert isinstance(stage, VocalsStage) and stage.tracker == "pyin"
    with pytest.raises(KeyError):
        get_stage("vocals:nope")


def test_vocals_stage_on_a_karaoke_mixture(tmp_path):
    """One mir1k clip (both channels: the mix) through ingest, then ``analyze_vocals``."""
    clip = shared_data("mir1k_half", "audio", "amy_1_01.ogg")
    music = tmp_path / "music"
    music.mkdir()
    shutil.copy(clip, music / clip.name)
    labels = np.loadtxt(shared_data("mir1k_half", "PitchLabel", "amy_1_01.pv"))
    sung = labels[labels > 0]
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([music], IngestOptions(workers=1, embed_models=(), tag_models=()))
        assert len(lib.tracks_without_vocals()) == 1
        report = lib.analyze_vocals(workers=1)
        assert report.failed == 0 and lib.tracks_without_vocals() == []
        assert lib.analyze_vocals(workers=1) is None  # nothing left to do
        rows = vocals_catalog.vocal_rows(lib.store.conn)
        assert len(rows) == 1
        row = rows[0]
        assert row["tracker"] == "crepe-tiny" and row["voiced_s"] > 2.0
        assert abs(row["tessitura"] - np.median(sung)) < 3.0
        assert row["range_low"] < row["comfortable_low"] < row["tessitura"]
        assert row["tessitura"] < row["comfortable_high"] < row["range_high"]
        hist = vocals_catalog.note_histograms(rows)[0]
        assert hist.sum() == pytest.approx(row["voiced_s"], rel=0.05)
        vectors, found = vocals_catalog.vocal_embedding_matrix(lib.store.conn, "musicnn",
                                                               [row["track_id"]])  # fmt: skip
        assert found.all() and vectors.shape == (1, 200) and np.isfinite(vectors).all()
        assert vocals_catalog.vocal_embedding_kinds(lib.store.conn) == ["mfcc", "musicnn"]
        lib.remove(row["track_id"])
        assert vocals_catalog.vocal_rows(lib.store.conn) == []
