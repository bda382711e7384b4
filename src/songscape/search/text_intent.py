"""What a text query asks for: metadata named in it, concepts, tags (the four stages of
:mod:`songscape.search.text_query`), and the intent pattern each match shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from songscape.search.text_encoder import TextEncoder, phrase_vectors
from songscape.search.vocabulary import (
    STOP_WORDS,
    Concept,
    TagEntry,
    TagVocabulary,
    stem,
    tokenize,
)

#: Intent patterns a query can show (:attr:`QueryIntent.patterns`), in this order.
PATTERNS = (
    "artist", "album", "title", "genre", "mood", "activity", "instrument", "tag", "just_play",
)  # fmt: skip

#: The intent pattern a matched tag of each category shows.
CATEGORY_PATTERN = {
    "genre": "genre", "mood": "mood", "instrument": "instrument",
    "voice": "tag", "era": "tag", "tempo": "tag", "other": "tag",
}  # fmt: skip

#: Catalog fields a query can name, in the order matches are listed.
METADATA_FIELDS = ("artist", "album", "title", "genre")

#: Thresholds of the sentence-similarity stage, calibrated on all-MiniLM-L6-v2 (cosine).
#: A residual phrase matches a metadata string at >= this (misspelt names score about
#: 0.7-0.95, unrelated words below 0.55).
METADATA_SIMILARITY_THRESHOLD = 0.7
#: A residual phrase (or one of its words) matches a tag phrase at >= this, ...
TAG_SIMILARITY_THRESHOLD = 0.5
#: ... and at >= its median similarity over all tag phrases plus this gap (every phrase
#: says "music", so vague words such as "soundtrack" are close to all of them) ...
TAG_SIMILARITY_GAP = 0.18
#: ... and within this margin of the best phrase; at most this many phrases.
TAG_SIMILARITY_MARGIN = 0.05
MAX_SEMANTIC_PHRASES = 3
#: A residual phrase matches a concept when this close to one of its keywords or its
#: description ("sleepy" -> sleep, "jog" -> workout, "breakup" -> sad).
CONCEPT_SIMILARITY_THRESHOLD = 0.62
#: Score of a match on one distinctive word of a multi-word artist name.
TOKEN_MATCH_SCORE = 0.8
#: Score of a metadata value made only of generic words ("Sad", "Piano Music").
GENERIC_MATCH_SCORE = 0.5


# -- the catalog's metadata values ---------------------------------------------------------


@dataclass
class MetaValue:
    """One distinct value of one metadata field, and the healthy tracks that have it."""

    field: str
    value: str
    tokens: tuple[str, ...]
    track_ids: set[str]
    generic: bool = False


@dataclass
class TextCatalog:
    """The healthy tracks' metadata at one catalog version, indexed for matching.

    Attributes
    ----------
    version : int
        The catalog version read.
    ids : list of str
        Track ids, sorted (row order of every per-track array).
    rows : dict
        Track id -> ``{"id", "title", "artist", "album", "genre"}``.
    values : list of MetaValue
        Distinct values by field and value.
    first_token : dict
        First token of a value -> the values starting with it.
    artist_tokens : dict
        A distinctive word of a multi-word artist name (one of at most two artists) ->
        those artists.
    by_value : dict
        ``(field, value)`` -> its MetaValue.
    tag_cache : dict
        Tag matrices of this version by tagging models (filled by the engine).
    """

    version: int
    ids: list[str]
    rows: dict[str, dict[str, Any]]
    values: list[MetaValue]
    first_token: dict[str, list[MetaValue]]
    artist_tokens: dict[str, list[MetaValue]]
    by_value: dict[tuple[str, str], MetaValue]
    tag_cache: dict[tuple[str, ...], tuple[list[TagEntry], np.ndarray, np.ndarray]] = field(
        default_factory=dict
    )

    @classmethod
    def from_rows(cls, version: int, rows: dict[str, dict[str, Any]]) -> TextCatalog:
        """Index ``rows`` (track id -> metadata, sorted by id) read at ``version``."""
        by_value: dict[tuple[str, str], MetaValue] = {}
        for track_id, row in rows.items():
            for fld in METADATA_FIELDS:
                value = row.get(fld)
                if not isinstance(value, str) or not value.strip():
                    continue
                tokens = tuple(tokenize(value))
                if not tokens or len("".join(tokens)) < 2:
                    continue
                mv = by_value.get((fld, value))
                if mv is None:
                    mv = by_value[(fld, value)] = MetaValue(fld, value, tokens, set())
                mv.track_ids.add(track_id)
        values = sorted(by_value.values(), key=lambda v: (v.field, v.value))
        first_token: dict[str, list[MetaValue]] = {}
        for mv in values:
            first_token.setdefault(mv.tokens[0], []).append(mv)
        # Distinctive words of multi-word artist names ("macleod" of "Kevin MacLeod").
        token_artists: dict[str, list[MetaValue]] = {}
        for mv in values:
            if mv.field == "artist" and len(mv.tokens) > 1:
                for tok in set(mv.tokens):
                    if len(tok) >= 4 and tok not in STOP_WORDS:
                        token_artists.setdefault(tok, []).append(mv)
        artist_tokens = {t: mvs for t, mvs in token_artists.items() if len(mvs) <= 2}
        return cls(version, list(rows), rows, values, first_token, artist_tokens, by_value)


# -- results ----------------------------------------------------------------------------


@dataclass
class TagMatch:
    """A tag the query asks for.

    Attributes
    ----------
    name : str
        ``"source:tag"``, e.g. ``"mtt:piano"``.
    model, source, tag, category : str
        The tag and its category (:data:`~songscape.search.vocabulary.TAG_TABLE`).
    weight : float
        Its weight in the score (negative: the query avoids it).
    similarity : float
        Cosine similarity of the query words to the tag's phrase (1.0 for a literal
        match of its name or an alias; the concept weight for a concept's tag).
    via : str
        ``"name"`` (said literally), ``"concept:<name>"``, or ``"similarity"``.
    phrase : str
        The tag's phrase.
    """

    name: str
    model: str
    source: str
    tag: str
    category: str
    weight: float
    similarity: float
    via: str
    phrase: str


@dataclass
class MetadataMatch:
    """A catalog value named in the query.

    Attributes
    ----------
    field : str
        ``"artist"``, ``"album"``, ``"title"`` or ``"genre"``.
    value : str
        The value as stored.
    score : float
        1.0 for the whole name, :data:`TOKEN_MATCH_SCORE` for one distinctive word of
        it, :data:`GENERIC_MATCH_SCORE` for a value of generic words, the cosine
        similarity for a sentence-model match.
    via : str
        ``"exact"``, ``"token"``, ``"generic"`` or ``"similarity"``.
    n_tracks : int
        Healthy tracks with this value.
    """

    field: str
    value: str
    score: float
    via: str
    n_tracks: int


@dataclass
class QueryIntent:
    """What a query asks for.

    Attributes
    ----------
    query : str
        The query as typed.
    patterns : list of str
        Detected patterns, a subset of :data:`PATTERNS` in that order.
    tags : list of TagMatch
        Matched tags, strongest weight first.
    metadata : list of MetadataMatch
        Matched catalog values.
    concepts : list of str
        Matched activities/moods (:data:`~songscape.search.vocabulary.CONCEPTS`).
    residual : str
        Query words left to the sentence-similarity stage (not metadata, concept
        keywords, tag names or stop words); ``notes`` says when nothing was close.
    notes : list of str
        Human-readable remarks (fallbacks, just-play).
    """

    query: str
    patterns: list[str] = field(default_factory=list)
    tags: list[TagMatch] = field(default_factory=list)
    metadata: list[MetadataMatch] = field(default_factory=list)
    concepts: list[str] = field(default_factory=list)
    residual: str = ""
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


# -- analysis ---------------------------------------------------------------------------


def analyze_query(
    query: str,
    catalog: TextCatalog,
    vocab: TagVocabulary,
    encoder: TextEncoder,
    metadata_vectors: Callable[[], np.ndarray],
) -> QueryIntent:
    """Detect what ``query`` asks for: matched metadata, concepts and tags, and patterns.

    Parameters
    ----------
    query : str
        The query as typed.
    catalog : TextCatalog
        The library's metadata values.
    vocab : TagVocabulary
        The tags searched.
    encoder : TextEncoder
        Encodes the words no literal match explains.
    metadata_vectors : callable
        Returns the sentence embeddings of ``catalog.values`` (by row); called only when
        the residual words are compared with the metadata.
    """
    intent = QueryIntent(query=query)
    tokens = tokenize(query)
    used = [False] * len(tokens)
    tag_weights: dict[TagEntry, TagMatch] = {}

    def add_tag(entry: TagEntry, weight: float, similarity: float, via: str) -> None:
        old = tag_weights.get(entry)
        if old is None or abs(weight) > abs(old.weight):
            tag_weights[entry] = TagMatch(
                entry.name, entry.model, entry.source, entry.tag, entry.category,
                round(float(weight), 4), round(float(similarity), 4), via, entry.phrase,
            )  # fmt: skip

    # 1. metadata named literally.
    intent.metadata = _match_metadata_lexical(tokens, used, catalog, vocab)

    # 2-3. concepts, then tag names and aliases: longest span first.
    stems = [stem(t) for t in tokens]
    concepts: list[Concept] = []
    for n in range(min(vocab.max_key_len, len(tokens)), 0, -1):
        for i in range(len(tokens) - n + 1):
            if any(used[i : i + n]):
                continue
            key = tuple(stems[i : i + n])
            concept = vocab.concept_keys.get(key)
            if concept is not None:
                if concept not in concepts:
                    concepts.append(concept)
                used[i : i + n] = [True] * n
                continue
            phrases = vocab.keys.get(key)
            if phrases and not (n == 1 and key[0] in STOP_WORDS):
                for phrase in phrases:
                    for entry in vocab.by_phrase[phrase]:
                        add_tag(entry, 1.0, 1.0, "name")
                used[i : i + n] = [True] * n
    for concept in concepts:
        for entry, weight in vocab.concept_tags(concept):
            add_tag(entry, weight, weight, f"concept:{concept.name}")

    # 4. what is left: sentence similarity to metadata, concepts and tag phrases.
    residual_tokens = [
        t for t, u in zip(tokens, used, strict=True) if not u and t not in STOP_WORDS
    ]
    residual = " ".join(residual_tokens)
    intent.residual = residual
    if residual:
        _match_residual(
            residual, catalog, vocab, intent, concepts, add_tag, encoder, metadata_vectors
        )

    intent.concepts = [c.name for c in concepts]
    intent.tags = sorted(tag_weights.values(), key=lambda m: (-m.weight, m.name))
    found: set[str] = {m.field for m in intent.metadata}
    found |= {c.kind for c in concepts}
    # Tags said (or paraphrased) in the query show their category; a concept's own
    # tags do not (studying is an activity, not a genre query).
    found |= {
        CATEGORY_PATTERN.get(m.category, "tag")
        for m in intent.tags
        if m.weight > 0 and not m.via.startswith("concept:")
    }
    if not found:
        if not residual:
            found.add("just_play")
            intent.notes.append("no specific request: a diverse selection of the library")
    intent.patterns = [p for p in PATTERNS if p in found]
    return intent


def _match_metadata_lexical(
    tokens: list[str], used: list[bool], catalog: TextCatalog, vocab: TagVocabulary
) -> list[MetadataMatch]:
    """Catalog values said in the query, whole words only; marks their tokens used."""
    spans: list[tuple[int, int, MetaValue, str, float]] = []
    for i, tok in enumerate(tokens):
        for mv in catalog.first_token.get(tok, ()):
            n = len(mv.tokens)
            if tuple(tokens[i : i + n]) == mv.tokens:
                generic = all(stem(t) in vocab.generic_tokens for t in mv.tokens)
                if generic and mv.field != "genre":
                    spans.append((i, i + n, mv, "generic", GENERIC_MATCH_SCORE))
                else:
                    spans.append((i, i + n, mv, "exact", 1.0))
        for mv in catalog.artist_tokens.get(tok, ()):
            if stem(tok) not in vocab.generic_tokens:
                spans.append((i, i + 1, mv, "token", TOKEN_MATCH_SCORE))
    # A match inside a longer match of a more specific kind is dropped
    # ("Kevin" inside "Kevin MacLeod"; the token "macleod" inside the full name).
    kept = []
    for s in spans:
        inside = any(
            o is not s
            and o[0] <= s[0]
            and s[1] <= o[1]
            and ((o[1] - o[0]) > (s[1] - s[0]) or (o[3] == "exact" and s[3] == "token"))
            and o[3] != "generic"
            for o in spans
        )
        if not inside:
            kept.append(s)
    matches: dict[tuple[str, str], MetadataMatch] = {}
    for start, end, mv, via, score in kept:
        # Genre words and generic values also stay available to the tag stage.
        if mv.field != "genre" and via != "generic":
            used[start:end] = [True] * (end - start)
        key = (mv.field, mv.value)
        if key not in matches or matches[key].score < score:
            matches[key] = MetadataMatch(mv.field, mv.value, score, via, len(mv.track_ids))
    return sorted(matches.values(), key=lambda m: (METADATA_FIELDS.index(m.field), -m.score))


def _match_residual(
    residual: str,
    catalog: TextCatalog,
    vocab: TagVocabulary,
    intent: QueryIntent,
    concepts: list[Concept],
    add_tag: Callable[[TagEntry, float, float, str], None],
    encoder: TextEncoder,
    metadata_vectors: Callable[[], np.ndarray],
) -> None:
    """Match the words left over by sentence similarity: to a metadata value (a
    misspelt name), else to concepts and tag phrases."""
    words = residual.split()
    texts = [residual, *(words if len(words) > 1 else [])]
    vectors = encoder.encode(texts)
    # Metadata by similarity (misspelt or partial names): only when nothing literal.
    if catalog.values and not any(m.via in ("exact", "token") for m in intent.metadata):
        sims = metadata_vectors() @ vectors[0]
        best = float(sims.max())
        if best >= METADATA_SIMILARITY_THRESHOLD:
            for j in np.flatnonzero(sims >= best - 0.02)[:5]:
                mv = catalog.values[int(j)]
                intent.metadata.append(
                    MetadataMatch(
                        mv.field, mv.value, round(float(sims[j]), 4), "similarity",
                        len(mv.track_ids),
                    )
                )  # fmt: skip
            intent.notes.append(f"{residual!r} read as a name (sentence similarity)")
            return
    explained = False
    concept_vecs = phrase_vectors(encoder, [t for _, t in vocab.concept_texts])
    phrase_vecs = phrase_vectors(encoder, vocab.phrases)
    for vec in vectors:
        # Concepts: the closest keyword or description.
        if vocab.concept_texts:
            csims = concept_vecs @ vec
            best_by_concept: dict[str, tuple[float, Concept]] = {}
            for (concept, _), sim in zip(vocab.concept_texts, csims, strict=True):
                if sim > best_by_concept.get(concept.name, (-1.0, concept))[0]:
                    best_by_concept[concept.name] = (float(sim), concept)
            top = max(sim for sim, _ in best_by_concept.values())
            for sim, concept in best_by_concept.values():
                if sim >= CONCEPT_SIMILARITY_THRESHOLD and sim >= top - 0.05:
                    explained = True
                    if concept not in concepts:
                        concepts.append(concept)
                        for entry, weight in vocab.concept_tags(concept):
                            add_tag(entry, weight * sim, sim, f"concept:{concept.name}")
        # Tag phrases: clearly above the query's typical similarity to all phrases.
        if vocab.phrases:
            psims = phrase_vecs @ vec
            floor = float(np.median(psims)) + TAG_SIMILARITY_GAP
            order = np.argsort(-psims, kind="stable")
            best = float(psims[order[0]])
            cutoff = max(TAG_SIMILARITY_THRESHOLD, floor, best - TAG_SIMILARITY_MARGIN)
            for j in order[:MAX_SEMANTIC_PHRASES]:
                sim = float(psims[j])
                if sim < cutoff:
                    break
                explained = True
                for entry in vocab.by_phrase[vocab.phrases[int(j)]]:
                    add_tag(entry, sim, sim, "similarity")
    if not explained:
        intent.notes.append(f"no tag or name close to {residual!r}")
