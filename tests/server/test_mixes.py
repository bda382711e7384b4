"""``/api/mixes`` (issue 13): a mix planned, rendered in the background, served with
Range requests, listed again after a restart; and every refusal (404, 422, 400, 409, 429)
with the usual ``{"error": message}`` shape. On a real library of four GTZAN clips
(tests/server/mix_library.py); mixes of highlights, about 40 s of audio each."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from songscape.catalog import tracks as tracks_db
from songscape.catalog.store import LibraryStore
from songscape.server.app import create_app
from songscape.server.mix_jobs import MixJobs, QueueFullError
from tests.server.mix_library import mix_library


@pytest.fixture(scope="module")
def lib_root(tmp_path_factory, worker_id) -> Path:
    return mix_library(tmp_path_factory, worker_id, tmp_path_factory.mktemp("mixapi") / "lib")


@pytest.fixture(scope="module")
def ids(lib_root) -> list[str]:
    with LibraryStore(lib_root) as store:
        return [r["id"] for r in store.conn.execute("SELECT id FROM tracks ORDER BY path")]


@pytest.fixture(scope="module")
def client(lib_root):
    with TestClient(create_app(lib_root)) as c:
        yield c


def _error(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    return body["error"]


def _wait_done(client, url: str, timeout: float = 60.0) -> tuple[dict, list[float]]:
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(url).json()
        seen.append(body["progress"])
        if body["status"] in ("done", "failed"):
            return body, seen
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def _finished(client, ids) -> dict:
    """A mix of three tracks' highlights, in the order given, rendered."""
    r = client.post("/api/mixes", json={"tracks": ids[:3], "segments": "highlight"})
    assert r.status_code == 202, r.text
    first = r.json()
    assert first["status"] in ("queued", "rendering") and first["audio_url"] is None
    assert r.headers["location"] == first["url"] == f"/api/mixes/{first['id']}"
    body, progress = _wait_done(client, first["url"])
    assert body["status"] == "done", body["error"]
    assert progress == sorted(progress) and progress[-1] == 1.0
    return body


def _check_plan(finished, ids, lib_root):
    plan = finished["plan"]
    assert [s["track_id"] for s in plan["segments"]] == ids[:3]  # the order asked for
    assert all(s["part"] == "highlight" for s in plan["segments"])
    # No server paths in the answer: file names only.
    assert all("path" not in s and s["filename"].endswith(".ogg") for s in plan["segments"])
    assert "files" not in plan and "path" not in finished["render"]
    assert len(plan["transitions"]) == 2
    for t in plan["transitions"]:
        assert t["kind"] in ("beatmatched", "fade") and t["mix_end_s"] > t["mix_start_s"]
        assert set(t["parts"]) >= {"tempo", "key"}
    # Files beside each other in the library's mixes/ folder.
    folder = lib_root / "mixes"
    mix_id = finished["id"]
    assert {p.name for p in folder.glob(f"*{mix_id}*")} == {
        f"{mix_id}{suffix}" for suffix in (".ogg", ".json", ".cue", ".m3u8")}  # fmt: skip
    assert finished["downloads"] == {"audio": f"{mix_id}.ogg", "cue": f"{mix_id}.cue",
                                     "m3u8": f"{mix_id}.m3u8"}  # fmt: skip


def _check_audio_ranges_head_etag(client, finished):
    url = finished["audio_url"]
    whole = client.get(url)
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/ogg"
    y, sr = sf.read(io.BytesIO(whole.content))
    assert abs(len(y) / sr - finished["plan"]["duration_s"]) < 0.01 * finished["duration_s"]
    part = client.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == whole.content[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(whole.content)}"
    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    _error(client.get(url, headers={"Range": f"bytes={len(whole.content) + 5}-"}), 416)
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(whole.content))
    assert client.get(url, headers={"If-None-Match": whole.headers["etag"]}).status_code == 304


def _check_cue_and_m3u8(client, finished):
    cue = client.get(finished["cue_url"])
    assert cue.status_code == 200 and f'FILE "{finished["id"]}.ogg"' in cue.text
    assert cue.text.count("TRACK ") == 3
    assert 'filename="' + finished["downloads"]["cue"] in cue.headers["content-disposition"]
    m3u = client.get(finished["m3u8_url"])
    assert m3u.status_code == 200 and m3u.text.startswith("#EXTM3U")
    for seg in finished["plan"]["segments"]:
        assert seg["filename"] in m3u.text


