"""The fingerprint index, clip identification, recording links and duplicate groups on
synthetic word sequences (the real-music path is in tests/library/test_recordings.py)."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.catalog.fingerprints import StoredFingerprints, words_crc
from songscape.recordings.duplicates import copy_rank, duplicate_report, plan_moves
from songscape.recordings.identify import identify_words
from songscape.recordings.index import FingerprintIndex
from songscape.recordings.links import recording_groups, track_links

HOP = 0.1238


def _words(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)


def _noisy(words: np.ndarray, flips_per_word: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = words.copy()
    for i in range(len(out)):
        for b in rng.choice(32, flips_per_word, replace=False):
            out[i] ^= np.uint32(1 << int(b))
    return out


def _index(tracks: list[np.ndarray]) -> FingerprintIndex:
    lengths = np.array([len(t) for t in tracks])
    stored = StoredFingerprints(
        track_ids=[f"id{i:02d}" for i in range(len(tracks))],
        words=np.concatenate(tracks),
        starts=np.concatenate([[0], np.cumsum(lengths)]),
        item_hop_s=HOP,
        crcs=np.array([words_crc(t) for t in tracks]),
    )
    return FingerprintIndex(stored)


@pytest.fixture(scope="module")
def library() -> list[np.ndarray]:
    return [_words(400 + 50 * i, seed=i) for i in range(12)]


def test_a_clip_is_identified_with_its_offset(library):
    index = _index(library)
    # 80 words of track 7 from word 123; 1 bit in 32 flipped, except every 5th word exact.
    clip = library[7][123:203].copy()
    noisy = _noisy(clip, 1, 5)
    noisy[::5] = clip[::5]
    found = identify_words([(0.0, noisy)], index)
    assert found is not None and found.track_id == "id07"
    assert found.offset_s == pytest.approx(123 * HOP) and found.ber < 0.05
    assert found.matched_s == pytest.approx(80 * HOP) and found.votes >= 10
    # A variant fingerprinted later in the clip: the offset accounts for its start.
    later = identify_words([(0.05, noisy)], index)
    assert later.offset_s == pytest.approx(123 * HOP - 0.05)


def test_unknown_audio_is_not_identified(library):
    index = _index(library)
    assert identify_words([(0.0, _words(80, 99))], index) is None
    # Exact hits at one offset but a high BER elsewhere: still not identified.
    fake = _words(80, 98)
    fake[:3] = library[2][10:13]
    assert identify_words([(0.0, fake)], index) is None
    assert identify_words([(0.0, np.zeros(0, np.uint32))], index) is None


def test_frequent_words_are_not_looked_up(library):
    silence = np.full(300, 0x12345678, dtype=np.uint32)
    index = _index(library + [silence] * 3)
    tracks, offsets, counts = index.votes(silence[:80])
    assert len(tracks) == 0  # 900 postings for one word: no votes
    assert index.n_words == sum(len(t) for t in library) + 900


def test_links_same_recording_and_partial_overlap(library):
    copy = _noisy(library[3], 2, 7)  # another encoding of track 3
    copy[::4] = library[3][::4]
    edit = library[5][:200].copy()  # a cut-down edit of track 5 (of 650 words)
    index = _index(library + [copy, edit])
    same = track_links(index, 3)
    assert [(link["other"], link["relation"]) for link in same] == [("id12", "same")]
    assert same[0]["offset_s"] == 0.0 and same[0]["coverage_self"] > 0.95
    related = track_links(index, 13)
    assert [(link["other"], link["relation"]) for link in related] == [("id05", "related")]
    assert related[0]["coverage_self"] > 0.95 and related[0]["coverage_other"] < 0.35
    assert track_links(index, 0) == []


def test_groups_best_copy_and_moves(tmp_path):
    links = [
        {"track_a": "a", "track_b": "b", "relation": "same", "matched_s": 200.0,
         "offset_s": 0.5, "ber": 0.05, "coverage_a": 0.99, "coverage_b": 0.98},
        {"track_a": "b", "track_b": "c", "relation": "same", "matched_s": 200.0,
         "offset_s": 0.0, "ber": 0.02, "coverage_a": 0.99, "coverage_b": 0.98},
        {"track_a": "d", "track_b": "e", "relation": "related", "matched_s": 60.0,
         "offset_s": 30.0, "ber": 0.1, "coverage_a": 0.3, "coverage_b": 0.9},
    ]  # fmt: skip
    assert recording_groups(links) == [["a", "b", "c"]]
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "a.mp3").write_bytes(b"taken")
    facts = {
        "a": {"id": "a", "path": str(tmp_path / "x" / "a.mp3"), "format": "MP3",
              "lossless": 0, "bitrate_bps": 320000, "duration_s": 200.0, "title": "T"},
        "b": {"id": "b", "path": str(tmp_path / "b.flac"), "format": "FLAC",
              "lossless": 1, "bitrate_bps": 900000, "duration_s": 200.0},
        "c": {"id": "c", "path": str(tmp_path / "y" / "a.mp3"), "format": "MP3",
              "lossless": 0, "bitrate_bps": 128000, "duration_s": 200.0, "title": "T",
              "artist": "A", "album": "B"},
        "d": {"id": "d", "path": "/d.ogg"}, "e": {"id": "e", "path": "/e.ogg"},
    }  # fmt: skip
    assert sorted(facts, key=lambda t: copy_rank(facts[t]))[:3] == ["b", "a", "c"]
    report = duplicate_report(links, facts)
    group = report["groups"][0]
    assert group["best"] == "b" and [c["id"] for c in group["copies"]] == ["b", "a", "c"]
    a = group["copies"][1]
    assert a["offset_s"] == -0.5 and a["bitrate_kbps"] == 320.0 and a["lossless"] is False
    assert report["related"][0]["matched_s"] == 60.0
    moves = plan_moves(report, tmp_path / "dest")
    # Two copies named a.mp3 and one already in dest: no name is reused.
    assert [m["to"] for m in moves] == [str(tmp_path / "dest" / "a (1).mp3"),
                                        str(tmp_path / "dest" / "a (2).mp3")]  # fmt: skip
    assert {m["best"] for m in moves} == {"b"}
