"""Lyrics polarity: cleaning, language detection, bad input, and fusion."""

from __future__ import annotations

import pytest

from songscape.errors import LyricsError
from songscape.models.lyrics import clean_lyrics, detect_language, fuse, lyrics_polarity

HAPPY = ("I love you baby, you make me so happy\nWe dance all night under the summer sun\n"
         "Everything is wonderful when you are here")  # fmt: skip
SAD = ("I cry alone in the dark, my heart is broken\nNobody cares, I lost everything\n"
       "Tears and pain, I am so lonely tonight")  # fmt: skip


def test_lrc_stamps_and_headers_are_dropped():
    text = "[ar:Someone]\n[ti:Song]\n[00:12.50]First line\n\n[00:15.00][01:15.00]Second line\r\n"
    assert clean_lyrics(text) == "First line\nSecond line"


def test_binary_junk_is_a_lyrics_error():
    with pytest.raises(LyricsError, match="binary"):
        clean_lyrics("ID3\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08 junk \x00\x00\x10\x11")
    with pytest.raises(LyricsError, match="UTF-8"):
        clean_lyrics(b"\xff\xfe\x00\x81\x9f binary")
    with pytest.raises(LyricsError):
        lyrics_polarity("\x00\x01\x02\x03\x04\x05\x06\x07 abc")


def test_missing_empty_and_unknown_language_lyrics_are_not_used():
    none = lyrics_polarity(None)
    assert not none.used and none.reason == "no lyrics" and none.valence is None
    empty = lyrics_polarity("  \n[00:01.00]\n")
    assert not empty.used and empty.reason == "empty lyrics"
    short = lyrics_polarity("la la la")
    assert not short.used and short.language == "unknown" and "unknown" in short.reason


def test_other_languages_are_detected_and_reported_not_used():
    french = ("Je marche seul dans la rue, la pluie tombe sur mon coeur\n"
              "Tu es partie et je ne sais plus quoi faire de ma vie")  # fmt: skip
    assert detect_language(french)[0] == "fr"
    result = lyrics_polarity(french)
    assert not result.used and result.language == "fr" and "English-only" in result.reason
    forced = lyrics_polarity(french, force=True)
    assert forced.valence is not None and forced.lexicon_coverage < 0.2


def test_english_polarity_follows_the_words():
    happy, sad = lyrics_polarity(HAPPY), lyrics_polarity(SAD)
    assert happy.used and happy.language == "en" and happy.n_lines == 3
    assert happy.valence > 0.3 > -0.3 > sad.valence
    assert happy.vader > sad.vader and happy.sentence > sad.sentence


def test_fusion_is_a_weighted_mean_and_audio_alone_without_lyrics():
    assert fuse(0.2, None, 0.3) == 0.2
    assert fuse(0.2, 1.0, 0.5) == pytest.approx(0.6)
    assert fuse(-1.0, -1.0, 0.3) == -1.0
