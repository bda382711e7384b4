"""Text queries over a library: "calm piano music for studying", "play IU songs", "80s rock".

A query is read in stages, each consuming the words it explains:

1. **Metadata** — artist, album, title and genre strings of the catalog found inside the
   query (case-, accent- and punctuation-insensitive, whole words only, so the artist
   "IU" matches "play IU songs" but not "Iuliana"). A distinctive word of a multi-word
   artist name ("MacLeod") also matches, with a lower score.
2. **Concepts** — the hand-made activities and moods ("studying", "workout", "sad", ...),
   each mapping to weighted tags of both vocabularies.
3. **Tag names** — tag names and aliases said literally ("guitar", "female vocals",
   "80s", "hip hop").
4. **Sentence similarity** — what is left (not a stop word) is encoded with the offline
   sentence model (all-MiniLM-L6-v2) and compared with the catalog's metadata strings
   (high threshold, a fallback for misspelt names) and with the tag phrases and concept
   descriptions.

The tag phrases, aliases, concepts and stop words are data,
``songscape/search/data/vocabulary.json`` (:mod:`songscape.search.vocabulary`); the
stages are :func:`songscape.search.text_intent.analyze_query`; the sentence model and the
embedding caches are in :mod:`songscape.search.text_encoder`.

Ranking scores every healthy track by the weighted mean of its matched tags'
probabilities *standardised across the library* (a z-score per tag, so a rare tag like
"piano" counts as much as an always-high "rock"), plus a large boost per matched
metadata field (:data:`FIELD_BOOST`): an artist query returns that artist's tracks
first. A query with nothing to match ("just play something") returns a diverse,
seeded selection instead.

Metadata-string embeddings are cached on disk in ``<library>/text/`` (a small SQLite
file keyed by model and string), filled incrementally with new strings only; tag
phrase embeddings are cached in memory per process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from songscape.catalog.store import LibraryStore
from songscape.catalog.vectors import healthy_tag_rows, healthy_track_metadata
from songscape.search.emotion_terms import mood_matches, mood_scores
from songscape.search.text_encoder import (
    MetadataEmbeddingCache,
    TextEncoder,
    get_text_encoder,
    phrase_vectors,
)
from songscape.search.text_intent import (
    METADATA_FIELDS,
    MetadataMatch,
    QueryIntent,
    TextCatalog,
    analyze_query,
)
from songscape.search.vocabulary import TagEntry, TagVocabulary

#: Tagging models searched by default.
DEFAULT_TAG_MODELS = ("musicnn-msd", "musicnn-mtt")

#: Score added per matched metadata field (times the match's score, 1.0 for an exact
#: name). Larger than any realistic tag score (a weighted mean of z-scores, rarely above
#: 4), so an artist query puts that artist's tracks first.
FIELD_BOOST = {"artist": 10.0, "album": 8.0, "title": 8.0, "genre": 3.0}
#: A matched tag whose highest probability in the library is below this gets a note.
WEAK_TAG_PROBABILITY = 0.3
#: Floor of the per-tag standard deviation used for z-scores: a tag that is near zero on
#: every track (std of a few hundredths) must not turn noise into large z-scores.
MIN_TAG_STD = 0.1


@dataclass
class TextSearchResult:
    """The answer to a text query.

    Attributes
    ----------
    query : str
        The query as typed.
    intent : QueryIntent
        What was detected.
    results : list of dict
        Best first: ``{"track_id", "score", "title", "artist", "explanation"}``, where
        ``explanation`` is ``{"tags": [{"name", "tag", "source", "model",
        "probability", "weight", "z", "contribution"}, ...], "metadata": [{"field",
        "value", "via", "score"}, ...], "note": str}``.
    """

    query: str
    intent: QueryIntent
    results: list[dict]

    @property
    def track_ids(self) -> list[str]:
        return [r["track_id"] for r in self.results]

    def to_json(self) -> dict:
        return {"query": self.query, "intent": self.intent.to_json(), "results": self.results}


class TextQueryEngine:
    """Answers text queries over a library (see the module docstring).

    Cheap to construct: the catalog, the tags and the sentence model load on the first
    :meth:`search`, and reload when the catalog changes. Only reads the catalog, so a
    read-only :class:`LibraryStore` works.

    Parameters
    ----------
    store : LibraryStore
        The library.
    encoder : TextEncoder, optional
        Default: the per-process :func:`get_text_encoder`.

    Examples
    --------
    >>> engine = TextQueryEngine(LibraryStore("~/lib", readonly=True))  # doctest: +SKIP
    >>> engine.search("calm piano music for studying", k=5).track_ids     # doctest: +SKIP
    """

    def __init__(self, store: LibraryStore, encoder: TextEncoder | None = None):
        self.store = store
        self._encoder = encoder
        self._catalog: TextCatalog | None = None
        self._vocabularies: dict[tuple[str, ...], TagVocabulary] = {}
        self._cache: MetadataEmbeddingCache | None = None
        self._meta_vectors: tuple[int, np.ndarray] | None = None

    @property
    def encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = get_text_encoder()
        return self._encoder

    @property
    def metadata_cache(self) -> MetadataEmbeddingCache:
        if self._cache is None:
            self._cache = MetadataEmbeddingCache(self.store.root, self.encoder)
        return self._cache

    # -- loading ------------------------------------------------------------------
    def vocabulary(self, model_tags: Sequence[str] = DEFAULT_TAG_MODELS) -> TagVocabulary:
        key = tuple(model_tags)
        if key not in self._vocabularies:
            self._vocabularies[key] = TagVocabulary(key)
        return self._vocabularies[key]

    def _load_catalog(self) -> TextCatalog:
        version = self.store.catalog_version
        if self._catalog is not None and self._catalog.version == version:
            return self._catalog
        rows = {r["id"]: dict(r) for r in healthy_track_metadata(self.store.conn)}
        self._catalog = TextCatalog.from_rows(version, rows)
        self._meta_vectors = None
        return self._catalog

    def _tag_matrix(
        self, catalog: TextCatalog, vocab: TagVocabulary, key: tuple[str, ...]
    ) -> tuple[list[TagEntry], np.ndarray, np.ndarray]:
        """``(entries, probabilities, z)``; both arrays (n_tracks, n_entries), NaN-free.

        Missing probabilities are 0 in ``probabilities`` and 0 (neutral) in ``z``.
        """
        if key in catalog.tag_cache:
            return catalog.tag_cache[key]
        entries = vocab.entries
        col = {(e.model, e.tag): j for j, e in enumerate(entries)}
        row = {tid: i for i, tid in enumerate(catalog.ids)}
        probs = np.full((len(row), len(entries)), np.nan, dtype=np.float64)
        models = sorted({e.model for e in entries})
        if models and row:
            for r in healthy_tag_rows(self.store.conn, models):
                i = row.get(r[0])
                j = col.get((r[1], r[2]))
                if i is not None and j is not None:
                    probs[i, j] = r[3]
        present = ~np.isnan(probs)
        counts = present.sum(axis=0)
        filled = np.where(present, probs, 0.0)
        mean = filled.sum(axis=0) / np.maximum(counts, 1)
        var = np.where(present, (probs - mean) ** 2, 0.0).sum(axis=0) / np.maximum(counts, 1)
        std = np.maximum(np.sqrt(var), MIN_TAG_STD)
        z = np.where(present, (filled - mean) / std, 0.0)
        result = (entries, filled, z)
        catalog.tag_cache[key] = result
        return result

    def _metadata_matrix(self, catalog: TextCatalog) -> np.ndarray:
        """Sentence embeddings of every catalog value (rows of ``catalog.values``)."""
        if self._meta_vectors is None or self._meta_vectors[0] != catalog.version:
            vectors = self.metadata_cache.vectors([mv.value for mv in catalog.values])
            self._meta_vectors = (catalog.version, vectors)
        return self._meta_vectors[1]

    def warm_up(self, model_tags: Sequence[str] = DEFAULT_TAG_MODELS) -> None:
        """Load everything a query needs now (model, catalog, tags, metadata embeddings)."""
        catalog = self._load_catalog()
        vocab = self.vocabulary(model_tags)
        self._tag_matrix(catalog, vocab, tuple(model_tags))
        phrase_vectors(self.encoder, vocab.phrases)
        phrase_vectors(self.encoder, [t for _, t in vocab.concept_texts])
        self._metadata_matrix(catalog)

    # -- query analysis -----------------------------------------------------------
    def analyze(self, query: str, model_tags: Sequence[str] = DEFAULT_TAG_MODELS) -> QueryIntent:
        """Detect what ``query`` asks for (no ranking)."""
        catalog = self._load_catalog()
        return self._analyze(query, catalog, self.vocabulary(model_tags))

    def _analyze(self, query: str, catalog: TextCatalog, vocab: TagVocabulary) -> QueryIntent:
        return analyze_query(
            query, catalog, vocab, self.encoder, lambda: self._metadata_matrix(catalog)
        )

    # -- ranking -------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int = 10,
        model_tags: Sequence[str] = DEFAULT_TAG_MODELS,
        seed: int = 0,
    ) -> TextSearchResult:
        """The ``k`` tracks that best answer ``query``.

        Parameters
        ----------
        query : str
            Free text ("calm piano music for studying", "songs by Kevin MacLeod").
        k : int
            Number of results (fewer when fewer tracks qualify).
        model_tags : sequence of str
            Tagging models whose tags are searched.
        seed : int
            Seed of the ``just_play`` selection (same seed, same picks).

        Returns
        -------
        TextSearchResult
            The detected intent and the ranked tracks with explanations.

        Notes
        -----
        ``score = sum_t w_t * z_t(track) / sum_t |w_t| + sum_f FIELD_BOOST[f] * s_f(track)``
        where ``t`` runs over the matched tags, ``z_t`` is the track's probability of
        ``t`` standardised over the library's healthy tracks (0 when the track lacks
        it), and ``s_f`` the best matched metadata value of field ``f`` that the track
        has. When the query names metadata but no tag, only tracks with that metadata
        are returned.
        """
        key = tuple(model_tags)
        catalog = self._load_catalog()
        vocab = self.vocabulary(key)
        intent = self._analyze(query, catalog, vocab)
        if k <= 0 or not catalog.ids:
            return TextSearchResult(query, intent, [])
        entries, probs, z = self._tag_matrix(catalog, vocab, key)
        if "just_play" in intent.patterns:
            return TextSearchResult(query, intent, self._just_play(catalog, entries, z, k, seed))

        n = len(catalog.ids)
        moods = mood_matches(query)  # issue 19: mood words use the stored valence/arousal
        if not intent.patterns and not moods:
            return TextSearchResult(query, intent, [])
        col = {(e.model, e.tag): j for j, e in enumerate(entries)}
        matched = [(m, col[(m.model, m.tag)]) for m in intent.tags]
        weights = np.array([m.weight for m, _ in matched], dtype=np.float64)
        cols = np.array([j for _, j in matched], dtype=np.int64)
        tag_score = np.zeros(n)
        norm = float(np.abs(weights).sum())
        if len(cols) and norm > 0:
            tag_score = z[:, cols] @ weights / norm
        boost = np.zeros(n)
        row = {tid: i for i, tid in enumerate(catalog.ids)}
        meta_by_track: dict[int, list[MetadataMatch]] = {}
        for fld in METADATA_FIELDS:
            best = np.zeros(n)
            for m in intent.metadata:
                if m.field != fld:
                    continue
                mv = catalog.by_value[(fld, m.value)]
                for tid in mv.track_ids:
                    i = row[tid]
                    best[i] = max(best[i], m.score)
                    meta_by_track.setdefault(i, []).append(m)
            boost += FIELD_BOOST[fld] * best
        mood_score, mood_explain = mood_scores(self.store, catalog.ids, moods)
        score = tag_score + boost + mood_score
        if mood_explain:
            intent.notes.append("mood words use valence/arousal: " + ", ".join(
                m.word for m in moods))  # fmt: skip
        by_phrase: dict[str, list[tuple[str, int]]] = {}
        for m, j in matched:
            if m.weight > 0 and m.via == "name":
                by_phrase.setdefault(m.phrase, []).append((m.name, j))
        for phrase, tags in by_phrase.items():
            highest = float(probs[:, [j for _, j in tags]].max())
            if highest < WEAK_TAG_PROBABILITY:
                intent.notes.append(
                    f"no track is clearly tagged {' / '.join(name for name, _ in tags)} "
                    f"({phrase!r}; highest probability {highest:.2f})"
                )
        candidates = np.arange(n)
        if intent.metadata and not len(cols):
            candidates = np.flatnonzero(boost > 0)
        # Track ids are sorted, so a stable sort breaks ties by id.
        order = candidates[np.argsort(-score[candidates], kind="stable")][:k].tolist()
        results = []
        for i in order:
            contributions = []
            for (m, j), w in zip(matched, weights, strict=True):
                c = w * z[i, j] / norm
                contributions.append(
                    {"name": m.name, "tag": m.tag, "source": m.source, "model": m.model,
                     "probability": round(float(probs[i, j]), 4), "weight": round(float(w), 4),
                     "z": round(float(z[i, j]), 3), "contribution": round(float(c), 4)}
                )  # fmt: skip
            contributions.sort(key=lambda c: (-c["contribution"], c["name"]))
            tags = [c for c in contributions if c["contribution"] > 0][:6]
            metas = [
                {"field": m.field, "value": m.value, "via": m.via, "score": m.score}
                for m in meta_by_track.get(i, [])
            ]
            note = "; ".join(
                [f"{c['name']} p={c['probability']:.2f} (weight {c['weight']:g})" for c in tags]
                + [f"{m['field']} = {m['value']!r}" for m in metas]
            )
            results.append(self._result(catalog, i, float(score[i]), tags, metas, note))
            if catalog.ids[i] in mood_explain:
                results[-1]["explanation"]["emotion"] = mood_explain[catalog.ids[i]]
        return TextSearchResult(query, intent, results)

    @staticmethod
    def _result(
        catalog: TextCatalog, i: int, score: float, tags: list, metas: list, note: str
    ) -> dict:
        track_id = catalog.ids[i]
        row = catalog.rows[track_id]
        return {
            "track_id": track_id,
            "score": round(score, 4),
            "title": row.get("title"),
            "artist": row.get("artist"),
            "explanation": {"tags": tags, "metadata": metas, "note": note},
        }

    def _just_play(
        self, catalog: TextCatalog, entries: list[TagEntry], z: np.ndarray, k: int, seed: int
    ) -> list[dict]:
        """A seeded selection spread over artists and each track's most distinctive tag."""
        n = len(catalog.ids)
        rng = np.random.default_rng(seed)
        order = rng.permutation(n).tolist()
        has_tags = np.abs(z).sum(axis=1) > 0 if z.size else np.zeros(n, dtype=bool)
        top = [
            entries[int(np.argmax(z[i]))].name if z.size and has_tags[i] else None for i in range(n)
        ]
        picked: list[int] = []
        artists: set[str] = set()
        tags: set[str] = set()
        for rule in ("both", "artist", "any"):
            for i in order:
                if len(picked) >= k:
                    break
                if i in picked:
                    continue
                artist = catalog.rows[catalog.ids[i]].get("artist") or f"?{i}"
                new_artist = artist not in artists
                new_tag = top[i] is None or top[i] not in tags
                if rule == "both" and not (new_artist and new_tag):
                    continue
                if rule == "artist" and not new_artist:
                    continue
                picked.append(i)
                artists.add(artist)
                if top[i] is not None:
                    tags.add(top[i])
        results = []
        for rank, i in enumerate(picked):
            note = "diverse pick" + (f" (most distinctive tag {top[i]})" if top[i] else "")
            results.append(self._result(catalog, i, 1.0 - rank / max(len(picked), 1), [], [], note))
        return results


def search_text(
    store: LibraryStore,
    query: str,
    k: int = 10,
    model_tags: Iterable[str] = DEFAULT_TAG_MODELS,
) -> TextSearchResult:
    """One-off :meth:`TextQueryEngine.search` (builds an engine for the call)."""
    return TextQueryEngine(store).search(query, k=k, model_tags=tuple(model_tags))
