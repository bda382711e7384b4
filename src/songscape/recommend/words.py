"""item2vec over playlists and sessions, with items, artists and words in one space.

A skip-gram Word2Vec (Barkan & Koenigstein 2016) is trained on "sentences" whose tokens
are items (``item:<id>``), artists (``artist:<name>``) and words (``word:<tag or word>``).
Words that co-occur with items (a playlist's title and tags, the tags a listener gave an
artist) end up near those items, so a word such as "autumn" or "exciting" finds items.

Sentences
    * :func:`playlist_sentences`: one per playlist of the library; the items in order,
      each followed by its artist (linked tracks) and, round-robin, one of the playlist's
      words (title words and tags), so every item has words within the window; the words
      left over when a playlist has fewer items than words close the sentence;
    * :func:`event_sessions`: a user's events with timestamps cut into sessions at gaps
      of more than ``gap_s`` (30 min by default);
    * :func:`hetrec_tag_sessions`: Last.fm HetRec 2011 has no playlists or play
      timestamps, but ``user_taggedartists.dat`` dates each tag assignment (day, month,
      year). A session is one user's month: the artists tagged that month, each followed
      by the tags the user gave it (``tags.dat`` names).

Negative sampling is word2vec's popularity-aware one: negatives are drawn from the token
frequency distribution raised to ``ns_exponent`` (0.75 by default).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from songscape.catalog import listening
from songscape.catalog.store import LibraryStore
from songscape.extras import require
from songscape.recommend.item2vec import train_skipgram
from songscape.text import normalize_text

ITEM, ARTIST, WORD = "item:", "artist:", "word:"
KINDS = {"item": ITEM, "artist": ARTIST, "word": WORD}


def _keep_words(word: str, count: int, min_count: int) -> int:
    """gensim's trim rule: keep every word token, the default rule for the others."""
    utils = require("gensim.utils", "recommend", "item2vec with words")
    return utils.RULE_KEEP if word.startswith(WORD) else utils.RULE_DEFAULT


def word_token(text: str) -> str | None:
    """``word:<normalised text>`` or None when nothing is left after normalising."""
    norm = normalize_text(text, strip_featuring=True)
    return WORD + norm if norm else None


class WordItem2Vec:
    """Word2Vec over mixed item / artist / word sentences.

    Parameters
    ----------
    factors : int
        Vector size.
    window : int
        Context window (tokens on each side).
    epochs : int
        Passes over the sentences.
    min_count : int
        Tokens seen fewer times get no vector.
    negative : int
        Negative samples per positive pair.
    ns_exponent : float
        Exponent of the negative-sampling distribution (frequency ** ns_exponent).
    sample : float
        word2vec's downsampling of frequent tokens (a token above this share of the corpus
        is randomly dropped); 0 disables it, as suits tiny corpora where every token is
        "frequent".
    keep_all_words : bool
        Give every word token a vector whatever its count (``min_count`` then applies to
        items and artists only): a rare tag is still a query someone may type.
    seed : int
        Seed (training is single-threaded, so results are reproducible).
    """

    def __init__(
        self,
        factors: int = 64,
        window: int = 8,
        epochs: int = 10,
        min_count: int = 2,
        negative: int = 5,
        ns_exponent: float = 0.75,
        keep_all_words: bool = True,
        seed: int = 0,
        sample: float = 1e-3,
    ):
        self.keep_all_words, self.sample = keep_all_words, sample
        self.factors, self.window, self.epochs = factors, window, epochs
        self.min_count, self.negative, self.ns_exponent, self.seed = (
            min_count, negative, ns_exponent, seed,
        )  # fmt: skip
        self.wv = None

    def fit(self, sentences: Iterable[list[str]]) -> WordItem2Vec:
        """Train on token lists (tokens carry their ``item:``/``artist:``/``word:`` prefix)."""
        sentences = [s for s in sentences if len(s) > 1]
        if not sentences:
            raise ValueError("no sentence with at least two tokens to train on")
        model = train_skipgram(
            sentences, self.factors, self.window, self.min_count, self.negative,
            self.ns_exponent, self.sample, self.epochs, self.seed,
            trim_rule=_keep_words if self.keep_all_words else None,
        )  # fmt: skip
        self.wv = model.wv
        self._unit = self.wv.get_normed_vectors()
        self._keys = list(self.wv.index_to_key)
        self._kind = np.array([k.split(":", 1)[0] + ":" for k in self._keys])
        return self

    def _check(self) -> None:
        if self.wv is None:
            raise RuntimeError("call fit() first")

    def has(self, token: str) -> bool:
        self._check()
        return token in self.wv.key_to_index

    def query_vector(self, text: str) -> tuple[np.ndarray | None, list[str]]:
        """The unit mean of the word tokens of ``text`` that have vectors: the whole phrase
        if it is a token (a tag such as "seen live"), else its single words."""
        self._check()
        whole = word_token(text)
        if whole and self.has(whole):
            used = [whole]
        else:
            words = normalize_text(text, strip_featuring=True).split()
            used = [t for w in words if (t := WORD + w) and self.has(t)]
        if not used:
            return None, []
        v = np.mean([self._unit[self.wv.key_to_index[t]] for t in used], axis=0)
        return v / max(float(np.linalg.norm(v)), 1e-12), used

    def nearest(
        self, vector: np.ndarray, kind: str = "item", k: int = 10, exclude: Iterable[str] = ()
    ) -> list[tuple[str, float]]:
        """The ``k`` tokens of ``kind`` (item, artist, word) closest to a vector (cosine);
        names come without their prefix."""
        self._check()
        prefix = KINDS[kind]
        sims = (self._unit @ np.asarray(vector, dtype=np.float32)).astype(np.float64)
        sims[self._kind != prefix] = -np.inf
        for token in exclude:
            if token in self.wv.key_to_index:
                sims[self.wv.key_to_index[token]] = -np.inf
        k = min(k, int(np.isfinite(sims).sum()))
        top = np.argsort(-sims, kind="stable")[:k]
        return [(self._keys[i][len(prefix) :], float(sims[i])) for i in top]

    def items_for_text(self, text: str, k: int = 10, kind: str = "item") -> dict:
        """Items (or artists, words) for a word or phrase: ``{"words", "results"}``."""
        v, used = self.query_vector(text)
        if v is None:
            return {"words": [], "results": []}
        return {"words": [t[len(WORD) :] for t in used],
                "results": self.nearest(v, kind, k, exclude=used)}  # fmt: skip

    def item_vectors(self, items: list[str]) -> np.ndarray:
        """(len(items), factors) vectors of ``item:<id>`` tokens; zeros when absent."""
        self._check()
        out = np.zeros((len(items), self.factors), dtype=np.float32)
        for r, item in enumerate(items):
            j = self.wv.key_to_index.get(ITEM + item)
            if j is not None:
                out[r] = self.wv.vectors[j]
        return out


