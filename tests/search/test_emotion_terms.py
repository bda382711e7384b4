"""valence=/arousal= filters and mood words in text queries."""

from __future__ import annotations

import pytest

from songscape.errors import QueryError
from songscape.search.emotion_terms import mood_matches, parse_emotion_range
from songscape.search.similar import parse_filters


def test_signed_ranges_and_words():
    assert parse_emotion_range("valence", "-1..-0.3") == (-1.0, -0.3)
    assert parse_emotion_range("arousal", "0.2..") == (0.2, 1.0)
    assert parse_emotion_range("arousal", "..0") == (-1.0, 0.0)
    assert parse_emotion_range("valence", "positive") == (0.0, 1.0)
    assert parse_emotion_range("arousal", "LOW") == (-1.0, 0.0)
    f = parse_filters(["valence=negative", "arousal=0.5..1", "tempo=90..110"])
    assert f.valence == (-1.0, 0.0) and f.arousal == (0.5, 1.0) and f.restricts


@pytest.mark.parametrize(
    ("value", "message"),
    [("2..3", "outside -1..1"), ("0.5..-0.5", "empty range"), ("happy", "wants a range"),
     ("..", "wants a range"), ("high", "wants a range")],
)  # fmt: skip
def test_bad_emotion_filters_are_query_errors(value, message):
    with pytest.raises(QueryError, match=message):
        parse_filters([f"valence={value}"])


def test_mood_words_in_queries():
    assert [m.word for m in mood_matches("calm piano music")] == ["calm"]
    sad = mood_matches("sad songs")
    assert sad[0].valence < 0
    assert mood_matches("something energetic")[0].arousal > 0
    assert mood_matches("신나는 노래")[0].arousal > 0 and mood_matches("잔잔한 음악")[0].arousal < 0
    assert mood_matches("calmness of the sea") == []  # whole words only
