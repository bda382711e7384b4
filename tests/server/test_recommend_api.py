"""GET /api/recommend on a small synthetic library with imported listening events."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from songscape.catalog.store import LibraryStore
from songscape.recommend import service
from songscape.recommend.importer import import_events
from songscape.server.app import create_app
from songscape.synthetic.listening import make_listening_library, make_words_library


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("recapi")
    root, ids, events = make_listening_library(base)
    with LibraryStore(root) as store:
        import_events(store, events, "csv")
        users = [u["id"] for u in service.users_summary(store)]
    with TestClient(create_app(root)) as client:
        yield client, root, ids, users


def test_recommend_user(setup):
    client, _root, _ids, users = setup
    r = client.get("/api/recommend", params={"user": users[0], "k": 6})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == users[0] and body["source"] == "model" and len(body["results"]) == 6
    for item in body["results"]:
        assert {"item", "score", "track_id", "title", "artist", "audio_url"} <= set(item)
        if item["track_id"]:
            assert item["audio_url"] == f"/api/tracks/{item['track_id']}/audio"
        else:
            assert item["audio_url"] is None and item["title"] is None
    r = client.get("/api/recommend", params={"user": users[0], "k": 6, "model": "popularity"})
    assert r.status_code == 200 and r.json()["model"] == "popularity"


def test_recommend_seed_and_errors(setup):
    client, _root, ids, _users = setup
    r = client.get("/api/recommend", params=[("seed", ids[0]), ("seed", ids[1]), ("k", "5")])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["seeds"] == [ids[0], ids[1]] and len(body["results"]) == 5
    r = client.get("/api/recommend", params={"user": "nobody"})
    assert r.status_code == 404 and "nobody" in r.json()["error"]
    r = client.get("/api/recommend", params={"seed": "no-such-item"})
    assert r.status_code == 404 and "no-such-item" in r.json()["error"]
    assert client.get("/api/recommend").status_code == 400  # "exactly one of": not schema
    r = client.get("/api/recommend", params={"user": "x", "seed": ids[0]})
    assert r.status_code == 400
    r = client.get("/api/recommend", params={"user": "x", "words": "autumn"})
    assert r.status_code == 400 and "words" in r.json()["error"]
    assert client.get("/api/recommend", params={"user": "x", "k": 0}).status_code == 422


def test_serves_precomputed(setup):
    client, root, _ids, users = setup
    with LibraryStore(root) as store:
        service.precompute(store, "als", k=10)
    r = client.get("/api/recommend", params={"user": users[1], "k": 4})
    assert r.status_code == 200 and r.json()["source"] == "precomputed"
    assert len(r.json()["results"]) == 4


def test_library_without_events(tmp_path):
    from songscape.synthetic.catalogs import build_synthetic_library

    build_synthetic_library(tmp_path / "lib", 3, seed=2)
    with TestClient(create_app(tmp_path / "lib")) as client:
        r = client.get("/api/recommend", params={"user": "a"})
        assert r.status_code == 404


def test_recommend_words(tmp_path):
    root = make_words_library(tmp_path)
    with TestClient(create_app(root)) as client:
        r = client.get("/api/recommend", params={"words": "autumn", "k": 3})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["words"] == ["autumn"] and body["model"] == "item2vec-words"
        assert {x["item"] for x in body["results"]} == set("ABC")
        for x in body["results"]:
            assert x["artist"] == f"Artist {x['item']}" and x["audio_url"] is None
        r = client.get("/api/recommend", params={"words": "winter"})
        assert r.status_code == 404 and "known words include" in r.json()["error"]
        r = client.get("/api/recommend", params={"words": "autumn", "seed": "A"})
        assert r.status_code == 400
        assert client.get("/api/recommend", params={"words": "!!"}).status_code == 400
