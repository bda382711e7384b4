"""item2vec over sessions/playlists with words: a tag word finds the items carrying it."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.catalog.store import LibraryStore
from songscape.recommend.importer import import_playlists
from songscape.recommend.words import (
    ITEM,
    WORD,
    WordItem2Vec,
    hetrec_tag_sessions,
    playlist_sentences,
)
from songscape.synthetic.catalogs import build_synthetic_library

GROUPS = {"autumn": range(0, 10), "exciting": range(10, 20), "sleep": range(20, 30)}


def planted_sessions(n: int = 300, seed: int = 0) -> list[list[str]]:
    """Sessions of one mood each: items of that group, each followed by the mood word."""
    rng = np.random.default_rng(seed)
    words = list(GROUPS)
    out = []
    for s in range(n):
        word = words[s % len(words)]
        items = rng.choice(list(GROUPS[word]), 5, replace=False)
        sentence = []
        for i in items:
            sentence += [f"{ITEM}i{i}", WORD + word]
        out.append(sentence)
    return out


@pytest.fixture(scope="module")
def model() -> WordItem2Vec:
    return WordItem2Vec(factors=16, window=4, epochs=15, min_count=1, seed=0).fit(
        planted_sessions()
    )


@pytest.mark.parametrize("word", list(GROUPS))
def test_tag_word_finds_its_items(model, word):
    out = model.items_for_text(word.upper() + "!", k=5)
    assert out["words"] == [word]
    items = [int(name[1:]) for name, _ in out["results"]]
    assert len(items) == 5 and all(i in GROUPS[word] for i in items), items


def test_words_near_items_and_unknown_words(model):
    v = model.item_vectors(["i3", "missing"])
    assert v.shape == (2, 16) and np.any(v[0]) and not np.any(v[1])
    near = model.nearest(v[0], kind="word", k=1)
    assert near[0][0] == "autumn"
    assert model.items_for_text("nothing like this") == {"words": [], "results": []}
    again = WordItem2Vec(factors=16, window=4, epochs=15, min_count=1, seed=0)
    again.fit(planted_sessions())
    assert again.items_for_text("sleep", k=3) == model.items_for_text("sleep", k=3)
    with pytest.raises(ValueError, match="no sentence"):
        WordItem2Vec().fit([["x"]])


def test_playlist_sentences(tmp_path):
    ids = build_synthetic_library(tmp_path / "lib", 4, seed=5)
    f = tmp_path / "pl.csv"
    f.write_text(f"playlist,item,title,tags\np,{ids[0]},Rainy Sunday,calm\np,ext-item,,\n")
    with LibraryStore(tmp_path / "lib") as store:
        import_playlists(store, f)
        sentences = playlist_sentences(store)
    assert len(sentences) == 1
    s = sentences[0]
    assert s[0] == ITEM + ids[0] and s[1].startswith("artist:")
    assert ITEM + "ext-item" in s
    # two items, four words: the two left over close the sentence
    assert {t for t in s if t.startswith(WORD)} == {
        WORD + "rainy sunday",
        WORD + "rainy",
        WORD + "sunday",
        WORD + "calm",
    }


def test_hetrec_tag_sessions(tmp_path):
    (tmp_path / "tags.dat").write_text("tagID\ttagValue\r\n1\tautumn\r\n2\tSeen Live\r\n")
    (tmp_path / "user_taggedartists.dat").write_text(
        "userID\tartistID\ttagID\tday\tmonth\tyear\r\n"
        "2\t51\t1\t1\t4\t2009\r\n2\t51\t2\t1\t4\t2009\r\n2\t52\t1\t1\t4\t2009\r\n"
        "2\t53\t1\t1\t5\t2009\r\n"
    )
    sessions = hetrec_tag_sessions(tmp_path)
    assert sessions == [
        ["item:51", "word:autumn", "word:seen live", "item:52", "word:autumn"],
        ["item:53", "word:autumn"],
    ]
