"""The persistent vector index: exactness, sync with the catalog, persistence, filters."""

from __future__ import annotations

import fcntl
import json
import os
import time

import numpy as np
import pytest

from songscape.catalog.store import LibraryStore
from songscape.errors import VectorIndexError
from songscape.search import index_rows
from songscape.search.index import IndexParams, VectorIndex, index_dir

MODEL = "test-model"
VERSION = "v1"
DIM = 24


def _vectors(n: int, seed: int = 0, dim: int = DIM, clusters: int = 20) -> np.ndarray:
    """Clustered unit vectors (a Gaussian mixture), so neighbourhoods are meaningful."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    x = centres[rng.integers(clusters, size=n)] + 0.5 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _add(store: LibraryStore, vectors: np.ndarray, start: int = 0, *, version: str = VERSION,
         status: str = "ok", bump: bool = True) -> list[str]:  # fmt: skip
    """Insert tracks ``t{start}..`` with the given vectors (one transaction)."""
    ids = [f"t{i:06d}" for i in range(start, start + len(vectors))]
    now = time.time()
    with store.transaction() as conn:
        for tid, vec in zip(ids, vectors, strict=True):
            conn.execute(
                "INSERT INTO tracks(id, content_hash, path, status, added_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (tid, "h" + tid, f"/music/{tid}.ogg", status, now, now),
            )
            conn.execute(
                "INSERT INTO embeddings(track_id, model, model_version, dim, vector) "
                "VALUES (?, ?, ?, ?, ?)",
                (tid, MODEL, version, len(vec), np.asarray(vec, "<f4").tobytes()),
            )
        if bump:
            store.bump_catalog_version(conn)
    return ids


def _sql(store: LibraryStore, sql: str, args: tuple = (), bump: bool = True) -> None:
    with store.transaction() as conn:
        conn.execute(sql, args)
        if bump:
            store.bump_catalog_version(conn)


def _set_vector(store: LibraryStore, tid: str, vec: np.ndarray, bump: bool = True) -> None:
    _sql(
        store,
        "UPDATE embeddings SET vector = ? WHERE track_id = ? AND model = ?",
        (np.asarray(vec, "<f4").tobytes(), tid, MODEL),
        bump,
    )


def _brute(vectors: np.ndarray, ids: list[str], q: np.ndarray, k: int) -> list[list[str]]:
    sims = q @ vectors.T
    return [[ids[j] for j in np.argsort(-row, kind="stable")[:k]] for row in sims]


def _open(store: LibraryStore, **params) -> VectorIndex:
    return VectorIndex.open(store, MODEL, IndexParams(**params) if params else None,
                            version=VERSION)  # fmt: skip


@pytest.fixture
def store(tmp_path):
    with LibraryStore(tmp_path / "lib") as s:
        yield s


@pytest.fixture
def library(store):
    """A library of 400 tracks; returns (store, ids, vectors)."""
    x = _vectors(400)
    return store, _add(store, x), x


def _ids(hits) -> list[str]:
    return [t for t, _ in hits]


# -- exactness -------------------------------------------------------------------------
def test_exact_search_equals_brute_force_cosine(library):
    store, ids, x = library
    idx = _open(store)
    assert (idx.kind, idx.n, idx.dim, idx.model) == ("exact", 400, DIM, MODEL)
    q = _vectors(15, seed=9)
    hits = idx.search(q * 3.0, k=10)  # queries are normalised, scores are cosines
    assert [_ids(h) for h in hits] == _brute(x, ids, q, 10)
    for h, row in zip(hits, q @ x.T, strict=True):
        np.testing.assert_allclose([s for _, s in h], np.sort(row)[::-1][:10], atol=1e-5)
    one = idx.search(x[7], k=3)  # 1-D query: one flat list
    assert one[0][0] == ids[7] and one[0][1] == pytest.approx(1.0, abs=1e-5)


def test_hnsw_forced_on_a_small_set_finds_true_neighbours(library):
    store, ids, x = library
    idx = _open(store, kind="hnsw", hnsw_m=16)
    assert idx.kind == "hnsw"
    q = _vectors(30, seed=5)
    truth = _brute(x, ids, q, 10)
    hits = idx.search(q, k=10)
    recall = np.mean([len(set(_ids(h)) & set(t)) / 10 for h, t in zip(hits, truth, strict=True)])
    assert recall >= 0.95


# -- removal, status, additions, changes -----------------------------------------------------
def test_removed_track_is_never_returned_flat(library):
    store, ids, x = library
    idx = _open(store)
    store.remove_track(ids[3])
    hits = idx.search(x[3], k=400)
    assert ids[3] not in _ids(hits) and len(hits) == 399
    assert idx.n == 399 and idx.check()["in_sync"]


def test_hnsw_tombstones_persist_and_trigger_rebuild(library):
    store, ids, x = library
    idx = _open(store, kind="hnsw", hnsw_m=16, rebuild_fraction=0.2)
    assert idx.builds == 1
    store.remove_track(ids[10])
    assert ids[10] not in _ids(idx.search(x[10], k=20))
    assert idx.removed_rows == 1 and idx.builds == 1  # a tombstone, no rebuild
    assert len(idx.search(x[10], k=399)) == 399
    again = _open(store, kind="hnsw", hnsw_m=16, rebuild_fraction=0.2)
    assert again.builds == 0 and again.removed_rows == 1  # tombstone persisted
    assert ids[10] not in _ids(again.search(x[10], k=50, exclude={ids[11]}))
    for tid in ids[20:110]:  # 91 of 400 rows: past 20 %
        store.remove_track(tid)
    hits = again.search(x[50], k=5)
    assert again.builds == 1 and "removed" in again.last_build_reason
    assert again.removed_rows == 0 and again.n == 309
    assert not set(_ids(hits)) & set(ids[20:110])


@pytest.mark.parametrize("status", ["failed", "missing"])
def test_unhealthy_tracks_are_never_returned(library, status):
    store, ids, x = library
    idx = _open(store)
    _sql(store, "UPDATE tracks SET status = ? WHERE id = ?", (status, ids[0]))
    assert ids[0] not in _ids(idx.search(x[0], k=50))
    _add(store, _vectors(2, seed=3), start=1000, status=status)
    assert idx.n == 399


def test_added_tracks_are_found(library):
    store, ids, x = library
    idx = _open(store)
    new = _vectors(5, seed=77)
    new_ids = _add(store, new, start=500)
    hits = idx.search(new, k=1)
    assert [h[0][0] for h in hits] == new_ids
    assert idx.n == 405 and idx.builds == 1


def test_changed_vector_is_re_added(library):
    store, ids, x = library
    idx = _open(store, kind="hnsw", hnsw_m=16)
    _set_vector(store, ids[4], -x[4])
    report = idx.sync()
    assert (report["updated"], report["added"], report["removed"]) == (1, 0, 0)
    assert idx.search(-x[4], k=1)[0][0] == ids[4]
    assert ids[4] not in _ids(idx.search(x[4], k=20))
    assert idx.n == 400 and idx.removed_rows == 1


# -- filters --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_exclude_and_allowed_are_respected(library, kind, monkeypatch):
    store, ids, x = library
    idx = _open(store, kind=kind, hnsw_m=16)
    q = x[0]
    hits = idx.search(q, k=10, exclude={ids[0]})
    assert len(hits) == 10 and ids[0] not in _ids(hits)
    assert _ids(hits) == _brute(x, ids, q[None], 11)[0][1:]
    big_exclude = set(ids[1:200])  # more than the over-fetch limit: a selector
    hits = idx.search(q, k=10, exclude=big_exclude)
    assert len(hits) == 10 and not set(_ids(hits)) & big_exclude
    allowed = set(ids[::7])
    hits = idx.search(q, k=10, allowed=allowed)
    sub = sorted(allowed)
    sub_x = x[[ids.index(t) for t in sub]]
    assert _ids(hits) == _brute(sub_x, sub, q[None], 10)[0]
    # Fewer candidates than k: all of them, and only them.
    assert sorted(_ids(idx.search(q, k=10, allowed={ids[1], ids[2], "nope"}))) == ids[1:3]
    assert idx.search(q, k=5, allowed={ids[1]}, exclude={ids[1]}) == []
    # Large allowed sets go through the faiss IDSelector path.
    monkeypatch.setattr(index_rows, "EXACT_SUBSET_MAX", 10)
    allowed = set(ids[: len(ids) // 2])
    for h in idx.search(x[:20], k=10, allowed=allowed, exclude={ids[0]}):
        assert len(h) == 10 and set(_ids(h)) <= allowed - {ids[0]}
    assert len(idx.search(x[0], k=1000)) == 400


def test_narrow_filter_on_hnsw_is_completed_exactly(library, monkeypatch):
    store, ids, x = library
    monkeypatch.setattr(index_rows, "EXACT_SUBSET_MAX", 5)
    idx = _open(store, kind="hnsw", hnsw_m=4)
    idx.set_search_params(hnsw_ef_search=1)  # a filtered graph walk then comes back short
    for start in range(0, 400, 50):
        narrow = set(ids[start : start + 8])
        h = idx.search(-x[0], k=8, allowed=narrow)
        sub = sorted(narrow)
        assert _ids(h) == _brute(x[start : start + 8], sub, -x[:1], 8)[0]


# -- persistence -------------------------------------------------------------------------------
def test_reopen_loads_without_rebuilding(library):
    store, ids, x = library
    idx = _open(store, kind="hnsw", hnsw_m=16)
    q = _vectors(5, seed=2)
    before = idx.search(q, k=10)
    meta = json.loads((index_dir(store, MODEL) / "meta.json").read_text())
    assert (meta["kind"], meta["n"], meta["dim"], meta["model_version"]) == ("hnsw", 400, DIM,
                                                                              VERSION)  # fmt: skip
    assert meta["catalog_version"] == store.catalog_version and meta["removed"] == 0
    again = _open(store)  # no params: the persisted ones
    assert again.builds == 0 and again.last_build_reason is None
    assert again.kind == "hnsw" and again.params.hnsw_m == 16
    assert again.search(q, k=10) == before
    assert VectorIndex.open(store, MODEL, IndexParams(kind="exact"), version=VERSION).builds == 1


def test_unrelated_catalog_change_only_moves_the_version(library):
    store, ids, x = library
    idx = _open(store)
    folder = index_dir(store, MODEL)
    files = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.*")}
    now = time.time()
    _sql(store, "INSERT INTO tracks(id, content_hash, path, status, added_at, updated_at) "
         "VALUES ('other', 'other', '/o.ogg', 'ok', ?, ?)", (now, now))  # fmt: skip
    report = idx.sync()
    assert report["persisted"] and (report["added"], report["removed"]) == (0, 0)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["catalog_version"] == store.catalog_version
    for name in (meta["files"]["index"], meta["files"]["rows"]):
        assert (folder / name).stat().st_mtime_ns == files[name]
    assert _open(store).builds == 0


def test_rebuild_on_request_keeps_results(library):
    store, ids, x = library
    idx = _open(store)
    before = idx.search(x[:3], k=5)
    report = idx.rebuild()
    assert report["rebuilt"] and report["persisted"] and report["n"] == 400
    assert idx.search(x[:3], k=5) == before and idx.last_build_reason == "rebuild requested"


@pytest.mark.parametrize("damage", ["index", "rows", "meta", "delete"])
def test_damaged_index_files_lead_to_a_rebuild(library, damage):
    store, ids, x = library
    _open(store)
    folder = index_dir(store, MODEL)
    meta = json.loads((folder / "meta.json").read_text())
    if damage == "meta":
        (folder / "meta.json").write_text("{ not json")
    elif damage == "delete":
        (folder / meta["files"]["index"]).unlink()
    else:
        path = folder / meta["files"][damage]
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    again = _open(store)
    assert again.builds == 1 and again.last_build_reason
    assert _ids(again.search(x[:3], k=1)[1]) == [ids[1]]
    assert _open(store).builds == 0  # the rebuilt index was persisted


def test_model_version_change_rebuilds(library):
    store, ids, x = library
    _open(store)
    _sql(store, "UPDATE embeddings SET model_version = 'v2' WHERE track_id != ?", (ids[0],))
    idx = VectorIndex.open(store, MODEL, version="v2")
    assert idx.builds == 1 and "model version" in idx.last_build_reason
    assert idx.n == 399 and ids[0] not in _ids(idx.search(x[0], k=10))


def test_registered_model_dimension_change_rebuilds(store):
    from songscape.models.registry import get_spec

    spec = get_spec("musicnn-msd")
    x = _vectors(30, dim=spec.embedding_dim)
    ids = [f"m{i}" for i in range(30)]
    now = time.time()
    with store.transaction() as conn:
        for tid, vec in zip(ids, x, strict=True):
            conn.execute(
                "INSERT INTO tracks(id, content_hash, path, status, added_at, "
                "updated_at) VALUES (?, ?, ?, 'ok', ?, ?)",
                (tid, tid, tid, now, now),
            )
            conn.execute(
                "INSERT INTO embeddings VALUES (?, ?, ?, ?, ?)",
                (tid, spec.name, spec.version, spec.embedding_dim, vec.tobytes()),
            )
        store.bump_catalog_version(conn)  # fmt: skip
    idx = VectorIndex.open(store, spec.name)
    assert idx.dim == spec.embedding_dim and idx.n == 30
    meta_path = index_dir(store, spec.name) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["dim"] = 128
    meta_path.write_text(json.dumps(meta))
    again = VectorIndex.open(store, spec.name)
    assert again.builds == 1 and "dimension" in again.last_build_reason
    with pytest.raises(VectorIndexError, match="dimension"):
        again.search(np.ones(7, np.float32))


def test_check_detects_changes_behind_the_index_back(library):
    store, ids, x = library
    idx = _open(store)
    assert idx.check()["in_sync"]
    version = store.catalog_version
    _sql(store, "DELETE FROM tracks WHERE id = ?", (ids[0],), bump=False)
    _set_vector(store, ids[1], -x[1], bump=False)
    _add(store, _vectors(1, seed=4), start=900, bump=False)
    assert store.catalog_version == version
    report = idx.check()
    assert (report["missing"], report["extra"], report["stale"]) == (1, 1, 1)
    assert not report["in_sync"] and report["n_index"] == 400 and report["n_catalog"] == 400
    assert set(report) >= {"model", "kind", "catalog_version", "index_catalog_version", "path"}
    fixed = idx.sync()
    assert (fixed["added"], fixed["removed"], fixed["updated"]) == (1, 1, 1)
    assert idx.check()["in_sync"]
    assert idx.search(-x[1], k=1)[0][0] == ids[1]


def test_read_only_library_is_searchable(library, tmp_path):
    store, ids, x = library
    _open(store)
    root = store.root
    with LibraryStore(root, readonly=True) as ro:
        idx = VectorIndex.open(ro, MODEL, version=VERSION)
        assert idx.builds == 0
        _add(store, _vectors(3, seed=11), start=700)  # another process adds tracks
        hits = idx.search(_vectors(3, seed=11), k=1)
        assert [h[0][0] for h in hits] == ["t000700", "t000701", "t000702"]
    # A library whose index folder cannot be created: built and synced in memory.
    blocked = tmp_path / "blocked"
    with LibraryStore(blocked) as s:
        s_ids = _add(s, x[:50])
        (blocked / "index").write_text("not a folder")
    with LibraryStore(blocked, readonly=True) as ro:
        idx = VectorIndex.open(ro, MODEL, version=VERSION)
        assert idx.n == 50 and idx.search(x[5], k=1)[0][0] == s_ids[5]
        assert idx.sync(force=True)["persisted"] is False
    if os.geteuid() != 0:  # permissions do not stop root
        os.chmod(root / "index" / MODEL, 0o555)
        try:
            with LibraryStore(root, readonly=True) as ro:
                assert VectorIndex.open(ro, MODEL, version=VERSION).n == 403
        finally:
            os.chmod(root / "index" / MODEL, 0o755)


def test_busy_lock_keeps_results_fresh_in_memory(library):
    store, ids, x = library
    idx = _open(store)
    lock = os.open(index_dir(store, MODEL) / ".lock", os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        store.remove_track(ids[2])
        report = idx.sync()
        assert report["removed"] == 1 and report["persisted"] is False
        assert ids[2] not in _ids(idx.search(x[2], k=10))
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    again = _open(store)  # the disk still holds the old state: synced on open
    assert again.builds == 0 and again.n == 399


# -- kinds ---------------------------------------------------------------------------------------
def test_ivfpq_recall_against_exact(store):
    # dim 30: PQ uses 8 bytes, so the vectors are PCA-rotated to 24 dimensions first.
    x = _vectors(3000, seed=1, dim=30, clusters=40)
    ids = _add(store, x)
    idx = _open(store, kind="ivfpq")
    assert idx.kind == "ivfpq"
    q = _vectors(100, seed=2, dim=30, clusters=40)
    truth = _brute(x, ids, q, 10)
    hits = idx.search(q, k=10)
    recall = np.mean([len(set(_ids(h)) & set(t)) / 10 for h, t in zip(hits, truth, strict=True)])
    assert recall >= 0.9
    for h, row in zip(hits[:5], q[:5] @ x.T, strict=True):  # scores are exact cosines
        assert h[0][1] == pytest.approx(float(row[ids.index(h[0][0])]), abs=1e-5)
    store.remove_track(ids[0])
    _add(store, _vectors(5, seed=8, dim=30), start=5000)
    assert ids[0] not in _ids(idx.search(x[0], k=10))
    again = _open(store, kind="ivfpq")
    assert again.builds == 0 and again.n == 3004
    assert again.search(_vectors(5, seed=8, dim=30)[2], k=1)[0][0] == "t005002"
    assert again.rebuild()["rebuilt"] and again.n == 3004 and again.kind == "ivfpq"


def test_auto_kind_follows_catalog_size(store):
    x = _vectors(150)
    ids = _add(store, x)
    idx = _open(store, exact_max=100)
    assert idx.kind == "hnsw"
    for tid in ids[:40]:  # 110 left: inside the hysteresis band
        store.remove_track(tid)
    idx.sync()
    assert idx.kind == "hnsw"
    for tid in ids[40:80]:  # 70 left: below 80 % of exact_max
        store.remove_track(tid)
    idx.sync()
    assert idx.kind == "exact" and idx.n == 70


def test_errors_are_clear(library, store):
    lib_store, ids, x = library
    with pytest.raises(VectorIndexError, match="unknown model"):
        VectorIndex.open(lib_store, "no-such-model")
    with pytest.raises(VectorIndexError, match="kind"):
        IndexParams(kind="annoy")
    idx = _open(lib_store)
    with pytest.raises(VectorIndexError, match="dimension"):
        idx.search(np.ones(DIM + 1, np.float32))
    with pytest.raises(VectorIndexError, match="k must"):
        idx.search(x[0], k=0)
    with pytest.raises(VectorIndexError, match="NaN"):
        idx.search(np.full(DIM, np.nan, np.float32))
    with pytest.raises(VectorIndexError, match="structure"):
        idx.set_search_params(hnsw_m=8)


def test_empty_catalog_then_first_vectors(store):
    idx = _open(store)
    assert idx.n == 0 and idx.search(np.ones(DIM, np.float32), k=3) == []
    x = _vectors(10)
    ids = _add(store, x)
    assert idx.search(x[4], k=1)[0][0] == ids[4] and idx.dim == DIM
