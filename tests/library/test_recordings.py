"""Recognising recordings on real music: the fingerprint stage, duplicates across formats,
identifying clips (re-encoded, quieter, noisy), bad clips, the CLI and POST /api/identify.

The folder: two 20 s excerpts of real songs, each as FLAC, 128 kbit/s MP3 and (the first)
a re-tagged MP3 copy, plus a third song once. Ingested with only the stages these features
use (metadata, fingerprint) to keep the tests fast; tests/cli/test_cli.py checks
``similar --file``'s identification through the whole pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songscape.audio.decode import load_audio
from songscape.cli import main
from songscape.errors import AudioTooShortError, FingerprintError, SilentAudioError
from songscape.ingest.pipeline import IngestOptions
from songscape.library.library import Library
from tests.helpers import ffmpeg, only_stages, shared_data

SONGS = {
    "a": ("Confession_-_Quesabe.ogg", 40.0),
    "b": ("Fantasma_-_Los_Rombos.ogg", 60.0),
    "c": ("Guayeteo_-_JhoyKing.ogg", 30.0),
}
NO_MODELS = IngestOptions(workers=1, embed_models=(), tag_models=())



def ingest(lib: Library, folder: Path):
    with only_stages("metadata", "fingerprint"):
        return lib.ingest([folder], NO_MODELS)



def make_copies(folder: Path, names: dict[str, tuple[str, ...]]) -> None:
    """``{song: (kinds)}`` with kinds among flac, mp3, retagged.mp3, ogg; 20 s excerpts."""
    folder.mkdir(parents=True, exist_ok=True)
    for song, kinds in names.items():
        source, start = SONGS[song]
        src = shared_data("jamendolyrics_subset10", "audio", source)
        flac = folder / f"{song}.flac"
        # -ss after -i: decode and cut exactly (seeking some Ogg files lands at 0 s).
        ffmpeg("-i", str(src), "-ss", str(start), "-t", "20", "-c:a", "flac", str(flac))
        if "mp3" in kinds or "retagged.mp3" in kinds:
            ffmpeg("-i", str(flac), "-b:a", "128k", str(folder / f"{song}.mp3"))
        if "retagged.mp3" in kinds:
            ffmpeg("-i", str(folder / f"{song}.mp3"), "-c", "copy", "-metadata", "title=New",
                   "-metadata", "artist=Other", str(folder / f"{song}.retagged.mp3"))  # fmt: skip
        if "ogg" in kinds:
            ffmpeg("-i", str(flac), "-c:a", "libvorbis", str(folder / f"{song}.ogg"))
            flac.unlink()
        elif "flac" not in kinds:
            flac.unlink()


def degraded_clip(song: str, start_s: float, length_s: float, path: Path) -> Path:
    """A clip of the excerpt at ``start_s``: -6 dB, white noise at 20 dB SNR, 96k MP3."""
    source, excerpt_start = SONGS[song]
    sr = 22050
    y, _ = load_audio(shared_data("jamendolyrics_subset10", "audio", source), sr=sr)
    i = int((excerpt_start + start_s) * sr)
    clip = y[i : i + int(length_s * sr)] * 0.5
    clip = clip + np.random.default_rng(0).normal(0, np.sqrt(np.mean(clip**2) / 100), len(clip))
    wav = path.with_suffix(".wav")
    sf.write(wav, clip.astype(np.float32), sr)
    ffmpeg("-i", str(wav), "-b:a", "96k", str(path))
    return path


@pytest.fixture(scope="module")
def lib_dir(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("recordings")
    music = root / "music"
    make_copies(music, {"a": ("flac", "mp3", "retagged.mp3"), "b": ("flac", "mp3"),
                        "c": ("ogg",)})  # fmt: skip
    with Library(root / "lib", create=True) as lib:
        report = ingest(lib, music)
        assert report.added == 6 and report.failed == 0
    return root / "lib", music


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    sr = 22050
    sf.write(d / "short.wav", np.random.default_rng(1).normal(0, 0.1, 2 * sr), sr)
    sf.write(d / "silence.wav", np.zeros(5 * sr, dtype=np.float32), sr)
    sf.write(d / "noise.wav", np.random.default_rng(2).normal(0, 0.1, 8 * sr), sr)
    other = shared_data("emotify_half", "audio", "rock", "1.ogg")
    ffmpeg("-i", str(other), "-ss", "10", "-t", "10", "-b:a", "96k", str(d / "outside.mp3"))
    return {"a": degraded_clip("a", 5.0, 10.0, d / "a.mp3"),
            "b": degraded_clip("b", 9.0, 5.0, d / "b.mp3"),
            **{k: d / f"{k}.wav" for k in ("short", "silence", "noise")},
            "outside": d / "outside.mp3"}  # fmt: skip


def _ids_by_song(lib: Library) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for t in lib.tracks():
        out.setdefault(Path(t["path"]).name.split(".")[0], set()).add(t["id"])
    return out


def test_duplicates_group_each_recording_across_formats(lib_dir):
    with Library(lib_dir[0]) as lib:
        ids = _ids_by_song(lib)
        report = lib.duplicates()
        assert report["tracks_fingerprinted"] == 6
        groups = sorted(report["groups"], key=lambda g: len(g["copies"]), reverse=True)
        assert [{c["id"] for c in g["copies"]} for g in groups] == [ids["a"], ids["b"]]
        assert report["related"] == []  # song c and the other excerpts: nothing shared
        for g in groups:
            best = next(c for c in g["copies"] if c["best"])
            assert best["id"] == g["best"] and best["path"].endswith(".flac") and best["lossless"]
            for c in g["copies"]:
                if not c["best"]:
                    assert c["format"] == "MP3" and 120 <= c["bitrate_kbps"] <= 140
                    assert c["matched_s"] > 15 and abs(c["offset_s"]) < 0.2 and c["ber"] < 0.15
        retagged = next(c for c in groups[0]["copies"] if "retagged" in c["path"])
        assert retagged["tags_filled"] == 2 and retagged["title"] == "New"
        # Linking is incremental: a second call compares nothing again.
        assert lib.link_recordings() == 0 and lib.duplicates() == report


def test_identify_degraded_clips(lib_dir, clips):
    with Library(lib_dir[0]) as lib:
        ids = _ids_by_song(lib)
        a = lib.identify(clips["a"])
        assert a["id"] in ids["a"] and a["offset_s"] == pytest.approx(5.0, abs=0.3)
        assert a["matched_s"] > 5 and a["ber"] < 0.18 and a["path"].startswith(str(lib_dir[1]))
        b = lib.identify(clips["b"])  # 5 s is enough
        assert b["id"] in ids["b"] and b["offset_s"] == pytest.approx(9.0, abs=0.3)
        # Music that is not in the library, and pure noise: not identified.
        assert lib.identify(clips["outside"]) is None
        assert lib.identify(clips["noise"]) is None
        with pytest.raises(AudioTooShortError, match="minimum is 3"):
            lib.identify(clips["short"])
        with pytest.raises(SilentAudioError):
            lib.identify(clips["silence"])


def test_library_without_fingerprints(tmp_path, clips):
    with Library(tmp_path / "empty", create=True) as lib:
        with pytest.raises(FingerprintError, match="ingest"):
            lib.identify(clips["a"])
        assert lib.duplicates()["groups"] == []


def test_cli_identify_and_duplicates(lib_dir, clips, capsys):
    lib = str(lib_dir[0])
    assert main(["--library", lib, "identify", str(clips["a"]), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["identified"]
    assert found["offset_s"] == pytest.approx(5.0, abs=0.3)
    assert main(["--library", lib, "identify", str(clips["outside"])]) == 0
    assert "not identified" in capsys.readouterr().out
    assert main(["--library", lib, "identify", str(clips["short"])]) == 1
    assert "too short" in capsys.readouterr().err
    assert main(["--library", lib, "identify", "/no/such/clip.mp3"]) == 2
    assert main(["--library", lib, "duplicates", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["groups"]) == 2
    assert main(["--library", lib, "duplicates"]) == 0
    out = capsys.readouterr().out
    assert "2 recordings held in more than one file" in out and "lossless" in out
    assert main(["--library", lib, "duplicates", "--apply"]) == 2


def test_move_others_is_a_dry_run_first(tmp_path, capsys):
    music, dest = tmp_path / "music", tmp_path / "extra copies"
    make_copies(music, {"a": ("flac", "mp3")})
    lib = str(tmp_path / "lib")
    with Library(lib, create=True) as library:
        ingest(library, music)
    assert main(["--library", lib, "duplicates", "--move-others", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "would move" in out and "a.mp3" in out and "--apply" in out
    assert sorted(p.name for p in music.iterdir()) == ["a.flac", "a.mp3"] and not dest.exists()
    assert main(["--library", lib, "duplicates", "--move-others", str(dest), "--apply",
                 "--json"]) == 0  # fmt: skip
    moved = json.loads(capsys.readouterr().out)
    assert not moved["dry_run"] and [m["status"] for m in moved["moves"]] == ["moved"]
    assert [p.name for p in music.iterdir()] == ["a.flac"] and (dest / "a.mp3").exists()
    with Library(lib) as library:
        row = library.store.get_track(moved["moves"][0]["id"])
        assert row["status"] == "missing" and row["path"] == str(dest / "a.mp3")
        assert library.duplicates()["groups"] == []
        # Ingesting the destination brings the moved copy back, with its id.
        ingest(library, dest)
        assert library.store.get_track(row["id"])["status"] == "ok"


def test_api_identify(lib_dir, clips, tmp_path):
    from fastapi.testclient import TestClient

    from songscape.server.app import create_app

    with Library(lib_dir[0]) as lib:
        ids = _ids_by_song(lib)
    with TestClient(create_app(lib_dir[0])) as client:
        r = client.post("/api/identify?k=0", content=clips["a"].read_bytes(),
                        headers={"content-type": "audio/mpeg"})  # fmt: skip
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["identified"]["id"] in ids["a"] and body["similar"] == []
        assert body["track"]["id"] == body["identified"]["id"] and "path" not in body["track"]
        r = client.post("/api/identify?k=0&filename=x.mp3", content=clips["outside"].read_bytes())
        assert r.status_code == 200 and r.json()["identified"] is None
        r = client.post("/api/identify?k=0", content=clips["short"].read_bytes(),
                        headers={"content-type": "audio/wav"})  # fmt: skip
        assert r.status_code == 400 and "too short" in r.json()["error"]
        assert client.post("/api/identify", content=b"").status_code == 400
        r = client.post("/api/identify?k=0", content=b"not audio at all" * 100)
        assert r.status_code == 400
    Library(tmp_path / "empty", create=True).close()  # no fingerprints: 409 without k
    with TestClient(create_app(tmp_path / "empty")) as client:
        r = client.post("/api/identify?k=0", content=clips["a"].read_bytes())
        assert r.status_code == 409 and "ingest" in r.json()["error"]
