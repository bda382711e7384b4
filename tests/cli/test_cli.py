"""The command line: JSON contracts, exit codes, library location."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from songscape.cli import main
from tests.built_once import built_once, copy_library
from tests.helpers import gtzan_clips, make_bad_files, shared_data

TRACK_KEYS = {"id", "path", "title", "artist", "album", "genre", "duration_s", "tempo_bpm",
              "key", "loudness_lufs", "status", "error"}  # fmt: skip
ANALYZE_KEYS = {"duration_s", "sample_rate", "tempo_bpm", "beat_times", "downbeat_times", "key",
                "key_confidence", "loudness_lufs", "energy_curve"}  # fmt: skip


def run_json(capsys, *argv: str):
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def _ingest_cli_library(folder: Path) -> None:
    """4 real clips (as ``music_folder``) and 6 bad files, ingested through the CLI."""
    music = folder / "music"
    for clip in gtzan_clips(4):
        dest = music / clip.parent.name / clip.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(clip, dest)
    make_bad_files(music / "bad", gtzan_clips(1)[0])
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--library", str(folder / "lib"), "ingest", str(music), "--json",
                     "--workers", "1"])  # fmt: skip
    assert code == 0
    report = json.loads(out.getvalue())
    assert (report["added"], report["failed"]) == (4, 6)


@pytest.fixture
def library(tmp_path, tmp_path_factory, worker_id):
    """A private copy of a library with 4 real clips and 6 bad files, ingested through the
    CLI once per test run (tests/built_once.py); the music files are shared, read only."""
    built = built_once(tmp_path_factory, worker_id, "cli-library", _ingest_cli_library)
    return str(copy_library(built / "lib", tmp_path / "lib"))


def test_tracks_json_contract(library, capsys):
    code, tracks = run_json(capsys, "tracks", "--json", "--library", library)
    assert code == 0 and len(tracks) == 10
    for t in tracks:
        assert TRACK_KEYS <= set(t)
    ok = [t for t in tracks if t["status"] == "ok"]
    assert len(ok) == 4 and all(t["error"] is None and t["tempo_bpm"] for t in ok)
    code, failed = run_json(capsys, "--library", library, "tracks", "--failed", "--json")
    assert len(failed) == 6 and all(t["status"] == "failed" and t["error"] for t in failed)


def test_show_by_id_and_path(library, capsys):
    _, tracks = run_json(capsys, "--library", library, "tracks", "--json", "--status", "ok")
    first = tracks[0]
    code, by_id = run_json(capsys, "--library", library, "show", first["id"], "--json")
    assert code == 0 and by_id["id"] == first["id"]
    assert len(by_id["descriptors"]["beat_times"]) > 5
    code, by_path = run_json(capsys, "--library", library, "show", first["path"], "--json")
    assert by_path["id"] == first["id"]
    assert main(["--library", library, "show", first["id"][:8]]) == 0
    human = capsys.readouterr().out
    assert "tempo" in human and "BPM" in human and "LUFS" in human


def test_stats_and_remove(library, capsys):
    code, stats = run_json(capsys, "--library", library, "stats", "--json")
    assert code == 0
    assert stats["by_status"] == {"ok": 4, "failed": 6, "missing": 0}
    assert stats["total_duration_s"] > 60 and stats["formats"] == {"OGG/VORBIS": 4}
    _, tracks = run_json(capsys, "--library", library, "tracks", "--json", "--status", "ok")
    code, removed = run_json(capsys, "--library", library, "remove", tracks[0]["id"], "--json")
    assert code == 0 and removed["id"] == tracks[0]["id"]
    _, stats = run_json(capsys, "--library", library, "stats", "--json")
    assert stats["by_status"]["ok"] == 3
    assert main(["--library", library, "remove", tracks[0]["id"]]) == 1
    assert "no track" in capsys.readouterr().err


def test_human_outputs_render(library, capsys):
    for argv in (["tracks"], ["tracks", "--failed"], ["stats"]):
        assert main(["--library", library, *argv]) == 0
        assert capsys.readouterr().out.strip()


def test_analyze_json_contract(capsys):
    clip = shared_data("beat_fullclips", "audio")
    path = sorted(clip.glob("*.ogg"))[0]
    code, result = run_json(capsys, "analyze", str(path), "--json")
    assert code == 0
    assert ANALYZE_KEYS <= set(result)
    assert result["sample_rate"] == 22050 and result["analysis_sample_rate"] == 22050
    assert 29 < result["duration_s"] < 33
    assert len(result["beat_times"]) > 20 and len(result["downbeat_times"]) > 5
    assert len(result["energy_curve"]) == pytest.approx(2 * result["duration_s"], abs=3)


def test_analyze_gains_tags_and_embedding(capsys):
    path = shared_data("librosa_data", "audio", "Kevin_MacLeod_-_Vibe_Ace.ogg")
    code, result = run_json(capsys, "analyze", str(path), "--json")
    assert code == 0 and ANALYZE_KEYS <= set(result)
    assert result["embedding_model"] == "musicnn-msd" and result["embedding_dim"] == 200
    assert len(result["embedding"]) == 200
    assert len(result["tags"]) == 50 and all(0 <= p <= 1 for p in result["tags"].values())
    assert next(iter(result["tags"])) == "jazz"  # the original's top tag (reference README)
    code, mtt = run_json(capsys, "analyze", str(path), "--json", "--model", "vgg-mtt")
    assert code == 0 and mtt["embedding_dim"] == 256 and "techno" in mtt["tags"]
    code, plain = run_json(capsys, "analyze", str(path), "--json", "--no-model")
    assert "tags" not in plain and "embedding" not in plain
    assert main(["analyze", str(path), "--model", "nope"]) == 2
    assert "known models: musicnn-msd" in capsys.readouterr().err


def test_tags_models_and_embeddings(library, capsys, tmp_path):
    _, tracks = run_json(capsys, "--library", library, "tracks", "--json", "--status", "ok")
    code, tags = run_json(capsys, "--library", library, "tags", tracks[0]["id"], "--json")
    assert code == 0 and tags["id"] == tracks[0]["id"]
    assert {t["source"] for t in tags["tags"]} == {"msd", "mtt"}
    assert set(tags["by_model"]) == {"musicnn-msd", "musicnn-mtt"}
    code, top = run_json(capsys, "--library", library, "tags", tracks[0]["id"], "--top", "3",
                         "--json")  # fmt: skip
    assert len(top["tags"]) == 6
    assert main(["--library", library, "tags", tracks[0]["id"]]) == 0
    assert "msd:" in capsys.readouterr().out
    assert main(["--library", library, "tags", "ffffffffffff"]) == 1
    picture = tmp_path / "taggram.png"
    assert main(["--library", library, "tags", tracks[0]["id"], "--plot", str(picture),
                 "--model", "musicnn-mtt"]) == 0  # fmt: skip
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["--library", library, "tags", tracks[0]["id"], "--plot", "x.jpg"]) == 2
    assert main(["--library", library, "tags", tracks[0]["id"], "--plot", str(picture),
                 "--model", "vgg-mtt"]) == 1  # fmt: skip
    capsys.readouterr()

    code, models = run_json(capsys, "--library", library, "models", "--json")
    assert code == 0
    assert [m["name"] for m in models] == ["musicnn-msd", "musicnn-mtt", "vgg-msd", "vgg-mtt"]
    by_name = {m["name"]: m for m in models}
    assert by_name["musicnn-msd"]["library_default"] and by_name["musicnn-msd"]["default"]
    assert by_name["musicnn-msd"]["library_vectors"] == 4
    assert by_name["vgg-mtt"]["library_vectors"] == 0

    out = tmp_path / "vectors.npz"
    code, summary = run_json(capsys, "--library", library, "embeddings", "--out", str(out),
                             "--json")  # fmt: skip
    assert code == 0 and summary["n"] == 4 and summary["dim"] == 200
    data = np.load(out)
    assert data["vectors"].shape == (4, 200) and data["vectors"].dtype == np.float32
    assert sorted(data["ids"]) == sorted(t["id"] for t in tracks)
    assert set(data["paths"]) == {t["path"] for t in tracks}
    assert str(data["model"]) == "musicnn-msd"
    # A model with no vectors yet, a wrong name, a wrong file name: clear errors.
    assert main(["--library", library, "embeddings", "--model", "vgg-mtt", "--out", str(out)]) == 1
    assert "ingest --model vgg-mtt" in capsys.readouterr().err
    assert main(["--library", library, "embeddings", "--model", "x", "--out", str(out)]) == 2
    assert main(["--library", library, "embeddings", "--out", str(tmp_path / "v.txt")]) == 2


def test_similar_search_path_index(library, capsys, tmp_path):
    _, tracks = run_json(capsys, "--library", library, "tracks", "--json", "--status", "ok")
    first = tracks[0]
    code, result = run_json(capsys, "--library", library, "similar", first["id"], "--k", "2",
                            "--json")  # fmt: skip
    assert code == 0 and result["query"]["id"] == first["id"]
    assert len(result["results"]) == 2 and first["id"] not in [r["id"] for r in result["results"]]
    assert {"shared_tags", "tempo", "key", "same_artist", "same_album"} <= set(
        result["results"][0]["explanation"]
    )
    code, by_file = run_json(capsys, "--library", library, "similar", "--file", first["path"],
                             "--k", "1", "--json")  # fmt: skip
    assert code == 0 and by_file["results"][0]["id"] == first["id"]  # itself, not excluded
    # Identified by fingerprint first (issue 20): the whole file, from its start.
    assert by_file["identified"]["id"] == first["id"] and by_file["identified"]["offset_s"] < 0.2
    assert main(["--library", library, "similar", first["id"], "--filter", "tempo=x"]) == 2
    assert main(["--library", library, "similar"]) == 2
    assert main(["--library", library, "similar", "ffffffffffff"]) == 1
    assert main(["--library", library, "similar", first["id"]]) == 0
    assert "score" in capsys.readouterr().out

    code, found = run_json(capsys, "--library", library, "search", "classical", "--json")
    assert code == 0 and found["intent"]["patterns"] and found["results"]
    assert main(["--library", library, "search", "  "]) == 2
    assert main(["--library", library, "search", "jazz music"]) == 0
    assert "understood as" in capsys.readouterr().out

    code, path = run_json(capsys, "--library", library, "path", tracks[0]["id"],
                          tracks[1]["id"], "--steps", "2", "--json")  # fmt: skip
    assert code == 0 and [p["id"] for p in path["path"]][0] == tracks[0]["id"]
    assert len(path["path"]) == 4 and path["path"][-1]["id"] == tracks[1]["id"]
    assert main(["--library", library, "path", tracks[0]["id"], tracks[0]["id"]]) == 2

    code, check = run_json(capsys, "--library", library, "index", "--json")
    assert code == 0 and check["in_sync"] and check["n_index"] == 4
    code, check = run_json(capsys, "--library", library, "index", "--rebuild", "--json")
    assert code == 0 and check["in_sync"]


def test_ingest_model_flag_sets_the_default(tmp_path, capsys):
    folder = tmp_path / "music"
    folder.mkdir()
    clip = gtzan_clips(1)[0]
    (folder / clip.name).write_bytes(clip.read_bytes())
    lib = str(tmp_path / "lib")
    code, _ = run_json(capsys, "--library", lib, "ingest", str(folder), "--model", "vgg-mtt",
                       "--workers", "1", "--json")  # fmt: skip
    assert code == 0
    code, stats = run_json(capsys, "--library", lib, "stats", "--json")
    assert stats["default_model"] == "vgg-mtt"
    assert list(stats["embeddings"]) == ["vgg-mtt"]
    assert main(["--library", lib, "ingest", str(folder), "--model", "nope"]) == 2


def test_analyze_bad_file_exits_1(tmp_path, capsys):
    bad = make_bad_files(tmp_path / "bad", gtzan_clips(1)[0])
    assert main(["analyze", str(bad["not_audio"])]) == 1
    err = capsys.readouterr().err
    assert "notes.mp3" in err and "error" in err


def test_usage_errors_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["ingest"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["ingest", str(tmp_path), "--workers", "0"])
    assert exc.value.code == 2
    assert main(["--library", str(tmp_path / "lib"), "ingest", str(tmp_path / "nope")]) == 2
    assert main(["analyze", str(tmp_path / "nope.ogg")]) == 2


def test_missing_or_unreadable_library_exits_1(tmp_path, capsys):
    assert main(["--library", str(tmp_path / "none"), "tracks"]) == 1
    assert "no library" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "catalog.sqlite").write_bytes(b"garbage" * 1000)
    assert main(["--library", str(broken), "stats"]) == 1


def test_default_library_location(tmp_path, monkeypatch):
    from songscape.config import default_library_dir

    monkeypatch.delenv("SONGSCAPE_LIBRARY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_library_dir() == tmp_path / "xdg" / "songscape" / "library"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_library_dir() == tmp_path / "home" / ".local/share/songscape/library"
    monkeypatch.setenv("SONGSCAPE_LIBRARY", str(tmp_path / "explicit"))
    assert default_library_dir() == tmp_path / "explicit"


def test_console_script_runs(tmp_path, music_folder):
    """The installed entry point, as a user runs it (env var picks the library)."""
    exe = os.path.join(os.path.dirname(sys.executable), "songscape")
    env = {**os.environ, "SONGSCAPE_LIBRARY": str(tmp_path / "lib")}
    done = subprocess.run([exe, "ingest", str(music_folder), "--json"], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 4
    done = subprocess.run([exe, "ingest", str(music_folder)], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0 and "unchanged 4" in done.stdout


def test_demo_builds_a_library(tmp_path, capsys):
    lib = str(tmp_path / "demo" / "library")
    assert main(["--library", lib, "demo", "--count", "2", "--workers", "1", "-q"]) == 0
    out = capsys.readouterr().out
    assert "serve" in out
    code, stats = run_json(capsys, "--library", lib, "stats", "--json")
    assert stats["by_status"]["ok"] == 2 and stats["embeddings"]
