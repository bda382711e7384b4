"""The words text queries understand: tag phrases, aliases, concepts and stop words.

The hand-made tables are data, ``songscape/search/data/vocabulary.json`` (shipped with
the package, read once with :mod:`importlib.resources`):

``tags``
    Per tag source (``ModelSpec.tag_source``), every tag of the pretrained tagging
    models as ``[category, phrase]``: its :data:`TAG_CATEGORIES` category and the English
    phrase the sentence model compares queries with. Tags sharing a phrase are synonyms:
    saying one matches all of them (MTT "female", "woman", "female vocal", "female
    voice" and MSD "female vocalists"). Ambiguous raw tags get a curated phrase ("no
    vocals" -> "instrumental music without vocals", "beat" -> "music with a strong beat").
``aliases``
    Other words for tags, said literally: alias -> the phrases it means ("edm" ->
    electronic, dance and house music).
``concepts``
    Activities and moods (:class:`Concept`): keywords, weighted tags, a description.
``stop_words``
    Words carrying no search meaning ("play", "songs", "for", ...).

:class:`TagVocabulary` joins these tables with the tags of some registered models.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from songscape.errors import UnknownModelError
from songscape.models.registry import get_spec
from songscape.text import normalize_text

log = logging.getLogger(__name__)

#: Where the vocabulary lives inside the ``songscape.search`` package.
VOCABULARY_RESOURCE = "data/vocabulary.json"

#: Tag categories of the ``tags`` table.
TAG_CATEGORIES = ("genre", "mood", "instrument", "voice", "era", "tempo", "other")

#: Kinds of concept (each is also the intent pattern the concept shows).
CONCEPT_KINDS = ("activity", "mood")


@dataclass(frozen=True)
class Concept:
    """An activity or mood and the tags it means.

    Attributes
    ----------
    name : str
        The concept, e.g. ``"studying"``.
    kind : str
        ``"activity"`` or ``"mood"`` (the intent pattern it shows).
    keywords : tuple of str
        Words or phrases that name it in a query (plurals match too).
    tags : tuple of ((str, str), float)
        ``((tag_source, tag), weight)``; negative weights push tracks with that tag down.
    description : str
        What the sentence model compares an unrecognised query with.
    """

    name: str
    kind: str
    keywords: tuple[str, ...]
    tags: tuple[tuple[tuple[str, str], float], ...]
    description: str


@dataclass(frozen=True)
class Vocabulary:
    """The tables of ``vocabulary.json`` (see the module docstring)."""

    tags: dict[str, dict[str, tuple[str, str]]]
    aliases: dict[str, tuple[str, ...]]
    concepts: tuple[Concept, ...]
    stop_words: frozenset[str]


def parse_vocabulary(data: dict[str, Any]) -> Vocabulary:
    """Check and convert the parsed JSON of a vocabulary file.

    Raises
    ------
    ValueError
        When a table is missing or an entry is malformed (a category or concept kind
        that does not exist, a weight that is not a number).
    """

    def fail(what: str) -> ValueError:
        return ValueError(f"{VOCABULARY_RESOURCE}: {what}")

    try:
        tags = {
            source: {tag: (str(row[0]), str(row[1])) for tag, row in table.items()}
            for source, table in data["tags"].items()
        }
        aliases = {alias: tuple(map(str, phrases)) for alias, phrases in data["aliases"].items()}
        concepts = tuple(
            Concept(
                str(c["name"]),
                str(c["kind"]),
                tuple(map(str, c["keywords"])),
                tuple(((str(s), str(t)), float(w)) for s, t, w in c["tags"]),
                str(c["description"]),
            )  # fmt: skip
            for c in data["concepts"]
        )
        stop_words = frozenset(map(str, data["stop_words"]))
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise fail(f"malformed ({type(err).__name__}: {err})") from None
    for source, table in tags.items():
        for tag, (category, phrase) in table.items():
            if category not in TAG_CATEGORIES or not phrase:
                raise fail(f"tag {source}:{tag} has category {category!r} or no phrase")
    for concept in concepts:
        if concept.kind not in CONCEPT_KINDS:
            raise fail(f"concept {concept.name!r} has kind {concept.kind!r}")
    return Vocabulary(tags, aliases, concepts, stop_words)


def load_vocabulary() -> Vocabulary:
    """The vocabulary shipped with the package."""
    text = resources.files("songscape.search").joinpath(VOCABULARY_RESOURCE).read_text("utf-8")
    return parse_vocabulary(json.loads(text))


VOCABULARY = load_vocabulary()
#: Per tag source, each tag's ``(category, phrase)``.
TAG_TABLE = VOCABULARY.tags
#: Other words for tags: alias -> phrases of :data:`TAG_TABLE` it means.
TAG_ALIASES = VOCABULARY.aliases
#: Hand-made activities and moods.
CONCEPTS = VOCABULARY.concepts
#: Words carrying no search meaning: dropped before matching. A query of only these
#: ("just play something", "anything") is a ``just_play`` query.
STOP_WORDS = VOCABULARY.stop_words


# -- words ---------------------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """Tokens of :func:`~songscape.text.normalize_text`."""
    return normalize_text(text).split()


def stem(token: str) -> str:
    """Strip a plural "s" from alphabetic words (vocals -> vocal; bass, 80s unchanged)."""
    if len(token) > 3 and token.isalpha() and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def stems(text: str) -> tuple[str, ...]:
    """The stemmed tokens of ``text``: the lexical key phrases are matched by."""
    return tuple(stem(t) for t in tokenize(text))


# -- the tags of some models ---------------------------------------------------------------


@dataclass(frozen=True)
class TagEntry:
    """One tag of one tagging model, with its table row."""

    model: str
    source: str
    tag: str
    category: str
    phrase: str

    @property
    def name(self) -> str:
        return f"{self.source}:{self.tag}"


def tag_row(source: str, tag: str) -> tuple[str, str]:
    """``(category, phrase)`` of a tag; a tag the table lacks is ``"other"``,
    ``"<tag> music"``."""
    row = TAG_TABLE.get(source, {}).get(tag)
    return row if row is not None else ("other", f"{tag} music")


class TagVocabulary:
    """The tags of some tagging models, their phrases, lexical keys and concepts.

    Parameters
    ----------
    models : sequence of str
        Registered tagging models (``get_spec(model).labels``); unknown models are
        skipped with a warning, models without tags add nothing.

    Attributes
    ----------
    entries : list of TagEntry
        Every tag of every model.
    by_phrase, by_source_tag : dict
        The entries by phrase, and by ``(source, tag)``.
    phrases : list of str
        The distinct phrases (what the sentence model compares queries with).
    keys : dict
        Stemmed token tuple of a tag name or alias -> the phrases it means.
    concepts : list of Concept
        The concepts with at least one tag among these models.
    concept_texts : list of (Concept, str)
        Each concept keyword and description.
    concept_keys : dict
        Stemmed token tuple of a concept keyword -> the concept.
    max_key_len : int
        Tokens in the longest key.
    generic_tokens : frozenset of str
        Stemmed words of tag names, aliases, concept keywords and stop words (a
        metadata value made only of these is generic).
    """

    def __init__(self, models: Sequence[str]):
        self.entries: list[TagEntry] = []
        for model in models:
            try:
                spec = get_spec(model)
            except UnknownModelError as err:
                log.warning("text search skips the tags of %s: %s", model, err)
                continue
            source = spec.tag_source or model
            for tag in spec.labels:
                category, phrase = tag_row(source, tag)
                self.entries.append(TagEntry(model, source, tag, category, phrase))
        self.by_phrase: dict[str, list[TagEntry]] = {}
        self.by_source_tag: dict[tuple[str, str], list[TagEntry]] = {}
        for entry in self.entries:
            self.by_phrase.setdefault(entry.phrase, []).append(entry)
            self.by_source_tag.setdefault((entry.source, entry.tag), []).append(entry)
        self.phrases = list(self.by_phrase)
        self.keys: dict[tuple[str, ...], tuple[str, ...]] = {}
        for entry in self.entries:
            key = stems(entry.tag)
            self.keys[key] = tuple(dict.fromkeys((*self.keys.get(key, ()), entry.phrase)))
        for alias, phrases in TAG_ALIASES.items():
            known = tuple(p for p in phrases if p in self.by_phrase)
            key = stems(alias)
            if known and key not in self.keys:
                self.keys[key] = known
        self.concepts = [c for c in CONCEPTS if self.concept_tags(c)]
        self.concept_texts = [
            (c, text) for c in self.concepts for text in (*c.keywords, c.description)
        ]
        self.concept_keys: dict[tuple[str, ...], Concept] = {}
        for concept in self.concepts:
            for keyword in concept.keywords:
                self.concept_keys.setdefault(stems(keyword), concept)
        self.max_key_len = max((len(k) for k in (*self.keys, *self.concept_keys)), default=1)
        self.generic_tokens = frozenset(
            t for key in (*self.keys, *self.concept_keys) for t in key
        ) | frozenset(stem(w) for w in STOP_WORDS)

    def concept_tags(self, concept: Concept) -> list[tuple[TagEntry, float]]:
        """The entries a concept points at, with their weights (absent tags skipped)."""
        return [
            (entry, weight)
            for key, weight in concept.tags
            for entry in self.by_source_tag.get(key, [])
        ]
