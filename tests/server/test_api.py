"""The HTTP API (FastAPI TestClient) on a small synthetic library.

The library has 12 healthy synthetic tracks (3 of them with a real 1 s WAV file), one
failed and one missing track. Maps of fewer than 15 tracks use PCA, so these tests never
wait for UMAP (tests/server/test_maps.py and the browser test cover it).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from fastapi.testclient import TestClient

from songscape.catalog.store import LibraryStore
from songscape.cli import main
from songscape.library.library import Library
from songscape.models.registry import get_spec
from songscape.search import maps
from songscape.server.app import create_app
from songscape.synthetic.catalogs import build_synthetic_library

N_OK = 12


def _add_unhealthy(root: Path, audio: Path) -> tuple[str, str]:
    """A failed and a missing track whose paths point at real files (must not be served)."""
    now = time.time()
    copy = audio.with_name("failed-copy.wav")
    copy.write_bytes(audio.read_bytes())
    with LibraryStore(root) as store, store.transaction() as conn:
        for track_id, status, path in (("f" * 16, "failed", copy), ("e" * 16, "missing", audio)):
            conn.execute(
                "INSERT INTO tracks(id, path, status, error, added_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (track_id, str(path), status, "broken" if status == "failed" else None,
                 now, now),
            )  # fmt: skip
        store.bump_catalog_version(conn)
    return "f" * 16, "e" * 16


@pytest.fixture(scope="module")
def lib_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    base = tmp_path_factory.mktemp("api")
    root = base / "lib"
    ids = build_synthetic_library(root, N_OK, seed=1, audio_dir=base / "audio", n_audio=3)
    with LibraryStore(root) as store:
        first_audio = Path(store.get_track(ids[0])["path"])
    _add_unhealthy(root, first_audio)
    (base / "secret.txt").write_text("root:x:0:0:secret\n")
    return root, ids


@pytest.fixture(scope="module")
def client(lib_root):
    root, _ = lib_root
    with TestClient(create_app(root)) as c:
        yield c


@pytest.fixture(scope="module")
def audio_track(lib_root) -> tuple[str, bytes]:
    root, ids = lib_root
    with LibraryStore(root) as store:
        path = Path(store.get_track(ids[0])["path"])
    return ids[0], path.read_bytes()


def _error(response) -> str:
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]
    return body["error"]


# -- page and docs -------------------------------------------------------------------------


def test_page_assets_and_openapi(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for element_id in ("map", "info-panel", "neighbours", "player", "distance", "reset",
                       "search-input", "search-results", "colour-by"):  # fmt: skip
        assert f'id="{element_id}"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    plotly = client.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200 and "javascript" in plotly.headers["content-type"]
    assert len(plotly.content) > 1_000_000 and b"plotly" in plotly.content[:2000].lower()
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/stats", "/api/tracks", "/api/tracks/{track_id}",
                 "/api/tracks/{track_id}/audio", "/api/tracks/{track_id}/similar",
                 "/api/tracks/{track_id}/distances", "/api/search", "/api/map"):  # fmt: skip
        assert path in paths


def test_unknown_route_is_a_json_404(client):
    r = client.get("/api/nothing-here")
    assert r.status_code == 404 and "not found" in _error(r)


# -- stats and tracks ----------------------------------------------------------------------


def test_stats(client):
    s = client.get("/api/stats").json()
    assert s["by_status"] == {"ok": N_OK, "failed": 1, "missing": 1}
    assert s["default_model"] == "musicnn-msd" and s["map_methods"] == ["umap", "tsne"]
    assert "library" not in s  # no server paths


def test_tracks_are_paged(client):
    first = client.get("/api/tracks", params={"limit": 5}).json()
    assert first["total"] == N_OK and len(first["tracks"]) == 5 and first["offset"] == 0
    last = client.get("/api/tracks", params={"offset": 10, "limit": 5}).json()
    assert len(last["tracks"]) == N_OK - 10
    seen = [t["id"] for t in first["tracks"]] + [t["id"] for t in last["tracks"]]
    assert len(set(seen)) == len(seen)
    track = first["tracks"][0]
    assert "path" not in track and track["filename"].endswith(".wav")
    assert track["audio_url"] == f"/api/tracks/{track['id']}/audio"
    assert client.get("/api/tracks", params={"status": "all"}).json()["total"] == N_OK + 2
    failed = client.get("/api/tracks", params={"status": "failed"}).json()
    assert [t["id"] for t in failed["tracks"]] == ["f" * 16]


def test_tracks_filters(client):
    everything = client.get("/api/tracks", params={"limit": 500}).json()["tracks"]
    genre = everything[0]["genre"]
    by_genre = client.get("/api/tracks", params={"genre": genre.upper(), "limit": 500}).json()
    assert by_genre["total"] == sum(t["genre"] == genre for t in everything) >= 1
    assert all(t["genre"] == genre for t in by_genre["tracks"])
    artist = everything[0]["artist"]
    by_artist = client.get("/api/tracks", params={"artist": artist.lower()}).json()
    assert by_artist["total"] >= 1 and all(t["artist"] == artist for t in by_artist["tracks"])
    by_text = client.get("/api/tracks", params={"q": "song 00003"}).json()
    assert [t["title"] for t in by_text["tracks"]] == ["Song 00003"]
    assert client.get("/api/tracks", params={"q": "no such words"}).json()["total"] == 0


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 501}, {"limit": "ten"}, {"offset": -1}, {"status": "great"},
     {"q": "x" * 201}],
)  # fmt: skip
def test_tracks_bad_parameters(client, params):
    r = client.get("/api/tracks", params=params)
    assert r.status_code == 422 and _error(r).startswith("bad parameter")


def test_one_track(client, lib_root):
    _, ids = lib_root
    t = client.get(f"/api/tracks/{ids[1]}").json()
    assert t["id"] == ids[1] and t["title"] == "Song 00001" and "path" not in t
    assert t["tempo_bpm"] and t["key"] and t["loudness_lufs"] is not None
    probs = [tag["probability"] for tag in t["top_tags"]]
    assert len(probs) == 10 and probs == sorted(probs, reverse=True)
    assert t["top_tags"][0]["name"] == f"msd:{t['genre']}"  # the synthetic genre tag is on top
    assert t["highlight"] is None and t["audio_url"].endswith(f"{ids[1]}/audio")


@pytest.mark.parametrize("suffix", ["", "/audio", "/similar", "/distances"])
@pytest.mark.parametrize("bad_id", ["0123456789abcdef", "zzzz", "ABCDEF0123456789"])
def test_unknown_ids_are_404(client, suffix, bad_id):
    r = client.get(f"/api/tracks/{bad_id}{suffix}")
    assert r.status_code == 404 and "no track" in _error(r)


def test_id_prefixes_and_paths_are_not_track_references(client, lib_root, audio_track):
    _, ids = lib_root
    assert client.get(f"/api/tracks/{ids[0][:8]}").status_code == 404
    with LibraryStore(lib_root[0]) as store:
        path = store.get_track(ids[0])["path"]
    r = client.get(f"/api/tracks/{quote(path, safe='')}/audio")
    assert r.status_code == 404 and r.content != audio_track[1]


# -- audio -----------------------------------------------------------------------------------


def test_audio_whole_file(client, audio_track):
    track_id, data = audio_track
    r = client.get(f"/api/tracks/{track_id}/audio")
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "audio/wav"
    assert r.headers["accept-ranges"] == "bytes"
    assert int(r.headers["content-length"]) == len(data)


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=-100", -100, -1), ("bytes=100-", 100, -1),
     ("bytes=10-10", 10, 10), ("bytes=0-99999999", 0, -1)],
)  # fmt: skip
def test_audio_ranges(client, audio_track, header, first, last):
    track_id, data = audio_track
    size = len(data)
    first, last = first % size, last % size
    r = client.get(f"/api/tracks/{track_id}/audio", headers={"Range": header})
    assert r.status_code == 206
    assert r.content == data[first : last + 1]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert int(r.headers["content-length"]) == last - first + 1
    assert r.headers["content-type"] == "audio/wav"


@pytest.mark.parametrize(
    "header", ["bytes=999999999-", "bytes=abc", "bytes=5-2", "bytes=-0", "bytes=-"]
)
def test_audio_bad_ranges_are_416(client, audio_track, header):
    track_id, data = audio_track
    r = client.get(f"/api/tracks/{track_id}/audio", headers={"Range": header})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(data)}"
    _error(r)


def test_audio_head_multi_range_and_if_range(client, audio_track):
    track_id, data = audio_track
    head = client.head(f"/api/tracks/{track_id}/audio")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(data)
    head = client.head(f"/api/tracks/{track_id}/audio", headers={"Range": "bytes=0-9"})
    assert head.status_code == 206 and head.headers["content-range"].startswith("bytes 0-9/")
    multi = client.get(f"/api/tracks/{track_id}/audio", headers={"Range": "bytes=0-1,5-6"})
    assert multi.status_code == 200 and multi.content == data  # several ranges: whole file
    etag = head.headers["etag"]
    same = client.get(f"/api/tracks/{track_id}/audio",
                      headers={"Range": "bytes=0-9", "If-Range": etag})  # fmt: skip
    assert same.status_code == 206
    changed = client.get(f"/api/tracks/{track_id}/audio",
                         headers={"Range": "bytes=0-9", "If-Range": '"other"'})  # fmt: skip
    assert changed.status_code == 200 and changed.content == data


def test_audio_of_unhealthy_tracks_is_not_served(client, audio_track):
    for track_id in ("f" * 16, "e" * 16):
        r = client.get(f"/api/tracks/{track_id}/audio")
        assert r.status_code == 404 and "no playable file" in _error(r)
        assert r.content != audio_track[1]


def test_audio_of_a_track_whose_file_is_gone(tmp_path):
    root = tmp_path / "lib"
    ids = build_synthetic_library(root, 2, seed=5, audio_dir=tmp_path / "audio", n_audio=1)
    with LibraryStore(root) as store:
        Path(store.get_track(ids[0])["path"]).unlink()
    with TestClient(create_app(root)) as c:
        r = c.get(f"/api/tracks/{ids[0]}/audio")
        assert r.status_code == 404 and "missing" in _error(r)
        assert c.get(f"/api/tracks/{ids[1]}/audio").status_code == 404  # never had a file


@pytest.mark.parametrize(
    "url",
    ["/api/tracks/..%2F..%2Fetc%2Fpasswd/audio", "/api/tracks/%2Fetc%2Fpasswd/audio",
     "/api/tracks/../../../etc/passwd/audio", "/api/tracks/....%2F%2Fsecret.txt/audio",
     "/api/tracks/%2e%2e%2f%2e%2e%2fsecret.txt/audio", "/static/..%2F..%2Fsecret.txt",
     "/static/../../../etc/passwd", "/static/%2e%2e/%2e%2e/catalog.sqlite",
     "/vendor/..%2F..%2Fetc%2Fpasswd", "/api/tracks/%00/audio"],
)  # fmt: skip
def test_path_traversal_is_refused(client, url):
    r = client.get(url)
    assert r.status_code in (400, 404, 422)
    assert b"root:" not in r.content and b"SQLite format" not in r.content
    assert r.headers["content-type"].startswith("application/json")


def test_client_paths_in_parameters_are_refused(client, audio_track):
    # Undeclared query parameters are refused (the HTTP contract, issue 16): a client can
    # never point the audio route at a file of its choosing.
    track_id, data = audio_track
    r = client.get(f"/api/tracks/{track_id}/audio", params={"path": "/etc/passwd"})
    assert r.status_code == 422 and b"root:" not in r.content
    assert client.get(f"/api/tracks/{track_id}/audio").content == data


# -- similar, distances, search ----------------------------------------------------------------


def test_similar(client, lib_root):
    _, ids = lib_root
    r = client.get(f"/api/tracks/{ids[0]}/similar", params={"k": 3})
    assert r.status_code == 200
    body = r.json()
    results = body["results"]
    assert len(results) == 3 and ids[0] not in [x["id"] for x in results]
    scores = [x["score"] for x in results]
    assert scores == sorted(scores, reverse=True)
    assert all("path" not in x and x["audio_url"] for x in results)
    assert "path" not in body["query"] and body["query"]["id"] == ids[0]
    tempo = client.get(f"/api/tracks/{ids[0]}/similar",
                       params={"k": 20, "filter": "tempo=100..180"}).json()  # fmt: skip
    assert all(100 <= x["tempo_bpm"] <= 180 for x in tempo["results"])
    assert tempo["filters"] == ["tempo=100..180"]


@pytest.mark.parametrize(
    ("params", "status"),
    [({"k": 0}, 422), ({"k": 101}, 422), ({"k": "many"}, 422),
     ({"filter": "tempo=fast"}, 400), ({"filter": "colour=red"}, 400),
     ({"model": "no-such-model"}, 400)],
)  # fmt: skip
def test_similar_bad_parameters(client, lib_root, params, status):
    _, ids = lib_root
    r = client.get(f"/api/tracks/{ids[0]}/similar", params=params)
    assert r.status_code == status
    _error(r)


def test_similar_with_a_model_without_vectors(client, lib_root):
    _, ids = lib_root
    r = client.get(f"/api/tracks/{ids[0]}/similar", params={"model": "vgg-msd"})
    assert r.status_code == 404 and "vector" in _error(r)


def test_distances(client, lib_root):
    _, ids = lib_root
    body = client.get(f"/api/tracks/{ids[2]}/distances").json()
    assert sorted(body["ids"]) == sorted(ids)
    d = dict(zip(body["ids"], body["distance"], strict=True))
    assert d[ids[2]] == pytest.approx(0.0, abs=1e-3)
    assert all(0.0 <= v <= 2.0 for v in d.values())
    nearest = client.get(f"/api/tracks/{ids[2]}/similar", params={"k": 1}).json()["results"][0]
    others = {k: v for k, v in d.items() if k != ids[2]}
    assert min(others, key=others.get) == nearest["id"]
    assert client.get(f"/api/tracks/{ids[2]}/distances", params={"model": "x"}).status_code == 400


def test_search(client):
    r = client.get("/api/search", params={"q": "jazz", "k": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "jazz" and body["intent"]["patterns"]
    assert 1 <= len(body["results"]) <= 5
    assert all("path" not in x and x["audio_url"] for x in body["results"])
    assert body["results"][0]["genre"] if "genre" in body["results"][0] else True


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"q": "jazz", "k": 0},
                                    {"q": "x" * 301}])  # fmt: skip
def test_search_bad_parameters(client, params):
    r = client.get("/api/search", params=params)
    assert r.status_code == 422
    _error(r)


# -- map -------------------------------------------------------------------------------------


def test_map(client, lib_root):
    _, ids = lib_root
    r = client.get("/api/map")
    assert r.status_code == 200
    m = r.json()
    assert m["model"] == "musicnn-msd" and m["method"] == "umap"
    assert m["method_used"] == "pca" and "PCA" in m["notes"][0]  # 12 tracks: too few for UMAP
    assert m["n"] == N_OK and sorted(m["ids"]) == sorted(ids) and not m["subsampled"]
    coords = np.array([m["x"], m["y"], m["z"]])
    assert coords.min() >= 0.0 and coords.max() <= 1.0 and np.ptp(coords, axis=1).max() > 0.99
    for name in ("title", "artist", "album", "genre", "top_tag", "tempo", "key", "cluster"):
        assert len(m["fields"][name]) == N_OK, name
    assert {f["name"] for f in m["colour_fields"]} == {
        "genre", "top_tag", "album", "artist", "tempo", "key", "cluster",
        "valence", "arousal", "mood"}  # fmt: skip  (emotion fields: issue 19)
    msd = set(get_spec("musicnn-msd").labels)
    pairs = [(t, g) for t, g in zip(m["fields"]["top_tag"], m["fields"]["genre"], strict=True)]
    assert all(t == g for t, g in pairs if g in msd)  # synthetic tags follow the genre
    assert all(isinstance(c, int) and 0 <= c < m["n_clusters"] for c in m["fields"]["cluster"])
    again = client.get("/api/map")
    assert again.content == r.content
    tsne = client.get("/api/map", params={"method": "tsne"}).json()
    assert tsne["method"] == "tsne" and tsne["method_used"] == "pca"


@pytest.mark.parametrize(
    ("params", "status"), [({"method": "mds"}, 422), ({"model": "no-such-model"}, 400)]
)
def test_map_bad_parameters(client, params, status):
    r = client.get("/api/map", params=params)
    assert r.status_code == status
    _error(r)


def test_map_cache_follows_the_catalog(tmp_path):
    root = tmp_path / "lib"
    ids = build_synthetic_library(root, 10, seed=2)
    cache = maps.cache_path(root, "musicnn-msd", "umap")
    with TestClient(create_app(root)) as c:
        first = c.get("/api/map").json()
        assert first["n"] == 10 and first["source"] == "computed" and cache.is_file()
        # Another process adds tracks: the next request sees a new catalog version.
        build_synthetic_library(root, 3, seed=3)
        second = c.get("/api/map").json()
        assert second["n"] == 13 and second["catalog_version"] > first["catalog_version"]
        assert second["source"] == "computed"
    # A new server finds the cache file up to date...
    with TestClient(create_app(root)) as c:
        third = c.get("/api/map").json()
        assert third["source"] == "disk" and third["ids"] == second["ids"]
        assert third["x"] == second["x"]
    # ...but never serves it once the catalog has moved on (here: a track removed).
    with Library(root) as lib:
        lib.remove(ids[0])
    with TestClient(create_app(root)) as c:
        fourth = c.get("/api/map").json()
        assert fourth["source"] == "computed" and fourth["n"] == 12 and ids[0] not in fourth["ids"]


def test_an_empty_library_has_an_empty_map(tmp_path):
    LibraryStore(tmp_path / "lib").close()
    with TestClient(create_app(tmp_path / "lib")) as c:
        m = c.get("/api/map").json()
        assert m["n"] == 0 and m["method_used"] == "none" and m["notes"]
        assert c.get("/api/tracks").json()["total"] == 0


# -- the serve command ------------------------------------------------------------------------


def test_serve_errors(tmp_path, capsys):
    assert main(["--library", str(tmp_path / "none"), "serve", "--no-browser", "--port", "0"]) == 1
    assert "no library" in capsys.readouterr().err
    build_synthetic_library(tmp_path / "lib", 2)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code = main(["--library", str(tmp_path / "lib"), "serve", "--no-browser",
                     "--port", str(port)])  # fmt: skip
    assert code == 1 and "port already in use" in capsys.readouterr().err
    assert main(["--library", str(tmp_path / "lib"), "serve", "--port", "70000"]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--port", "-1"])
    assert exit_info.value.code == 2
