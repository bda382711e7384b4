"""Tests for songscape.audio.metadata.read_tags, on files tagged with mutagen."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from mutagen.aiff import AIFF
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TALB, TCON, TDRC, TIT2, TPE1, TRCK, TXXX, USLT
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from songscape.audio import metadata
from songscape.audio.decode import ffmpeg_available
from songscape.audio.metadata import TrackTags, read_tags

SR = 44100
LYRICS = "First line of the song\nSecond line, with ümlauts"
EXPECTED = TrackTags(
    title="Séculaire",
    artist="Nÿme",
    album="Pierres",
    genre="Hip-Hop",
    year=2004,
    track_number=3,
    lyrics=LYRICS,
)
VORBIS_FIELDS = {
    "title": "Séculaire",
    "artist": "Nÿme",
    "album": "Pierres",
    "genre": "Hip-Hop",
    "date": "2004-05-01",
    "tracknumber": "3/12",
    "lyrics": LYRICS,
}


def write_audio(path: Path, fmt: str, subtype: str | None = None, sr: int = SR) -> Path:
    t = np.arange(sr) / sr
    y = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sf.write(path, y, sr, format=fmt, subtype=subtype)
    return path


def id3_frames() -> list:
    return [
        TIT2(encoding=3, text="Séculaire"),
        TPE1(encoding=3, text="Nÿme"),
        TALB(encoding=3, text="Pierres"),
        TCON(encoding=3, text="Hip-Hop"),
        TDRC(encoding=3, text="2004-05-01"),
        TRCK(encoding=3, text="3/12"),
        USLT(encoding=3, lang="eng", desc="", text=LYRICS),
    ]


def test_mp3_id3(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "song.mp3", "MP3", "MPEG_LAYER_III")
    tags = ID3()
    for frame in id3_frames():
        tags.add(frame)
    tags.save(path)
    assert read_tags(path) == EXPECTED


def test_mp3_id3v23_year_and_numeric_genre(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "old.mp3", "MP3", "MPEG_LAYER_III")
    tags = ID3()
    tags.add(TIT2(encoding=1, text="Old"))
    tags.add(TCON(encoding=1, text="(17)"))  # ID3v1 genre reference: Rock
    tags.add(TDRC(encoding=1, text="1999"))
    tags.add(TRCK(encoding=1, text="07"))
    tags.add(TXXX(encoding=1, desc="LYRICS", text="la la la"))
    tags.save(path, v2_version=3)  # stored as TYER
    got = read_tags(path)
    assert (got.title, got.genre, got.year, got.track_number, got.lyrics) == (
        "Old", "Rock", 1999, 7, "la la la",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("ext", "fmt", "subtype", "sr", "cls"),
    [
        ("flac", "FLAC", "PCM_16", SR, FLAC),
        ("ogg", "OGG", "VORBIS", SR, OggVorbis),
        ("opus", "OGG", "OPUS", 48000, OggOpus),
    ],
)
def test_vorbis_comments(
    tmp_path: Path, ext: str, fmt: str, subtype: str, sr: int, cls: type
) -> None:
    path = write_audio(tmp_path / f"song.{ext}", fmt, subtype, sr)
    audio = cls(path)
    if audio.tags is None:
        audio.add_tags()
    audio.tags.clear()  # libsndfile writes a few comments of its own
    for key, value in VORBIS_FIELDS.items():
        audio[key] = value
    audio.save()
    assert read_tags(path) == EXPECTED


def test_vorbis_multiple_values_and_cleanup(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "multi.flac", "FLAC", "PCM_16")
    audio = FLAC(path)
    audio.clear()
    audio["TITLE"] = ["  First title ", "Second title"]
    audio["GENRE"] = ["Rock", " Pop ", "Rock"]
    audio["ARTIST"] = ["A", "B"]
    audio["ALBUM"] = ["   "]
    audio["UNSYNCEDLYRICS"] = ["\n words \n"]
    audio["DATE"] = ["unknown"]
    audio["TRACKNUMBER"] = ["A1"]
    audio.save()
    assert read_tags(path) == TrackTags(
        title="First title", artist="A; B", album=None, genre="Rock; Pop", lyrics="words"
    )


@pytest.mark.parametrize(
    ("date", "year"), [("2004-05-01", 2004), ("2004", 2004), ("05/01/1987", 1987), ("0", None)]
)
def test_year_parsing(tmp_path: Path, date: str, year: int | None) -> None:
    path = write_audio(tmp_path / "d.flac", "FLAC", "PCM_16")
    audio = FLAC(path)
    audio["DATE"] = date
    audio.save()
    assert read_tags(path).year == year


def test_m4a(tmp_path: Path) -> None:
    if not ffmpeg_available():
        pytest.skip("ffmpeg is needed to write an M4A file")
    src = write_audio(tmp_path / "src.wav", "WAV", "PCM_16")
    path = tmp_path / "song.m4a"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(src), "-c:a", "aac", str(path)],
        check=True,
    )
    audio = MP4(path)
    audio.tags.clear()  # ffmpeg writes its own encoder tag
    audio["\xa9nam"] = "Séculaire"
    audio["\xa9ART"] = "Nÿme"
    audio["\xa9alb"] = "Pierres"
    audio["\xa9gen"] = "Hip-Hop"
    audio["\xa9day"] = "2004-05-01"
    audio["trkn"] = [(3, 12)]
    audio["\xa9lyr"] = LYRICS
    audio.save()
    assert read_tags(path) == EXPECTED


@pytest.mark.parametrize(("ext", "fmt", "cls"), [("wav", "WAV", WAVE), ("aiff", "AIFF", AIFF)])
def test_id3_chunk_in_wav_and_aiff(tmp_path: Path, ext: str, fmt: str, cls: type) -> None:
    path = write_audio(tmp_path / f"song.{ext}", fmt, "PCM_16")
    audio = cls(path)
    audio.add_tags()
    for frame in id3_frames():
        audio.tags.add(frame)
    audio.save()
    assert read_tags(path) == EXPECTED


@pytest.mark.parametrize(
    ("ext", "fmt", "subtype"), [("wav", "WAV", "PCM_16"), ("mp3", "MP3", "MPEG_LAYER_III")]
)
def test_file_without_tags(tmp_path: Path, ext: str, fmt: str, subtype: str | None) -> None:
    path = write_audio(tmp_path / f"bare.{ext}", fmt, subtype)
    assert read_tags(path) == TrackTags()


def test_broken_and_missing_files_give_empty_tags(tmp_path: Path) -> None:
    random_mp3 = tmp_path / "random.mp3"
    random_mp3.write_bytes(np.random.default_rng(0).bytes(20_000))
    text_flac = tmp_path / "text.flac"
    text_flac.write_text("not audio\n" * 50)
    empty = tmp_path / "empty.ogg"
    empty.touch()
    for path in (random_mp3, text_flac, empty, tmp_path / "missing.mp3", tmp_path):
        assert read_tags(path) == TrackTags(), path


def test_broken_tag_block_gives_empty_tags(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_audio(tmp_path / "broken.flac", "FLAC", "PCM_16")
    audio = FLAC(path)
    audio["TITLE"] = "will be damaged"
    audio.save()
    data = bytearray(path.read_bytes())
    # Walk the FLAC metadata blocks to the VORBIS_COMMENT one (type 4) and give its
    # vendor string an impossible length.
    pos = 4  # after b"fLaC"
    while data[pos] & 0x7F != 4:
        assert not data[pos] & 0x80, "no VORBIS_COMMENT block"
        pos += 4 + int.from_bytes(data[pos + 1 : pos + 4], "big")
    data[pos + 4 : pos + 8] = b"\xff\xff\xff\x7f"
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="songscape.audio.metadata"):
        assert read_tags(path) == TrackTags()
    # Not silent: the reason the tags were dropped is logged.
    assert any("broken.flac" in r.getMessage() for r in caplog.records)


def test_a_bug_is_not_mistaken_for_broken_tags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_audio(tmp_path / "fine.flac", "FLAC", "PCM_16")

    def buggy(*args: object, **kwargs: object) -> None:
        raise AttributeError("a bug, not a bad tag block")

    monkeypatch.setattr(metadata.mutagen, "File", buggy)
    with pytest.raises(AttributeError, match="a bug"):
        read_tags(path)


def test_ogg_with_theora_cover_uses_the_audio_stream_tags(tmp_path: Path) -> None:
    if not ffmpeg_available():
        pytest.skip("ffmpeg is needed to write a multiplexed Ogg file")
    src = write_audio(tmp_path / "src.wav", "WAV", "PCM_16")
    path = tmp_path / "with_cover.ogg"
    result = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=64x64:r=1:d=1",
         "-i", str(src), "-map", "0:v", "-map", "1:a", "-c:v", "libtheora", "-c:a", "libvorbis",
         "-metadata:s:v", "title=Cover", "-metadata:s:a", "title=Song",
         "-metadata:s:a", "artist=Singer", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.skip(f"ffmpeg cannot write Theora+Vorbis: {result.stderr.strip()[:200]}")
    got = read_tags(path)
    assert (got.title, got.artist) == ("Song", "Singer")


JAMENDO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "jamendolyrics_subset10"


@pytest.mark.skipif(not (JAMENDO / "audio").is_dir(), reason=f"no data set at {JAMENDO}")
def test_real_jamendo_tags() -> None:
    # Most of these files carry a Theora cover stream whose own title is "Cover".
    files = sorted((JAMENDO / "audio").glob("*.ogg"))
    assert files
    for path in files:
        tags = read_tags(path)
        assert tags.title and tags.title != "Cover", path.name
        assert tags.artist, path.name
        assert tags.year is not None and 1990 < tags.year < 2030, path.name