# -- sentence builders ----------------------------------------------------------------


def _words_of(*texts: str | None) -> list[str]:
    words: list[str] = []
    for text in texts:
        if not text:
            continue
        for part in text.replace(",", "|").split("|"):
            norm = normalize_text(part, strip_featuring=True)
            if not norm:
                continue
            words.append(WORD + norm)
            if " " in norm:  # a phrase: its single words too
                words.extend(WORD + w for w in norm.split())
    return list(dict.fromkeys(words))


def playlist_sentences(store: LibraryStore) -> list[list[str]]:
    """One sentence per playlist (see the module docstring)."""
    rows = listening.playlist_item_rows(store.conn)
    out: list[list[str]] = []
    current, sentence, words, n = None, [], [], 0

    def close() -> None:
        if sentence:
            # a short playlist with more words than items: the rest of its words at the end
            out.append(sentence + words[n:])

    for r in rows:
        if r["id"] != current:
            close()
            current, sentence, n = r["id"], [], 0
            words = _words_of(r["title"], r["tags"])
        sentence.append(ITEM + (r["track_id"] or r["item"]))
        if r["artist"]:
            sentence.append(ARTIST + normalize_text(r["artist"], strip_featuring=True))
        if words:
            sentence.append(words[n % len(words)])
            n += 1
    close()
    return out


def event_sessions(store: LibraryStore, gap_s: float = 1800.0) -> list[list[str]]:
    """Each user's timestamped events cut into sessions at gaps > ``gap_s`` seconds."""
    rows = listening.timestamped_event_rows(store.conn)
    out: list[list[str]] = []
    sentence: list[str] = []
    last_user, last_ts = None, None
    for r in rows:
        if r["user_id"] != last_user or r["timestamp"] - last_ts > gap_s:
            if sentence:
                out.append(sentence)
            sentence = []
        sentence.append(ITEM + (r["track_id"] or r["item"]))
        if r["artist"]:
            sentence.append(ARTIST + normalize_text(r["artist"], strip_featuring=True))
        last_user, last_ts = r["user_id"], r["timestamp"]
    if sentence:
        out.append(sentence)
    return out


def read_hetrec_tags(directory: str | Path) -> dict[str, str]:
    """``{tagID: tag}`` from HetRec's ``tags.dat``."""
    out = {}
    with open(Path(directory) / "tags.dat", encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader, None)
        for row in reader:
            if len(row) >= 2:
                out[row[0].strip()] = row[1].strip()
    return out


def read_hetrec_tag_assignments(directory: str | Path) -> list[tuple[str, str, str, int]]:
    """``(user, artist, tag, yyyymm)`` per row of ``user_taggedartists.dat`` (tag names)."""
    tags = read_hetrec_tags(directory)
    out = []
    path = Path(directory) / "user_taggedartists.dat"
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader, None)
        for lineno, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 6:
                raise ValueError(f"{path}:{lineno}: expected 6 tab-separated fields")
            user, artist, tag_id, _day, month, year = (x.strip() for x in row)
            if tag_id in tags:
                out.append((user, artist, tags[tag_id], int(year) * 100 + int(month)))
    return out


def hetrec_tag_sessions(directory: str | Path) -> list[list[str]]:
    """Per-user-per-month sessions of artists interleaved with their tag words."""
    groups: dict[tuple[str, int], dict[str, list[str]]] = defaultdict(dict)
    for user, artist, tag, month in read_hetrec_tag_assignments(directory):
        token = word_token(tag)
        if token:
            groups[(user, month)].setdefault(artist, []).append(token)
    out = []
    for key in sorted(groups):
        sentence: list[str] = []
        for artist, words in groups[key].items():
            sentence.append(ITEM + artist)
            sentence.extend(words)
        out.append(sentence)
    return out
