"""The embed/tag stages in the ingest pipeline: per-model bookkeeping on real music."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from songscape.ingest.pipeline import IngestOptions
from songscape.ingest.stages import TrackContext
from songscape.library.library import Library
from songscape.models.registry import (
    UnknownModelError,
    get_spec,
    load_model,
    register_model,
)
from tests.built_once import copy_library, four_clips_ingested
from tests.helpers import gtzan_clips

INLINE = IngestOptions(workers=1)


def _stage_times(lib: Library, stage: str) -> dict[str, float]:
    return {
        r["track_id"]: r["updated_at"]
        for r in lib.store.conn.execute(
            "SELECT track_id, updated_at FROM stage_runs WHERE stage = ?", (stage,)
        )
    }


@pytest.fixture
def ingested(tmp_path, tmp_path_factory, worker_id):
    """A private copy of the 4 clips of ``music_folder`` ingested with INLINE (built once
    per test run); the music files are shared, read only."""
    built = four_clips_ingested(tmp_path_factory, worker_id)
    return copy_library(built / "lib", tmp_path / "lib"), built / "music"


def test_vectors_and_tags_equal_a_direct_model_run(ingested):
    lib_dir, _ = ingested
    with Library(lib_dir) as lib:
        emb = lib.embeddings()
        assert emb["model"] == "musicnn-msd" and emb["version"] == get_spec("musicnn-msd").version
        assert emb["vectors"].shape == (4, 200) and emb["vectors"].dtype == np.float32
        path = emb["paths"][0]
        # The stage resamples the analysis-rate decode (22.05 kHz) to 16 kHz instead of
        # decoding again; the source is 22.05 kHz, so that is the same signal.
        ctx = TrackContext(path)
        direct = load_model("musicnn-msd").run(ctx.audio(16000))
        np.testing.assert_allclose(emb["vectors"][0], direct.embedding, atol=1e-5)
        tags = lib.tags(emb["ids"][0])
        assert {t["source"] for t in tags["tags"]} == {"msd", "mtt"}
        assert len(tags["tags"]) == 100
        probs = [t["probability"] for t in tags["tags"]]
        assert probs == sorted(probs, reverse=True)
        msd = tags["by_model"]["musicnn-msd"]
        top_tag = max(direct.tags(), key=direct.tags().get)
        assert next(iter(msd)) == top_tag
        assert msd[top_tag] == pytest.approx(direct.tags()[top_tag], abs=1e-4)
        assert all(t["name"] == f"{t['source']}:{t['tag']}" for t in tags["tags"])
        taggram = lib.store.get_arrays(emb["ids"][0])["taggram:musicnn-mtt"]
        assert taggram.shape[1] == 50 and taggram.shape[0] >= 4  # 15-20 s clips, 3 s patches


def test_adding_a_model_embeds_only_what_is_missing(ingested):
    lib_dir, music_folder = ingested
    with Library(lib_dir) as lib:
        before = lib.embeddings()["vectors"].copy()
        tag_runs = _stage_times(lib, "tag:musicnn-msd")
        descriptor_runs = _stage_times(lib, "descriptors")

        report = lib.ingest([music_folder], IngestOptions(workers=1, embed_models=("vgg-msd",)))
        assert report.restaged == 4 and report.added == 0
        assert lib.store.embedding_counts() == {
            "musicnn-msd": {get_spec("musicnn-msd").version: 4},
            "vgg-msd": {get_spec("vgg-msd").version: 4},
        }
        assert lib.embeddings("vgg-msd")["vectors"].shape == (4, 256)
        # Nothing else ran again.
        np.testing.assert_array_equal(lib.embeddings("musicnn-msd")["vectors"], before)
        assert _stage_times(lib, "tag:musicnn-msd") == tag_runs
        assert _stage_times(lib, "descriptors") == descriptor_runs

        again = lib.ingest([music_folder], IngestOptions(workers=1, embed_models=("vgg-msd",)))
        assert again.restaged == 0 and again.audio_seconds == 0


def test_default_model_of_the_library(tmp_path, music_folder):
    with Library(tmp_path / "lib", create=True) as lib:
        assert lib.default_model == "musicnn-msd"
        lib.set_default_model("musicnn-mtt")
        assert lib.default_model == "musicnn-mtt"
        lib.ingest([music_folder], INLINE)  # embeds with the library's default model
        assert set(lib.store.embedding_counts()) == {"musicnn-mtt"}
        assert lib.embeddings()["vectors"].shape == (4, 200)
        assert lib.stats()["default_model"] == "musicnn-mtt"
        with pytest.raises(UnknownModelError, match="known models: musicnn-msd"):
            lib.set_default_model("nope")


def test_a_new_model_version_recomputes_only_that_model(tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    clip = gtzan_clips(1)[0]
    (folder / clip.name).write_bytes(clip.read_bytes())
    spec = get_spec("musicnn-mtt")
    try:
        with Library(tmp_path / "lib", create=True) as lib:
            lib.ingest([folder], INLINE)
            msd_runs = _stage_times(lib, "tag:musicnn-msd")
            register_model(dataclasses.replace(spec, version=spec.version + "-bumped"), True)
            report = lib.ingest([folder], INLINE)
            assert report.restaged == 1
            assert _stage_times(lib, "tag:musicnn-msd") == msd_runs
            row = lib.store.conn.execute(
                "SELECT COUNT(*) FROM stage_runs WHERE stage = 'tag:musicnn-mtt'"
            ).fetchone()
            assert row[0] == 1
    finally:
        register_model(spec, replace=True)


def test_unknown_model_fails_before_any_work(tmp_path, music_folder):
    with Library(tmp_path / "lib", create=True) as lib:
        with pytest.raises(UnknownModelError, match="unknown model 'nope'"):
            lib.ingest([music_folder], IngestOptions(workers=1, embed_models=("nope",)))
        assert lib.tracks() == []
