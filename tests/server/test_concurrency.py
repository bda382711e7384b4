"""Concurrency on loopback (issue 16): ``songscape serve`` keeps answering while an ingest
writes to its library, a second ingest on the same library is refused with a clear
message, and 200 clients at once get their answers without an error.

The server is the real command in a subprocess (:func:`tests.engines.songscape_serve`)
on a synthetic library with embeddings (so that the map and similar tracks work); the
ingest is the real command in another process, adding real files (synthetic tones,
``--no-models``: metadata and descriptors, one committed transaction per track).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from songscape.catalog.store import LOCK_FILE, LibraryStore
from songscape.cli import main
from songscape.library.check import check_library
from songscape.synthetic.catalogs import build_synthetic_library
from tests.engines import songscape_serve
from tests.helpers import write_tone_file
from tests.server.load import check_answer, run_load

pytest.importorskip("uvicorn")

N_NEW = 3  # files the concurrent ingest adds (about 1 s of CPU each)


def _query_paths(ids: list[str]) -> list[str]:
    """A mix of what the page and API users ask: lists, one track, similar, map, stats."""
    return [
        "/api/stats",
        "/api/tracks?limit=20&status=all",
        f"/api/tracks/{ids[0]}",
        f"/api/tracks/{ids[1]}/similar?k=5",
        "/api/map",
        f"/api/tracks/{ids[2]}/similar?k=10&filter=tempo%3D60..200",
        "/api/tracks?q=s0&status=all",
    ]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("concurrency")
    ids = build_synthetic_library(base / "lib", 40, seed=16, audio_dir=base / "audio", n_audio=3)
    with songscape_serve(base / "lib") as server:
        # the first map runs UMAP and the first similar query builds the index: done here,
        # so that the load sees the steady state
        with httpx.Client(base_url=server.url, timeout=300) as client:
            for path in _query_paths(ids):
                assert client.get(path).status_code == 200, path
        yield base / "lib", ids, server


def _total(client: httpx.Client) -> int:
    response = client.get("/api/tracks?limit=1&status=all")
    assert response.status_code == 200, response.text
    return response.json()["total"]


def _ingest_process(library: Path, folder: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "songscape.cli", "--library", str(library), "ingest",
         str(folder), "--no-models", "--workers", "1", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _assert_check_passes(library: Path) -> None:
    with LibraryStore(library, create=False) as store:
        report = check_library(store)
    assert not report.remaining("error"), [f.message for f in report.remaining("error")]


def test_serve_answers_while_an_ingest_runs(served, tmp_path):
    library, ids, server = served
    folder = tmp_path / "music"
    for i in range(N_NEW):
        write_tone_file(folder / f"s{i:02d}.wav", seed=1600 + i, duration_s=2.0)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        before = _total(client)
        proc = _ingest_process(library, folder)
        seen, rounds, requests, errors = [before], 0, 0, []
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            result = run_load(server.url, _query_paths(ids), clients=4, requests_per_client=2)
            requests += result.requests
            errors += result.errors
            seen.append(_total(client))
            rounds += 1
            time.sleep(0.2)  # leave the ingest some of the 2 shared cores
        out = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))[0]
        assert proc.returncode == 0, out
        after = _total(client)
        new = client.get("/api/tracks?q=s00&status=all").json()["tracks"]
        answers = {p: client.get(p) for p in _query_paths(ids)}
    print(f"{rounds} rounds, {requests} requests during the ingest, totals seen {seen}")
    assert rounds >= 1 and requests > 0, "the ingest ended before any query ran beside it"
    assert errors == []
    assert seen == sorted(seen), "a query saw tracks disappear while the ingest added some"
    assert after == before + N_NEW  # the new tracks appear once committed
    assert [t["filename"] for t in new] == ["s00.wav"]
    for path, response in answers.items():
        assert response.status_code == 200, path
        assert check_answer(path, response.status_code, response.text) is None
    log = "".join(server.log)
    assert "Traceback" not in log and "database is locked" not in log, log[-3000:]
    _assert_check_passes(library)


def _holds_lock(pid: int, lock_file: Path) -> bool:
    """Does process ``pid`` hold an flock on ``lock_file`` (from /proc/locks)?"""
    try:
        inode = os.stat(lock_file).st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        if "->" in fields:  # a waiter, not a holder
            continue
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[4] == str(pid) and \
                fields[5].endswith(f":{inode}"):  # fmt: skip
            return True
    return False


def test_a_second_ingest_on_the_same_library_exits_with_a_clear_message(tmp_path, capsys):
    if not Path("/proc/locks").exists():
        pytest.skip("needs /proc/locks to see when the first ingest holds the lock")
    folder = tmp_path / "music"
    for i in range(2):
        write_tone_file(folder / f"t{i}.wav", seed=1700 + i, duration_s=2.0)
    library = tmp_path / "lib"
    first = _ingest_process(library, folder)
    deadline = time.monotonic() + 120
    while not _holds_lock(first.pid, library / LOCK_FILE):
        assert first.poll() is None, first.communicate()[0]
        assert time.monotonic() < deadline, "the first ingest never took the library's lock"
        time.sleep(0.01)
    code = main(["--library", str(library), "ingest", str(folder), "--no-models",
                 "--workers", "1", "-q"])  # fmt: skip
    err = capsys.readouterr().err
    still_running = first.poll() is None
    out = first.communicate(timeout=300)[0]
    assert still_running, "the first ingest ended before the second one tried"
    assert code == 1
    assert f"library {library} is being modified by another songscape process" in err
    assert "Traceback" not in err
    assert first.returncode == 0, out
    _assert_check_passes(library)
    # once the first one is done, the same command completes: nothing left to do
    assert main(["--library", str(library), "ingest", str(folder), "--no-models", "--json"]) == 0
    assert '"unchanged": 2' in capsys.readouterr().out


def test_200_clients_at_once(served):
    _library, ids, server = served
    result = run_load(server.url, _query_paths(ids), clients=200, requests_per_client=5)
    print(result.summary())
    assert result.requests == 1000
    assert result.errors == [], result.errors[:5]
    assert set(result.statuses) == {200}, result.statuses
