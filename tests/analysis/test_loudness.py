"""Integrated loudness against values derived from the BS.1770 definition, and the
energy curve against closed-form RMS levels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import freqz

from songscape.analysis.loudness import ENERGY_FLOOR_DB, energy_curve, integrated_loudness

# ITU-R BS.1770-4, Table 1 and 2: the K-weighting filter at 48 kHz (published coefficients).
_SHELF_B = [1.53512485958697, -2.69169618940638, 1.19839281085285]
_SHELF_A = [1.0, -1.69065929318241, 0.73248077421585]
_RLB_B = [1.0, -2.0, 1.0]
_RLB_A = [1.0, -1.99004745483398, 0.99007225036621]


def k_weighting_gain_db(freq_hz: float) -> float:
    """Gain of the BS.1770 K-weighting at ``freq_hz`` (48 kHz coefficients), dB."""
    _, h1 = freqz(_SHELF_B, _SHELF_A, worN=[freq_hz], fs=48000)
    _, h2 = freqz(_RLB_B, _RLB_A, worN=[freq_hz], fs=48000)
    return float(20 * np.log10(np.abs(h1[0] * h2[0])))


def expected_sine_lufs(peak_dbfs: float, freq_hz: float, n_channels: int = 1) -> float:
    """BS.1770 loudness of a steady sine (all blocks pass the gates): -0.691 + 10 log10 of
    the K-weighted mean square summed over channels (gain 1 for L/R/C)."""
    mean_square = (10 ** (peak_dbfs / 20)) ** 2 / 2
    return -0.691 + 10 * np.log10(n_channels * mean_square) + k_weighting_gain_db(freq_hz)


def sine(freq_hz: float, peak_dbfs: float, duration_s: float, sr: int) -> np.ndarray:
    t = np.arange(int(duration_s * sr)) / sr
    return 10 ** (peak_dbfs / 20) * np.sin(2 * np.pi * freq_hz * t)


def test_expected_value_is_the_textbook_one() -> None:
    # Sanity of the reference itself: K-weighting is ~+0.69 dB at 1 kHz, so a -20 dBFS
    # (peak) 1 kHz sine is -23.01 LUFS: -20 dB peak, -3.01 dB sine crest, +0.69 - 0.691.
    assert k_weighting_gain_db(1000.0) == pytest.approx(0.69, abs=0.01)
    assert expected_sine_lufs(-20.0, 1000.0) == pytest.approx(-23.01, abs=0.01)


# EBU Tech 3341 allows a meter +-0.1 LU. pyloudnorm's own filter design is ~0.04 dB off the
# published 48 kHz coefficients at 1 kHz (it reads -23.045 LUFS for the -23.01 sine).
TOL_LU = 0.1


@pytest.mark.parametrize("sr", [48000, 44100, 22050])
@pytest.mark.parametrize("peak_dbfs", [-20.0, -6.0])
def test_sine_loudness_matches_bs1770(sr: int, peak_dbfs: float) -> None:
    y = sine(1000.0, peak_dbfs, 5.0, sr)
    assert integrated_loudness(y, sr) == pytest.approx(expected_sine_lufs(peak_dbfs, 1000.0),
                                                       abs=TOL_LU)


def test_k_weighting_is_applied() -> None:
    # 100 Hz is attenuated by the RLB high-pass, 4 kHz boosted by the shelf (~+3 dB).
    sr = 48000
    for f in (100.0, 4000.0):
        y = sine(f, -20.0, 5.0, sr)
        assert integrated_loudness(y, sr) == pytest.approx(expected_sine_lufs(-20.0, f), abs=TOL_LU)
    assert k_weighting_gain_db(4000.0) > 2.0 > 0.0 > k_weighting_gain_db(40.0)


def test_stereo_sums_channel_power() -> None:
    sr = 48000
    y = sine(1000.0, -20.0, 5.0, sr)
    stereo = np.vstack([y, y])  # (channels, n)
    assert integrated_loudness(stereo, sr) == pytest.approx(
        expected_sine_lufs(-20.0, 1000.0, n_channels=2), abs=TOL_LU
    )
    assert integrated_loudness(stereo, sr) - integrated_loudness(y, sr) == pytest.approx(
        10 * np.log10(2), abs=0.01
    )


def test_gating_ignores_silence() -> None:
    # 5 s of sine then 5 s of silence. 400 ms blocks every 100 ms: 47 blocks lie in the
    # sine, then 3 straddle the edge with 3/4, 1/2, 1/4 of its power (all within the
    # -10 LU relative gate), and the silent ones fail the -70 LUFS absolute gate.
    sr = 48000
    y = np.concatenate([sine(1000.0, -20.0, 5.0, sr), np.zeros(5 * sr)])
    edge_db = 10 * np.log10((47 + 0.75 + 0.5 + 0.25) / 50)
    expected = expected_sine_lufs(-20.0, 1000.0) + edge_db
    assert integrated_loudness(y, sr) == pytest.approx(expected, abs=TOL_LU)
    # Without gating, the silence would pull the mean square down 3 dB.
    assert integrated_loudness(y, sr) > expected_sine_lufs(-20.0, 1000.0) - 1.0


def test_none_for_silence_and_too_short() -> None:
    assert integrated_loudness(np.zeros(22050 * 3), 22050) is None
    assert integrated_loudness(sine(1000.0, -20.0, 0.3, 22050), 22050) is None
    assert integrated_loudness(np.zeros(0), 22050) is None


def test_energy_curve_levels_and_length() -> None:
    sr = 22050
    y = np.concatenate([sine(440.0, 0.0, 4.0, sr), np.zeros(3 * sr), 0.1 * np.ones(3 * sr)])
    curve = energy_curve(y, sr, rate_hz=2.0, window_s=1.0)
    assert len(curve) == 20  # 10 s at 2 Hz
    assert curve.dtype == np.float64
    t = np.arange(len(curve)) / 2.0
    assert np.allclose(curve[(t >= 1) & (t <= 3)], 20 * np.log10(1 / np.sqrt(2)), atol=0.05)
    assert np.all(curve[(t >= 5) & (t <= 6)] == ENERGY_FLOOR_DB)
    assert np.allclose(curve[(t >= 8) & (t <= 9.5)], -20.0, atol=0.01)
    # Level steps show up within one window of the change.
    assert curve[(t > 4.5) & (t < 7)].max() == ENERGY_FLOOR_DB


def test_energy_curve_short_and_rate() -> None:
    sr = 22050
    assert len(energy_curve(np.zeros(0), sr)) == 0
    assert len(energy_curve(0.5 * np.ones(100), sr)) == 1
    assert len(energy_curve(0.5 * np.ones(sr * 3), sr, rate_hz=4.0)) == 12
