"""Trained vocal embeddings end to end: ``train --source vocals``, ``vocals``, ``sing``.

A library of two real mir1k karaoke mixtures (two singers) gets its vocal analysis; a
tiny MoCo encoder and a tiny TJAE are trained on its sung regions from the command line,
registered, recognised as vocal models, embedded into the library by ``songscape vocals``
(and again when a model is retrained) and used by ``sing`` for a voice.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from songscape.audio.voice_synth import note_contour, sing_melody
from songscape.catalog import vocals as vocals_catalog
from songscape.cli import main
from songscape.ingest.pipeline import IngestOptions
from songscape.ingest.vocals_stage import VocalsStage
from songscape.library.library import Library
from songscape.models import trained
from songscape.models.registry import get_spec
from songscape.models.vocal_timbre import vocal_model_signal, vocal_models
from tests.helpers import shared_data

CLIPS = ("geniusturtle_1_08", "abjones_2_12")
TINY_MOCO = ('{"channels": [8, 8, 8, 16, 16], "embedding_dim": 16, "chunk_samples": 16384, '
             '"n_mels": 64}')  # fmt: skip
TINY_TJAE = ('{"channels": 8, "skip_channels": 8, "n_layers": 3, "embedding_dim": 8, '
             '"chunk_samples": 16384, "n_mels": 32}')  # fmt: skip
SR = 22050


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Two mir1k mixtures, ingested without models, with their vocal analysis."""
    base = tmp_path_factory.mktemp("vocal-training")
    music = base / "music"
    music.mkdir()
    for clip in CLIPS:
        shutil.copy(shared_data("mir1k_half", "audio", f"{clip}.ogg"), music)
    with Library(base / "lib", create=True) as lib:
        lib.ingest([music], IngestOptions(workers=1, embed_models=(), tag_models=()))
        report = lib.analyze_vocals(workers=1)
        assert report.failed == 0
    return base


@pytest.fixture
def lib_copy(library, models_env):
    root = models_env / "lib"
    shutil.copytree(library / "lib", root)
    return root


def test_the_vocals_stage_records_the_sung_regions(library):
    with Library(library / "lib") as lib:
        rows = vocals_catalog.sung_regions(lib.store.conn)
        assert len(rows) == 2 and lib.tracks_without_vocals() == []
        for row in rows:
            regions = vocals_catalog.regions_from_blob(row["regions"])
            stem = row["path"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
            pv = np.loadtxt(shared_data("mir1k_half", "PitchLabel", f"{stem}.pv"))
            t = 0.02 + 0.02 * np.arange(len(pv))
            inside = np.zeros(len(t), dtype=bool)
            for a, b in regions:
                inside |= (t >= a) & (t < b)
            assert np.all(np.diff(regions.ravel()) >= 0)  # ordered, not overlapping
            assert regions[-1, 1] <= len(pv) * 0.02 + 0.1
            # the regions are where the labels say the voice sings
            assert (pv[inside] > 0).mean() > 0.7 and inside[pv > 0].mean() > 0.5
        # an analysis made by another version of the stage is redone
        version = VocalsStage.version
        stale = vocals_catalog.tracks_with_stale_vocals(lib.store.conn, "vocals:", version - 1)
        assert len(stale) == 2
        assert vocals_catalog.tracks_with_stale_vocals(lib.store.conn, "vocals:", version) == []


def _vocals_json(root, capsys) -> dict:
    assert main(["--library", str(root), "vocals", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_train_on_the_library_singing_then_vocals_and_sing_use_it(lib_copy, models_env, capsys):
    train = ["--library", str(lib_copy), "train", "--source", "vocals", "--epochs", "1",
             "--batch-size", "2", "--chunks", "2", "--valid-chunks", "1", "--threads", "1",
             "--valid-fraction", "0.5", "--json"]  # fmt: skip
    assert main([*train, "--task", "moco", "--arch", "shortchunk-cnn", "--name", "vt",
                 "--augment", "pitch_shift=negative,time_stretch=positive",
                 "--encoder", TINY_MOCO]) == 0  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_train"] + summary["n_valid"] == 2
    assert main([*train, "--task", "tjae", "--arch", "tjae", "--name", "mood",
                 "--vocal-signal", "dominant", "--encoder", TINY_TJAE]) == 0  # fmt: skip
    capsys.readouterr()
    meta = trained.trained_metadata("vt")
    assert meta["data"]["source"].startswith("library-vocals:mix:")  # the default signal
    assert vocal_model_signal(meta) == "mix"
    assert vocal_models() == {"mood": "dominant", "vt": "mix"}
    for signal in ("mix", "dominant"):
        segments = sorted((models_env / "cache" / "vocal-segments" / signal).glob("*.wav"))
        assert len(segments) == 2 and all(sf.info(p).duration > 2.0 for p in segments)

    out = _vocals_json(lib_copy, capsys)
    assert out["analysed"] is None and out["vocal_embeddings_updated"] == {"vt": 2, "mood": 2}
    with Library(lib_copy) as lib:
        conn = lib.store.conn
        assert set(vocals_catalog.vocal_embedding_kinds(conn)) >= {"moco:vt", "tjae:mood"}
        ids = [r["id"] for r in vocals_catalog.sung_regions(conn)]
        vectors, found = vocals_catalog.vocal_embedding_matrix(conn, "moco:vt", ids)
        assert found.all() and vectors.shape == (2, 16) and np.isfinite(vectors).all()
        versions = vocals_catalog.vocal_embedding_versions(conn, "moco:vt")
        assert set(versions.values()) == {get_spec("vt").version}
    assert _vocals_json(lib_copy, capsys)["vocal_embeddings_updated"] == {}  # up to date

    # a retrained model has a new version: its vectors are computed again
    assert main([*train, "--task", "moco", "--arch", "shortchunk-cnn", "--name", "vt",
                 "--seed", "1", "--overwrite", "--encoder", TINY_MOCO]) == 0  # fmt: skip
    capsys.readouterr()
    assert _vocals_json(lib_copy, capsys)["vocal_embeddings_updated"] == {"vt": 2}

    notes = [55, 57, 59, 60, 62, 64, 62, 60, 59, 57, 55, 57, 59, 60]
    voice = sing_melody(note_contour(notes, 0.5, SR), SR)
    with Library(lib_copy) as lib:
        result = lib.sing(voice, sr=SR, k=2)
        kinds = {k for r in result["results"] for k in r["timbre_by_kind"]}
        assert kinds == {"musicnn", "mfcc", "moco:vt", "tjae:mood"}
        alone = lib.sing(voice, sr=SR, k=2, weights="range=0,musicnn=0,mfcc=0,tjae=0,moco=1")
        for r in alone["results"]:
            assert r["timbre_similarity"] == pytest.approx(r["timbre_by_kind"]["moco:vt"],
                                                           abs=1e-4)  # fmt: skip


def test_train_source_vocals_bad_uses(tmp_path, models_env, capsys):
    empty = tmp_path / "empty"
    with Library(empty, create=True):
        pass
    base = ["--library", str(empty), "train", "--source", "vocals", "--name", "x"]
    assert main([*base, "--task", "moco", "--arch", "shortchunk-cnn"]) == 2
    assert "songscape vocals" in capsys.readouterr().err
    assert main([*base, "--task", "genre", "--arch", "shortchunk-cnn"]) == 2
    assert "needs --labels" in capsys.readouterr().err
    assert main([*base, "--task", "moco", "--arch", "shortchunk-cnn", "--audio-dir",
                 str(tmp_path)]) == 2  # fmt: skip
    assert "exactly one of" in capsys.readouterr().err
