"""``ingest --engine ray`` on a real local Ray cluster (``ray start --head`` on free loopback
ports, one per test session, shared with the other Ray tests: ``ray_address`` in
tests/conftest.py): the same catalog as the local engine, and a killed worker or a killed
driver costs nothing but a re-run."""

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

pytest.importorskip("ray")

from songscape.catalog.store import LibraryStore  # noqa: E402
from songscape.errors import LibraryError  # noqa: E402
from songscape.ingest.pipeline import IngestOptions  # noqa: E402
from songscape.library.library import Library  # noqa: E402
from tests.built_once import copy_library, four_clips_ingested  # noqa: E402
from tests.helpers import gtzan_clips  # noqa: E402

ACTOR = b"ray::_AnalysisActor"
N_CLIPS = 4


@pytest.fixture(scope="module")
def music(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("music")
    for clip in gtzan_clips(N_CLIPS):
        dest = folder / clip.parent.name / clip.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(clip, dest)
    return folder


def _actor_pids() -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "cmdline").read_bytes().startswith(ACTOR):
                    pids.append(int(d.name))
            except OSError:
                continue
    return pids


def _snapshot(lib: Library) -> tuple[dict, dict]:
    descriptors = {}
    for t in lib.tracks():
        row = dict(lib.store.descriptors(t["id"]) or {})
        descriptors[t["id"]] = {k: v for k, v in row.items()
                                if isinstance(v, float | int) and k != "track_id"}  # fmt: skip
    data = lib.embeddings(lib.default_model)
    return descriptors, dict(zip(data["ids"], data["vectors"], strict=True))


def _healthy(lib: Library, n: int) -> None:
    tracks = lib.tracks()
    assert len(tracks) == n and len({t["id"] for t in tracks}) == n  # no duplicates
    assert all(t["status"] == "ok" for t in tracks), [t["error"] for t in tracks]
    assert lib.check().ok


class _KillOneWorker:
    """Progress that SIGKILLs one Ray analysis actor when the first track is saved."""

    def __init__(self) -> None:
        self.analysing = False
        self.killed: list[int] = []

    def phase(self, name: str, total: int) -> None:
        self.analysing = name == "analyse"

    def advance(self, n: int = 1) -> None:
        if self.analysing and not self.killed:
            pids = _actor_pids()
            assert pids, "no Ray analysis actor found"
            os.kill(pids[0], signal.SIGKILL)
            self.killed.append(pids[0])


def test_ray_ingest_equals_local_even_with_a_killed_worker(
    tmp_path, tmp_path_factory, worker_id, music, ray_address
):
    # The local engine's library of the same 4 clips, ingested once per test run (the
    # track ids follow the content, so the copy in ``music`` gets the same ones).
    local_dir = four_clips_ingested(tmp_path_factory, worker_id) / "lib"
    with Library(copy_library(local_dir, tmp_path / "local")) as lib:
        local = _snapshot(lib)
    progress = _KillOneWorker()
    with Library(tmp_path / "ray", create=True) as lib:
        options = IngestOptions(workers=2, engine="ray", ray_address=ray_address)
        report = lib.ingest([music], options, progress)
        assert progress.killed  # a worker died mid-run: its files were retried
        assert report.added == N_CLIPS and report.failed == 0
        remote = _snapshot(lib)
        _healthy(lib, N_CLIPS)
    assert set(remote[0]) == set(local[0]) and set(remote[1]) == set(local[1])  # same ids
    for tid, fields in local[0].items():
        assert fields.keys() == remote[0][tid].keys()
        for key, value in fields.items():
            assert remote[0][tid][key] == pytest.approx(value, abs=1e-6, rel=1e-6), key
    for tid, vec in local[1].items():
        np.testing.assert_allclose(remote[1][tid], vec, atol=1e-5)


def test_a_killed_driver_resumes(tmp_path, music, ray_address) -> None:
    root = tmp_path / "lib"
    exe = str(Path(sys.executable).with_name("songscape"))
    cmd = [exe, "--library", str(root), "ingest", str(music), "--engine", "ray",
           "--ray-address", ray_address, "--workers", "1", "-q"]  # fmt: skip
    driver = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    done = 0
    while time.time() < deadline and driver.poll() is None:
        if (root / "catalog.sqlite").exists():
            try:  # read-only: never races the driver that is creating the catalog
                with LibraryStore(root, create=False, readonly=True) as store:
                    done = sum(t["status"] == "ok" for t in store.list_tracks())
            except (LibraryError, sqlite3.Error):
                done = 0  # not created yet
            if done >= 1:
                break
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    assert 1 <= done < N_CLIPS, "the driver finished before it could be killed"
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    with Library(root) as lib:
        _healthy(lib, N_CLIPS)


def test_the_pool_runs_on_a_private_ray_unless_given_an_address(ray_address, tmp_path,
                                                               monkeypatch) -> None:  # fmt: skip
    """Without an address the pool never joins the cluster Ray's discovery would find
    (``RAY_ADDRESS`` names it here) and leaves no token file behind; with one, it joins."""
    from songscape.ingest.ray_engine import RayPool
    from songscape.training.ray_runtime import AUTH_ENV

    for name in AUTH_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # where Ray would write ~/.ray/auth_token
    monkeypatch.setenv("RAY_ADDRESS", ray_address)
    port = ray_address.rsplit(":", 1)[1]
    pool = RayPool(1)
    try:
        assert pool.connect().rsplit(":", 1)[1] != port
    finally:
        pool.close()
    assert not (tmp_path / ".ray").exists()
    assert all(name not in os.environ for name in AUTH_ENV)
    pool = RayPool(1, ray_address)
    try:
        assert pool.connect().rsplit(":", 1)[1] == port
    finally:
        pool.close()
