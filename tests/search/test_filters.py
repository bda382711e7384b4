"""Filter parsing, Camelot keys and the path between two songs (no audio, no index)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from songscape.notation import camelot, camelot_distance, compatible_keys
from songscape.search.similar import (
    QueryError,
    explain,
    parse_filters,
    path_between,
    tempo_relation,
)


def test_camelot_wheel():
    assert camelot("C major") == (8, "B") and camelot("A minor") == (8, "A")
    assert camelot("G major") == (9, "B") and camelot("E minor") == (9, "A")
    assert camelot("B major") == (1, "B") and camelot("G# minor") == (1, "A")
    assert camelot("F major") == (7, "B") and camelot("D minor") == (7, "A")
    # All 24 keys get distinct codes.
    from songscape.notation import key_name

    codes = {camelot(key_name(pc, m)) for pc in range(12) for m in ("major", "minor")}
    assert len(codes) == 24
    assert camelot_distance("A minor", "C major") == 1  # relative
    assert camelot_distance("A minor", "E minor") == 1  # a fifth up
    assert camelot_distance("B major", "F# major") == 1
    assert camelot_distance("C major", "F# major") == 6
    assert sorted(compatible_keys("A minor")) == ["A minor", "C major", "D minor", "E minor"]


def test_parse_filters():
    f = parse_filters(["tempo=90..110", "key=a minor", "tag=mtt:piano", "tag=rock",
                       "duration=..300", "artist=IU"], half_double=True)  # fmt: skip
    assert f.tempo == (90, 110) and f.half_double
    assert f.key == "A minor"
    assert f.tags == [("mtt", "piano"), (None, "rock")]
    assert f.duration == (0.0, 300.0) and f.artist == "IU"
    assert parse_filters(["tempo=120.."]).tempo == (120.0, math.inf)
    assert parse_filters(["key=compatible"]).key == "compatible"
    assert parse_filters(["key=Bb major"]).key == "A# major"
    assert not parse_filters([]).restricts
    for bad in ("tempo=fast", "tempo=110..90", "key=H minor", "colour=red", "tempo", "tag="):
        with pytest.raises(QueryError):
            parse_filters([bad])


def test_tempo_relation_and_explanation():
    assert tempo_relation(120, 121) == {"bpm_diff": 1.0, "factor": 1.0}
    assert tempo_relation(120, 61, half_double=True) == {"bpm_diff": 2.0, "factor": 2.0}
    assert tempo_relation(None, 61) is None
    query = {"top_tags": {"msd": ["rock", "pop"], "mtt": ["guitar"]}, "key": "A minor",
             "tempo_bpm": 120.0, "artist": "Beyoncé", "album": "X"}  # fmt: skip
    result = {"top_tags": {"msd": ["pop", "dance"], "mtt": ["guitar", "drums"]},
              "key": "C major", "tempo_bpm": 118.0, "artist": "beyonce", "album": "Y"}  # fmt: skip
    e = explain(query, result)
    assert e["shared_tags"] == ["msd:pop", "mtt:guitar"]
    assert e["key"]["compatible"] and e["key"]["camelot_steps"] == 1
    assert e["same_artist"] and not e["same_album"]
    assert e["tempo"]["bpm_diff"] == 2.0


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_path_between_walks_from_a_to_b_without_repeats():
    rng = np.random.default_rng(0)
    a, b = _unit(rng.normal(size=16)), _unit(rng.normal(size=16))
    # Candidates along the arc from a to b, plus unrelated noise tracks.
    vectors = {"A": a, "B": b}
    for i, t in enumerate(np.linspace(0.05, 0.95, 19)):
        vectors[f"arc{i:02d}"] = _unit((1 - t) * a + t * b + 0.01 * rng.normal(size=16))
    for i in range(30):
        vectors[f"noise{i}"] = _unit(rng.normal(size=16))
    path = path_between(vectors, "A", "B", steps=6)
    ids = [t for t, _ in path]
    assert ids[0] == "A" and ids[-1] == "B" and len(ids) == 8
    assert len(set(ids)) == len(ids)
    assert all(t.startswith("arc") for t in ids[1:-1])
    # It progresses: similarity to B grows monotonically along the path.
    to_b = [float(vectors[t] @ b) for t in ids]
    assert all(x <= y + 1e-9 for x, y in zip(to_b, to_b[1:], strict=False))
    # Fewer candidates than steps: shorter path, still no repeats.
    small = {k: vectors[k] for k in ("A", "B", "arc03", "arc10")}
    assert [t for t, _ in path_between(small, "A", "B", steps=8)] == ["A", "arc03", "arc10", "B"]
    with pytest.raises(QueryError):
        path_between(vectors, "A", "A")
    with pytest.raises(QueryError):
        path_between(vectors, "A", "nope")