def _check_list_and_openapi(client, finished):
    listed = client.get("/api/mixes").json()["mixes"]
    assert finished["id"] in [m["id"] for m in listed]
    entry = next(m for m in listed if m["id"] == finished["id"])
    assert entry["status"] == "done" and entry["n_segments"] == 3 and "plan" not in entry
    schema = client.get("/openapi.json").json()
    post = schema["paths"]["/api/mixes"]["post"]
    assert {"202", "400", "404", "409", "413", "422", "429"} <= set(post["responses"])
    body = schema["components"]["schemas"]["MixRequest"]["properties"]
    assert body["style"]["enum"] == ["bass-swap", "crossfade"]
    assert body["tracks"]["anyOf"][0]["maxItems"] == 100


def test_refusals(client, ids, lib_root):
    # Unknown or malformed ids: 404 on every route.
    for url in ("/api/mixes/0123456789abcdef", "/api/mixes/0123456789abcdef/audio",
                "/api/mixes/0123456789abcdef/cue", "/api/mixes/../../etc/passwd",
                "/api/mixes/nope/m3u8"):  # fmt: skip
        assert client.get(url).status_code == 404, url
    assert "no mix" in _error(client.get("/api/mixes/0123456789abcdef"), 404)
    _error(client.delete("/api/mixes/0123456789abcdef"), 404)
    # Schema violations: 422.
    for body in ({"tracks": ids[:2], "style": "scratch"}, {"tracks": ids[:2], "segments": "all"},
                 {"tracks": [ids[0]] * 101}, {"seed": ids[0], "minutes": 181},
                 {"tracks": ids[:2], "volume": 11}, {"tracks": ["../etc/passwd", ids[0]]},
                 {"seed": ids[0], "count": 1}, {"tracks": ids[:2], "bars": 0}):  # fmt: skip
        _error(client.post("/api/mixes", json=body), 422)
    # Well-formed but wrong: 400; unknown track: 404.
    assert "exactly one" in _error(client.post("/api/mixes", json={}), 400)
    _error(client.post("/api/mixes", json={"seed": ids[0], "query": "disco"}), 400)
    assert "together" in _error(client.post("/api/mixes", json={"from": ids[0]}), 400)
    assert "seed" in _error(client.post("/api/mixes", json={"query": "x", "minutes": 5}), 400)
    _error(client.post("/api/mixes", json={"tracks": ids[:2], "count": 2}), 400)
    assert "two different" in _error(client.post("/api/mixes", json={"tracks": [ids[0]] * 2}), 400)
    _error(client.post("/api/mixes", json={"tracks": [ids[0], "f" * 16]}), 404)
    _error(client.post("/api/mixes", json={"user": "ann"}), 404)  # no listening events
    # More minutes than the library holds, a source file gone: 409, nothing queued.
    before = len(client.get("/api/mixes").json()["mixes"])
    assert "minutes" in _error(client.post("/api/mixes", json={"seed": ids[0], "minutes": 90}), 409)
    with LibraryStore(lib_root) as store, store.transaction() as conn:
        path = store.get_track(ids[2])["path"]
        tracks_db.set_file_columns(conn, ids[2], {"path": path + ".gone"})
    try:
        gone = client.post("/api/mixes", json={"tracks": [ids[0], ids[2]]})
        assert "gone" in _error(gone, 409)
    finally:
        with LibraryStore(lib_root) as store, store.transaction() as conn:
            tracks_db.set_file_columns(conn, ids[2], {"path": path})
    assert len(client.get("/api/mixes").json()["mixes"]) == before


