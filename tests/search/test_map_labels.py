"""Words on the map (issue 17): cluster names from distinctive tags, genres from tags,
labels sidecars or folder names."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.search.map_labels import cluster_names, folder_genre, point_genre


def test_cluster_names_use_the_most_distinctive_tags():
    tags = ["rock", "guitar", "piano", "calm", "electronic", "dance"]
    rng = np.random.default_rng(0)
    probs = rng.uniform(0.0, 0.05, (9, len(tags)))
    probs[:, 0] += 0.6  # every track is "rock": names no cluster
    probs[0:3, [1]] += 0.5
    probs[0:3, [2]] += 0.3
    probs[3:6, [2, 3]] += 0.5
    probs[6:9, [4, 5]] += 0.5
    clusters = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    names = cluster_names(clusters, probs, tags)
    assert names[0] == "guitar · piano"
    assert set(names[1].split(" · ")) == {"piano", "calm"}
    assert set(names[2].split(" · ")) == {"electronic", "dance"}


def test_cluster_names_untagged_and_repeated():
    tags = ["a", "b", "c"]
    probs = np.full((4, 3), np.nan)
    assert cluster_names(np.array([0, 0, 1, 1]), probs, tags) == ["cluster 1", "cluster 2"]
    probs[:2] = [0.9, 0.8, 0.0]
    probs[2:] = [0.0, 0.0, 0.1]
    names = cluster_names(np.array([0, 0, 1, 1]), probs, tags, n_tags=1)
    assert names == ["a", "c"]
    same = cluster_names(np.array([0, 1, 2, 2]), np.array(
        [[0.9, 0, 0], [0.9, 0, 0], [0, 0.9, 0], [0, 0.9, 0]]), tags, n_tags=1)
    assert same == ["a (1)", "a (2)", "b"]
    with pytest.raises(ValueError):
        cluster_names(np.array([0, 1]), np.zeros((3, 3)), tags)


def test_genres_from_tags_labels_and_folders():
    assert point_genre("Jazz ", "blues", "/m/rock/x.mp3") == ("Jazz", "tag")
    assert point_genre(None, "blues", "/m/rock/x.mp3") == ("blues", "labels")
    assert point_genre("", None, "/m/hip_hop/x.mp3") == ("hip hop", "folder")
    assert point_genre(None, None, "/m/audio/x.mp3") == (None, None)
    assert folder_genre("/m/Artist/CD1/x.flac") is None
    assert folder_genre("/m/1997/x.flac") is None
    assert folder_genre("x.flac") is None
