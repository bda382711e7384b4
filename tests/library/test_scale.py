"""Similar-track lists precomputed into a real redis-server and served by the HTTP API
when the library's ``serve.redis`` is set; stale lists are never served."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("redis")
pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from songscape.cli import main  # noqa: E402
from songscape.library.library import Library  # noqa: E402
from songscape.server.app import create_app  # noqa: E402
from songscape.synthetic.catalogs import build_synthetic_library  # noqa: E402
from tests.engines import redis_server  # noqa: E402


def test_precomputed_similar_lists_are_served_while_fresh(tmp_path, capsys) -> None:
    root = tmp_path / "lib"
    ids = build_synthetic_library(root, 150, seed=5, n_tags=8)
    with redis_server() as url:
        argv = ["--library", str(root), "index", "--precompute-similar", "--redis", url,
                "--k", "10", "--json"]  # fmt: skip
        assert main(argv) == 0
        done = json.loads(capsys.readouterr().out)
        assert done["tracks"] == 150 and done["k"] == 10
        with Library(root) as lib:
            live = lib.similar(ids[0], k=5)
            assert "source" not in live
            lib.set_config("serve.redis", url)
            served = lib.similar(ids[0], k=5)
            assert served["source"] == "redis"
            assert [r["id"] for r in served["results"]] == [r["id"] for r in live["results"]]
            assert [r["explanation"] for r in served["results"]] == [
                r["explanation"] for r in live["results"]]
            assert "source" not in lib.similar(ids[0], k=11)  # longer than stored: live
            assert "source" not in lib.similar(ids[0], k=5, filters=["tempo=100.."])
        with TestClient(create_app(root)) as client:
            body = client.get(f"/api/tracks/{ids[1]}/similar", params={"k": 3}).json()
            assert body["source"] == "redis" and len(body["results"]) == 3
            with Library(root) as lib:
                lib.remove(ids[2])  # the catalog moved: the stored lists are stale
            body = client.get(f"/api/tracks/{ids[1]}/similar", params={"k": 3}).json()
            assert "source" not in body
            assert ids[2] not in [r["id"] for r in body["results"]]
