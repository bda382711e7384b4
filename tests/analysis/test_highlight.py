"""Highlight windows: candidates, the signal and attention scorers, fusion."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.analysis import highlight as hl
from songscape.analysis.structure import Section, Structure


def _structure(duration: float = 120.0) -> Structure:
    sections = [Section(0, 30, "A"), Section(30, 60, "B"), Section(60, 90, "A"),
                Section(90, 120, "B")]
    t = np.arange(0, duration, 0.5)
    return Structure(duration_s=duration, sections=sections, chorus="B", frame_times=t,
                     repetition=np.ones(len(t)), novelty=np.zeros(len(t)))


def test_candidates_are_downbeats_that_fit():
    starts = hl.candidate_starts(100.0, 30.0, np.arange(0, 100, 2.0), np.arange(0, 100, 0.5))
    assert starts[0] == 0 and starts[-1] == 70.0 and np.all(np.diff(starts) == 2.0)
    assert hl.candidate_starts(20.0, 30.0, np.zeros(0), np.zeros(0)).tolist() == [0.0]
    assert hl.candidate_starts(40.0, 30.0, np.zeros(0), np.zeros(0)).tolist() == list(
        np.arange(0.0, 11.0))


def test_window_means():
    curve = np.r_[np.zeros(10), np.ones(10)]
    np.testing.assert_allclose(hl.window_means(curve, 1.0, np.array([0, 5, 10]), 10), [0, .5, 1])


def test_signal_highlight_prefers_the_loud_chorus():
    st = _structure()
    energy = np.where((np.arange(240) / 2.0 % 60) >= 30, -10.0, -25.0)  # B sections louder
    h = hl.signal_highlight(st, energy, 2.0, np.arange(0, 120, 2.0), np.arange(0, 120, 0.5))
    assert h.method == "signal"
    assert h.start_s in (30.0, 90.0) and h.end_s - h.start_s == 30.0
    assert 0 <= h.score <= 1


def test_attention_and_fusion():
    st = _structure()
    starts = hl.candidate_starts(120.0, 30.0, np.arange(0, 120, 2.0), np.zeros(0))
    att = np.zeros(1200)
    att[700:900] = 1.0  # attention on 70-90 s (10 frames/s)
    scores = hl.attention_window_scores(att, 10.0, np.ones(1200), starts, 30.0)
    best = starts[int(np.argmax(scores))]
    assert 60.0 <= best <= 70.0
    assert scores.max() == pytest.approx(1.0)
    curve = hl.AttentionCurve(att / att.sum(), np.ones(1200), 10.0)
    found = hl.compute_highlights(st, np.full(240, -20.0), 2.0, np.arange(0, 120, 2.0),
                                  np.zeros(0), 30.0, attention=curve)
    assert set(found) == {"signal", "attention", "fused"}
    assert hl.default_method(found) == "fused"
    assert hl.default_method({"signal": found["signal"]}) == "signal"
    with pytest.raises(ValueError):
        hl.compute_highlights(st, np.zeros(240), 2.0, np.zeros(0), np.zeros(0), 0.0)
