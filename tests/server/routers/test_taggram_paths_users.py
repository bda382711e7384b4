"""``/api/tracks/{id}/taggram``, ``/api/path`` and ``/api/users`` (issue 17's page)."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from songscape.catalog import analysis
from songscape.catalog.store import LibraryStore
from songscape.models.registry import get_spec
from songscape.server.app import create_app
from songscape.synthetic.catalogs import build_synthetic_library


def test_taggram_path_and_users(tmp_path):
    ids = build_synthetic_library(tmp_path / "lib", 8, seed=4)
    spec = get_spec("musicnn-msd")
    gram = np.zeros((5, len(spec.labels)), dtype=np.float32)
    gram[:, 3] = [0.1, 0.2, 0.9, 0.8, 0.1]
    gram[:, 7] = 0.5
    with LibraryStore(tmp_path / "lib") as store, store.transaction() as conn:
        analysis.put_array(conn, ids[0], "taggram:musicnn-msd", gram)
    with TestClient(create_app(tmp_path / "lib")) as client:
        body = client.get(f"/api/tracks/{ids[0]}/taggram?top=2").json()
        assert body["tags"] == [spec.labels[7], spec.labels[3]]
        assert body["values"][1] == [0.1, 0.2, 0.9, 0.8, 0.1]
        assert body["patch_s"] == spec.patch_duration_s
        empty = client.get(f"/api/tracks/{ids[1]}/taggram").json()
        assert empty["tags"] == [] and empty["values"] == []
        assert client.get(f"/api/tracks/{ids[1]}/taggram?model=nope").status_code == 400
        assert client.get("/api/tracks/0123456789abcdef/taggram").status_code == 404
        path = client.get(f"/api/path?from={ids[0]}&to={ids[5]}&steps=4").json()["path"]
        assert path[0]["id"] == ids[0] and path[-1]["id"] == ids[5] and len(path) == 6  # 4 between
        assert all("path" not in t and t["audio_url"] for t in path)
        assert client.get(f"/api/path?from={ids[0]}&to=0123456789abcdef").status_code == 404
        assert client.get("/api/users").json() == {"total": 0, "users": []}
