"""The window index (songscape.search.window_index, issue 20) on a synthetic library:
window rows in the catalog, incremental sync, partial matches found by windows and not by
track means, per-track aggregation, and `songscape check` on window/track mismatches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from songscape.catalog import windows as window_rows
from songscape.catalog.store import LibraryStore
from songscape.catalog.window_reads import read_window_vectors
from songscape.cli import main
from songscape.library.library import Library
from songscape.models.registry import get_spec
from songscape.search.window_index import (
    WindowIndex,
    search_tracks_by_windows,
    track_scores,
)
from songscape.synthetic.catalogs import build_synthetic_library

MODEL = "musicnn-msd"
N = 24


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@pytest.fixture
def lib_root(tmp_path: Path) -> tuple[Path, list[str], np.ndarray]:
    """24 synthetic tracks, each with 6 windows near its own vector; track 0's window at
    15 s is replaced by a ``passage`` unlike every track vector (a partial match)."""
    root = tmp_path / "lib"
    ids = build_synthetic_library(root, N, seed=5)
    spec = get_spec(MODEL)
    rng = np.random.default_rng(1)
    passage = rng.standard_normal(spec.embedding_dim).astype(np.float32)
    with LibraryStore(root) as store, store.transaction() as conn:
        for tid in ids:
            v = store.embedding(tid, MODEL)[0]
            x = v + 0.2 * np.linalg.norm(v) / 14 * rng.standard_normal((6, len(v)))
            if tid == ids[0]:
                x[3] = passage * np.linalg.norm(v)
            window_rows.put_windows(conn, tid, MODEL, spec.version, np.arange(6) * 5.0, x,
                                    10.0, 5.0)  # fmt: skip
        store.bump_catalog_version(conn)
    return root, ids, passage


def test_windows_are_read_and_indexed_with_their_ids(lib_root):
    root, ids, _ = lib_root
    with LibraryStore(root) as store:
        snap = read_window_vectors(store, MODEL, get_spec(MODEL).version, 0, vectors=True)
        assert len(snap.ids) == 6 * N and snap.dim == 200
        assert window_rows.split_window_id(snap.ids[0])[1] in {0.0, 5.0, 10.0, 15.0, 20.0, 25.0}
        np.testing.assert_allclose(np.linalg.norm(snap.vectors, axis=1), 1.0, rtol=1e-5)
        index = WindowIndex.open(store, MODEL)
        assert index.n == 6 * N and index.kind == "exact"
        assert index.path.parent.name == "windows" and index.path.is_dir()
        # a second open loads the files: no rebuild
        again = WindowIndex.open(store, MODEL)
        assert again.builds == 0 and again.n == 6 * N


def test_a_partial_match_is_found_by_windows_and_not_by_track_means(lib_root):
    root, ids, passage = lib_root
    with Library(root) as lib:
        track_hits = lib.index(MODEL).search(passage, 5)
        assert ids[0] not in [t for t, _ in track_hits]  # the mean hides the passage
        found = search_tracks_by_windows(lib.window_index(MODEL), passage, 5)
        assert found[0].track_id == ids[0] and found[0].start_s == 15.0
        assert found[0].window_score > 0.99
        assert len({m.track_id for m in found}) == 5  # five different tracks
        # excluded and filtered tracks never come back
        assert ids[0] not in [m.track_id for m in
                              search_tracks_by_windows(lib.window_index(MODEL), passage, 5,
                                                       exclude={ids[0]})]  # fmt: skip
        only = search_tracks_by_windows(lib.window_index(MODEL), passage, 5,
                                        allowed={ids[1], ids[2]})  # fmt: skip
        assert {m.track_id for m in only} == {ids[1], ids[2]}
        # through Library.similar_segments: similar's fields, plus the window
        results = lib.similar_segments(passage, {}, MODEL, k=3)
        assert results[0]["id"] == ids[0]
        assert results[0]["window"] == {"start_s": 15.0, "end_s": 25.0,
                                        "score": results[0]["score"]}  # fmt: skip
        assert results[0]["track_score"] < results[0]["score"]
        # by segment from a library track: its windows are the queries
        out = lib.similar(ids[1], k=3, by="segment")
        assert out["matched_by"] == "segment" and ids[1] not in [r["id"] for r in out["results"]]
        assert {"start_s", "end_s", "score", "query_start_s"} <= set(out["results"][0]["window"])


def test_sync_follows_removed_and_changed_tracks(lib_root):
    root, ids, passage = lib_root
    spec = get_spec(MODEL)
    with Library(root) as lib:
        index = lib.window_index(MODEL)
        assert index.n == 6 * N
        lib.remove(ids[0])  # its windows go with it (cascade) and leave the index
        with LibraryStore(root) as store:
            assert window_rows.track_windows(store.conn, ids[0], MODEL) is None
        out = index.sync()
        assert out["removed"] == 6 and index.n == 6 * (N - 1)
        assert ids[0] not in [m.track_id for m in search_tracks_by_windows(index, passage, 3)]
        with lib.store.transaction() as conn:  # ids[1] re-analysed: 4 new windows
            x = np.tile(passage, (4, 1))
            window_rows.put_windows(conn, ids[1], MODEL, spec.version, np.arange(4) * 5.0,
                                    x, 10.0, 5.0)  # fmt: skip
            lib.store.bump_catalog_version(conn)
        out = index.sync()
        assert out["removed"] + out["updated"] >= 2 and index.n == 6 * (N - 2) + 4
        assert search_tracks_by_windows(index, passage, 1)[0].track_id == ids[1]
        assert index.check()["in_sync"]


def test_track_scores_max_and_top2():
    hits = [[("a@0", 0.9), ("b@5000", 0.8), ("b@10000", 0.79), ("a@5000", 0.1)]]
    by_max = track_scores(hits, "max")
    assert [(m.track_id, m.score, m.start_s) for m in by_max] == [("a", 0.9, 0.0),
                                                                  ("b", 0.8, 5.0)]  # fmt: skip
    by_top2 = track_scores(hits, "top2")
    assert [m.track_id for m in by_top2] == ["b", "a"]
    assert by_top2[1].score == pytest.approx(0.5)
    # several query windows: a track keeps its best, with the query window that found it
    two = track_scores([[("a@0", 0.3)], [("a@5000", 0.7)]], "max", query_starts_s=[0.0, 5.0])
    assert two[0].score == 0.7 and two[0].query_start_s == 5.0 and two[0].start_s == 5.0


def test_check_finds_windows_that_disagree_with_their_track(lib_root, capsys):
    """The failing case: window vectors of another model version (or without a track
    vector) than the track's must be reported, kept out of the index, and repaired."""
    root, ids, _ = lib_root
    spec = get_spec(MODEL)
    with LibraryStore(root) as store:
        WindowIndex.open(store, MODEL)  # on disk: `check` compares it with the catalog too
    with LibraryStore(root) as store, store.transaction() as conn:
        v = np.ones((3, spec.embedding_dim), np.float32)
        window_rows.put_windows(conn, ids[2], MODEL, "an-older-version", np.arange(3) * 5.0,
                                v, 10.0, 5.0)  # fmt: skip
        window_rows.put_windows(conn, ids[3], "vgg-msd", "x", np.zeros(1), v[:1], 10.0, 5.0)
        store.bump_catalog_version(conn)
    with LibraryStore(root) as store:
        assert {(t, m) for t, m, _ in window_rows.mismatched_windows(store.conn)} == {
            (ids[2], MODEL), (ids[3], "vgg-msd")}
        snap = read_window_vectors(store, MODEL, spec.version, 0)
        assert not any(w.startswith(ids[2]) for w in snap.ids)  # stale windows: not indexed
    code = main(["--library", str(root), "check", "--json"])
    out = json.loads(capsys.readouterr().out)
    errors = {f["check"] for f in out["findings"] if f["severity"] == "error"}
    assert code == 1 and errors == {"windows"}  # (the synthetic files are absent: warnings)
    assert any("version an-older-version" in f["message"] for f in out["findings"])
    assert "vector index musicnn-msd windows to sync (next search)" in out["pending"]
    assert not any("unregistered" in key for key in out["pending"])
    assert main(["--library", str(root), "check", "--repair", "--json"]) == 0
    capsys.readouterr()
    assert main(["--library", str(root), "check", "--json"]) == 0
    with LibraryStore(root) as store:
        assert window_rows.mismatched_windows(store.conn) == []
        assert window_rows.track_windows(store.conn, ids[4], MODEL) is not None  # kept


def test_the_milvus_backend_serves_the_same_windows(lib_root):
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    root, ids, passage = lib_root
    with Library(root) as lib:
        index = lib.window_index(MODEL, backend="milvus")
        assert index.kind == "milvus:flat" and index.n == 6 * N
        assert "windows" in index.collection
        found = search_tracks_by_windows(index, passage, 3)
        assert found[0].track_id == ids[0] and found[0].start_s == 15.0
        faiss = search_tracks_by_windows(lib.window_index(MODEL), passage, 3)
        assert [m.track_id for m in found] == [m.track_id for m in faiss]
        only = search_tracks_by_windows(index, passage, 5, allowed={ids[1], ids[2]})
        assert {m.track_id for m in only} == {ids[1], ids[2]}
        results = lib.similar_segments(passage, {}, MODEL, k=2, backend="milvus")
        assert results[0]["id"] == ids[0] and results[0]["window"]["start_s"] == 15.0
        lib.remove(ids[0])
        assert index.sync()["removed"] == 6 and index.n == 6 * (N - 1)
        index.close()
