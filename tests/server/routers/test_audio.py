"""Range headers (RFC 9110) as the audio route reads them; tests/server/test_api.py sends
them over HTTP."""

from __future__ import annotations

import pytest

from songscape.errors import RangeNotSatisfiableError
from songscape.server.routers.audio import audio_type, parse_range


def test_parse_range():
    assert parse_range("bytes=0-0", 10) == (0, 0)
    assert parse_range("bytes=-3", 10) == (7, 9)
    assert parse_range("bytes=-30", 10) == (0, 9)
    assert parse_range("bytes = 2 - 4", 10) == (2, 4)
    assert parse_range("bytes=0-1,4-5", 10) is None
    assert parse_range("bytes=4-", 10) == (4, 9)
    assert parse_range("bytes=4-99", 10) == (4, 9)  # the last byte is clipped to the file


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=10-", 10), ("bytes=5-2", 10), ("bytes=-0", 10), ("bytes=-5", 0), ("bytes=-", 10),
     ("bytes=a-b", 10), ("bytes=", 10)],
)  # fmt: skip
def test_unsatisfiable_ranges_raise(header, size):
    with pytest.raises(RangeNotSatisfiableError):
        parse_range(header, size)


def test_unknown_range_units_are_ignored():
    assert parse_range("items=0-1", 10) is None  # RFC 9110 14.2: the whole file is sent


def test_audio_types_by_extension():
    assert audio_type("/music/a.MP3") == "audio/mpeg"
    assert audio_type("b.flac") == "audio/flac" and audio_type("c.opus") == "audio/ogg"
    assert audio_type("no-extension") == "application/octet-stream"
