"""item2vec (Barkan & Koenigstein 2016): skip-gram Word2Vec over users' item lists.

:func:`train_skipgram` is the one seeded gensim trainer, shared with
:mod:`songscape.recommend.words`. ``gensim`` comes with the ``recommend`` extra; training
without it raises :class:`~songscape.errors.MissingExtraError`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from songscape.extras import require
from songscape.recommend.base import EmbeddingRecommender, top_k
from songscape.vectors import unit_rows


def _stable_hash(text: str) -> int:
    """gensim seeds vectors with hash(word + seed); Python's str hash varies per process."""
    return zlib.crc32(text.encode("utf-8"))


def user_sentences(matrix: sp.csr_matrix, tokens: Sequence[str]) -> list[list[str]]:
    """Each user's items as a "sentence" of ``tokens[item]``, most played first (ties by
    item index); users without items are left out."""
    out = []
    for u in range(matrix.shape[0]):
        lo, hi = matrix.indptr[u], matrix.indptr[u + 1]
        idx, cnt = matrix.indices[lo:hi], matrix.data[lo:hi]
        if len(idx):
            out.append([tokens[j] for j in idx[np.lexsort((idx, -cnt))]])
    return out


def train_skipgram(
    sentences: list[list[str]],
    factors: int,
    window: int,
    min_count: int,
    negative: int,
    ns_exponent: float,
    sample: float,
    epochs: int,
    seed: int,
    trim_rule=None,
):
    """A seeded, single-threaded (so reproducible) skip-gram gensim ``Word2Vec``; negatives
    are drawn from token frequency ** ``ns_exponent`` (popularity-aware sampling)."""
    models = require("gensim.models", "recommend", "item2vec")
    return models.Word2Vec(
        sentences,
        vector_size=factors,
        window=window,
        min_count=min_count,
        sg=1,
        negative=negative,
        ns_exponent=ns_exponent,
        sample=sample,
        epochs=epochs,
        seed=seed,
        workers=1,
        hashfxn=_stable_hash,
        trim_rule=trim_rule,
    )


class Item2VecRecommender(EmbeddingRecommender):
    """item2vec (Barkan & Koenigstein 2016): skip-gram Word2Vec where each user's items form
    one "sentence" (ordered by play count, most played first; a large window makes the order
    matter little). A user is the mean of their items' unit vectors; items score by cosine.
    Items with fewer than ``min_count`` listeners get no vector (their vectors are noise that
    floods recommendations with the long tail) and score -inf.

    Negative sampling is popularity-aware: negatives are drawn from the unigram (listener
    count) distribution raised to ``ns_exponent`` (word2vec's 0.75 by default; 1 samples in
    proportion to popularity, 0 uniformly, negative values favour rare items)."""

    name = "item2vec"

    def __init__(
        self,
        factors: int = 64,
        window: int = 50,
        epochs: int = 5,
        negative: int = 5,
        min_count: int = 30,
        ns_exponent: float = 0.75,
        seed: int = 0,
    ):
        super().__init__(seed)
        self.factors, self.window, self.epochs, self.negative = factors, window, epochs, negative
        self.min_count, self.ns_exponent = min_count, ns_exponent

    def _fit(self, matrix: sp.csr_matrix) -> None:
        tokens = [str(j) for j in range(matrix.shape[1])]
        model = train_skipgram(
            user_sentences(matrix, tokens), self.factors, self.window, self.min_count,
            self.negative, self.ns_exponent, 0, self.epochs, self.seed,
        )  # fmt: skip
        vecs = np.zeros((matrix.shape[1], self.factors), dtype=np.float32)
        known = np.zeros(matrix.shape[1], dtype=bool)
        for word, row in model.wv.key_to_index.items():
            vecs[int(word)] = model.wv.vectors[row]
            known[int(word)] = True
        self.item_vectors = unit_rows(vecs)
        self._known = known
        users = np.zeros((matrix.shape[0], self.factors), dtype=np.float32)
        for u in range(matrix.shape[0]):
            seen = matrix.indices[matrix.indptr[u] : matrix.indptr[u + 1]]
            if len(seen):
                mean = self.item_vectors[seen].mean(axis=0)
                users[u] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        self.user_vectors = users
        self._unit = self.item_vectors

    @property
    def known(self) -> np.ndarray:
        """Boolean mask of the items that have a vector (at least ``min_count`` listeners)."""
        self.check_fitted()
        return self._known

    def score_user(self, user_index: int) -> np.ndarray:
        scores = (self.item_vectors @ self.user_vectors[user_index]).astype(np.float64)
        scores[~self._known] = -np.inf
        return scores

    def similar_items(self, item_index: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        i = self._check_item(item_index)
        sims = (self.item_vectors @ self.item_vectors[i]).astype(np.float64)
        sims[~self._known] = -np.inf
        sims[i] = -np.inf
        top = top_k(sims, k)
        return top, sims[top]


