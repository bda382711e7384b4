"""``songscape check [--repair] [--json]``: each kind of damage is found, repaired, and
a second check is clean; healthy data is never lost."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from songscape.catalog import analysis, tracks
from songscape.catalog.store import CATALOG_FILE, LibraryStore
from songscape.cli import main
from songscape.library.check import ERROR, WARNING
from songscape.library.library import Library
from songscape.synthetic.catalogs import build_synthetic_library

N = 12


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A small synthetic library whose files exist, with its vector index on disk."""
    root = tmp_path / "lib"
    build_synthetic_library(root, N, seed=3, audio_dir=tmp_path / "audio", n_audio=N)
    with Library(root) as lib:
        lib.index().sync()
    return root


def _raw(root: Path) -> sqlite3.Connection:
    """A connection without foreign keys, to damage the catalog as a bug or crash could."""
    conn = sqlite3.connect(root / CATALOG_FILE)
    conn.row_factory = sqlite3.Row
    return conn


def _ids(root: Path) -> list[str]:
    with _raw(root) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM tracks ORDER BY id")]


def _check(root: Path, *flags: str, capsys) -> tuple[int, dict]:
    code = main(["--library", str(root), "check", "--json", *flags])
    return code, json.loads(capsys.readouterr().out)


def test_a_fresh_library_is_consistent(library, capsys):
    code, out = _check(library, capsys=capsys)
    assert code == 0 and out["ok"] and out["findings"] == []
    assert out["checks"] == ["sqlite", "foreign-keys", "arrays", "vectors", "windows", "stages",
                             "tracks", "files", "vector-index"]  # fmt: skip
    # synthetic tracks were never ingested: their stages are pending, not problems
    assert out["pending"]["stage metadata to run (next ingest)"] == N


def test_every_kind_of_damage_is_found_then_repaired(library, tmp_path, capsys):
    ids = _ids(library)
    conn = _raw(library)
    with conn:
        # a vector and an array whose track is gone (written with foreign keys off)
        conn.execute("INSERT INTO embeddings VALUES ('gone', 'musicnn-msd', 'v', 2, zeroblob(8))")
        conn.execute("INSERT INTO arrays VALUES ('gone', 'beat_times', '<f4', '2', zeroblob(8))")
        # an array whose bytes do not fit its shape; a vector of the wrong length
        conn.execute(
            "INSERT INTO arrays VALUES (?, 'energy_curve', '<f4', '10', zeroblob(12))", (ids[0],)
        )
        conn.execute("UPDATE embeddings SET vector = zeroblob(12) WHERE track_id = ?", (ids[1],))
        # a stage recorded as done whose data is absent
        conn.execute(
            "INSERT INTO stage_runs VALUES (?, 'descriptors', 1, 'done', NULL, 0)", (ids[2],)
        )
        conn.execute("DELETE FROM descriptors WHERE track_id = ?", (ids[2],))
        # a healthy track without a content hash
        conn.execute("UPDATE tracks SET content_hash = NULL WHERE id = ?", (ids[3],))
        # a copy recorded as a duplicate of a failed track
        conn.execute("UPDATE tracks SET status = 'failed', error = 'x' WHERE id = ?", (ids[4],))
        conn.execute(
            "INSERT INTO duplicates VALUES (?, ?, 1, 1)", (str(tmp_path / "copy.wav"), ids[4])
        )
    conn.close()
    (tmp_path / "copy.wav").write_bytes(b"x")
    # a track's file deleted outside any ingest
    with Library(library) as lib:
        gone_path = Path(lib.track(ids[5])["path"])
    gone_path.unlink()

    code, out = _check(library, capsys=capsys)
    assert code == 1 and not out["ok"]
    found = {(f["check"], f["severity"]) for f in out["findings"]}
    assert found == {
        ("foreign-keys", ERROR), ("arrays", ERROR), ("vectors", ERROR), ("stages", ERROR),
        ("tracks", ERROR), ("duplicates", ERROR), ("files", WARNING),
        ("vector-index", ERROR),  # a vector changed and a track failed at the same version
    }  # fmt: skip
    assert any(str(gone_path) in f["message"] for f in out["findings"])
    assert all(f["repair"] and not f["repaired"] for f in out["findings"])

    code, out = _check(library, "--repair", capsys=capsys)
    assert code == 0 and out["ok"] and out["repaired"] == len(out["findings"]) >= 8

    code, out = _check(library, capsys=capsys)
    assert code == 0 and out["findings"] == [], out["findings"]
    with _raw(library) as conn:
        assert conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == N  # nothing lost
        status = conn.execute("SELECT status FROM tracks WHERE id = ?", (ids[5],)).fetchone()[0]
        assert status == "missing"
        assert conn.execute("SELECT COUNT(*) FROM duplicates").fetchone()[0] == 0
        # damaged data lost its stage record: the next ingest recomputes it
        assert conn.execute(
            "SELECT COUNT(*) FROM stage_runs WHERE track_id IN (?, ?)", (ids[0], ids[3])
        ).fetchone()[0] == 0
        row = conn.execute("SELECT content_hash FROM tracks WHERE id = ?", (ids[3],)).fetchone()
        assert len(row[0]) == 64  # fingerprinted again


