"""Plain regression tests for the bugs the stateful ingest test found (issue 16), each on
the smallest folder that showed it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from songscape.ingest.pipeline import IngestOptions
from songscape.ingest.work import hash_file
from songscape.library.library import Library
from tests.helpers import shared_data

NO_MODELS = IngestOptions(workers=1, embed_models=(), tag_models=())


def _clip(n: int = 3) -> Path:
    return shared_data("mir1k_half", "audio", f"Ani_1_0{n}.ogg")


def _rows(lib: Library) -> dict[str, tuple[str, str | None]]:
    """``{path: (status, error)}`` of the live tracks."""
    return {t["path"]: (t["status"], t["error"]) for t in lib.tracks() if t["status"] != "missing"}


def _ingest_twice(lib: Library, folder: Path) -> None:
    for _ in range(2):
        report = lib.ingest([folder], NO_MODELS)
        assert not report.interrupted
        assert lib.check().ok, [f.message for f in lib.check().findings]


def test_looping_symlinks_are_failed_files_not_a_crash(tmp_path):
    """Bug: a link loop raised RuntimeError ('Symlink loop') out of the scanner."""
    folder = tmp_path / "music"
    folder.mkdir()
    (folder / "a.mp3").symlink_to(folder / "b.flac")
    (folder / "b.flac").symlink_to(folder / "a.mp3")
    with Library(tmp_path / "lib", create=True) as lib:
        _ingest_twice(lib, folder)
        rows = _rows(lib)
    assert set(rows) == {str(folder / "a.mp3"), str(folder / "b.flac")}
    assert all(status == "failed" and error == "symbolic link loop" for status, error in
               rows.values())  # fmt: skip


def test_a_dangling_symlink_is_reported_at_its_own_path(tmp_path):
    """Leftover of the original bug: the link was recorded under its target's path."""
    folder = tmp_path / "music"
    folder.mkdir()
    (folder / "dangling.ogg").symlink_to(tmp_path / "gone" / "x.ogg")
    (folder / "empty.wav").write_bytes(b"")
    with Library(tmp_path / "lib", create=True) as lib:
        _ingest_twice(lib, folder)
        rows = _rows(lib)
    status, error = rows[str(folder / "dangling.ogg")]
    assert status == "failed" and error.startswith("broken symbolic link")
    assert str(tmp_path / "gone" / "x.ogg") not in rows
    assert rows[str(folder / "empty.wav")][0] == "failed"


def test_a_fifo_named_like_audio_does_not_hang_ingest(tmp_path):
    """Bug: fingerprinting opened the FIFO and blocked forever."""
    folder = tmp_path / "music"
    folder.mkdir()
    os.mkfifo(folder / "pipe.mp3")
    shutil.copy(_clip(), folder / "real.ogg")
    with Library(tmp_path / "lib", create=True) as lib:
        _ingest_twice(lib, folder)
        rows = _rows(lib)
    assert rows[str(folder / "pipe.mp3")] == (
        "failed", "not a regular file (a FIFO, socket or device)"
    )
    assert rows[str(folder / "real.ogg")][0] == "ok"


def test_copies_of_a_broken_file_are_each_failed_not_duplicates(tmp_path):
    """Bug: the second copy of a broken file was counted (and on the next run recorded) as
    a duplicate of the failed track."""
    folder = tmp_path / "music"
    folder.mkdir()
    for name in ("a.mp3", "b.mp3"):
        (folder / name).write_text("not audio at all\n" * 20)
    with Library(tmp_path / "lib", create=True) as lib:
        report = lib.ingest([folder], NO_MODELS)
        assert (report.failed, report.duplicates) == (2, 0)
        failed = {f["path"] for f in report.failures}
        assert failed == {str(folder / "a.mp3"), str(folder / "b.mp3")}
        _ingest_twice(lib, folder)
        rows = _rows(lib)
        assert lib.store.conn.execute("SELECT COUNT(*) FROM duplicates").fetchone()[0] == 0
    assert [s for s, _ in rows.values()] == ["failed", "failed"]


