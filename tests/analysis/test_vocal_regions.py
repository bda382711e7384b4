"""Sung regions from frame activity, and cutting them out of a signal."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.analysis.vocals import active_regions, sung_audio


def test_active_regions_merge_short_gaps_and_drop_short_runs():
    hop = 0.02
    t = np.arange(500) * hop + hop / 2  # 10 s of frame centres
    active = np.zeros(500, dtype=bool)
    active[50:100] = True  # 1.0-2.0 s
    active[110:150] = True  # 2.2-3.0 s: 0.2 s gap, merged with the first
    active[200:210] = True  # 4.0-4.2 s: too short
    active[300:400] = True  # 6.0-8.0 s
    regions = active_regions(t, active, hop, max_gap_s=0.3, min_length_s=0.5)
    np.testing.assert_allclose(regions, [[1.0, 3.0], [6.0, 8.0]], atol=1e-9)
    assert active_regions(t, np.zeros(500, dtype=bool), hop).shape == (0, 2)
    # a larger gap keeps the first two apart; a longer minimum drops the 1 s one
    apart = active_regions(t, active, hop, max_gap_s=0.1, min_length_s=0.9)
    np.testing.assert_allclose(apart, [[1.0, 2.0], [6.0, 8.0]], atol=1e-9)


def test_sung_audio_concatenates_the_regions():
    sr = 100
    y = np.arange(1000, dtype=np.float32)
    out = sung_audio(y, sr, np.array([[1.0, 2.0], [5.0, 5.5], [9.9, 12.0]]))
    assert len(out) == 100 + 50 + 10
    assert out[0] == 100 and out[100] == 500 and out[-1] == 999
    assert sung_audio(y, sr, np.zeros((0, 2))).shape == (0,)


@pytest.mark.parametrize("max_s", [5.0, 12.0, 100.0])
def test_spread_regions_keeps_at_most_max_s_spread_over_the_song(max_s):
    from songscape.sing.vocal_training import spread_regions

    regions = np.array([[i * 10.0, i * 10.0 + 4.0] for i in range(10)])  # 40 s sung
    kept = spread_regions(regions, max_s)
    length = (kept[:, 1] - kept[:, 0]).sum()
    assert length == pytest.approx(min(max_s, 40.0))
    if max_s < 40:
        assert kept[-1, 0] >= 20.0  # not only the beginning of the song
