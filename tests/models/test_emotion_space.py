"""The emotion space: the GEMS <-> valence/arousal mapping and the zero-shot tag table."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.models.emotion_space import (
    GEMS,
    ZERO_SHOT_CUE_WEIGHT,
    ZERO_SHOT_TAGS,
    descriptor_arousal,
    gems_points,
    gems_to_va,
    quadrant,
    top_emotions,
    va_to_gems,
    zero_shot_arousal,
    zero_shot_gems,
)
from songscape.models.registry import get_spec


def one_hot(name: str) -> np.ndarray:
    return np.array([1.0 if g == name else 0.0 for g in GEMS])


@pytest.mark.parametrize(
    ("emotion", "expected"),
    [("joyful_activation", "Q1"), ("tension", "Q2"), ("sadness", "Q3"), ("calmness", "Q4"),
     ("power", "Q1"), ("tenderness", "Q4")],
)  # fmt: skip
def test_each_emotion_lands_in_its_russell_quadrant(emotion, expected):
    v, a = gems_to_va(one_hot(emotion))
    assert quadrant(v, a) == expected
    assert -1 <= v <= 1 and -1 <= a <= 1


def test_mapping_is_a_weighted_mean_and_handles_zeros_and_batches():
    assert gems_to_va(np.zeros(9)).tolist() == [0.0, 0.0]
    both = gems_to_va((one_hot("sadness") + one_hot("joyful_activation")) / 2)
    sad, joy = gems_to_va(one_hot("sadness")), gems_to_va(one_hot("joyful_activation"))
    assert sad[0] < both[0] < joy[0]
    batch = gems_to_va(np.stack([one_hot("sadness"), one_hot("calmness")]))
    assert batch.shape == (2, 2)
    with pytest.raises(ValueError, match="9 GEMS scores"):
        gems_to_va(np.zeros(8))


def test_inverse_mapping_peaks_at_the_emotions_own_point():
    for name, point in zip(GEMS, gems_points(), strict=True):
        scores = va_to_gems(point)
        assert GEMS[int(np.argmax(scores))] == name
    with pytest.raises(ValueError):
        va_to_gems([0.1, 0.2, 0.3])


def test_zero_shot_table_uses_only_musicnn_msd_tags_and_follows_them():
    labels = get_spec("musicnn-msd").labels
    for emotion, tags in ZERO_SHOT_TAGS.items():
        assert emotion in GEMS and set(tags) <= set(labels), emotion
    p = np.full(len(labels), 0.02)
    p[labels.index("happy")] = p[labels.index("party")] = p[labels.index("dance")] = 0.9
    happy = dict(zip(GEMS, zero_shot_gems(p, labels), strict=True))
    assert top_emotions(happy, 1) == ["joyful_activation"]
    q = np.full(len(labels), 0.02)
    q[labels.index("sad")] = 0.9
    sad = dict(zip(GEMS, zero_shot_gems(q, labels), strict=True))
    assert sad["sadness"] > happy["sadness"] and all(0 <= s < 1 for s in sad.values())
    assert zero_shot_gems(np.stack([p, q]), labels).shape == (2, 9)
    with pytest.raises(ValueError, match="probabilities"):
        zero_shot_gems(p[:10], labels)


def test_descriptor_arousal_rises_with_level_and_event_rate_and_is_zero_at_the_reference():
    assert descriptor_arousal(-14.0, 4.0) == pytest.approx(0.0)
    # One doubling of perceived loudness (+10 dB) and one of the onset rate: tanh(1).
    assert descriptor_arousal(-4.0, 8.0) == pytest.approx(np.tanh(1.0))
    levels = descriptor_arousal(np.array([-30.0, -20.0, -14.0, -8.0]), 4.0)
    assert np.all(np.diff(levels) > 0) and np.all(np.abs(levels) < 1)
    rates = descriptor_arousal(-14.0, np.array([1.0, 2.0, 4.0, 8.0]))
    assert np.all(np.diff(rates) > 0)
    # Quieter and slower (a track slowed to 80 % and 12 dB down) is always lower.
    assert descriptor_arousal(-26.0, 3.2) < descriptor_arousal(-14.0, 4.0)


def test_descriptor_arousal_uses_what_is_known():
    assert descriptor_arousal(np.nan, 8.0) == pytest.approx(np.tanh(1.0))
    assert descriptor_arousal(-4.0, np.nan) == pytest.approx(np.tanh(1.0))
    assert descriptor_arousal(-4.0, 0.0) == pytest.approx(np.tanh(1.0))  # no onsets: unknown
    assert np.isnan(descriptor_arousal(np.nan, np.nan))


def test_zero_shot_arousal_blends_the_cue_or_keeps_the_tags():
    w = ZERO_SHOT_CUE_WEIGHT
    assert zero_shot_arousal(0.4, -4.0, 8.0) == pytest.approx((1 - w) * 0.4 + w * np.tanh(1.0))
    assert zero_shot_arousal(0.4, np.nan, np.nan) == pytest.approx(0.4)
    assert -1 <= zero_shot_arousal(1.0, 10.0, 64.0) <= 1
