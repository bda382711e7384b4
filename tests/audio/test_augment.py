"""Augmentations and contrastive views: exact gain/SNR, filter attenuation, roles, seeding."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.audio.augment import (
    AugmentationPolicy,
    add_noise,
    apply_filter,
    apply_gain,
    augment_supervised,
    crop,
    make_views,
    pitch_shift,
    random_crop,
    render_view,
    time_stretch,
)

SR = 16000


def sine(freq_hz: float, duration_s: float = 1.0, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(duration_s * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def peak_hz(y: np.ndarray, sr: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spectrum)])


def rms_db(y: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(y, dtype=np.float64))))


def test_random_crop_lengths_and_padding():
    rng = np.random.default_rng(0)
    y = np.arange(100, dtype=np.float32)
    out = random_crop(y, 30, rng)
    assert out.dtype == np.float32 and len(out) == 30
    assert np.array_equal(out, np.arange(out[0], out[0] + 30))  # a contiguous slice
    short = random_crop(y[:10], 30, rng)
    assert np.array_equal(short[:10], y[:10]) and not short[10:].any()
    assert np.array_equal(crop(y, 95, 10), np.r_[y[95:], np.zeros(5, np.float32)])


def test_gain_is_exact_in_db():
    y = sine(440)
    assert np.allclose(apply_gain(y, 6.0), y * 10 ** (6 / 20), rtol=1e-6)
    assert rms_db(apply_gain(y, -6.0)) - rms_db(y) == pytest.approx(-6.0, abs=1e-4)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 37.5])
def test_noise_snr_is_exact(snr_db):
    y = sine(440)
    noisy = add_noise(y, snr_db, np.random.default_rng(1))
    noise = noisy.astype(np.float64) - y
    # hand computation: signal power of a 0.5-amplitude sine is 0.5**2 / 2 = 0.125
    assert np.mean(y.astype(np.float64) ** 2) == pytest.approx(0.125, rel=1e-3)
    assert 10 * np.log10(0.125 / np.mean(noise**2)) == pytest.approx(snr_db, abs=0.01)
    assert not add_noise(np.zeros(10, np.float32), 10, np.random.default_rng(0)).any()


def test_filters_attenuate_outside_the_passband():
    low, high = sine(200), sine(5000)
    mix = low + high

    def level(y, freq):  # amplitude at freq, skipping the filter's onset
        seg = y[SR // 4 :]
        return np.abs(np.fft.rfft(seg))[int(round(freq * len(seg) / SR))] / len(seg) * 2

    # 4th-order Butterworth, 1 kHz cutoff: gain 1 / sqrt(1 + 5**8) = 1 / 625 a factor 5 away
    stopband = 0.5 / np.sqrt(1 + 5.0**8)
    lp = apply_filter(mix, SR, "lowpass", 1000.0)
    assert level(lp, 200) == pytest.approx(0.5, rel=0.02)
    assert level(lp, 5000) < stopband  # the bilinear transform attenuates more near Nyquist
    hp = apply_filter(mix, SR, "highpass", 1000.0)
    assert level(hp, 5000) == pytest.approx(0.5, rel=0.02)
    assert level(hp, 200) == pytest.approx(stopband, rel=0.1)
    bp = apply_filter(mix + sine(1500), SR, "bandpass", (1000.0, 2000.0))
    assert level(bp, 1500) > 0.4 and level(bp, 200) < 0.01 and level(bp, 5000) < 0.01
    for kind, cutoff in [("lowpass", 9000.0), ("bandpass", 500.0), ("notch", 100.0)]:
        with pytest.raises(ValueError):
            apply_filter(mix, SR, kind, cutoff)


def test_pitch_shift_and_time_stretch_keep_length():
    y = sine(440)
    up = pitch_shift(y, SR, 12)
    assert len(up) == len(y) and peak_hz(up) == pytest.approx(880, abs=8)
    slow = time_stretch(y, 0.5)
    assert len(slow) == len(y) and peak_hz(slow) == pytest.approx(440, abs=8)
    fast = time_stretch(y, 2.0)  # half a second of stretched audio, then zeros
    assert np.abs(fast[-SR // 4 :]).max() < 1e-3 < np.abs(fast[: SR // 4]).max()
    with pytest.raises(ValueError):
        time_stretch(y, 0)


def test_policy_validation_and_spec_parsing():
    policy = AugmentationPolicy.from_spec("pitch_shift=negative, time-stretch=positive")
    assert policy.pitch_shift == "negative" and policy.time_stretch == "positive"
    assert policy.gain == "positive"  # unnamed ones keep their defaults
    assert AugmentationPolicy.from_spec(policy.to_spec()) == policy
    assert AugmentationPolicy.from_spec("") == AugmentationPolicy()
    assert AugmentationPolicy.from_spec("gain=off", snr_db=(5, 6)).snr_db == (5, 6)
    bad = {
        "pitch_shift": "expected 'name=role'",
        "reverb=positive": "unknown augmentation",
        "gain=off,gain=positive": "given twice",
        "gain=maybe": "unknown role",
    }
    for spec, message in bad.items():
        with pytest.raises(ValueError, match=message):
            AugmentationPolicy.from_spec(spec)
    with pytest.raises(ValueError, match="given both"):
        AugmentationPolicy.from_spec("gain=off", gain="positive")
    for kwargs in [
        {"gain": "sometimes"},
        {"gain_db": (6, -6)},
        {"snr_db": (1,)},
        {"stretch_factor": (0.8, 1.2)},
        {"pitch_semitones": (-1, 2)},
        {"filter_kinds": ("notch",)},
        {"probability": 1.5},
    ]:
        with pytest.raises(ValueError):
            AugmentationPolicy(**kwargs)


def test_views_are_seeded():
    y = np.random.default_rng(0).standard_normal(3 * SR).astype(np.float32)
    policy = AugmentationPolicy.from_spec("gain=negative")
    a = make_views(y, SR, SR, np.random.default_rng(7), policy)
    b = make_views(y, SR, SR, np.random.default_rng(7), policy)
    c = make_views(y, SR, SR, np.random.default_rng(8), policy)
    assert np.array_equal(a.anchor, b.anchor) and np.array_equal(a.positive, b.positive)
    assert np.array_equal(a.negatives[0], b.negatives[0]) and a.applied == b.applied
    assert not np.array_equal(a.anchor, c.anchor)
    sup = augment_supervised(y, SR, SR, np.random.default_rng(3), policy)
    assert np.array_equal(sup, augment_supervised(y, SR, SR, np.random.default_rng(3), policy))
    assert sup.shape == (SR,) and sup.dtype == np.float32


def test_positive_crop_and_off_roles():
    y = np.random.default_rng(1).standard_normal(4 * SR).astype(np.float32)
    only_crop = AugmentationPolicy(gain="off", noise="off", filter="off")
    views = only_crop.make_views(y, SR, SR // 2, np.random.default_rng(2))
    starts = views.applied["anchor"]["crop"]["start"], views.applied["positive"]["crop"]["start"]
    assert starts[0] != starts[1] and views.negatives == []
    assert np.array_equal(views.anchor, y[starts[0] : starts[0] + SR // 2])
    assert np.array_equal(views.positive, y[starts[1] : starts[1] + SR // 2])
    assert set(views.applied["anchor"]) == {"crop"}  # "off" ones are never applied
    same_crop = AugmentationPolicy(crop="off", noise="off", filter="off")
    views = same_crop.make_views(y, SR, SR // 2, np.random.default_rng(2))
    assert views.applied["anchor"]["crop"] == views.applied["positive"]["crop"]
    gains = views.applied["anchor"]["gain"]["gain_db"], views.applied["positive"]["gain"]["gain_db"]
    assert gains[0] != gains[1] and all(-6 <= g <= 6 for g in gains)
    ratio = np.std(views.positive) / np.std(views.anchor)
    assert 20 * np.log10(ratio) == pytest.approx(gains[1] - gains[0], abs=1e-3)


def test_pitch_shift_negative_shifts_the_negative_view():
    y = sine(440, duration_s=2.0)
    policy = AugmentationPolicy.from_spec(
        "crop=off,gain=off,noise=off,filter=off,pitch_shift=negative"
    )
    views = policy.make_views(y, SR, SR, np.random.default_rng(4))
    assert len(views.negatives) == 1
    negative = views.applied["negatives"][0]
    assert negative["augmentation"] == "pitch_shift"
    n_steps = negative["params"]["pitch_shift"]["n_steps"]
    assert 1 <= abs(n_steps) <= 4
    assert peak_hz(views.anchor) == pytest.approx(440, abs=4)
    assert peak_hz(views.positive) == pytest.approx(440, abs=4)  # pitch-shift never on positives
    assert peak_hz(views.negatives[0]) == pytest.approx(440 * 2 ** (n_steps / 12), rel=0.01)
    assert "pitch_shift" not in views.applied["anchor"]


def test_time_stretch_positive_changes_duration_content():
    # a chirp: instantaneous frequency 200 + 400 t Hz, so a stretch changes the
    # frequency reached at the end of the view
    t = np.arange(3 * SR) / SR
    y = (0.5 * np.sin(2 * np.pi * (200 * t + 200 * t**2))).astype(np.float32)
    policy = AugmentationPolicy.from_spec(
        "crop=off,gain=off,noise=off,filter=off,time_stretch=positive"
    )
    views = policy.make_views(y, SR, SR, np.random.default_rng(5))
    rates = (
        views.applied["anchor"]["time_stretch"]["rate"],
        views.applied["positive"]["time_stretch"]["rate"],
    )
    assert all(0.8 <= r <= 1 / 1.05 or 1.05 <= r <= 1.25 for r in rates)
    assert views.applied["anchor"]["crop"] == views.applied["positive"]["crop"]
    assert not np.allclose(views.anchor, views.positive)
    for view, rate in zip((views.anchor, views.positive), rates, strict=True):
        need = int(np.ceil(rate * SR))  # source samples stretched into the view
        start = min(views.applied["anchor"]["crop"]["start"], len(y) - need)
        tail = view[-SR // 8 :]  # covers source times end - rate / 8 .. end
        expected = 200 + 400 * (start + need - rate * SR / 16) / SR
        assert peak_hz(tail) == pytest.approx(expected, abs=40)
    # rendering from the recorded parameters reproduces the view
    assert np.array_equal(render_view(y, SR, SR, views.applied["anchor"]), views.anchor)
