"""The catalog reads of the web app, on a small synthetic library."""

from __future__ import annotations

from songscape.catalog import web
from songscape.catalog.store import LibraryStore
from songscape.synthetic.catalogs import build_synthetic_library


def test_web_reads(tmp_path):
    ids = build_synthetic_library(tmp_path / "lib", 5, seed=4)
    with LibraryStore(tmp_path / "lib") as store:
        conn = store.conn
        row = web.track_file(conn, ids[0])
        assert set(row) == {"id", "path", "status", "size_bytes"} and row["status"] == "ok"
        assert web.track_file(conn, ids[0][:8]) is None  # exact ids only
        assert web.track_file(conn, "0" * 16) is None
        points = web.map_point_rows(conn)
        assert sorted(r["id"] for r in points) == sorted(ids)
        assert all(r["tempo_bpm"] is not None for r in points)
        models = web.tag_models_by_coverage(conn)
        assert models == ["musicnn-msd"]
        top = web.top_tags(conn, models[0])
        assert set(top) == set(ids)
        for track_id, tag in top.items():  # the synthetic tags put the genre on top
            assert tag == store.get_track(track_id)["genre"]
        assert web.top_tags(conn, "no-such-model") == {}
