"""Window vectors from per-patch embeddings (songscape.models.windows, issue 20)."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.models.windows import window_vectors


def _patches(n: int, dim: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, dim)).astype(np.float32), np.arange(n) * 3.0


def test_windows_pool_the_patches_whose_centre_they_hold():
    x, t = _patches(10)  # 30 s of 3 s patches: centres 1.5, 4.5, ..., 28.5
    w = window_vectors(x, t, 3.0, window_s=10.0, hop_s=5.0)
    # the window at 25 s holds only patches of the one at 20 s: dropped
    assert w.starts_s.tolist() == [0.0, 5.0, 10.0, 15.0, 20.0]
    centres = t + 1.5
    for start, v in zip(w.starts_s, w.vectors, strict=True):
        inside = (centres >= start) & (centres < start + 10.0)
        np.testing.assert_allclose(v, x[inside].mean(axis=0), rtol=1e-6)
    assert w.vectors.dtype == np.float32 and w.vectors.shape == (5, 4)


def test_every_patch_is_in_a_window_and_windows_follow_the_hop():
    x, t = _patches(41)
    w = window_vectors(x, t, 3.0, window_s=10.0, hop_s=5.0)
    assert np.all(np.diff(w.starts_s) == 5.0)
    centres = t + 1.5
    covered = np.zeros(len(x), bool)
    for start in w.starts_s:
        covered |= (centres >= start) & (centres < start + 10.0)
    assert covered.all()


def test_short_tracks_and_no_patches():
    x, t = _patches(2)  # 6 s: one window, both patches
    w = window_vectors(x, t, 3.0)
    assert w.n == 1 and w.starts_s[0] == 0.0
    np.testing.assert_allclose(w.vectors[0], x.mean(axis=0), rtol=1e-6)
    # a patch longer than a window still gives one window
    w = window_vectors(x[:1], t[:1], 30.0, window_s=10.0)
    assert w.n == 1
    empty = window_vectors(np.zeros((0, 4), np.float32), np.zeros(0), 3.0)
    assert empty.n == 0 and empty.vectors.shape == (0, 4)


def test_bad_arguments_are_refused():
    x, t = _patches(5)
    with pytest.raises(ValueError, match="must match"):
        window_vectors(x, t[:3], 3.0)
    with pytest.raises(ValueError, match="positive"):
        window_vectors(x, t, 3.0, hop_s=0.0)