def test_other_sources_queue_bound_busy_and_failed(lib_root, ids):
    """A path's and a seed's mix planned; their renderer held on an event meanwhile: the
    queue fills (429), a mix not yet rendered has no audio (409) and cannot be deleted
    (409); then one finishes and the other fails, saying why. (The renderer writes
    placeholder files here: real rendering is test_mix_flow's.)"""
    release = threading.Event()

    def held(plan, out, progress):
        release.wait(30)
        if len(plan.segments) == 2:
            raise OSError("disk full (simulated)")
        for suffix in (".ogg", ".json", ".cue", ".m3u8"):
            Path(out).with_suffix(suffix).write_bytes(b"placeholder")
        progress(len(plan.segments), len(plan.segments))
        return {"render": {"duration_s": plan.duration_s, "path": str(out)}}

    with TestClient(create_app(lib_root)) as c:
        c.app.state.mix_jobs = MixJobs(lib_root, held, max_pending=2)
        body = {"from": ids[0], "to": ids[2], "count": 3, "segments": "highlight",
                "style": "crossfade"}  # fmt: skip
        first = c.post("/api/mixes", json=body)
        assert first.status_code == 202, first.text
        first = first.json()
        segs = first["plan"]["segments"]
        assert segs[0]["track_id"] == ids[0] and segs[-1]["track_id"] == ids[2]
        assert {t["style"] for t in first["plan"]["transitions"]} == {"crossfade"}
        second = c.post("/api/mixes", json={"seed": ids[1], "count": 2, "segments": "highlight"})
        assert second.status_code == 202, second.text
        second = second.json()
        assert [s["track_id"] for s in second["plan"]["segments"]][0] == ids[1]  # seed first
        assert len(second["plan"]["segments"]) == 2
        full = c.post("/api/mixes", json={"tracks": ids[:2]})
        assert "try again" in _error(full, 429) and full.headers["retry-after"]
        assert "not rendered" in _error(c.get(first["url"] + "/audio"), 409)
        _error(c.get(second["url"] + "/cue"), 409)
        _error(c.delete(first["url"]), 409)
        release.set()
        done, _ = _wait_done(c, first["url"])
        failed, _ = _wait_done(c, second["url"])
        assert done["status"] == "done" and failed["status"] == "failed"
        assert done["audio_url"] and "path" not in done["render"]
        assert "disk full" in failed["error"] and failed["audio_url"] is None
        assert "disk full" in _error(c.get(second["url"] + "/audio"), 409)
        assert c.delete(first["url"]).json() == {"deleted": first["id"]}
        assert not list((lib_root / "mixes").glob(f"{first['id']}.*"))
        _error(c.get(first["url"]), 404)
    with pytest.raises(QueueFullError):
        MixJobs(lib_root, held, max_pending=0).check_room()


def _check_restart(lib_root, finished):
    stale = lib_root / "mixes" / ".0123456789abcdef.ogg.partial-999999999"
    stale.write_bytes(b"half a mix")  # a render killed with its process
    orphan = lib_root / "mixes" / "0123456789abcdef.ogg"
    orphan.write_bytes(b"OggS...")  # killed after the audio, before its plan was written
    os.utime(orphan, (time.time() - 3600, time.time() - 3600))
    with TestClient(create_app(lib_root)) as again:
        listed = {m["id"]: m for m in again.get("/api/mixes").json()["mixes"]}
        assert listed[finished["id"]]["status"] == "done"
        body = again.get(finished["url"]).json()
        assert body["plan"]["segments"] == finished["plan"]["segments"]
        assert body["render"]["duration_s"] == finished["render"]["duration_s"]
        audio = again.get(finished["audio_url"], headers={"Range": "bytes=0-3"})
        assert audio.status_code == 206 and audio.content == b"OggS"
    assert not stale.exists() and not orphan.exists()
    assert "0123456789abcdef" not in listed


def test_mix_flow(client, ids, lib_root):
    """One rendered mix, checked from every side (one test: an xdist split would render
    it once per worker)."""
    finished = _finished(client, ids)
    _check_plan(finished, ids, lib_root)
    _check_audio_ranges_head_etag(client, finished)
    _check_cue_and_m3u8(client, finished)
    _check_list_and_openapi(client, finished)
    _check_restart(lib_root, finished)


def test_planning_leaves_the_library_thread_free(lib_root, ids, monkeypatch):
    """A plan in progress (held here) counts against the queue bound, and the other
    requests are answered meanwhile: planning runs on a library thread of its own."""
    from songscape.library.library import Library

    entered, release = threading.Event(), threading.Event()
    real_plan = Library.plan_mix

    def slow_plan(self, *args, **kwargs):
        entered.set()
        release.wait(30)
        return real_plan(self, *args, **kwargs)

    def no_render(plan, out, progress):
        raise OSError("not rendered in this test")

    monkeypatch.setattr(Library, "plan_mix", slow_plan)
    with TestClient(create_app(lib_root)) as c:
        c.app.state.mix_jobs = MixJobs(lib_root, no_render, max_pending=1)
        answers = []
        body = {"tracks": ids[:2], "segments": "highlight"}
        poster = threading.Thread(target=lambda: answers.append(c.post("/api/mixes", json=body)))
        poster.start()
        try:
            assert entered.wait(30)
            assert c.get("/api/stats").status_code == 200
            assert c.get(f"/api/tracks/{ids[0]}").status_code == 200
            _error(c.post("/api/mixes", json=body), 429)  # the plan in progress counts
        finally:
            release.set()
            poster.join(30)
        assert answers[0].status_code == 202, answers[0].text
        failed, _ = _wait_done(c, answers[0].json()["url"])
        assert failed["status"] == "failed" and "not rendered" in failed["error"]
