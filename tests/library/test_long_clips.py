"""A clip longer than one window is compared by its own windows (issue 20): each of its
10 s windows against every library window, a track scoring its best pair; a clip of one
window keeps its mean vector. On the real excerpts of :mod:`tests.library.identify_library`.
"""

from __future__ import annotations

import numpy as np
import pytest

from songscape.catalog import windows as window_rows
from songscape.library.library import Library, analyze_file
from songscape.library.segments import clip_query_windows
from songscape.vectors import unit_rows
from tests.helpers import only_stages
from tests.library.identify_library import MODEL, identify_library


@pytest.fixture(scope="module")
def built(tmp_path_factory, worker_id):
    folder = identify_library(tmp_path_factory, worker_id)
    with only_stages("metadata", "fingerprint"):
        yield folder


def test_analyze_file_returns_the_clips_windows_when_asked(built):
    clip = built / "clips" / "outside.wav"  # 15 s: windows at 0 and 5 s
    plain = analyze_file(clip, model=MODEL)
    assert plain["window_count"] == 2 and "window_vectors" not in plain
    full = analyze_file(clip, model=MODEL, windows=True)
    assert full["window_starts_s"] == [0.0, 5.0]
    x = np.asarray(full["window_vectors"])
    assert x.shape == (2, len(full["embedding"]))
    # the windows pool the clip's patches: their mean is close to the clip's mean vector
    cos = unit_rows(x.mean(axis=0, keepdims=True))[0] @ unit_rows(
        np.asarray(full["embedding"], np.float32)[None, :])[0]  # fmt: skip
    assert cos > 0.98
    starts, q = clip_query_windows(full, np.asarray(full["embedding"]))
    assert starts == [0.0, 5.0] and q.shape == x.shape
    one = {"window_starts_s": [0.0], "window_vectors": [[1.0, 0.0]]}
    mean = np.array([0.5, 0.5])
    assert clip_query_windows(one, mean)[0] is None
    assert clip_query_windows(one, mean)[1] is mean


def test_long_clip_scores_tracks_by_its_best_window_pair(built):
    clip = built / "clips" / "outside.wav"
    own = analyze_file(clip, model=MODEL, windows=True)
    q = unit_rows(np.asarray(own["window_vectors"], np.float32))
    with Library(built / "lib") as lib:
        out = lib.similar(file=clip, k=5)
        assert out["identified"] is None and out["matched_by"] == "segment"
        assert len(out["results"]) == 3
        for r in out["results"]:
            starts, vectors, _ = window_rows.track_windows(lib.store.conn, r["id"], MODEL)
            pairs = q @ unit_rows(vectors).T  # (clip windows, track windows)
            qi, wi = np.unravel_index(int(np.argmax(pairs)), pairs.shape)
            assert r["score"] == pytest.approx(float(pairs.max()), abs=2e-3)
            assert r["window"]["query_start_s"] == own["window_starts_s"][qi]
            assert r["window"]["start_s"] == pytest.approx(float(starts[wi]), abs=0.01)
            # track_score: the clip's own mean vector against the track's vector
            assert -1.0 <= r["track_score"] <= 1.0
        scores = [r["score"] for r in out["results"]]
        assert scores == sorted(scores, reverse=True)


def test_short_clip_keeps_its_mean_vector(built):
    clip = built / "clips" / "outside_short.wav"  # 8 s: one window
    mean = np.asarray(analyze_file(clip, model=MODEL)["embedding"], np.float32)
    m = unit_rows(mean[None, :])[0]
    with Library(built / "lib") as lib:
        out = lib.similar(file=clip, k=3)
        assert out["identified"] is None and out["matched_by"] == "segment"
        for r in out["results"]:
            assert "query_start_s" not in r["window"]
            _, vectors, _ = window_rows.track_windows(lib.store.conn, r["id"], MODEL)
            assert r["score"] == pytest.approx(float((unit_rows(vectors) @ m).max()), abs=2e-3)
