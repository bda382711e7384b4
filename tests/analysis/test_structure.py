"""Sections from synthetic songs with a known form, and odd input that must not crash."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from songscape.analysis import structure as st
from songscape.audio.song_forms import structured_song
from songscape.audio.synth import click_track

SR = 22050


@pytest.fixture(scope="module")
def song():
    return structured_song(form="VCVCBC", tempo_bpm=120.0, tonic="D", seed=1)


def _energy(y: np.ndarray, rate: float = 2.0) -> np.ndarray:
    hop = int(SR / rate)
    frames = [y[i:i + hop] for i in range(0, len(y), hop)]
    return np.array([10 * np.log10(np.mean(f.astype(float) ** 2) + 1e-10) for f in frames])


@pytest.fixture(scope="module")
def analysed(song):
    return st.analyze_structure(song.y, SR, song.beat_times, song.downbeat_times,
                                _energy(song.y), 2.0)


def test_sections_follow_the_form(song, analysed):
    ref = song.boundaries_s
    est = analysed.boundaries_s
    f3 = mir_eval.segment.detection(np.stack([ref[:-1], ref[1:]], 1),
                                    np.stack([est[:-1], est[1:]], 1), window=3.0, trim=True)[2]
    assert f3 >= 0.75, (ref, est)
    # Sections tile the track, start on downbeats, and repeats share a label.
    assert analysed.sections[0].start_s == 0.0
    assert analysed.sections[-1].end_s == pytest.approx(song.duration_s)
    for a, b in zip(analysed.sections, analysed.sections[1:], strict=False):
        assert a.end_s == b.start_s
        assert np.min(np.abs(song.downbeat_times - b.start_s)) < 0.05
    assert len({s.label for s in analysed.sections}) < len(analysed.sections)


def test_chorus_candidate_is_the_chorus(song, analysed):
    chorus = analysed.chorus_sections()
    assert chorus, analysed.sections
    truth = song.chorus_regions
    inside = sum(max(0.0, min(e, s.end_s) - max(a, s.start_s)) for s in chorus for a, e in truth)
    assert inside / sum(s.end_s - s.start_s for s in chorus) > 0.7
    assert analysed.repetition.shape == analysed.novelty.shape == analysed.frame_times.shape
    assert 0 <= analysed.repetition.min() and analysed.repetition.max() <= 1


def test_silence_and_short_clips_get_a_reason():
    silent = st.analyze_structure(np.zeros(SR * 20, np.float32), SR, np.zeros(0), np.zeros(0),
                                  np.full(40, -100.0), 2.0)
    assert silent.reason == "silent" and len(silent.sections) == 1
    short = st.analyze_structure(np.random.default_rng(0).normal(0, 0.1, 2 * SR), SR,
                                 np.zeros(0), np.zeros(0), np.zeros(4), 2.0)
    assert "too short" in short.reason
    assert short.sections[0].end_s == pytest.approx(2.0)


def test_beatless_ambient_uses_a_fixed_grid():
    t = np.arange(30 * SR) / SR
    pad = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.05 * t))
           + 0.01 * np.random.default_rng(0).normal(size=len(t))).astype(np.float32)
    result = st.analyze_structure(pad, SR, np.zeros(0), np.zeros(0), _energy(pad), 2.0)
    assert result.grid == "fixed"
    assert result.sections[-1].end_s == pytest.approx(30.0)


def test_seven_eight_does_not_crash():
    clip = click_track(180.0, beats_per_bar=7, duration_s=30.0, sr=SR)
    result = st.analyze_structure(clip.y, SR, clip.beat_times, clip.downbeat_times,
                                  _energy(clip.y), 2.0)
    assert result.sections and result.sections[-1].end_s == pytest.approx(clip.duration_s)


def test_short_sections_are_merged_and_labels_renamed():
    labels = np.array([5] * 10 + [3] * 2 + [5] * 10 + [7] * 10)
    times = np.arange(len(labels)) * 1.0
    secs = st.frames_to_sections(labels, times, 32.0, np.zeros(0), min_section_s=4.0)
    assert [(s.start_s, s.label) for s in secs] == [(0.0, "A"), (22.0, "B")]


def test_snap_to_grid_moves_only_nearby_times():
    out = st.snap_to_grid(np.array([1.1, 5.0]), np.array([0.0, 1.0, 2.0]), max_shift_s=0.5)
    assert out.tolist() == [1.0, 5.0]


def test_diagonal_filter_keeps_stripes_and_drops_dots():
    n = 40
    R = np.zeros((n, n))
    for i in range(10, 30):
        R[i, i - 10] = R[i - 10, i] = 1.0  # a repeated 20-frame sequence
    R[5, 35] = R[35, 5] = 1.0  # an isolated link
    out = st.diagonal_median_filter(R, 7)
    assert out[20, 10] == 1.0 and out[5, 35] == 0.0
    np.testing.assert_allclose(out, out.T)


def test_label_names_round_trip():
    for i in (0, 1, 25, 26, 60):
        assert st.label_index(st.label_name(i)) == i
    secs = st.sections_from_arrays(np.array([0.0, 5.0, 9.0]), np.array([0, 1]))
    assert [(s.start_s, s.end_s, s.label) for s in secs] == [(0.0, 5.0, "A"), (5.0, 9.0, "B")]