def test_a_damaged_sqlite_index_is_rebuilt(library, capsys):
    conn = _raw(library)
    with conn:
        conn.execute("UPDATE tracks SET artist = 'someone else'")
    conn.execute("PRAGMA writable_schema = ON")
    with conn:  # the index now claims to cover another column than it holds
        conn.execute(
            "UPDATE sqlite_master SET sql = 'CREATE INDEX tracks_artist ON tracks(album)' "
            "WHERE name = 'tracks_artist'"
        )
    conn.close()
    code, out = _check(library, capsys=capsys)
    assert code == 1 and out["findings"][0]["check"] == "sqlite"
    assert "tracks_artist" in out["findings"][0]["message"]
    code, out = _check(library, "--repair", capsys=capsys)
    assert code == 0 and out["findings"][0]["repaired"]
    assert _check(library, capsys=capsys)[1]["findings"] == []


def test_vector_index_drift_and_corruption(library, capsys):
    ids = _ids(library)
    with _raw(library) as conn:  # a vector changed behind the catalog version's back
        conn.execute(
            "UPDATE embeddings SET vector = zeroblob(length(vector)) WHERE track_id = ?", (ids[0],)
        )
    code, out = _check(library, capsys=capsys)
    assert code == 1
    [finding] = out["findings"]
    assert finding["check"] == "vector-index" and "1 changed" in finding["message"]
    assert _check(library, "--repair", capsys=capsys)[0] == 0
    assert _check(library, capsys=capsys)[1]["findings"] == []

    # an index file damaged on disk: searches would rebuild it; --repair does now
    folder = library / "index" / "musicnn-msd"
    [faiss_file] = folder.glob("index.*.faiss")
    faiss_file.write_bytes(b"\0" * 100)
    code, out = _check(library, capsys=capsys)
    assert code == 0 and out["findings"][0]["severity"] == WARNING
    assert "checksum mismatch" in out["findings"][0]["message"]
    _check(library, "--repair", capsys=capsys)
    assert _check(library, capsys=capsys)[1]["findings"] == []


def test_an_index_behind_the_catalog_is_pending_not_a_problem(library, capsys):
    ids = _ids(library)
    with LibraryStore(library) as store, store.transaction() as conn:
        tracks.delete_track(conn, ids[0])
        store.bump_catalog_version(conn)
    code, out = _check(library, capsys=capsys)
    assert code == 0 and out["findings"] == []
    assert out["pending"]["vector index musicnn-msd to sync (next search)"] == 1


def test_human_output_and_unopenable_catalog(library, tmp_path, capsys):
    with LibraryStore(library) as store, store.transaction() as conn:
        analysis.record_stage_run(conn, _ids(library)[0], "tag:musicnn-mtt", 1, "done", None,
                                  time.time())  # fmt: skip
    assert main(["--library", str(library), "check"]) == 1
    text = capsys.readouterr().out
    assert "error: [stages]" in text and "--repair: forget the stage record" in text
    assert "NOT consistent" in text
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / CATALOG_FILE).write_bytes(b"this is not a database" * 100)
    assert main(["--library", str(bad), "check"]) == 1
    assert "cannot open catalog" in capsys.readouterr().err
