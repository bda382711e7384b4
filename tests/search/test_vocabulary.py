"""The text-query vocabulary file: every entry names a real tag of the pretrained models,
and every alias and concept points at something that exists."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from songscape.models.registry import get_spec
from songscape.search import vocabulary
from songscape.search.text_query import DEFAULT_TAG_MODELS
from songscape.search.vocabulary import (
    CONCEPT_KINDS,
    TAG_CATEGORIES,
    TagVocabulary,
    Vocabulary,
    parse_vocabulary,
    stems,
)


def _raw() -> dict:
    """The shipped file, refusing duplicate keys (``json`` would keep the last silently)."""

    def no_duplicates(pairs: list[tuple[str, object]]) -> dict:
        keys = [k for k, _ in pairs]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        assert not duplicates, f"duplicate keys in vocabulary.json: {duplicates}"
        return dict(pairs)

    text = resources.files("songscape.search").joinpath("data/vocabulary.json").read_text("utf-8")
    return json.loads(text, object_pairs_hook=no_duplicates)


def _labels() -> dict[str, set[str]]:
    """Tag source -> the tags of the pretrained tagging models (musicnn MSD and MTT)."""
    out: dict[str, set[str]] = {}
    for model in DEFAULT_TAG_MODELS:
        spec = get_spec(model)
        out.setdefault(spec.tag_source or model, set()).update(spec.labels)
    return out


def problems(vocab: Vocabulary, labels: dict[str, set[str]]) -> list[str]:
    """Every entry of ``vocab`` that does not map to a real tag or to an existing phrase."""
    found = []
    for source, table in vocab.tags.items():
        if source not in labels:
            found.append(f"tag source {source!r} is no model's")
            continue
        found += [f"{source}:{t} is not a tag" for t in sorted(set(table) - labels[source])]
        found += [f"{source}:{t} has no row" for t in sorted(labels[source] - set(table))]
    phrases = {phrase for table in vocab.tags.values() for _, phrase in table.values()}
    for alias, meant in vocab.aliases.items():
        found += [f"alias {alias!r} -> unknown phrase {p!r}" for p in meant if p not in phrases]
        if not meant:
            found.append(f"alias {alias!r} means nothing")
    names = [c.name for c in vocab.concepts]
    found += [f"concept {n!r} twice" for n in sorted({n for n in names if names.count(n) > 1})]
    for concept in vocab.concepts:
        for (source, tag), weight in concept.tags:
            if tag not in labels.get(source, set()):
                found.append(f"concept {concept.name!r} -> {source}:{tag} is not a tag")
            if weight == 0:
                found.append(f"concept {concept.name!r} gives {source}:{tag} no weight")
        if not concept.keywords or not concept.description:
            found.append(f"concept {concept.name!r} lacks keywords or a description")
    return found


def test_every_entry_maps_to_a_real_tag():
    assert problems(vocabulary.VOCABULARY, _labels()) == []
    # The same check on the parsed file itself (not only the module's constants).
    assert problems(parse_vocabulary(_raw()), _labels()) == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d["tags"]["mtt"].update({"kazoo": ["instrument", "music with kazoo"]}),
        lambda d: d["tags"]["msd"].pop("rock"),
        lambda d: d["aliases"].update({"hiphop": ["hip hop music"]}),
        lambda d: d["concepts"][0]["tags"].append(["mtt", "vuvuzela", 0.5]),
        lambda d: d["concepts"][1]["tags"].append(["msd", "piano", 0.5]),  # an MTT tag
        lambda d: d["concepts"].append(copy.deepcopy(d["concepts"][0])),
    ],
)
def test_the_check_finds_a_broken_entry(damage):
    data = copy.deepcopy(_raw())
    damage(data)
    assert problems(parse_vocabulary(data), _labels())


def test_file_round_trips_and_matches_the_module():
    data = _raw()
    vocab = parse_vocabulary(data)
    assert vocab == vocabulary.VOCABULARY
    # Back to JSON and in again: nothing is lost or reordered (order breaks ties).
    again = {
        "tags": {s: {t: list(row) for t, row in tab.items()} for s, tab in vocab.tags.items()},
        "aliases": {a: list(p) for a, p in vocab.aliases.items()},
        "concepts": [
            {
                "name": c.name,
                "kind": c.kind,
                "keywords": list(c.keywords),
                "tags": [[s, t, w] for (s, t), w in c.tags],
                "description": c.description,
            }
            for c in vocab.concepts
        ],  # fmt: skip
        "stop_words": sorted(vocab.stop_words),
    }
    assert parse_vocabulary(json.loads(json.dumps(again))) == vocab
    assert list(vocab.tags["msd"]) == list(data["tags"]["msd"])
    assert [c.name for c in vocab.concepts] == [c["name"] for c in data["concepts"]]


def test_categories_and_kinds_are_known():
    for table in vocabulary.TAG_TABLE.values():
        assert {category for category, _ in table.values()} <= set(TAG_CATEGORIES)
    assert {c.kind for c in vocabulary.CONCEPTS} == set(CONCEPT_KINDS)
    with pytest.raises(ValueError, match="category"):
        data = copy.deepcopy(_raw())
        data["tags"]["mtt"]["piano"] = ["keys", "music with piano"]
        parse_vocabulary(data)
    with pytest.raises(ValueError, match="kind"):
        data = copy.deepcopy(_raw())
        data["concepts"][0]["kind"] = "chore"
        parse_vocabulary(data)
    with pytest.raises(ValueError, match="malformed"):
        data = copy.deepcopy(_raw())
        del data["aliases"]
        parse_vocabulary(data)


def test_tag_vocabulary_uses_every_alias_and_concept():
    vocab = TagVocabulary(DEFAULT_TAG_MODELS)
    assert len(vocab.entries) == sum(len(get_spec(m).labels) for m in DEFAULT_TAG_MODELS)
    for alias, phrases in vocabulary.TAG_ALIASES.items():
        assert all(p in vocab.by_phrase for p in phrases)
        assert stems(alias) in vocab.keys, alias
    assert vocab.concepts == list(vocabulary.CONCEPTS)
    for concept in vocabulary.CONCEPTS:
        assert len(vocab.concept_tags(concept)) == len(concept.tags), concept.name


def test_unknown_tagging_model_is_skipped_with_a_warning(caplog):
    with caplog.at_level("WARNING", logger="songscape.search.vocabulary"):
        vocab = TagVocabulary(("no-such-model", "musicnn-mtt"))
    assert {e.model for e in vocab.entries} == {"musicnn-mtt"}
    assert "no-such-model" in caplog.text
