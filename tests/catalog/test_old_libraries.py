"""Old libraries (issue 16): a library made at every schema version that has existed opens
with this songscape, migrates to the current version and keeps its data.

Each fixture library is built the way songscape built it at schema version ``k``: the
real migrations ``MIGRATIONS[:k]`` applied in order by :func:`schema.apply_migration` (no
binary files committed), then data written with the columns that existed since version 1
(a healthy track whose file is real, its copy, its descriptors and embedding, a listener
and a play). It is then opened by the current code, as a user's old library would be.

What this cannot show: a migration function edited after it shipped (the fixture of
version ``k`` uses today's text of migrations 1..k). The migrations are append-only
(docs/architecture.md), which is what keeps that gap closed.
"""

from __future__ import annotations

import shutil
import sqlite3
import time

import numpy as np
import pytest

from songscape.catalog import schema
from songscape.catalog.store import CATALOG_FILE, LibraryStore
from songscape.cli import main
from songscape.ingest.scan import content_hash
from songscape.library.check import check_library
from songscape.models.registry import DEFAULT_MODEL, get_spec
from tests.helpers import shared_data

TRACK_ID = "0123456789abcdef"


def make_library_at(version: int, root, music) -> dict:
    """A library at schema ``version`` with one track (file in ``music``) and its data;
    returns what was stored."""
    clip = shared_data("mir1k_half", "audio", "Ani_1_03.ogg")
    music.mkdir(parents=True, exist_ok=True)
    path, copy = music / "song.ogg", music / "copy.ogg"
    shutil.copy2(clip, path)
    shutil.copy2(clip, copy)
    root.mkdir(parents=True)
    conn = sqlite3.connect(root / CATALOG_FILE)
    conn.row_factory = sqlite3.Row
    now = time.time()
    for v in range(version):
        with conn:
            schema.apply_migration(conn, v, now=now)
    spec = get_spec(DEFAULT_MODEL)
    vector = np.random.default_rng(version).standard_normal(spec.embedding_dim).astype("<f4")
    st, cst = path.stat(), copy.stat()
    with conn:
        conn.execute(
            "INSERT INTO tracks(id, content_hash, path, size_bytes, mtime, title, artist, "
            "status, added_at, updated_at) VALUES (?, ?, ?, ?, ?, 'Song', 'Singer', 'ok', ?, ?)",
            (TRACK_ID, content_hash(path), str(path), st.st_size, st.st_mtime, now, now),
        )
        conn.execute("INSERT INTO duplicates VALUES (?, ?, ?, ?)",
                     (str(copy), TRACK_ID, cst.st_size, cst.st_mtime))  # fmt: skip
        conn.execute("INSERT INTO descriptors(track_id, analysis_sample_rate, tempo_bpm, key) "
                     "VALUES (?, 22050, 96.0, 'A minor')", (TRACK_ID,))  # fmt: skip
        conn.execute("INSERT INTO embeddings VALUES (?, ?, ?, ?, ?)",
                     (TRACK_ID, spec.name, spec.version, spec.embedding_dim,
                      vector.tobytes()))  # fmt: skip
        conn.execute("INSERT INTO users(id, added_at) VALUES ('ann', ?)", (now,))
        conn.execute("INSERT INTO events(user_id, item, track_id, count) "
                     "VALUES ('ann', 'Singer - Song', ?, 3)", (TRACK_ID,))  # fmt: skip
    assert schema.read_schema_version(conn) == version
    conn.close()
    return {"path": str(path), "copy": str(copy), "vector": vector}


@pytest.mark.parametrize("version", range(1, schema.SCHEMA_VERSION + 1))
def test_a_library_of_every_schema_version_opens_and_migrates(tmp_path, version):
    stored = make_library_at(version, tmp_path / "lib", tmp_path / "music")
    with LibraryStore(tmp_path / "lib", create=False) as store:
        assert store.schema_version == schema.SCHEMA_VERSION
        track = store.get_track(TRACK_ID)
        assert (track["path"], track["status"], track["title"]) == (stored["path"], "ok", "Song")
        assert store.duplicates(TRACK_ID) == [stored["copy"]]
        assert store.descriptors(TRACK_ID)["key"] == "A minor"
        vector, _version = store.embedding(TRACK_ID, DEFAULT_MODEL)
        np.testing.assert_array_equal(vector, stored["vector"])
        plays = store.conn.execute("SELECT count FROM events WHERE user_id = 'ann'").fetchall()
        assert [p[0] for p in plays] == [3]
        report = check_library(store)
    assert not report.remaining("error"), [f.message for f in report.remaining("error")]


def test_the_oldest_library_works_end_to_end_after_migrating(tmp_path, capsys):
    """Version 1, opened by the CLI: listed, checked, and ingested into (its track is kept,
    the missing stages are run on it, its copy stays a copy)."""
    stored = make_library_at(1, tmp_path / "lib", tmp_path / "music")
    lib = str(tmp_path / "lib")
    assert main(["--library", lib, "tracks"]) == 0
    assert "Song" in capsys.readouterr().out
    assert main(["--library", lib, "ingest", str(tmp_path / "music"), "--no-models",
                 "--workers", "1", "-q", "--json"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert '"added": 0' in out and '"failed": 0' in out and '"restaged": 1' in out
    assert main(["--library", lib, "check"]) == 0
    with LibraryStore(tmp_path / "lib", create=False) as store:
        assert [t["id"] for t in store.list_tracks()] == [TRACK_ID]
        assert store.duplicates(TRACK_ID) == [stored["copy"]]
        # the stages it never ran (the fixture records none) ran now, on its own file
        assert {r["stage"] for r in store.stage_runs(TRACK_ID)} >= {"metadata", "descriptors"}
        assert store.descriptors(TRACK_ID)["tempo_bpm"] != 96.0
