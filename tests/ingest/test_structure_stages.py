"""The structure and highlight stages end to end: ingest, storage, versions, CLI and API."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from songscape.audio.song_forms import structured_song
from songscape.catalog import structure as structure_db
from songscape.cli import main
from songscape.ingest import structure_stages
from songscape.ingest.pipeline import IngestOptions
from songscape.ingest.stages import get_stage, stale_stages
from songscape.library.library import Library

SR = 22050


@pytest.fixture(scope="module")
def song_library(tmp_path_factory):
    """A library of one synthetic verse/chorus song (56 s) and one silent file."""
    root = tmp_path_factory.mktemp("structure")
    music = root / "music"
    music.mkdir()
    song = structured_song(form="VCVCBC", tempo_bpm=120.0, bars={"V": 4, "C": 4, "B": 4},
                           seed=3)  # fmt: skip
    sf.write(music / "song.wav", song.y, SR)
    sf.write(music / "quiet.wav", np.zeros(SR * 5, np.float32), SR)
    lib_dir = root / "lib"
    with Library(lib_dir, create=True) as lib:
        lib.ingest([str(music)], IngestOptions(workers=1, embed_models=(), tag_models=()))
    return lib_dir, music, song


def _song_id(lib: Library) -> str:
    return next(t["id"] for t in lib.tracks(status="ok") if t["path"].endswith("song.wav"))


def test_stages_store_sections_and_highlight(song_library):
    lib_dir, _, song = song_library
    with Library(lib_dir) as lib:
        track_id = _song_id(lib)
        info = lib.sections(track_id)
        assert info["sections"] and info["sections"][0]["start_s"] == 0.0
        assert info["sections"][-1]["end_s"] == pytest.approx(song.duration_s, abs=0.05)
        stages = {s["stage"]: s for s in lib.track(track_id)["stages"]}
        assert stages["structure"]["status"] == "done"
        assert stages["highlight"]["version"] == get_stage("highlight").version
        h = lib.highlight(track_id)
        assert h["stored"] and h["method"] == "signal"
        assert h["end_s"] - h["start_s"] == pytest.approx(30.0)
        timeline = lib.timeline(track_id)
        assert timeline["highlight"]["start_s"] == h["start_s"]
        values = timeline["energy_curve"]["values"]
        assert min(values) == 0.0 and max(values) == 1.0
        assert len(timeline["energy_curve"]["times_s"]) == len(values)
        assert timeline["beat_times"] and timeline["downbeat_times"]
        # A silent file fails before the stages run: no structure rows, reason recorded.
        failed = [t for t in lib.tracks(status="failed")]
        assert failed and "silent" in (failed[0]["error"] or "")


def test_highlight_version_follows_the_attention_model(monkeypatch):
    stage = structure_stages.HighlightStage()
    v0 = stage.version
    monkeypatch.setattr(structure_stages, "attention_model_version", lambda name: "trained-abc")
    assert stage.version != v0
    assert stale_stages({"metadata": (1, "done")}, [stage]) == ["highlight"]


def test_other_lengths_are_computed_from_the_file(song_library):
    lib_dir, _, _ = song_library
    with Library(lib_dir) as lib:
        h = lib.highlight(_song_id(lib), length_s=12.0)
    assert not h["stored"] and h["end_s"] - h["start_s"] == pytest.approx(12.0)


def test_cli_sections_highlight_plot_export(song_library, tmp_path, capsys):
    lib_dir, _, _ = song_library
    with Library(lib_dir) as lib:
        track_id = _song_id(lib)
    assert main(["--library", str(lib_dir), "sections", track_id, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"sections", "chorus", "reason"} <= set(out)
    png = tmp_path / "h.png"
    assert main(["--library", str(lib_dir), "highlight", track_id, "--json",
                 "--plot", str(png)]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert {"start_s", "end_s", "method", "score"} <= set(out)
    assert png.stat().st_size > 10_000
    assert main(["--library", str(lib_dir), "highlight", track_id, "--method", "attention"]) == 2
    capsys.readouterr()
    assert main(["--library", str(lib_dir), "highlight", "--export", str(tmp_path / "clips"),
                 "--json"]) == 0  # fmt: skip
    clips = json.loads(capsys.readouterr().out)["clips"]
    ok = [c for c in clips if "file" in c]
    assert len(ok) == 1
    clip, sr = sf.read(ok[0]["file"])
    assert len(clip) / sr == pytest.approx(30.0, abs=0.05)


def test_api_track_has_the_timeline(song_library):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from songscape.server.app import create_app

    lib_dir, _, _ = song_library
    with Library(lib_dir) as lib:
        track_id = _song_id(lib)
    with TestClient(create_app(lib_dir)) as client:
        body = client.get(f"/api/tracks/{track_id}").json()
    assert set(body["highlight"]) == {"start_s", "end_s", "method", "score"}
    assert all(set(s) == {"start_s", "end_s", "label"} for s in body["sections"])
    assert set(body["energy_curve"]) == {"times_s", "values"}
    assert body["beat_times"] and body["downbeat_times"]


def test_tables_are_cleared_with_the_track_data(song_library):
    lib_dir, _, _ = song_library
    with Library(lib_dir) as lib:
        track_id = _song_id(lib)
        assert structure_db.get_highlights(lib.store.conn, track_id)
        conn = lib.store.conn
        conn.execute("SAVEPOINT t")
        structure_db.clear(conn, track_id)
        assert structure_db.get_structure(conn, track_id) is None
        assert structure_db.default_highlight(conn, track_id) is None
        conn.execute("ROLLBACK TO t")
        conn.execute("RELEASE t")


def test_analyze_json_has_sections_and_highlight(song_library, capsys):
    _, music, _ = song_library
    assert main(["analyze", str(music / "song.wav"), "--json", "--no-model"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sections"] and set(out["sections"][0]) == {"start_s", "end_s", "label"}
    assert set(out["highlight"]) == {"start_s", "end_s", "method", "score"}
    assert out["highlight"]["method"] == "signal"
    assert "tempo_bpm" in out and "beat_times" in out


def test_descriptors_record_the_beat_tracker(song_library):
    lib_dir, _, song = song_library
    with Library(lib_dir) as lib:
        track = lib.track(_song_id(lib))
    assert track["descriptors"]["rhythm_method"] == "beatnet-dbn"
    beats = np.asarray(track["descriptors"]["beat_times"])
    assert abs(60.0 / np.median(np.diff(beats)) - 120.0) < 2.0