def test_a_copy_of_new_content_over_a_known_file_is_recorded_at_once(tmp_path):
    """Bug: a track's file overwritten by a copy of new content stayed 'ok' at its path (its
    content gone), and the copy was recorded as a duplicate only one run later."""
    folder = tmp_path / "music"
    folder.mkdir()
    shutil.copy(_clip(3), folder / "a.ogg")
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([folder], NO_MODELS)
        [old] = lib.tracks()
        shutil.copy(_clip(4), folder / "b.ogg")  # new content, and ...
        shutil.copy(_clip(4), folder / "a.ogg")  # ... a copy of it over a.ogg
        report = lib.ingest([folder], NO_MODELS)
        assert report.duplicates == 1
        tracks = {t["id"]: t for t in lib.tracks()}
        assert lib.check().ok
        dups = lib.store.conn.execute("SELECT path, track_id FROM duplicates").fetchall()
    healthy = [t for t in tracks.values() if t["status"] == "ok"]
    assert len(healthy) == 1 and len(dups) == 1
    assert dups[0]["track_id"] == healthy[0]["id"]
    assert {healthy[0]["path"], dups[0]["path"]} == {str(folder / "a.ogg"), str(folder / "b.ogg")}
    # the first content is gone from the folder: its track is either updated in place or missing
    assert old["id"] == healthy[0]["id"] or tracks[old["id"]]["status"] == "missing"


def test_a_copy_overwritten_by_a_broken_file_is_no_longer_a_duplicate(tmp_path):
    """Bug (long profile of the stateful test): a recorded duplicate whose file then got
    other content kept its duplicate record beside the new failed (or new) track."""
    folder = tmp_path / "music"
    folder.mkdir()
    shutil.copy(_clip(3), folder / "a.ogg")
    shutil.copy(_clip(3), folder / "b.ogg")
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([folder], NO_MODELS)
        assert lib.store.conn.execute("SELECT COUNT(*) FROM duplicates").fetchone()[0] == 1
        (folder / "b.ogg").write_bytes(b"\0\1" * 3000)  # now a broken file
        _ingest_twice(lib, folder)
        assert lib.store.conn.execute("SELECT COUNT(*) FROM duplicates").fetchone()[0] == 0
        assert _rows(lib)[str(folder / "b.ogg")][0] == "failed"
        shutil.copy(_clip(4), folder / "b.ogg")  # now new, good content
        _ingest_twice(lib, folder)
        assert lib.store.conn.execute("SELECT COUNT(*) FROM duplicates").fetchone()[0] == 0
        assert [s for s, _ in _rows(lib).values()] == ["ok", "ok"]


def test_a_vanished_file_with_copies_moves_to_a_copy_instead_of_going_missing(tmp_path):
    """Bug (long profile): a track whose file was deleted (re-encoded) while recorded copies
    of it remained went missing, its copies recorded as duplicates of a missing track."""
    folder = tmp_path / "music"
    folder.mkdir()
    shutil.copy(_clip(3), folder / "a.ogg")
    shutil.copy(_clip(3), folder / "b.ogg")
    shutil.copy(_clip(3), folder / "c.ogg")
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([folder], NO_MODELS)
        [track] = lib.tracks()
        (folder / track["path"]).unlink()
        report = lib.ingest([folder], NO_MODELS)
        assert (report.moved, report.missing) == (1, 0)
        [moved] = lib.tracks()
        assert moved["id"] == track["id"] and moved["status"] == "ok"
        assert moved["path"] != track["path"] and Path(moved["path"]).exists()
        assert lib.store.duplicates(moved["id"]) == sorted(
            str(p) for p in folder.iterdir() if str(p) != moved["path"]
        )
        assert lib.check().ok


def content_hash_of(path: Path) -> str:
    """The content hash ingest records (:func:`songscape.ingest.work.hash_file`)."""
    return hash_file(str(path))[1]


def _duplicates(lib: Library) -> dict[str, str]:
    """``{path: track id}`` of the recorded duplicates."""
    rows = lib.store.conn.execute("SELECT path, track_id FROM duplicates").fetchall()
    return {r["path"]: r["track_id"] for r in rows}


def test_a_file_edited_in_place_leaves_its_old_content_to_a_copy(tmp_path):
    """Bug (long profile): a track's file edited in place (new content, same path) while a
    recorded copy of its old content remained: the copy stayed a duplicate of a track that
    no longer had that content. The track (and its data) follows its content to the copy;
    the edited file becomes a new track."""
    folder = tmp_path / "music"
    folder.mkdir()
    for name in ("a.ogg", "b.ogg", "c.ogg"):
        shutil.copy(_clip(3), folder / name)
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([folder], NO_MODELS)
        [old] = lib.tracks()
        assert old["path"] == str(folder / "a.ogg")
        assert set(_duplicates(lib)) == {str(folder / "b.ogg"), str(folder / "c.ogg")}
        shutil.copy(_clip(4), folder / "a.ogg")  # an edit: new content, same path
        report = lib.ingest([folder], NO_MODELS)
        assert (report.added, report.moved, report.missing) == (1, 1, 0)
        rows = {t["path"]: t for t in lib.tracks()}
        assert set(rows) == {str(folder / "a.ogg"), str(folder / "b.ogg")}
        assert all(t["status"] == "ok" for t in rows.values())
        assert rows[str(folder / "b.ogg")]["id"] == old["id"]  # kept its id and data
        hashes = dict(lib.store.conn.execute("SELECT path, content_hash FROM tracks"))
        assert hashes[str(folder / "b.ogg")] == content_hash_of(folder / "b.ogg")
        assert hashes[str(folder / "a.ogg")] == content_hash_of(folder / "a.ogg")
        assert _duplicates(lib) == {str(folder / "c.ogg"): old["id"]}
        assert lib.check().ok, [f.message for f in lib.check().findings]
        _ingest_twice(lib, folder)  # and it stays so
        assert _duplicates(lib) == {str(folder / "c.ogg"): old["id"]}
        assert len(lib.tracks()) == 2


