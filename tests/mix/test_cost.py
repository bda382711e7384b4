"""Transition cost parts: tempo with half/double time, Camelot keys, energy, timbre."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.mix.cost import (
    CostWeights,
    TransitionFeatures,
    best_tempo_ratio,
    camelot_codes,
    camelot_steps,
    cost_matrix,
    energy_cost,
    key_cost,
    key_relation,
    tempo_cost,
    timbre_cost,
)


def test_tempo_ratio_allows_half_and_double_time():
    ratio = best_tempo_ratio(
        np.array([120.0, 120.0, 120.0, 120.0]), np.array([122.0, 61.0, 242.0, 90.0])
    )
    np.testing.assert_allclose(ratio, [122 / 120, 122 / 120, 121 / 120, 90 / 120])
    assert np.isnan(best_tempo_ratio(np.array(np.nan), np.array(120.0)))
    cost = tempo_cost(
        np.array([120.0, 120.0, 120.0]), np.array([120.0, 132.0, np.nan]), max_stretch=0.1
    )
    np.testing.assert_allclose(cost, [0.0, 1.0, 0.5], atol=1e-3)


def test_camelot_relations():
    keys = ["A minor", "C major", "E minor", "D minor", "F# major", None]
    numbers, letters = camelot_codes(keys)
    assert list(numbers) == [8, 8, 9, 7, 2, 0] and list(letters) == [0, 1, 0, 0, 1, 0]
    steps = camelot_steps(numbers[0], letters[0], numbers, letters)
    assert list(steps) == [0, 1, 1, 1, 7, -1]
    assert list(key_cost(steps)) == [0.0, 0.25, 0.25, 0.25, 1.0, 0.5]
    assert key_relation(1, 0, 1, 8, 8) == "relative major/minor"
    assert key_relation(1, 0, 0, 8, 9) == "fifth up"
    assert key_relation(1, 0, 0, 8, 7) == "fifth down"
    assert key_relation(4, 0, 0, 8, 12) == "4 steps (clash)"


def test_energy_and_timbre_costs():
    np.testing.assert_allclose(
        energy_cost(np.array([-3.0, 0.0, np.nan]), np.array([0.0, 9.0, 0.0])), [0.5, 1.0, 0.5]
    )
    a = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    b = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(timbre_cost(a, b), [0.0, 1.0, 0.5])


def test_cost_matrix_prefers_the_mixable_neighbour():
    f = TransitionFeatures(
        tempo_bpm=np.array([124.0, 125.0, 90.0]),
        camelot_number=np.array([8, 9, 2]),
        camelot_letter=np.array([0, 0, 1]),
        exit_db=np.zeros(3),
        entry_db=np.array([0.0, 0.5, 6.0]),
        unit_embedding=np.eye(3),
    )
    m = cost_matrix(f, CostWeights())
    assert np.isinf(np.diag(m)).all()
    assert m[0, 1] < m[0, 2]


def test_weights_must_be_non_negative():
    with pytest.raises(ValueError, match="tempo"):
        CostWeights(tempo=-1)
