"""Ingestion on real music and bad files: add, unchanged, move, copy, edit, delete, restage."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songscape.catalog.analysis import put_array
from songscape.ingest.pipeline import IngestOptions, WorkerPool
from songscape.ingest.stages import (
    Stage,
    register_stage,
    registered_stages,
    stale_stages,
    unregister_stage,
)
from songscape.library.library import Library
from songscape.models.registry import get_spec
from tests.helpers import gtzan_clips, make_bad_files, shared_data, write_tone_file

INLINE = IngestOptions(workers=1)


def _count(lib: Library, table: str) -> int:
    return lib.store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_ingest_real_music_records_everything(tmp_path, music_folder):
    with Library(tmp_path / "lib", create=True) as lib:
        report = lib.ingest([music_folder], INLINE)
        assert (report.added, report.failed, report.unchanged) == (4, 0, 0)
        tracks = lib.tracks()
        assert len(tracks) == 4 and all(t["status"] == "ok" for t in tracks)
        for t in tracks:
            assert t["format"].startswith("OGG") and t["sample_rate"] == 22050
            assert t["channels"] == 1 and 14 < t["duration_s"] < 21
            assert 40 < t["tempo_bpm"] < 250
            assert t["key"] and t["loudness_lufs"] < -5
            full = lib.track(t["id"])
            beats = np.array(full["descriptors"]["beat_times"])
            assert len(beats) > 10 and np.all(np.diff(beats) > 0)
            assert set(full["descriptors"]["downbeat_times"]) <= set(
                full["descriptors"]["beat_times"]
            )
            assert len(full["descriptors"]["energy_curve"]) == pytest.approx(
                2 * t["duration_s"], abs=3
            )
            assert {s["stage"] for s in full["stages"]} == {s.name for s in registered_stages()} | {
                "embed:musicnn-msd", "windows:musicnn-msd", "tag:musicnn-msd", "tag:musicnn-mtt"
            }
            assert full["embeddings"] == {
                "musicnn-msd": {"version": get_spec("musicnn-msd").version, "dim": 200}
            }
            assert set(full["tags"]) == {"musicnn-msd", "musicnn-mtt"}
        # Arrays are stored as BLOBs, one row per (track, array): 3 descriptor arrays,
        # one taggram per tagging model and the emotion curve.
        assert _count(lib, "arrays") == 4 * (3 + 2 + 1)
        assert _count(lib, "tags") == 4 * 2 * 50
        assert _count(lib, "embeddings") == 4


def test_reingest_is_a_no_op(tmp_path, music_folder):
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([music_folder], INLINE)
        version = lib.store.catalog_version
        report = lib.ingest([music_folder], INLINE)
        assert (report.added, report.updated, report.unchanged) == (0, 0, 4)
        assert report.audio_seconds == 0  # nothing was decoded
        assert lib.store.catalog_version == version


def test_bad_files_are_recorded_and_never_stop_the_batch(tmp_path, music_folder):
    bad = make_bad_files(music_folder / "bad", gtzan_clips(1)[0])
    (music_folder / "cover.jpg").write_bytes(b"\xff\xd8 not scanned: not an audio extension")
    with Library(tmp_path / "lib", create=True) as lib:
        report = lib.ingest([music_folder], IngestOptions(workers=2))
        assert report.added == 4
        assert report.failed == len(bad)
        failed = {Path(t["path"]).name: t["error"] for t in lib.tracks(status="failed")}
        assert set(failed) == {p.name for p in bad.values()}
        assert "empty" in failed["empty.ogg"]
        assert "silent" in failed["silence.wav"].lower()
        assert "short" in failed["blip.wav"].lower()
        assert "truncat" in failed["truncated.ogg"].lower() or "corrupt" in failed["truncated.ogg"]
        for reason in failed.values():
            assert reason and "Traceback" not in reason
        # Failed files are retried (cheaply) and still fail; good ones are untouched.
        again = lib.ingest([music_folder], INLINE)
        assert (again.unchanged, again.failed, again.added) == (4, len(bad), 0)
        assert len(lib.tracks(status="failed")) == len(bad)
        # A fixed file becomes a good track under the same id.
        fixed_id = lib.track(str(bad["zero_byte"]))["id"]
        shutil.copy(gtzan_clips(6)[5], bad["zero_byte"])
        third = lib.ingest([music_folder], INLINE)
        assert third.updated == 1
        assert lib.track(fixed_id)["status"] == "ok"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_is_recorded(tmp_path, music_folder):
    locked = music_folder / "locked.ogg"
    shutil.copy(gtzan_clips(5)[4], locked)
    locked.chmod(0)
    try:
        with Library(tmp_path / "lib", create=True) as lib:
            report = lib.ingest([music_folder], INLINE)
            assert report.failed == 1
            assert "permission" in lib.tracks(status="failed")[0]["error"]
    finally:
        locked.chmod(0o644)


def test_moved_file_keeps_its_id_and_data(tmp_path, music_folder):
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([music_folder], INLINE)
        src = sorted(music_folder.rglob("*.ogg"))[0]
        track = lib.track(str(src))
        dest = music_folder / "renamed" / "moved here.ogg"
        dest.parent.mkdir()
        src.rename(dest)
        report = lib.ingest([music_folder], INLINE)
        assert (report.moved, report.added, report.missing) == (1, 0, 0)
        assert report.audio_seconds == 0  # a move is not re-analysed
        moved = lib.track(str(dest))
        assert moved["id"] == track["id"]
        assert moved["descriptors"] == track["descriptors"]
        assert len(lib.tracks()) == 4


def test_swapped_files_follow_their_content(tmp_path, music_folder):
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([music_folder], INLINE)
        a, b = sorted(music_folder.rglob("*.ogg"))[:2]
        id_a, id_b = lib.track(str(a))["id"], lib.track(str(b))["id"]
        tmp = a.with_suffix(".tmp")
        a.rename(tmp)
        b.rename(a)
        tmp.rename(b)
        report = lib.ingest([music_folder], INLINE)
        assert report.moved == 2 and report.added == 0 and report.missing == 0
        assert lib.track(str(a))["id"] == id_b
        assert lib.track(str(b))["id"] == id_a


def test_copies_are_duplicates_not_new_tracks(tmp_path, music_folder):
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([music_folder], INLINE)
        src = sorted(music_folder.rglob("*.ogg"))[0]
        copy = music_folder / "copy of track.ogg"
        shutil.copy(src, copy)
        report = lib.ingest([music_folder], INLINE)
        assert (report.duplicates, report.added) == (1, 0)
        assert lib.track(str(copy))["id"] == lib.track(str(src))["id"]
        assert str(copy) in lib.track(str(src))["duplicates"]
        assert lib.ingest([music_folder], INLINE).duplicates == 1  # still known, not re-hashed
        assert len(lib.tracks()) == 4


def test_two_identical_new_files_make_one_track(tmp_path, music_folder):
    clip = gtzan_clips(6)[5]
    shutil.copy(clip, music_folder / "x1.ogg")
    shutil.copy(clip, music_folder / "x2.ogg")
    with Library(tmp_path / "lib", create=True) as lib:
        report = lib.ingest([music_folder], INLINE)
        assert (report.added, report.duplicates) == (5, 1)
        assert len(lib.track(str(music_folder / "x1.ogg"))["duplicates"]) == 1


def test_changed_file_is_reanalysed_under_the_same_id(tmp_path, music_folder):
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([music_folder], INLINE)
        target = sorted(music_folder.rglob("*.ogg"))[0]
        before = lib.track(str(target))
        y, sr = sf.read(target)
        sf.write(target, 0.25 * y, sr, format="OGG", subtype="VORBIS")  # 12 dB quieter
        report = lib.ingest([music_folder], INLINE)
        assert (report.updated, report.added, report.unchanged) == (1, 0, 3)
        after = lib.track(str(target))
        assert after["id"] == before["id"]
        assert after["content_hash"] != before["content_hash"]
        assert after["loudness_lufs"] == pytest.approx(before["loudness_lufs"] - 12.0, abs=1.0)


def test_deleted_file_becomes_missing_and_comes_back(tmp_path, music_folder):
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([music_folder], INLINE)
        target = sorted(music_folder.rglob("*.ogg"))[0]
        track_id = lib.track(str(target))["id"]
        stash = tmp_path / "stash.ogg"
        target.rename(stash)
        report = lib.ingest([music_folder], INLINE)
        assert report.missing == 1
        assert lib.track(track_id)["status"] == "missing"
        assert len(lib.tracks(status="ok")) == 3
        stash.rename(target)
        lib.ingest([music_folder], INLINE)
        assert lib.track(track_id)["status"] == "ok"


def test_remove_forgets_a_track(tmp_path, music_folder):
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([music_folder], INLINE)
        victim = lib.tracks()[0]
        lib.remove(victim["id"])
        assert victim["id"] not in {t["id"] for t in lib.tracks()}
        assert _count(lib, "descriptors") == 3 and _count(lib, "arrays") == 3 * 6
        assert _count(lib, "embeddings") == 3 and _count(lib, "tags") == 3 * 100
        assert Path(victim["path"]).exists()  # the file is untouched


class _CountingStage(Stage):
    """A test stage that records the tracks it ran on (inline workers only)."""

    name = "counting"
    version = 1
    requires = ("descriptors",)
    calls: list[str] = []

    def run(self, ctx):
        type(self).calls.append(ctx.path.name)
        return float(ctx.audio().std())

    def save(self, conn, track_id, payload):
        put_array(conn, track_id, "counting", np.float64(payload))


@pytest.fixture
def counting_stage():
    stage = _CountingStage()
    _CountingStage.calls = []
    register_stage(stage)
    yield stage
    unregister_stage(stage.name)


def test_new_stage_and_version_bump_rerun_only_that_stage(tmp_path, music_folder):
    with Library(tmp_path / "lib", create=True) as lib:
        lib.ingest([music_folder], INLINE)
        desc_times = dict(
            lib.store.conn.execute(
                "SELECT track_id, updated_at FROM stage_runs WHERE stage = 'descriptors'"
            ).fetchall()
        )
        stage = _CountingStage()
        _CountingStage.calls = []
        register_stage(stage)
        try:
            report = lib.ingest([music_folder], INLINE)
            assert report.restaged == 4 and len(_CountingStage.calls) == 4
            assert lib.ingest([music_folder], INLINE).restaged == 0
            stage.version = 2
            report = lib.ingest([music_folder], INLINE)
            assert report.restaged == 4 and len(_CountingStage.calls) == 8
            versions = lib.store.conn.execute(
                "SELECT DISTINCT version FROM stage_runs WHERE stage = 'counting'"
            ).fetchall()
            assert [v[0] for v in versions] == [2]
            after = dict(
                lib.store.conn.execute(
                    "SELECT track_id, updated_at FROM stage_runs WHERE stage = 'descriptors'"
                ).fetchall()
            )
            assert after == desc_times  # descriptors were not recomputed
        finally:
            unregister_stage(stage.name)


def test_stale_stages_follow_requirements():
    names = [s.name for s in registered_stages()]
    assert names[:2] == ["metadata", "descriptors"]
    assert stale_stages({}) == names
    current = {s.name: (s.version, "done") for s in registered_stages()}
    assert stale_stages(current) == []
    assert stale_stages({**current, "metadata": (current["metadata"][0], "failed")}) == ["metadata"]


def test_register_stage_validates(counting_stage):
    with pytest.raises(ValueError, match="already registered"):
        register_stage(_CountingStage())
    with pytest.raises(ValueError, match="required by"):
        unregister_stage("descriptors")


def test_long_files_are_rejected_before_decoding(tmp_path):
    folder = tmp_path / "music"
    write_tone_file(folder / "long.wav", seed=1, duration_s=12.0)
    with Library(tmp_path / "lib", create=True) as lib:
        report = lib.ingest([folder], IngestOptions(workers=1, max_duration_s=10.0))
        assert report.failed == 1
        assert "10" in report.failures[0]["error"] and "long" in report.failures[0]["error"]
        assert report.audio_seconds == 0


def test_executor_survives_a_crashing_worker(tmp_path, monkeypatch):
    # A module the spawned workers can import (they inherit sys.path).
    (tmp_path / "crashy_mod.py").write_text(
        "import os\n"
        "def maybe_crash(x):\n"
        "    if x == 'boom':\n"
        "        os._exit(3)\n"
        "    return x.upper()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import crashy_mod

    executor = WorkerPool(workers=2)
    try:
        items = ["a", "b", "boom", "c", "d", "e"]
        results = dict(
            executor.map_unordered(crashy_mod.maybe_crash, items, on_crash=lambda x: "X")
        )
    finally:
        executor.close()
    assert results == {"a": "A", "b": "B", "boom": "X", "c": "C", "d": "D", "e": "E"}


def test_kill_9_during_ingest_then_rerun_completes(tmp_path):
    folder = tmp_path / "music"
    n_files = 24
    for i in range(n_files):
        write_tone_file(folder / f"song{i:02d}.wav", seed=100 + i, duration_s=8.0)
    lib_dir = tmp_path / "lib"
    cmd = [sys.executable, "-m", "songscape.cli", "--library", str(lib_dir), "ingest",
           str(folder), "--workers", "2", "--json"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    catalog = lib_dir / "catalog.sqlite"
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if catalog.exists():
            try:
                with sqlite3.connect(catalog, timeout=1) as conn:
                    committed = conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
            except sqlite3.Error:
                committed = 0
            if committed >= 3:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "ingest finished before it could be killed; use more files"
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its workers, no cleanup at all
    proc.wait()

    with Library(lib_dir) as lib:
        assert lib.store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        partial = lib.tracks()
        assert 3 <= len(partial) < n_files
        # Every recorded track is complete: descriptors and all stage runs present.
        for t in partial:
            assert t["status"] == "ok" and t["tempo_bpm"] is not None
        report = lib.ingest([folder], IngestOptions(workers=2))
        assert report.unchanged == len(partial)
        assert report.added == n_files - len(partial)
        assert report.failed == 0
        assert len(lib.tracks()) == n_files
        ids = [t["id"] for t in lib.tracks()]
        assert len(set(ids)) == n_files
        assert _count(lib, "descriptors") == n_files


def test_jamendo_tags_and_non_ascii_names(tmp_path):
    folder = shared_data("jamendolyrics_subset10", "audio")
    files = sorted(folder.glob("*.ogg"))[:3]
    with Library(tmp_path / "lib", create=True) as lib:
        report = lib.ingest(files, IngestOptions(workers=1))
        assert report.added == len(files) and report.failed == 0
        for t in lib.tracks():
            assert t["duration_s"] > 100
            assert lib.track(t["path"])["id"] == t["id"]


def test_unreadable_file_is_recorded_even_as_root(tmp_path, music_folder, monkeypatch):
    # Root ignores permission bits, so simulate the OS refusing to read one file.
    from songscape.ingest import work

    locked = sorted(music_folder.rglob("*.ogg"))[0]
    real_hash = work.content_hash

    def refusing_hash(path, *args, **kwargs):
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_hash(path, *args, **kwargs)

    monkeypatch.setattr(work, "content_hash", refusing_hash)
    with Library(tmp_path / "lib", create=True) as lib:
        report = lib.ingest([music_folder], INLINE)
        assert (report.added, report.failed) == (3, 1)
        assert lib.tracks(status="failed")[0]["error"] == "permission denied"


def test_empty_file_beside_a_dangling_symlink_reingests(tmp_path):
    # Issue 16: each alone was handled; together the second run failed with
    # "UNIQUE constraint failed: tracks.path" (a failed track and an unreadable file
    # both have no content hash, and None matched None).
    folder = tmp_path / "music"
    folder.mkdir()
    (folder / "empty.wav").write_bytes(b"")
    (folder / "dangling.ogg").symlink_to(tmp_path / "gone.ogg")
    with Library(tmp_path / "lib", create=True) as lib:
        for _ in range(3):
            report = lib.ingest([folder], INLINE)
            assert (report.failed, report.added, report.updated) == (2, 0, 0)
            assert len(lib.tracks()) == 2
            errors = sorted(t["error"] for t in lib.tracks(status="failed"))
            assert errors == [f"broken symbolic link (to {tmp_path / 'gone.ogg'})",
                              "empty file (0 bytes)"]  # fmt: skip
