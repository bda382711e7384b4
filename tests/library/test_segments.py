"""Segment-level embeddings end to end on real music (issue 20): the ``windows:`` stage in
ingest, ``similar --file`` on a clip that is not identified (windows) and on one that is
(whole tracks), ``similar TRACK --by segment``, POST /api/identify, removal.

Two 20 s excerpts of real songs are ingested with only the stages these features use
(metadata, fingerprint, the default model's embed and windows) to keep the test short.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from songscape.catalog import windows as window_rows
from songscape.cli import main
from songscape.ingest.pipeline import IngestOptions
from songscape.library.library import Library
from songscape.models.registry import get_spec
from tests.helpers import ffmpeg, only_stages, shared_data

MODEL = "musicnn-msd"
SONGS = {"a": ("Confession_-_Quesabe.ogg", 40.0), "b": ("Fantasma_-_Los_Rombos.ogg", 60.0)}




@pytest.fixture(scope="module")
def lib_dir(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    root = tmp_path_factory.mktemp("segments")
    music = root / "music"
    music.mkdir()
    for song, (name, start) in SONGS.items():
        src = shared_data("jamendolyrics_subset10", "audio", name)
        ffmpeg("-i", str(src), "-ss", str(start), "-t", "20", "-c:a", "flac",
               str(music / f"{song}.flac"))  # fmt: skip
    clips = root / "clips"
    clips.mkdir()
    # a clip of song a from after the excerpt (not in the library), and one from inside it
    src = shared_data("jamendolyrics_subset10", "audio", SONGS["a"][0])
    ffmpeg("-i", str(src), "-ss", "90", "-t", "8", str(clips / "outside.wav"))
    ffmpeg("-i", str(music / "a.flac"), "-ss", "6", "-t", "8", str(clips / "inside.wav"))
    with Library(root / "lib", create=True) as lib, only_stages("metadata", "fingerprint"):
        report = lib.ingest([music], IngestOptions(workers=1, embed_models=(MODEL,),
                                                   tag_models=()))  # fmt: skip
        assert report.added == 2 and report.failed == 0
    return root / "lib", {p.stem: p for p in clips.iterdir()}


def _ids(lib: Library) -> dict[str, str]:
    return {Path(t["path"]).stem: t["id"] for t in lib.tracks()}


def test_ingest_stores_windows_that_agree_with_the_track_vector(lib_dir):
    """Each track's windows: the model version of its track vector, every 5 s, and
    closer to their own track's vector than to the other track's (a window/track mix-up,
    another layer or another model's windows would fail here)."""
    root, _ = lib_dir
    spec = get_spec(MODEL)
    with Library(root) as lib:
        ids = _ids(lib)
        assert lib.track(ids["a"])["stages"] and any(
            s["stage"] == f"windows:{MODEL}" and s["status"] == "done"
            for s in lib.track(ids["a"])["stages"])  # fmt: skip
        tracks = {song: lib.store.embedding(tid, MODEL)[0] for song, tid in ids.items()}
        for song, tid in ids.items():
            starts, x, version = window_rows.track_windows(lib.store.conn, tid, MODEL)
            assert version == spec.version and x.shape[1] == spec.embedding_dim
            assert starts.tolist() == [0.0, 5.0, 10.0]  # 20 s: the window at 15 s adds nothing
            own = tracks[song] / np.linalg.norm(tracks[song])
            other = tracks["b" if song == "a" else "a"]
            other = other / np.linalg.norm(other)
            unit = x / np.linalg.norm(x, axis=1, keepdims=True)
            assert np.all(unit @ own > unit @ other)
            mean = x.mean(axis=0)
            assert float(mean @ own / np.linalg.norm(mean)) > 0.98
        assert window_rows.mismatched_windows(lib.store.conn) == []


def test_similar_file_compares_a_clip_not_in_the_library_with_windows(lib_dir, capsys):
    root, clips = lib_dir
    code = main(["--library", str(root), "similar", "--file", str(clips["outside"]),
                 "--k", "2", "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["identified"] is None and out["matched_by"] == "segment"
    assert len(out["results"]) == 2
    for r in out["results"]:  # the fields of before, and the window that matched
        assert {"id", "path", "title", "score", "explanation", "duration_s"} <= set(r)
        assert r["window"]["start_s"] in (0.0, 5.0, 10.0)
        assert r["window"]["end_s"] == r["window"]["start_s"] + 10.0
        assert r["score"] == r["window"]["score"] and -1 <= r["track_score"] <= 1
    assert out["results"][0]["score"] >= out["results"][1]["score"]
    # a track as the query, by its segments (no audio decoded)
    with Library(root) as lib:
        ids = _ids(lib)
    assert main(["--library", str(root), "similar", ids["a"], "--by", "segment"]) == 0
    text = capsys.readouterr().out
    assert "best segment: query 0:" in text and "b" in text


def test_an_identified_clip_keeps_whole_track_similarity_and_the_api_says_so(lib_dir):
    from fastapi.testclient import TestClient

    from songscape.server.app import create_app

    root, clips = lib_dir
    with Library(root) as lib:
        ids = _ids(lib)
    with TestClient(create_app(root)) as client:
        r = client.post("/api/identify?k=2", content=clips["inside"].read_bytes(),
                        headers={"content-type": "audio/wav"})  # fmt: skip
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["identified"]["id"] == ids["a"] and body["matched_by"] == "track"
        assert all("window" not in t for t in body["similar"])
        r = client.get(f"/api/tracks/{ids['b']}/similar?by=segment&k=1")
        assert r.status_code == 200 and r.json()["matched_by"] == "segment"
        assert r.json()["results"][0]["id"] == ids["a"] and "window" in r.json()["results"][0]
        assert client.get(f"/api/tracks/{ids['b']}/similar?by=bars").status_code == 422


def test_removing_a_track_removes_its_windows_from_catalog_and_index(lib_dir, tmp_path):
    import shutil

    root, _ = lib_dir
    copy = tmp_path / "lib"
    shutil.copytree(root, copy)
    with Library(copy) as lib:
        ids = _ids(lib)
        index = lib.window_index(MODEL)
        assert index.n == 6
        assert main(["--library", str(copy), "index", "--windows"]) == 0
        lib.remove(ids["b"])
        assert window_rows.track_windows(lib.store.conn, ids["b"], MODEL) is None
        assert index.sync()["removed"] == 3 and index.n == 3
