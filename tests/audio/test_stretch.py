"""Time warping onto a grid: anchors land where the map says, with both methods."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.audio.stretch import (
    check_time_map,
    rubberband_available,
    warp,
    warp_pieces,
)

SR = 22050


def click_train(times_s: np.ndarray, duration_s: float, sr: int = SR) -> np.ndarray:
    """Stereo clicks (5 ms decaying 1 kHz bursts) at ``times_s``."""
    y = np.zeros((2, int(duration_s * sr)), dtype=np.float32)
    burst = np.sin(2 * np.pi * 1000 * np.arange(int(0.005 * sr)) / sr) * np.exp(
        -np.arange(int(0.005 * sr)) / (0.001 * sr)
    )
    for t in times_s:
        i = int(round(t * sr))
        n = min(len(burst), y.shape[1] - i)
        y[:, i : i + n] += 0.8 * burst[:n]
    return y


def onsets(y: np.ndarray, sr: int = SR) -> np.ndarray:
    """Times where the envelope first rises above half its maximum after silence."""
    env = np.abs(y).max(axis=0)
    above = env > 0.3 * env.max()
    starts = np.flatnonzero(above & ~np.concatenate([[False], above[:-1]]))
    keep = [starts[0]] + [
        s for a, s in zip(starts[:-1], starts[1:], strict=True) if s - a > 0.1 * sr
    ]
    return np.array(keep) / sr


@pytest.mark.parametrize("method", ["varispeed", "rubberband"])
def test_warp_puts_each_beat_on_the_target_grid(method):
    if method == "rubberband" and not rubberband_available():
        pytest.skip("rubberband-cli is not installed")
    # 20 s of clicks at an unsteady ~118 BPM, to land on an exact 124 BPM grid; long
    # enough that Rubber Band runs in several pieces.
    rng = np.random.default_rng(1)
    beats = np.cumsum(np.r_[0.3, 60 / 118 + rng.uniform(-0.01, 0.01, 38)])
    y = click_train(beats, 20.0)
    src = np.r_[0.0, beats - beats[0]]
    dst = np.r_[0.0, np.arange(1, len(beats) + 1) * 60 / 124]
    src, dst = src[1:], dst[1:] - dst[1]  # anchors start at the first beat: (0, 0)
    y = y[:, int(round(beats[0] * SR)) :]
    src = np.append(src, y.shape[1] / SR)
    dst = np.append(dst, dst[-1] + (src[-1] - src[-2]) * 118 / 124)
    n_out = int(round(dst[-1] * SR))
    out = warp(y, SR, src, dst, n_out, method)
    assert out.shape == (2, n_out) and out.dtype == np.float32
    found = onsets(out)
    expected = dst[:-1]
    assert len(found) == len(expected)
    # Rubber Band smears a click over its analysis window; its attack stays within ~12 ms.
    tolerance = 0.002 if method == "varispeed" else 0.012
    assert np.abs(found - expected).max() < tolerance


def test_warp_pieces_separate_kept_timing_from_stretches():
    src = np.array([0, 100, 200, 300, 400, 500, 600, 700])
    dst = np.array([0, 90, 181, 281, 382, 482, 572, 662])  # stretch, keep (±1), stretch
    assert warp_pieces(src, dst, 10_000) == [(0, 2, False), (2, 5, True), (5, 7, False)]
    # a long stretched run is cut at anchors into chunks
    assert warp_pieces(src, src * 2, 250) == [(0, 3, False), (3, 7, False)]


def test_rubberband_copies_the_parts_that_keep_their_timing():
    if not rubberband_available():
        pytest.skip("rubberband-cli is not installed")
    rng = np.random.default_rng(2)
    y = (0.1 * rng.standard_normal((2, 12 * SR))).astype(np.float32)
    # 3 s squeezed to 2.7 s, 6 s kept (shifted by 0.3 s), 3 s stretched to 3.3 s
    src = np.array([0.0, 3.0, 9.0, 12.0])
    dst = np.array([0.0, 2.7, 8.7, 12.0])
    out = warp(y, SR, src, dst, 12 * SR, "rubberband")
    kept = slice(int(3.1 * SR), int(8.9 * SR))
    shift = int(0.3 * SR)
    np.testing.assert_array_equal(out[:, kept.start - shift : kept.stop - shift], y[:, kept])
    # the stretched ends are not copies
    assert not np.allclose(out[:, : int(2.5 * SR)], y[:, : int(2.5 * SR)], atol=1e-3)


def test_warp_identity_map_returns_the_input():
    y = click_train(np.array([0.1, 0.6]), 1.0)
    out = warp(y, SR, np.array([0.0, 1.0]), np.array([0.0, 1.0]), SR, "varispeed")
    np.testing.assert_array_equal(out, y)


@pytest.mark.parametrize(
    "src, dst",
    [
        ([0.0], [0.0]),
        ([0.0, 1.0], [0.0, 1.0, 2.0]),
        ([0.1, 1.0], [0.0, 1.0]),
        ([0.0, 1.0, 0.5], [0.0, 1.0, 2.0]),
    ],
)
def test_bad_time_maps_are_refused(src, dst):
    with pytest.raises(ValueError):
        check_time_map(np.array(src), np.array(dst))


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown warp method"):
        warp(np.zeros((2, 100)), SR, np.array([0.0, 1.0]), np.array([0.0, 2.0]), 200, "pvoc")
