"""The pure parts of tag writing (issue 17): value texts, key names, gains, and one
round trip through mutagen on a small WAV (ID3 chunk) and FLAC (Vorbis comments)."""

from __future__ import annotations

import mutagen
import numpy as np
import pytest
import soundfile as sf

from songscape.audio.tag_write import (
    TagValues,
    r128_gain_q78,
    replaygain_gain_db,
    short_key,
    tag_texts,
    write_tags,
)
from songscape.errors import TagWriteError


def test_values_as_written():
    assert short_key("A minor") == "Am" and short_key("F# major") == "F#"
    assert replaygain_gain_db(-14.0) == pytest.approx(-4.0)
    assert r128_gain_q78(-20.0) == -768  # -3 dB in Q7.8
    assert r128_gain_q78(-500.0) == 32767
    texts = tag_texts(TagValues(bpm=127.6, initial_key="Am", loudness_lufs=-20.5, peak=0.5,
                                mood="sad", genre="blues"))  # fmt: skip
    assert texts == {"bpm": "128", "initial_key": "Am", "replaygain_track_gain": "2.50 dB",
                     "replaygain_track_peak": "0.500000", "mood": "sad", "genre": "blues"}
    assert "r128_track_gain" in tag_texts(TagValues(loudness_lufs=-20.0), opus=True)
    assert tag_texts(TagValues(bpm=0)) == {} and TagValues().empty()


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_write_keeps_samples_and_existing_values(tmp_path, fmt):
    path = tmp_path / f"tone.{fmt}"
    y = (0.3 * np.sin(np.linspace(0, 800, 8000))).astype(np.float32)
    sf.write(path, y, 8000, subtype="PCM_16")
    before, _ = sf.read(path, dtype="int16")
    written = write_tags(path, TagValues(bpm=90, initial_key="C#m", genre="ambient"))
    assert written == {"bpm": "90", "initial_key": "C#m", "genre": "ambient"}
    tags = mutagen.File(path).tags
    if fmt == "wav":
        assert str(tags["TBPM"]) == "90" and str(tags["TKEY"]) == "C#m"
    else:
        assert tags["BPM"] == ["90"] and tags["INITIALKEY"] == ["C#m"]
    after, _ = sf.read(path, dtype="int16")
    assert np.array_equal(before, after)
    assert write_tags(path, TagValues(bpm=120)) == {}  # kept
    assert write_tags(path, TagValues(bpm=120), overwrite=True, dry_run=True) == {"bpm": "120"}
    assert write_tags(path, TagValues(bpm=120), overwrite=True) == {"bpm": "120"}


def test_unwritable_file(tmp_path):
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"not audio at all" * 10)
    with pytest.raises(TagWriteError):
        write_tags(junk, TagValues(bpm=100))
    with pytest.raises(TagWriteError):
        write_tags(tmp_path / "gone.flac", TagValues(bpm=100))
