"""``songscape serve`` shows what an ingest in another process commits, without a restart
(issue 16): the new track's embedding reaches the map, the track and window (segment)
indexes of similar tracks, the distances and text search.

The server is the real command (:func:`tests.engines.songscape_serve`) on a small
synthetic library (12 tracks: the map is a PCA, no UMAP to compile) in which one track
also has 10 s window vectors, so that segment search is live before the ingest; the
ingest is the real ``songscape ingest`` (models on) of one short tagged file. The server
is queried while the ingest runs (its caches then hold intermediate catalog versions)
and afterwards.

Before the fix the server's window index kept the size it had when first opened: the
segment search of the windowed track fetched only as many windows as it had then (its
own, excluded), and the new track never appeared (``tests/library/test_live_indexes.py``
shows the same for the track index's size).
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import mutagen
import numpy as np
import pytest

from songscape.catalog import windows as window_rows
from songscape.catalog.store import LibraryStore
from songscape.models.registry import get_spec
from songscape.synthetic.catalogs import build_synthetic_library
from tests.engines import songscape_serve
from tests.helpers import write_tone_file
from tests.server.load import check_answer

pytest.importorskip("uvicorn")

MODEL = "musicnn-msd"

#: ``python -c`` program: import the CLI and an ingest's heavy modules, say ``ready``, wait
#: for a line on stdin, then run ``songscape ARGS`` (the real command, in this process).
PRIMED_CLI = (
    "import sys; from songscape.cli import main; import torch, librosa; "
    "import songscape.ingest.pipeline, songscape.ingest.model_stages; "
    "print('ready', flush=True); sys.stdin.readline(); sys.exit(main(sys.argv[1:]))"
)


def _give_windows(root, track_id: str) -> None:
    """Three window vectors of ``track_id`` near its embedding (as a song's windows are)."""
    spec = get_spec(MODEL)
    with LibraryStore(root, create=False) as store, store.transaction() as conn:
        vector = store.embedding(track_id, MODEL)[0]
        rng = np.random.default_rng(7)
        noise = 0.05 * np.linalg.norm(vector) * rng.standard_normal((3, len(vector)))
        window_rows.put_windows(conn, track_id, MODEL, spec.version, np.array([0.0, 5.0, 10.0]),
                                (vector + noise).astype(np.float32), 10.0, 5.0)  # fmt: skip
        store.bump_catalog_version(conn)


def _ids(response: httpx.Response, key: str = "results") -> list[str]:
    assert response.status_code == 200, response.text[:500]
    return [r["id"] for r in response.json()[key]]


def test_new_embeddings_reach_a_running_server(tmp_path):
    root = tmp_path / "lib"
    ids = build_synthetic_library(root, 12, seed=161)
    _give_windows(root, ids[0])
    new_file = write_tone_file(tmp_path / "music" / "tide.flac", seed=1616, duration_s=3.0)
    tags = mutagen.File(new_file)
    tags["title"], tags["artist"] = "Lighthouse Tide", "Nadia Quill"
    tags.save()
    queries = [
        "/api/map",
        f"/api/tracks/{ids[0]}/similar?k=20",
        f"/api/tracks/{ids[0]}/similar?k=20&by=segment",
        f"/api/tracks/{ids[0]}/distances",
        "/api/search?q=Nadia%20Quill&k=3",
        "/api/tracks?limit=100&status=all",
    ]
    t0 = time.monotonic()
    # The ingest process starts first and imports what an ingest uses (torch, librosa,
    # the stages) while the server starts, then waits for the word to run the command.
    proc = subprocess.Popen(
        [sys.executable, "-c", PRIMED_CLI, "--library", str(root), "ingest",
         str(new_file.parent), "--workers", "1", "-q"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        with songscape_serve(root) as server, httpx.Client(base_url=server.url, timeout=120) as c:
            # the map, the vectors and both indexes cached before the ingest (the text
            # model loads during it: 10 s or more here, run beside the ingest)
            before = {q: c.get(q) for q in queries if not q.startswith("/api/search")}
            assert all(r.status_code == 200 for r in before.values()), before
            assert _ids(before[queries[2]]) == []  # only its own windows so far
            primed = [proc.stdout.readline()]  # (import warnings may come first)
            while primed[-1] not in ("ready\n", ""):
                primed.append(proc.stdout.readline())
            assert primed[-1] == "ready\n", "".join(primed)
            t1 = time.monotonic()
            proc.stdin.write("go\n")
            proc.stdin.close()
            during = 0
            while proc.poll() is None:  # the server answers while the ingest writes
                for q in queries:
                    r = c.get(q)
                    assert check_answer(q, r.status_code, r.text) is None
                    during += 1
                time.sleep(1.0)
            assert proc.wait() == 0, proc.stdout.read()
            t2 = time.monotonic()
            listed = c.get("/api/tracks?q=Lighthouse&status=all").json()["tracks"]
            assert [t["title"] for t in listed] == ["Lighthouse Tide"]
            new = listed[0]["id"]
            after = {q: c.get(q) for q in queries}
            mine = c.get(f"/api/tracks/{new}/similar?k=5")
            segments = c.get(f"/api/tracks/{new}/similar?k=5&by=segment")
    finally:
        if proc.poll() is None:  # a failure before the ingest ran: it waits for stdin
            proc.kill()
            proc.wait()
    print(
        f"server up and warm {t1 - t0:.1f} s, ingest {t2 - t1:.1f} s; "
        f"{during} requests answered during the ingest"
    )
    assert new in after["/api/map"].json()["ids"]
    assert after["/api/map"].json()["n"] == 13
    assert new in _ids(after[queries[1]])
    assert new in _ids(after[queries[2]])  # the window index followed the ingest
    assert new in after[queries[3]].json()["ids"]
    assert _ids(after[queries[4]])[0] == new
    assert len(_ids(mine)) == 5 and new not in _ids(mine)
    assert ids[0] in _ids(segments)
    log = "".join(server.log)
    assert "Traceback" not in log and "database is locked" not in log, log[-3000:]
