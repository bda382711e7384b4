"""``songscape tags write`` (issue 17) on wav, flac, ogg, opus, mp3 and m4a copies of a real
GTZAN clip: the tags read back with mutagen in each format's frames, the audio stream is
byte-identical (ffmpeg's hash of the stream's packets, before and after), a re-ingest
sees no "updated" track, and a file that cannot be written is reported and skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import mutagen
import pytest

from songscape.catalog import model_outputs
from songscape.cli import main
from songscape.ingest.pipeline import IngestOptions
from songscape.library.library import Library
from tests.helpers import shared_data

FORMATS = ("wav", "flac", "ogg", "opus", "mp3", "m4a")
pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


def stream_hash(path: Path) -> str:
    """SHA-256 of the audio stream's packets (the encoded audio data, tags excluded)."""
    out = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(path), "-map", "0:a", "-c", "copy",
         "-f", "hash", "-hash", "sha256", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def tag_text(path: Path, fmt: str) -> dict[str, str]:
    """The written values as read back with mutagen, by field."""
    f = mutagen.File(path)
    t = f.tags
    if fmt in ("wav", "mp3"):
        return {"bpm": str(t["TBPM"]), "key": str(t["TKEY"]), "mood": str(t["TMOO"]),
                "genre": str(t["TCON"]), "gain": str(t["TXXX:REPLAYGAIN_TRACK_GAIN"]),
                "peak": str(t["TXXX:REPLAYGAIN_TRACK_PEAK"])}  # fmt: skip
    if fmt == "m4a":
        it = "----:com.apple.iTunes:"
        return {"bpm": str(t["tmpo"][0]), "key": bytes(t[it + "initialkey"][0]).decode(),
                "mood": bytes(t[it + "MOOD"][0]).decode(), "genre": t["\xa9gen"][0],
                "gain": bytes(t[it + "replaygain_track_gain"][0]).decode(),
                "peak": bytes(t[it + "replaygain_track_peak"][0]).decode()}  # fmt: skip
    out = {"bpm": t["BPM"][0], "key": t["INITIALKEY"][0], "mood": t["MOOD"][0],
           "genre": t["GENRE"][0]}  # fmt: skip
    if fmt == "opus":
        out["gain"] = t["R128_TRACK_GAIN"][0]
    else:
        out["gain"], out["peak"] = t["REPLAYGAIN_TRACK_GAIN"][0], t["REPLAYGAIN_TRACK_PEAK"][0]
    return out


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    clip = shared_data("gtzan_subset100", "audio", "jazz", "jazz.00002.ogg")
    root = tmp_path_factory.mktemp("tagwrite")
    music = root / "music"
    music.mkdir()
    for fmt in FORMATS:
        subprocess.run(["ffmpeg", "-loglevel", "error", "-t", "4", "-i", str(clip),
                        "-map_metadata", "-1", "-ac", "2", str(music / f"clip.{fmt}")],
                       check=True)  # fmt: skip
    with Library(root / "lib", create=True) as lib:
        report = lib.ingest([music], IngestOptions(workers=1, embed_models=(), tag_models=()))
        assert report.added == len(FORMATS) and report.failed == 0
        # Tags as a tagging model would store them: one genre and one mood above the rest.
        with lib.store.transaction() as conn:
            for t in lib.tracks():
                model_outputs.replace_tags(conn, t["id"], "musicnn-msd",
                                           [("jazz", 0.62), ("chill", 0.41), ("rock", 0.05)])
    return root / "lib", music


def test_write_back_keeps_audio_and_catalog(library):
    root, music = library
    before = {fmt: stream_hash(music / f"clip.{fmt}") for fmt in FORMATS}
    with Library(root) as lib:
        dry = lib.write_tags(dry_run=True)
        assert len(dry["written"]) == len(FORMATS) and not dry["failed"]
        assert all(mutagen.File(music / f"clip.{fmt}").tags is None
                   or "TBPM" not in mutagen.File(music / f"clip.{fmt}").tags
                   for fmt in ("mp3", "wav"))  # fmt: skip
        out = lib.write_tags()
        by_path = {Path(w["path"]).suffix[1:]: w["fields"] for w in out["written"]}
        facts = {Path(t["path"]).suffix[1:]: t for t in lib.tracks()}
    assert sorted(by_path) == sorted(FORMATS) and out["failed"] == []
    for fmt in FORMATS:
        got = tag_text(music / f"clip.{fmt}", fmt)
        t = facts[fmt]
        assert got["bpm"] == str(round(t["tempo_bpm"]))
        tonic, mode = t["key"].split()
        assert got["key"] == tonic + ("m" if mode == "minor" else "")
        assert got["genre"] == "jazz" and got["mood"] == "chill"
        # (the summary's loudness is rounded to 0.01 LU)
        if fmt == "opus":
            assert abs(int(got["gain"]) - (-23 - t["loudness_lufs"]) * 256) <= 2
        else:
            assert got["gain"].endswith(" dB")
            assert abs(float(got["gain"].split()[0]) - (-18 - t["loudness_lufs"])) <= 0.011
            assert 0.05 < float(got["peak"]) < 2.0  # lossy decoding may overshoot 1.0
        assert stream_hash(music / f"clip.{fmt}") == before[fmt], fmt
        assert t["genre"] == "jazz"  # the catalog knows the genre it wrote
    # The catalog took songscape's own write for what it is: nothing to re-analyse.
    with Library(root) as lib:
        report = lib.ingest([music], IngestOptions(workers=1, embed_models=(), tag_models=()))
    assert report.updated == 0 and report.added == 0 and report.unchanged == len(FORMATS)
    # Values already written are kept unless --overwrite.
    with Library(root) as lib:
        again = lib.write_tags()
    assert again["written"] == [] and len(again["unchanged"]) == len(FORMATS)


def test_cli_dry_run_fields_and_a_file_that_cannot_be_written(library, capsys):
    root, music = library
    lib = ["--library", str(root)]
    mp3 = music / "clip.mp3"
    assert main([*lib, "tags", "write", str(mp3), "--fields", "bpm,key", "--overwrite",
                 "--dry-run", "--json"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["dry_run"] and sorted(out["written"][0]["fields"]) == ["bpm", "initial_key"]
    assert main([*lib, "tags", "write", "--fields", "tempo"]) == 2
    assert main([*lib, "tags", "write"]) == 2  # TRACK… or --all
    gone = music / "clip.wav"
    kept = gone.with_suffix(".kept")
    gone.rename(kept)
    try:
        assert main([*lib, "tags", "write", "--all", "--overwrite", "--fields", "bpm"]) == 1
        captured = capsys.readouterr()
        assert "skipped" in captured.err and "clip.wav" in captured.err
        assert "5 file(s) written" in captured.out
    finally:
        kept.rename(gone)