def test_a_file_turned_broken_in_place_leaves_its_content_to_a_copy(tmp_path):
    """The same with the track's file overwritten by a broken one: the file is a failed
    track at its own path and the track lives on at its copy."""
    folder = tmp_path / "music"
    folder.mkdir()
    shutil.copy(_clip(3), folder / "a.ogg")
    shutil.copy(_clip(3), folder / "b.ogg")
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([folder], NO_MODELS)
        [old] = lib.tracks()
        (folder / "a.ogg").write_bytes(b"\0\1" * 3000)
        lib.ingest([folder], NO_MODELS)
        assert lib.check().ok, [f.message for f in lib.check().findings]
        rows = _rows(lib)
        assert rows[str(folder / "a.ogg")][0] == "failed"
        assert rows[str(folder / "b.ogg")] == ("ok", None)
        assert lib.store.conn.execute(
            "SELECT path FROM tracks WHERE id = ?", (old["id"],)
        ).fetchone()[0] == str(folder / "b.ogg")
        assert _duplicates(lib) == {}


def test_a_file_overwritten_by_another_known_track_leaves_its_content_to_a_copy(tmp_path):
    """The same with the track's file overwritten by a copy of another track: it becomes
    that track's duplicate, and the first track moves to its own copy (not missing)."""
    folder = tmp_path / "music"
    folder.mkdir()
    shutil.copy(_clip(3), folder / "a.ogg")
    shutil.copy(_clip(3), folder / "b.ogg")
    shutil.copy(_clip(4), folder / "x.ogg")
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([folder], NO_MODELS)
        first = lib.store.conn.execute(
            "SELECT id FROM tracks WHERE path = ?", (str(folder / "a.ogg"),)
        ).fetchone()[0]
        other = lib.store.conn.execute(
            "SELECT id FROM tracks WHERE path = ?", (str(folder / "x.ogg"),)
        ).fetchone()[0]
        shutil.copy(_clip(4), folder / "a.ogg")
        report = lib.ingest([folder], NO_MODELS)
        assert (report.moved, report.missing) == (1, 0)
        assert lib.check().ok, [f.message for f in lib.check().findings]
        paths = {t["id"]: (t["path"], t["status"]) for t in lib.tracks()}
        assert paths == {first: (str(folder / "b.ogg"), "ok"), other: (str(folder / "x.ogg"), "ok")}
        assert _duplicates(lib) == {str(folder / "a.ogg"): other}


def test_a_file_edited_in_place_then_copied_leaves_its_old_content_to_a_copy(tmp_path):
    """The long profile's case: the edited file was also copied to a path scanned before
    it, so the edit became a copy of new content, and the track went missing beside its
    own unchanged copy ("recorded as a copy of missing track")."""
    folder = tmp_path / "music"
    folder.mkdir()
    shutil.copy(_clip(3), folder / "m.ogg")
    shutil.copy(_clip(3), folder / "z.ogg")
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([folder], NO_MODELS)
        [old] = lib.tracks()
        assert old["path"] == str(folder / "m.ogg")
        shutil.copy(_clip(4), folder / "m.ogg")  # edited in place ...
        shutil.copy(folder / "m.ogg", folder / "a.ogg")  # ... and copied
        report = lib.ingest([folder], NO_MODELS)
        assert (report.added, report.moved, report.missing, report.duplicates) == (1, 1, 0, 1)
        assert lib.check().ok, [f.message for f in lib.check().findings]
        rows = {t["path"]: t["id"] for t in lib.tracks()}
        assert rows[str(folder / "z.ogg")] == old["id"]
        assert _duplicates(lib) == {str(folder / "m.ogg"): rows[str(folder / "a.ogg")]}
        assert set(rows) == {str(folder / "a.ogg"), str(folder / "z.ogg")}
