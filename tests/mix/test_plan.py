"""Planning: master tempo, phrase cuts, beat-matched overlaps of whole bars, fades where
the grid cannot be trusted, and the reported costs."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.mix.plan import MixOptions, master_tempo, plan_mix
from songscape.mix.segments import choose_segment, phrase_downbeats, resolve_mode
from songscape.mix.tracks import grid_problem
from tests.mix.tracks import click_song, noise_song


@pytest.fixture
def songs(tmp_path):
    return [
        click_song(tmp_path, "a", 120.0, 1000, seed=1, key="A minor"),
        click_song(tmp_path, "b", 124.0, 3000, seed=2, key="E minor"),
        click_song(tmp_path, "c", 59.0, 2000, bars=12, seed=3, key="C major"),  # half time
    ]


def test_master_tempo_needs_the_least_stretch():
    assert master_tempo([120.0, 124.0, 61.0]) == pytest.approx(122.0)
    assert master_tempo([]) is None
    assert 70 <= master_tempo([40.0, 41.0]) <= 180


def test_grid_problems_are_explained():
    beats = np.arange(0, 30, 0.5)
    assert grid_problem(beats, beats[::4], 4, 120.0) is None
    assert "downbeats" in grid_problem(beats[:8], beats[:8:4], 4, 120.0)
    rubato = np.cumsum(np.random.default_rng(0).uniform(0.3, 0.8, 60))
    assert "vary" in grid_problem(rubato, rubato[::4], 4, 120.0)
    assert "tempo" in grid_problem(beats, beats[::4], None, None)


def test_beatmatched_transitions_overlap_whole_bars_at_the_master_tempo(songs):
    plan = plan_mix(songs, MixOptions(segments="full", bars=4, reorder=False))
    beat = 60.0 / plan.master_tempo_bpm
    assert [t.kind for t in plan.transitions] == ["beatmatched", "beatmatched"]
    for t, (a, b) in zip(
        plan.transitions, zip(plan.segments, plan.segments[1:], strict=False), strict=True
    ):
        assert b.mix_start_s == pytest.approx(t.mix_start_s) and a.mix_end_s == pytest.approx(
            t.mix_end_s
        )
        bar_beats = 4 * max(a.tempo_multiplier, b.tempo_multiplier)
        assert (t.mix_end_s - t.mix_start_s) / (beat * bar_beats) == pytest.approx(t.bars)
        # inside the overlap every anchor of both segments sits on one master beat grid
        for seg in (a, b):
            mix_times = seg.mix_start_s + seg.target_anchors_s
            inside = mix_times[
                (mix_times >= t.mix_start_s - 1e-9) & (mix_times <= t.mix_end_s + 1e-9)
            ]
            steps = (inside - t.mix_start_s) / beat
            assert len(steps) >= 4 * t.bars
            np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)
    # between its overlaps (and their ramps) a track keeps its own timing
    middle = plan.segments[1]
    own = np.diff(middle.source_anchors_s) / np.diff(middle.target_anchors_s)
    assert np.isclose(own, 1.0).sum() >= 8
    assert not np.isclose(own, 1.0).all()
    half_time = plan.segments[2]
    assert half_time.tempo_multiplier == 2.0 and half_time.stretch == pytest.approx(
        plan.master_tempo_bpm / 118
    )
    out = plan.to_json()
    assert out["duration_s"] == pytest.approx(plan.segments[-1].mix_end_s, abs=1e-3)
    assert set(out["transitions"][0]["parts"]) == {"tempo", "key", "energy", "timbre"}
    assert out["transitions"][0]["key_relation"] == "fifth up"


def test_a_track_without_a_grid_is_joined_by_fades(songs, tmp_path):
    plan = plan_mix(
        [songs[0], noise_song(tmp_path, "noise"), songs[1]],
        MixOptions(segments="full", reorder=False),
    )
    kinds = [t.kind for t in plan.transitions]
    assert kinds == ["fade", "fade"]
    assert all("no tempo" in t.reason for t in plan.transitions)
    assert plan.segments[1].on_grid is False and plan.segments[1].grid_note
    assert all(t.mix_end_s - t.mix_start_s == pytest.approx(6.0) for t in plan.transitions)


def test_too_far_a_tempo_plays_at_its_own_speed(tmp_path, songs):
    fast = click_song(tmp_path, "fast", 150.0, 500, seed=4)
    plan = plan_mix(
        [songs[0], songs[1], fast], MixOptions(segments="full", reorder=False, max_stretch=0.08)
    )
    assert plan.segments[2].on_grid is False and "BPM" in plan.segments[2].grid_note
    assert [t.kind for t in plan.transitions] == ["beatmatched", "fade"]


def test_reordering_reports_costs_against_given_and_random(songs, tmp_path):
    more = songs + [click_song(tmp_path, "d", 121.0, 1500, seed=5, key="A minor")]
    plan = plan_mix(more, MixOptions(segments="full"))
    mean = plan.mean_costs
    assert plan.order_method == "exact DP"
    assert mean["plan"] <= mean["given"] + 1e-12 and mean["plan"] <= mean["random"]
    with pytest.raises(ValueError, match="two tracks"):
        plan_mix(songs[:1], MixOptions())


def test_highlight_segments_cut_on_phrases_around_the_highlight(songs):
    track = songs[0]
    choice = choose_segment(track, "highlight", 4, 4, 6.0, on_grid=True)
    phrases = set(phrase_downbeats(track.downbeat_times, track.sections))
    assert choice.first_downbeat in phrases and choice.last_downbeat in phrases
    assert choice.start_s <= track.downbeat_times[4] + 1e-9  # 4 bars before the highlight
    assert choice.end_s >= track.highlight[1] + 4 * 2.0 - 0.1
    assert resolve_mode("auto", 8) == "highlight" and resolve_mode("auto", 3) == "full"
    with pytest.raises(ValueError):
        MixOptions(style="scratch")
