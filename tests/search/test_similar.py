"""Similar-track search, text queries and paths on a library of real music.

The library is built once per module from ../shared/data: 24 GTZAN clips over six
genres and librosa's 8 music recordings (32 tracks, ~11 min of audio).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from songscape.ingest.pipeline import IngestOptions
from songscape.library.library import Library
from songscape.notation import compatible_keys
from songscape.search.similar import QueryError
from tests.helpers import gtzan_clips, shared_data

GENRES = ("classical", "metal", "disco", "jazz", "hiphop", "country")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("similar")
    music = root / "music"
    for clip in gtzan_clips(24, GENRES):
        dest = music / "gtzan" / clip.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(clip, dest)
    labels = shared_data("librosa_data", "labels.csv").read_text().splitlines()[1:]
    for line in labels:
        rel, label = line.split(",")[:2]
        if label == "music":
            src = shared_data("librosa_data", rel)
            (music / "librosa").mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, music / "librosa" / src.name)
    lib = Library(root / "lib", create=True)
    report = lib.ingest([music], IngestOptions(workers=2))
    assert report.added == 32 and report.failed == 0
    yield lib
    lib.close()


def _genre(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1]
    return name.split(".")[0] if name.split(".")[0] in GENRES else None


def test_similar_tracks_share_the_genre(library):
    hits, total = 0, 0
    for track in library.tracks():
        genre = _genre(track["path"])
        if genre is None:
            continue
        result = library.similar(track["id"], k=3)
        assert track["id"] not in [r["id"] for r in result["results"]]
        assert len(result["results"]) == 3
        scores = [r["score"] for r in result["results"]]
        assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
        hits += sum(_genre(r["path"]) == genre for r in result["results"])
        total += 3
    # 4 clips per genre: at most 3 same-genre neighbours each; chance would be ~0.1.
    assert hits / total > 0.5


def test_a_clip_cut_from_a_track_finds_it_first(library, tmp_path):
    track = next(t for t in library.tracks() if "Vibe_Ace" in t["path"])
    y, sr = sf.read(track["path"], dtype="float32")
    clip = tmp_path / "clip.wav"
    sf.write(clip, y[int(20 * sr) : int(32 * sr)], sr)  # 12 s from the middle
    result = library.similar(file=clip, k=5)
    assert result["results"][0]["id"] == track["id"]
    assert result["query"]["path"] == str(clip.resolve())


def test_filters_hold(library):
    query = library.tracks()[0]
    full = library.track(query["id"])
    for result in library.similar(query["id"], k=5, filters=["tempo=90..130"])["results"]:
        assert 90 <= result["tempo_bpm"] <= 130
    loose = library.similar(query["id"], k=32, filters=["tempo=90..130"], half_double=True)
    for result in loose["results"]:
        t = result["tempo_bpm"]
        assert any(90 <= x <= 130 for x in (t, 2 * t, t / 2))
    assert len(loose["results"]) >= len(
        library.similar(query["id"], k=32, filters=["tempo=90..130"])["results"]
    )
    keys = set(compatible_keys(full["key"]))
    for result in library.similar(query["id"], k=5, filters=["key=compatible"])["results"]:
        assert result["key"] in keys and result["explanation"]["key"]["compatible"]
    classical = library.similar(query["id"], k=5, filters=["tag=mtt:classical"])["results"]
    assert classical
    for result in classical:
        assert "classical" in list(library.tags(result["id"])["by_model"]["musicnn-mtt"])[:5]
    kevin = next(t for t in library.tracks() if t["artist"] == "Kevin MacLeod")
    others = library.similar(kevin["id"], k=31, other_artists=True)["results"]
    assert others and all(r["artist"] != "Kevin MacLeod" for r in others)
    with pytest.raises(QueryError):
        library.similar(query["id"], filters=["tempo=fast"])


def test_removed_tracks_never_return(library):
    query = library.tracks()[1]
    first = library.similar(query["id"], k=3)["results"][0]["id"]
    library.remove(first)
    try:
        assert first not in [r["id"] for r in library.similar(query["id"], k=31)["results"]]
        assert library.index().check()["in_sync"]
        # A fresh Library (another process, say) sees the same.
        with Library(library.root) as other:
            assert first not in [r["id"] for r in other.similar(query["id"], k=31)["results"]]
    finally:
        library.ingest([next(p for p in [library.root.parent / "music"])], IngestOptions(1))
    assert first in {t["id"] for t in library.tracks()}


@pytest.mark.parametrize(
    ("query", "tag"), [("classical", "classical"), ("guitar", "guitar"),
                       ("electronic dance", "electronic")],
)  # fmt: skip
def test_text_queries_return_matching_top_tags(library, query, tag):
    result = library.search(query, k=3)
    assert len(result["results"]) == 3
    for hit in result["results"]:
        tags = library.tags(hit["id"], top=8)
        assert any(t["tag"] in (tag, "techno", "dance", "electronica", "electro")
                   for t in tags["tags"]), (query, tags["tags"])  # fmt: skip


def test_artist_query(library):
    result = library.search("play Kevin MacLeod songs", k=3)
    assert "artist" in result["intent"]["patterns"]
    assert all(r["artist"] == "Kevin MacLeod" for r in result["results"][:2])


def test_path_between_two_songs(library):
    tracks = library.tracks()
    classical = next(t for t in tracks if _genre(t["path"]) == "classical")
    metal = next(t for t in tracks if _genre(t["path"]) == "metal")
    result = library.path(classical["id"], metal["id"], steps=4)
    ids = [p["id"] for p in result["path"]]
    assert ids[0] == classical["id"] and ids[-1] == metal["id"] and len(ids) == 6
    assert len(set(ids)) == 6
    vectors = library.embeddings()
    lookup = dict(zip(vectors["ids"], vectors["vectors"], strict=True))
    end = lookup[metal["id"]] / np.linalg.norm(lookup[metal["id"]])
    to_end = [float(lookup[i] @ end / np.linalg.norm(lookup[i])) for i in ids]
    assert to_end[-2] > to_end[0]  # it gets closer to the destination
