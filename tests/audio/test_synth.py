"""Synthetic test signals: the truth they return must match what they play."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.audio import synth


def test_beat_grid_tempo_meter_and_pickup() -> None:
    beats, downbeats = synth.beat_grid(120.0, 10.0, beats_per_bar=3, offset_s=0.5, pickup_beats=1)
    assert np.allclose(np.diff(beats), 0.5)
    assert beats[0] == pytest.approx(0.5)
    assert beats[-1] <= 10.0 - 0.1
    # With one pickup beat the first downbeat is the second beat, then every third.
    assert downbeats[0] == pytest.approx(beats[1])
    assert np.allclose(np.diff(downbeats), 1.5)
    assert np.isin(downbeats, beats).all()


@pytest.mark.parametrize("meter", [3, 4])
def test_click_track_plays_its_truth(meter: int) -> None:
    s = synth.click_track(100.0, meter, duration_s=8.0, sr=22050, accent_db=6.0, seed=3)
    assert s.y.dtype == np.float32 and s.y.ndim == 1
    assert len(s.y) == 8 * 22050
    assert np.max(np.abs(s.y)) <= 1.0
    assert s.beats_per_bar == meter and s.tempo_bpm == 100.0
    assert len(s.downbeat_times) == pytest.approx(len(s.beat_times) / meter, abs=1)

    # Energy right after each beat is far above the energy just before it...
    def window_energy(t: float, lo: float, hi: float) -> float:
        a, b = int((t + lo) * s.sr), int((t + hi) * s.sr)
        return float(np.sum(s.y[max(a, 0) : b].astype(float) ** 2))

    for t in s.beat_times[1:-1]:
        assert window_energy(t, 0.0, 0.03) > 10 * window_energy(t, -0.1, -0.07)
    # ...and downbeats (kick + accent) are louder than the other beats.
    others = np.setdiff1d(s.beat_times, s.downbeat_times)
    down_e = np.mean([window_energy(t, 0.0, 0.1) for t in s.downbeat_times])
    other_e = np.mean([window_energy(t, 0.0, 0.1) for t in others])
    assert down_e > 4 * other_e


def test_click_track_deterministic_given_seed() -> None:
    a = synth.click_track(120.0, seed=1, duration_s=3.0)
    b = synth.click_track(120.0, seed=1, duration_s=3.0)
    c = synth.click_track(120.0, seed=2, duration_s=3.0)
    assert np.array_equal(a.y, b.y)
    assert not np.array_equal(a.y, c.y)


def test_harmonic_tone_spectrum() -> None:
    sr = 22050
    y = synth.harmonic_tone(220.0, 1.0, sr, n_harmonics=4, rolloff=1.0, release_s=0.0)
    spec = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(len(y), 1 / sr)
    peaks = sorted(freqs[np.argsort(spec)[-4:]])
    assert np.allclose(peaks, [220, 440, 660, 880], atol=2)


@pytest.mark.parametrize(("tonic", "mode", "name"), [("Bb", "major", "A# major"),
                                                      (9, "minor", "A minor")])
def test_chord_progression_key_and_pitches(tonic: str | int, mode: str, name: str) -> None:
    s = synth.chord_progression(tonic, mode, duration_s=8.0, chord_duration_s=2.0, seed=0)
    assert s.key == name
    assert s.duration_s == pytest.approx(8.0)
    # The first chord is the tonic triad: its bass (octave 2) is the tonic.
    pc = synth.pitch_class(tonic) if isinstance(tonic, str) else tonic
    seg = s.y[: 2 * s.sr].astype(float)
    spec = np.abs(np.fft.rfft(seg))
    freqs = np.fft.rfftfreq(len(seg), 1 / s.sr)
    low = (freqs > 60) & (freqs < 130)
    f_bass = freqs[low][np.argmax(spec[low])]
    assert f_bass == pytest.approx(float(synth.midi_to_hz(36 + pc)), rel=0.01)


def test_demo_song_truth_and_specs() -> None:
    s = synth.demo_song(96.0, "E", "minor", 3, duration_s=10.0, brightness=0.8, seed=5)
    assert s.key == "E minor" and s.beats_per_bar == 3 and s.tempo_bpm == 96.0
    assert np.isin(s.downbeat_times, s.beat_times).all()
    assert np.array_equal(s.y, synth.demo_song(96.0, "E", "minor", 3, duration_s=10.0,
                                               brightness=0.8, seed=5).y)
    specs = synth.demo_song_specs(20, seed=0)
    assert specs == synth.demo_song_specs(20, seed=0)
    assert len(specs) == 20 and len({s["title"] for s in specs}) == 20
    assert {s["beats_per_bar"] for s in specs} == {3, 4}
    assert {s["mode"] for s in specs} == {"major", "minor"}
    assert all(70 <= s["tempo_bpm"] <= 180 for s in specs)
