"""Beat trackers by name: the default network path, the fallback, and bad input."""

import numpy as np
import pytest

from songscape.analysis.descriptors import RHYTHM_METHODS, describe
from songscape.audio import synth
from songscape.models import beatnet, rhythm

SR = 22050


def test_backend_names_match_the_cli_choices():
    from songscape.cli.parser import build_parser

    args = build_parser().parse_args(["analyze", "x.wav"])
    assert args.rhythm == rhythm.DEFAULT_RHYTHM_BACKEND
    for name in rhythm.RHYTHM_BACKENDS:
        assert build_parser().parse_args(["analyze", "x.wav", "--rhythm", name]).rhythm == name


def test_default_tracks_a_synthetic_song_with_the_network():
    song = synth.demo_song(128.0, beats_per_bar=4, duration_s=16.0, seed=3)
    d = describe(song.y, SR, rhythm=rhythm.rhythm_tracker())
    assert d.rhythm_method == "beatnet-dbn" and d.rhythm_method in RHYTHM_METHODS
    assert abs(d.tempo_bpm - 128.0) < 2.0
    assert d.beats_per_bar == 4
    hits = [np.min(np.abs(song.beat_times - t)) < 0.07 for t in d.beat_times]
    assert np.mean(hits) > 0.9


def test_without_the_wheel_the_onset_tracker_runs(monkeypatch):
    monkeypatch.setattr(beatnet, "is_available", lambda: False)
    assert rhythm.rhythm_tracker("beatnet") is None
    song = synth.demo_song(100.0, duration_s=8.0)
    assert describe(song.y, SR, rhythm=rhythm.rhythm_tracker()).rhythm_method == "onset-dp"


def test_unknown_backend_is_an_error():
    with pytest.raises(ValueError, match="unknown rhythm backend"):
        rhythm.rhythm_tracker("aubio")


def _seven_eight(seconds: float = 12.0) -> np.ndarray:
    # 7/8 at 210 eighths per minute: accents on 1, 3, 5 of each 2+2+3 bar.
    y = np.zeros(int(seconds * SR), np.float32)
    click = synth.harmonic_tone(110.0, 0.08, SR, decay_s=0.05)
    eighth = 60.0 / 210.0
    for i in range(int(seconds / eighth)):
        gain = 1.0 if i % 7 == 0 else (0.6 if i % 7 in (2, 4) else 0.25)
        start = int(i * eighth * SR)
        y[start:start + len(click)] += gain * click[: len(y) - start]
    return y / np.abs(y).max() * 0.8


@pytest.mark.parametrize("case", ["silence", "two_seconds", "ambient_drone", "seven_eight"])
def test_bad_input_gets_a_result_never_a_crash(case):
    y = {
        "silence": lambda: np.zeros(10 * SR, np.float32),
        "two_seconds": lambda: synth.demo_song(120.0, duration_s=2.0).y,
        "ambient_drone": lambda: 0.3 * synth.harmonic_tone(55.0, 12.0, SR, attack_s=3.0,
                                                          release_s=3.0),
        "seven_eight": _seven_eight,
    }[case]()
    d = describe(np.asarray(y, np.float32), SR, rhythm=rhythm.rhythm_tracker())
    assert d.beats_per_bar in (None, 3, 4)
    assert len(d.downbeat_times) <= len(d.beat_times)
    if case == "silence":
        assert d.tempo_bpm is None and len(d.beat_times) == 0
    if case == "ambient_drone":  # no pulse: no grid, whichever tracker answered
        assert len(d.beat_times) <= 2 or d.rhythm_method == "beatnet-dbn"
    if case == "seven_eight":  # no 7/8 meter: a steady grid on the eighth-note pulse
        assert d.tempo_bpm is not None and len(d.beat_times) >= 8
