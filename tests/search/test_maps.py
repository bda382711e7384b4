"""Map coordinates, clusters and the map cache (songscape.search.maps)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from songscape.library.library import Library
from songscape.search import maps
from songscape.synthetic.catalogs import build_synthetic_library


def _blobs(n: int, k: int = 3, dim: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, dim)) * 3
    labels = np.arange(n) % k
    return (centres[labels] + 0.3 * rng.standard_normal((n, dim))).astype(np.float32), labels


def test_normalise_unit_cube_keeps_the_aspect_ratio():
    c = np.array([[0, 0, 0], [4, 1, 0], [2, 2, 1]], dtype=float)
    out = maps.normalise_unit_cube(c)
    assert out.min() >= 0 and out.max() <= 1
    assert np.ptp(out[:, 0]) == pytest.approx(1.0)
    assert np.ptp(out[:, 1]) == pytest.approx(0.5) and np.ptp(out[:, 2]) == pytest.approx(0.25)
    assert np.all(maps.normalise_unit_cube(np.ones((3, 3))) == 0.5)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 14])
def test_tiny_libraries_fall_back_to_pca(n):
    x, _ = _blobs(n)
    coords, used, fit_size, notes = maps.embed_3d(x, "umap")
    assert coords.shape == (n, 3) and coords.dtype == np.float32
    assert used == ("none" if n == 0 else "pca") and notes
    if n:
        assert fit_size == n and np.all((coords >= 0) & (coords <= 1))


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown map method"):
        maps.embed_3d(np.zeros((20, 4)), "mds")


@pytest.mark.slow
def test_umap_is_reproducible_and_separates_clusters():
    x, labels = _blobs(60)
    a, used, fit_size, notes = maps.embed_3d(x, "umap")
    b, *_ = maps.embed_3d(x, "umap")
    assert used == "umap" and fit_size == 60 and notes == []
    np.testing.assert_array_equal(a, b)
    assert np.all((a >= 0) & (a <= 1))
    # Each point's nearest map neighbour comes from its own blob.
    d = np.linalg.norm(a[:, None] - a[None], axis=2) + np.eye(60) * 9
    assert np.mean(labels[d.argmin(1)] == labels) > 0.95


@pytest.mark.slow
def test_umap_subsample_places_the_rest_among_their_neighbours():
    x, labels = _blobs(80)
    coords, used, fit_size, notes = maps.embed_3d(x, "umap", fit_max=40)
    assert used == "umap" and fit_size == 40 and "fitted on a random 40 of 80" in notes[0]
    assert np.all(np.isfinite(coords)) and np.all((coords >= 0) & (coords <= 1))
    d = np.linalg.norm(coords[:, None] - coords[None], axis=2) + np.eye(80) * 9
    assert np.mean(labels[d.argmin(1)] == labels) > 0.9  # placed tracks land in their blob


def test_tsne_and_its_subsample():
    x, labels = _blobs(45)
    coords, used, fit_size, notes = maps.embed_3d(x, "tsne")
    assert used == "tsne" and fit_size == 45 and coords.shape == (45, 3)
    coords, used, fit_size, notes = maps.embed_3d(x, "tsne", fit_max=30)
    assert fit_size == 30 and "nearest fitted neighbours" in notes[0]
    d = np.linalg.norm(coords[:, None] - coords[None], axis=2) + np.eye(45) * 9
    assert np.mean(labels[d.argmin(1)] == labels) > 0.9


def test_cluster_labels_find_the_blobs():
    x, labels = _blobs(90, k=3)
    found = maps.cluster_labels(x, n_clusters=3)
    assert found.dtype == np.int32 and set(found) == {0, 1, 2}
    for k in range(3):  # each blob is one cluster
        assert len(set(found[labels == k])) == 1
    assert len(maps.cluster_labels(x)) == 90
    assert list(maps.cluster_labels(x[:2])) == [0, 0]
    assert maps.cluster_labels(x[:0]).shape == (0,)


def _result(catalog_version: int = 3) -> maps.MapResult:
    x, _ = _blobs(6)
    ids = [f"{i:016x}" for i in range(6)]
    return maps.compute_map("musicnn-msd", "v1", catalog_version, ids, x, "umap")


def test_cache_roundtrip_and_every_key_part(tmp_path):
    result = _result()
    path = maps.cache_path(tmp_path, "musicnn-msd", "umap")
    assert path == tmp_path / "maps" / "musicnn-msd-umap.npz"
    assert maps.save_map(path, result)
    key = dict(model="musicnn-msd", version="v1", method="umap", catalog_version=3)
    loaded = maps.load_map(path, **key, digest=result.digest)
    assert loaded is not None and loaded.source == "disk" and loaded.ids == result.ids
    np.testing.assert_array_equal(loaded.coords, result.coords)
    np.testing.assert_array_equal(loaded.clusters, result.clusters)
    assert loaded.notes == result.notes and loaded.method_used == "pca"
    for change in ({"catalog_version": 4}, {"version": "v2"}, {"model": "vgg-msd"},
                   {"method": "tsne"}):  # fmt: skip
        assert maps.load_map(path, **{**key, **change}, digest=result.digest) is None
    assert maps.load_map(path, **key, digest="0" * 32) is None
    assert list(tmp_path.joinpath("maps").iterdir()) == [path]  # no temporary files left


def test_corrupt_or_foreign_cache_files_are_ignored(tmp_path):
    path = maps.cache_path(tmp_path, "musicnn-msd", "umap")
    path.parent.mkdir(parents=True)
    key = dict(model="musicnn-msd", version="v1", method="umap", catalog_version=3)
    path.write_bytes(b"not an npz")
    assert maps.load_map(path, **key) is None
    np.savez(path, ids=np.array(["a"]), coords=np.zeros((2, 3)), clusters=np.zeros(1),
             meta=np.array(json.dumps({**key, "format": maps.MAP_FORMAT})))  # fmt: skip
    assert maps.load_map(path, **key) is None  # shapes disagree
    assert maps.load_map(tmp_path / "absent.npz", **key) is None


def test_library_map_is_cached_and_recomputed_when_the_catalog_changes(tmp_path):
    root = tmp_path / "lib"
    build_synthetic_library(root, 8, seed=4)
    with Library(root) as lib:
        first = maps.library_map(lib, method="tsne")
        assert first.source == "computed" and first.n == 8
        assert maps.library_map(lib, method="tsne").source == "disk"
    build_synthetic_library(root, 2, seed=5)
    with Library(root) as lib:
        again = maps.library_map(lib, method="tsne")
        assert again.source == "computed" and again.n == 10
        assert again.catalog_version > first.catalog_version


def test_read_only_library_still_gets_a_map(tmp_path, monkeypatch):
    root = tmp_path / "lib"
    build_synthetic_library(root, 5, seed=6)

    def refuse(*args, **kwargs):
        raise PermissionError("read-only")

    monkeypatch.setattr(maps.tempfile, "mkstemp", refuse)
    with Library(root) as lib:
        result = maps.library_map(lib)
    assert result.n == 5 and not maps.cache_path(root, "musicnn-msd", "umap").exists()
