"""Crossfade and bass swap: energy kept, the two bass lines never together."""

from __future__ import annotations

import numpy as np

from songscape.audio.transitions import bass_swap, crossfade, equal_power_gains, ramp, split_lows

SR = 22050


def tone(freq: float, seconds: float = 4.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return np.stack([np.sin(2 * np.pi * freq * t)] * 2).astype(np.float32) * 0.5


def level_at(y: np.ndarray, freq: float, start: int, stop: int) -> float:
    seg = y[0, start:stop]
    t = np.arange(len(seg)) / SR
    return float(np.abs(np.sum(seg * np.exp(-2j * np.pi * freq * t))) * 2 / len(seg))


def test_equal_power_gains_sum_to_one():
    out, inc = equal_power_gains(1000)
    np.testing.assert_allclose(out**2 + inc**2, 1.0, atol=1e-12)
    assert out[0] > 0.99 and inc[-1] > 0.99


def test_split_lows_adds_back_to_the_signal():
    x = tone(60) + tone(2000)
    lows, rest = split_lows(x, SR)
    np.testing.assert_allclose(lows + rest, x, atol=1e-6)
    middle = slice(SR, 3 * SR)
    assert level_at(lows[:, middle], 60, 0, 2 * SR) > 0.45
    assert level_at(lows[:, middle], 2000, 0, 2 * SR) < 0.01


def test_bass_swap_never_plays_both_bass_lines():
    out_bass, in_bass = 55.0, 82.0
    a = tone(out_bass) + tone(1000)
    b = tone(in_bass) + tone(1500)
    swap = 2 * SR
    mixed = bass_swap(a, b, SR, swap, int(0.25 * SR))
    before, after = (SR // 2, swap - SR // 4), (swap + SR // 2, 4 * SR - SR // 4)
    assert level_at(mixed, out_bass, *before) > 0.45 and level_at(mixed, in_bass, *before) < 0.02
    assert level_at(mixed, in_bass, *after) > 0.45 and level_at(mixed, out_bass, *after) < 0.02
    # the highs cross over gradually, as in a crossfade
    plain = crossfade(a, b)
    assert abs(level_at(mixed, 1500, *after) - level_at(plain, 1500, *after)) < 0.02


def test_ramp_shape():
    r = ramp(100, 40, 20)
    assert r[:40].max() == 0 and r[60:].min() == 1 and np.all(np.diff(r) >= 0)
