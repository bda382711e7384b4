"""Items for words ("autumn rain"), from the library's playlists and listening.

:func:`recommend_words` ranks items by their closeness to words in a
:class:`~songscape.recommend.words.WordItem2Vec` space trained on the users' item lists
(most played first), the playlists (with their title words and tags) and the listening
sessions. It is cached like the models (:mod:`~songscape.recommend.fitting`), as
``<library>/recs/item2vec-words-s<seed>-<digest>.pkl`` where the digest hashes those
sentences and the training settings (so importing events or playlists refits).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from songscape.catalog import listening
from songscape.catalog.store import LibraryStore
from songscape.errors import NoEventsError, UnknownWordsError
from songscape.recommend.fitting import CACHE_DIR, load_cached, save_cached
from songscape.recommend.results import describe
from songscape.recommend.words import (
    ITEM,
    WORD,
    WordItem2Vec,
    event_sessions,
    playlist_sentences,
)
from songscape.text import normalize_text

#: The name of :func:`recommend_words`' model (results and cache files).
WORDS_MODEL = "item2vec-words"
#: Below this many tokens the words model trains without downsampling and with more epochs.
SMALL_CORPUS_TOKENS = 20_000


@dataclass
class WordsFitted:
    """The words model of a library with the digest of the sentences it was trained on."""

    digest: str
    model: WordItem2Vec
    sentences: int
    fit_s: float


def words_sentences(store: LibraryStore) -> tuple[list[list[str]], int]:
    """The words model's sentences and the number of users with events: each user's items
    (most played first), then :func:`~songscape.recommend.words.playlist_sentences` and
    :func:`~songscape.recommend.words.event_sessions`."""
    lists: dict[str, list[str]] = {}
    for r in listening.user_item_plays(store.conn):
        lists.setdefault(r["user_id"], []).append(ITEM + r["item"])
    return list(lists.values()) + playlist_sentences(store) + event_sessions(store), len(lists)


def get_words_model(store: LibraryStore, seed: int = 0) -> WordsFitted:
    """The :class:`~songscape.recommend.words.WordItem2Vec` of the library's current events
    and playlists (from the cache when fresh; see the module docstring).

    Raises
    ------
    NoEventsError
        When the library has neither playlists nor events.
    """
    if not listening.has_listening_data(store.conn):
        raise NoEventsError(
            "the library has no playlists or listening events (run `songscape "
            "import-playlists` or `songscape import-events`)"
        )
    sentences, n_users = words_sentences(store)
    min_count = int(min(5, max(1, n_users // 50)))
    # A small library's corpus is all "frequent" tokens to word2vec's downsampling, and
    # too short for 10 epochs to move the vectors: no downsampling, more epochs.
    tokens = sum(len(s) for s in sentences)
    small = tokens < SMALL_CORPUS_TOKENS
    epochs = int(min(200, max(10, SMALL_CORPUS_TOKENS // max(tokens, 1)))) if small else 10
    sample = 0.0 if small else 1e-3
    h = hashlib.blake2b(f"{min_count}:{epochs}:{sample}\x1d".encode(), digest_size=16)
    for sentence in sentences:
        h.update(("\x1f".join(sentence) + "\x1e").encode())
    digest = h.hexdigest()
    path = store.root / CACHE_DIR / f"{WORDS_MODEL}-s{seed}-{digest}.pkl"
    cached = load_cached(path, WordsFitted, digest)
    if cached is not None:
        return cached
    t0 = time.perf_counter()
    model = WordItem2Vec(min_count=min_count, epochs=epochs, sample=sample,
                         seed=seed).fit(sentences)  # fmt: skip
    fitted = WordsFitted(digest, model, len(sentences), time.perf_counter() - t0)
    save_cached(path, fitted, f"{WORDS_MODEL}-s{seed}-")
    return fitted


def recommend_words(store: LibraryStore, text: str, k: int = 20, seed: int = 0) -> dict:
    """The ``k`` items nearest to the words of ``text`` ("autumn rain": the phrase when it is
    a tag of the library, else the mean of its known single words).

    Returns
    -------
    dict
        ``words`` (those used), ``model`` (``item2vec-words``), ``k``, ``source``
        (``model``), ``results`` (as :func:`~songscape.recommend.service.recommend_user`'s).

    Raises
    ------
    UnknownWordsError
        None of the words occurs in the library's playlists (titles, tags).
    NoEventsError
        The library has neither playlists nor events.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not normalize_text(text, strip_featuring=True):
        raise ValueError("give at least one word")
    model = get_words_model(store, seed).model
    vector, used = model.query_vector(text)
    if vector is None:
        known = [t[len(WORD) :] for t in model.wv.index_to_key if t.startswith(WORD)][:8]
        hint = (f"known words include: {', '.join(known)}" if known else
                "the library's playlists have no titles or tags to learn words from")  # fmt: skip
        raise UnknownWordsError(
            f"none of the words of {text!r} occurs in the library's playlists ({hint})"
        )
    hits = model.nearest(vector, "item", k, exclude=used)
    return {
        "words": [t[len(WORD) :] for t in used],
        "model": WORDS_MODEL,
        "k": k,
        "source": "model",
        "results": describe(store, [x for x, _ in hits], [s for _, s in hits]),
    }
