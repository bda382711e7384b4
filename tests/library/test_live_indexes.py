"""A long-lived :class:`Library` (as ``songscape serve`` holds one) sees what another
process commits: its cached vector and window indexes are brought in sync on every use,
not only when first opened (issue 16).

The writer here is a second connection to the same catalog, committing as an ingest
does (one transaction that bumps the catalog version); for SQLite that is the same as
another process. ``tests/server/test_live_refresh.py`` does it end to end with a real
``songscape ingest`` beside a real ``songscape serve``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from songscape.catalog import windows as window_rows
from songscape.catalog.store import LibraryStore
from songscape.library.library import Library
from songscape.models.registry import get_spec
from songscape.synthetic.catalogs import build_synthetic_library

MODEL = "musicnn-msd"


def _commit_windows(root: Path, track_id: str, seed: int) -> None:
    """Three 10 s windows of ``track_id`` (close to each other, as a song's windows are),
    committed by another connection."""
    spec = get_spec(MODEL)
    rng = np.random.default_rng(seed)
    centre = rng.standard_normal(spec.embedding_dim)
    vectors = (centre + 0.1 * rng.standard_normal((3, spec.embedding_dim))).astype(np.float32)
    with LibraryStore(root, create=False) as store, store.transaction() as conn:
        window_rows.put_windows(conn, track_id, MODEL, spec.version, np.array([0.0, 5.0, 10.0]),
                                vectors, 10.0, 5.0)  # fmt: skip
        store.bump_catalog_version(conn)


def test_cached_track_index_follows_other_writers(tmp_path):
    root = tmp_path / "lib"
    first = build_synthetic_library(root, 10, seed=1)
    with Library(root) as lib:
        assert lib.index(MODEL).n == 10
        more = build_synthetic_library(root, 5, seed=2)  # another connection commits
        assert lib.index(MODEL).n == 15
        found = {r["id"] for r in lib.similar(first[0], k=14)["results"]}
        assert set(more) <= found


def test_cached_window_index_follows_other_writers(tmp_path):
    """The segment search of a track whose only windowed neighbours arrived after the
    window index was first opened: with the index's stale size, its own (excluded)
    windows filled every candidate slot and nothing was found."""
    root = tmp_path / "lib"
    ids = build_synthetic_library(root, 4, seed=3)
    _commit_windows(root, ids[0], seed=30)
    with Library(root) as lib:
        first = lib.similar(ids[0], k=3, by="segment")
        assert first["matched_by"] == "segment" and first["results"] == []
        _commit_windows(root, ids[1], seed=31)  # another process's ingest commits
        _commit_windows(root, ids[2], seed=32)
        assert lib.window_index(MODEL).n == 9
        found = [r["id"] for r in lib.similar(ids[0], k=3, by="segment")["results"]]
        assert sorted(found) == sorted(ids[1:3])


def test_window_index_opened_empty_finds_later_windows(tmp_path):
    root = tmp_path / "lib"
    ids = build_synthetic_library(root, 3, seed=4)
    with Library(root) as lib:
        assert lib.window_index(MODEL).n == 0  # opened (and cached) before any window
        _commit_windows(root, ids[0], seed=40)
        _commit_windows(root, ids[1], seed=41)
        found = [r["id"] for r in lib.similar(ids[0], k=2, by="segment")["results"]]
        assert found == [ids[1]]
