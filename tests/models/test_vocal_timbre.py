"""Voice-timbre baselines: which musicnn patches are computed."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.audio.voice_synth import note_contour, sing_melody
from songscape.models.heads import musicnn_patch_features
from songscape.models.vocal_timbre import musicnn_vocal_embedding, spread_patches


def test_spread_patches_keeps_at_most_n_evenly():
    keep = np.array([0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1], dtype=bool)
    out = spread_patches(keep, 4)
    assert out.sum() == 4 and np.all(keep[out])
    assert np.flatnonzero(out).tolist() == [1, 4, 6, 10]  # first and last kept
    assert np.array_equal(spread_patches(keep, 20), keep)
    assert np.array_equal(spread_patches(keep, None), keep)
    with pytest.raises(ValueError):
        spread_patches(keep, 0)


def test_only_the_kept_patches_go_through_the_network():
    y = np.random.default_rng(1).standard_normal(16000 * 9).astype(np.float32) * 0.1
    full, starts = musicnn_patch_features(y, hop_s=1.5)
    kept, kept_starts = musicnn_patch_features(y, hop_s=1.5,
                                               keep_patches=lambda s: s >= 3.0)  # fmt: skip
    assert np.array_equal(kept_starts, starts[starts >= 3.0])
    assert np.allclose(kept, full[starts >= 3.0], atol=1e-4)


def test_capped_voice_embedding_is_the_mean_of_the_spread_patches():
    sr = 22050
    y = sing_melody(note_contour([55, 57, 59, 60] * 5, 0.6, sr), sr)[: 12 * sr]
    times = np.arange(0, len(y) / sr, 0.04)
    active = np.ones(len(times), dtype=bool)
    capped = musicnn_vocal_embedding(y, sr, times, active, max_patches=3)
    full = musicnn_vocal_embedding(y, sr, times, active)
    assert capped.shape == full.shape == (200,)
    assert not np.allclose(capped, full)
    cos = capped @ full / np.linalg.norm(capped) / np.linalg.norm(full)
    assert cos > 0.95
