"""The emotion stage end to end: ingest, summaries, filters, text search, lyrics, map, heads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from songscape.cli import main
from songscape.ingest.emotion_stage import forget_heads
from songscape.ingest.pipeline import IngestOptions
from songscape.library.library import Library
from songscape.models.emotion_space import GEMS
from songscape.search.emotion_map import valence_arousal_layout
from songscape.server.payloads import point_fields
from songscape.training.emotion import fit_head
from tests.built_once import built_once, copy_library
from tests.helpers import gtzan_clips
from tests.training.test_emotion import synthetic
from tests.training.test_emotion_selection import wide

INLINE = IngestOptions(workers=1)
HAPPY = ("I love you baby, you make me so happy\nWe dance all night under the summer sun\n"
         "Everything is wonderful when you are here")  # fmt: skip
FRENCH = ("Je marche seul dans la rue, la pluie tombe sur mon coeur\n"
          "Tu es partie et je ne sais plus quoi faire de ma vie")  # fmt: skip


def _ingest_songs(folder: Path) -> None:
    """Two real clips, one with an English lyrics sidecar and one with a junk .lrc."""
    music = folder / "music"
    music.mkdir()
    clips = gtzan_clips(2)
    for i, clip in enumerate(clips):
        shutil.copy2(clip, music / f"song{i}.ogg")
    (music / "song0.txt").write_text(HAPPY)  # a sidecar with English lyrics
    (music / "song1.lrc").write_bytes(b"\x00\x01\x02\x03ID3\x00\x00\x05\x06\x07\x08junk")
    with Library(folder / "lib", create=True) as lib:  # no trained heads: zero-shot
        lib.ingest([music], INLINE)


@pytest.fixture
def library(tmp_path: Path, tmp_path_factory, worker_id, models_env):
    """A private copy of the songs' library, ingested once per test run (the music files
    are shared, read only)."""
    built = built_once(tmp_path_factory, worker_id, "emotion-songs", _ingest_songs)
    with Library(copy_library(built / "lib", tmp_path / "lib")) as lib:
        yield lib, built / "music"


def test_ingest_stores_emotion_and_every_view_shows_it(library, tmp_path):
    lib, music = library
    tracks = {Path(t["path"]).stem: t for t in lib.tracks()}
    assert set(tracks) == {"song0", "song1"}
    for t in tracks.values():
        assert -1 <= t["valence"] <= 1 and -1 <= t["arousal"] <= 1
        assert set(t["gems"]) == set(GEMS) and all(0 <= v <= 1 for v in t["gems"].values())
        assert len(t["top_emotions"]) == 3 and t["top_emotions"][0] in GEMS
        assert t["emotion_method"].startswith("zero-shot:musicnn-msd")
    assert tracks["song0"]["lyrics_used"] and tracks["song0"]["emotion_method"].endswith("+lyrics")
    assert not tracks["song1"]["lyrics_used"]
    one = lib.track(tracks["song1"]["id"])
    assert one["valence"] == tracks["song1"]["valence"] and one["gems"] == tracks["song1"]["gems"]
    detail = lib.emotion(tracks["song1"]["id"])
    assert "unusable" in detail["lyrics"]["reason"] and "binary" in detail["lyrics"]["reason"]
    assert len(detail["curve"]["times_s"]) >= 4  # 15-20 s clips, 3 s patches
    assert np.mean(detail["curve"]["arousal"]) == pytest.approx(detail["arousal"], abs=2e-3)
    happy = lib.emotion(tracks["song0"]["id"])
    assert happy["lyrics"]["language"] == "en" and happy["lyrics"]["valence"] > 0
    assert happy["valence"] == pytest.approx(
        0.7 * happy["audio"]["valence"] + 0.3 * happy["lyrics"]["valence"], abs=1e-3
    )

    # filters and text search
    ref = tracks["song0"]["id"]
    everything = lib.similar(ref, k=5, filters=["valence=-1..1"])["results"]
    assert [r["id"] for r in everything] == [tracks["song1"]["id"]]
    v1 = tracks["song1"]["valence"]
    lo, hi = (round(v1 + 0.01, 3), 1.0) if v1 < 0.98 else (-1.0, round(v1 - 0.01, 3))
    assert lib.similar(ref, k=5, filters=[f"valence={lo}..{hi}"])["results"] == []
    found = lib.search("something energetic")
    assert found["results"] and "emotion" in found["results"][0]["explanation"]
    order = [r["id"] for r in found["results"]]
    by_arousal = sorted(tracks.values(), key=lambda t: -t["arousal"])
    assert order[0] == by_arousal[0]["id"]

    # the map's colour fields and the valence-arousal layout
    _, fields = point_fields(lib)
    assert fields[ref]["valence"] == pytest.approx(tracks["song0"]["valence"], abs=1e-3)
    assert fields[ref]["mood"] in {"happy / excited", "tense / angry", "sad / depressed",
                                   "calm / relaxed"}  # fmt: skip
    payload = {
        "ids": [ref, "x"],
        "x": [0, 0],
        "y": [0, 0],
        "z": [0, 0],
        "n": 2,
        "notes": [],
        "fields": {"valence": [0.5, None], "arousal": [-1.0, None], "title": ["a", "b"]},
    }
    laid = valence_arousal_layout(payload)
    assert laid["ids"] == [ref] and laid["x"] == [0.75] and laid["y"] == [0.0]
    assert laid["fields"]["title"] == ["a"] and "1 tracks" in laid["notes"][0]

    # lyrics import: French lyrics replace the English sidecar; junk and strays reported
    lyr = tmp_path / "lyrics"
    lyr.mkdir()
    (lyr / "song0.lrc").write_text("[00:01.00]" + FRENCH.replace("\n", "\n[00:05.00]"))
    (lyr / "nobody.txt").write_text(HAPPY)
    (lyr / "song1.txt").write_text("")
    report = lib.import_lyrics(lyr)
    assert [i["track_id"] for i in report["imported"]] == [ref]
    assert report["imported"][0]["language"] == "fr" and not report["imported"][0]["lyrics_used"]
    assert report["unmatched"] == [str(lyr / "nobody.txt")]
    assert "empty" in report["rejected"][0]["reason"]
    after = lib.emotion(ref)
    assert not after["lyrics_used"] and "English-only" in after["lyrics"]["reason"]
    assert after["valence"] == pytest.approx(after["audio"]["valence"])


def test_an_installed_head_reruns_only_the_emotion_stage(library, models_env):
    lib, music = library
    before = {r["stage"]: r["version"] for r in lib.store.stage_runs(lib.tracks()[0]["id"])}
    X, labels = synthetic()
    fit_head("my-moods", X, labels).save(models_env / "models" / "my-moods")
    forget_heads()
    report = lib.ingest([music], INLINE)
    assert report.restaged == 2
    t = lib.tracks()[0]
    assert t["emotion_method"].startswith("head:my-moods")
    after = {r["stage"]: r["version"] for r in lib.store.stage_runs(t["id"])}
    assert after["emotion"] != before["emotion"]
    assert {k: v for k, v in after.items() if k != "emotion"} == {
        k: v for k, v in before.items() if k != "emotion"}  # fmt: skip


def test_a_head_reading_musicnn_mtt_and_patch_spread_runs_through_ingest(library, models_env,
                                                                         capsys):
    lib, music = library
    X, labels = wide()
    head = fit_head("wide-moods", X, labels, blocks=("tags", "tags_std", "mtt_tags"))
    head.save(models_env / "models" / "wide-moods")
    forget_heads()
    assert lib.ingest([music], INLINE).restaged == 2
    values = set()
    for t in lib.tracks():
        assert t["emotion_method"].startswith("head:wide-moods")
        values.add(round(t["arousal"], 6))
        assert main(["--library", str(lib.root), "show", t["id"][:8], "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["arousal"] == pytest.approx(t["arousal"], abs=1e-4)
    assert len(values) == 2  # the two songs' musicnn-mtt features differ


def test_cli_emotion_commands_and_bad_labels(library, tmp_path, capsys):
    lib, music = library
    root = str(lib.root)
    ref = lib.tracks()[0]["id"]
    capsys.readouterr()
    assert main(["--library", root, "emotion", ref[:8], "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["track_id"] == ref and out["quadrant"] in {"Q1", "Q2", "Q3", "Q4"}
    assert main(["--library", root, "lyrics", "import", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text(f"path,valence,mood_score\n{music / 'song0.ogg'},0.5,3\n")
    assert main(["train", "--task", "emotion", "--labels", str(bad), "--name", "x"]) == 2
    assert "unknown column(s) mood_score" in capsys.readouterr().err
    bad.write_text(f"path,valence\n{music / 'song0.ogg'},1.5\n")
    assert main(["train", "--task", "emotion", "--labels", str(bad), "--name", "x"]) == 2
    assert "outside -1...1" in capsys.readouterr().err
    assert main(["train", "--task", "genre", "--labels", str(bad), "--name", "x"]) == 2
    assert "--arch is required" in capsys.readouterr().err
