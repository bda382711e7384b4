"""Saved playlists (issue 17): save, export to M3U8 and XSPF, re-import in the same order,
unknown entries reported, the CLI's ``playlist`` and ``--save``, and the API.

A synthetic library of 10 tracks, each with a real 1 s WAV file (no audio analysis).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from songscape.cli import main
from songscape.errors import PlaylistFormatError, PlaylistNotFoundError, TrackNotFoundError
from songscape.library.library import Library
from songscape.playlists.formats import read_m3u, read_xspf, resolve_location
from songscape.server.app import create_app
from songscape.synthetic.catalogs import build_synthetic_library


@pytest.fixture()
def lib_dir(tmp_path: Path) -> tuple[Path, list[str]]:
    ids = build_synthetic_library(tmp_path / "lib", 10, seed=5, audio_dir=tmp_path / "music",
                                  n_audio=10)  # fmt: skip
    return tmp_path / "lib", ids


def test_round_trip_m3u8_and_xspf(lib_dir, tmp_path):
    root, ids = lib_dir
    order = [ids[3], ids[0], ids[7], ids[3], ids[5]]  # repeats kept
    with Library(root) as lib:
        saved = lib.save_playlist("evening", order, "test")
        assert [t["id"] for t in saved["tracks"]] == order
        m3u = lib.export_playlist("evening", tmp_path / "out" / "evening.m3u8")
        xspf = lib.export_playlist("evening", tmp_path / "out" / "evening.xspf")
        absolute = lib.export_playlist("evening", tmp_path / "abs.m3u8", absolute=True)
        paths = {t["id"]: t["path"] for t in saved["tracks"]}
    # The M3U8 parses back: #EXTINF with duration and "artist - title", every path exists.
    text = Path(m3u["path"]).read_text(encoding="utf-8")
    assert text.startswith("#EXTM3U\n#PLAYLIST:evening\n#EXTINF:")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert all(not os.path.isabs(ln) for ln in lines)  # relative by default
    name, entries = read_m3u(m3u["path"])
    assert name == "evening" and len(entries) == 5
    assert [e.location for e in entries] == [paths[i] for i in order]
    assert all(os.path.isfile(e.location) for e in entries)
    assert all(e.duration_s and e.artist and e.title for e in entries)
    _, abs_entries = read_m3u(absolute["path"])
    assert [e.location for e in abs_entries] == [paths[i] for i in order]
    _, xspf_entries = read_xspf(xspf["path"])
    assert [e.location for e in xspf_entries] == [paths[i] for i in order]
    # Re-import both: the same tracks in the same order.
    with Library(root) as lib:
        a = lib.import_playlist(m3u["path"], "again m3u8")
        b = lib.import_playlist(xspf["path"], "again xspf")
        assert a["matched"] == b["matched"] == 5 and a["unknown"] == b["unknown"] == []
        assert [t["id"] for t in lib.playlist("again m3u8")["tracks"]] == order
        assert [t["id"] for t in lib.playlist("again xspf")["tracks"]] == order
        assert {p["name"] for p in lib.playlists()} == {"evening", "again m3u8", "again xspf"}


def test_import_reports_unknown_entries_and_matches_by_name(lib_dir, tmp_path):
    root, ids = lib_dir
    with Library(root) as lib:
        t0, t1 = lib.track(ids[0]), lib.track(ids[1])
    playlist = tmp_path / "mixed.m3u"
    playlist.write_text(
        "#EXTM3U\n"
        f"{t0['path']}\n"
        "#EXTINF:200,Nobody - Not Here\n/nowhere/missing.mp3\n"
        "http://radio.example/stream\n"
        # another machine's path, but the artist and title of a library track
        f"#EXTINF:-1,{t1['artist']} - {t1['title']}\nC:\\Users\\x\\Music\\song.mp3\n",
        encoding="latin-1",
    )
    with Library(root) as lib:
        out = lib.import_playlist(playlist)
        assert out["name"] == "mixed" and out["entries"] == 4 and out["matched"] == 2
        assert out["unknown"][0] == "/nowhere/missing.mp3"
        assert out["unknown"][1] == "http://radio.example/stream"
        assert [t["id"] for t in lib.playlist("mixed")["tracks"]] == [ids[0], ids[1]]
        nothing = tmp_path / "nothing.m3u8"
        nothing.write_text("/nowhere/a.mp3\n", encoding="utf-8")
        with pytest.raises(PlaylistFormatError, match="none of its 1 entries"):
            lib.import_playlist(nothing)
        binary = tmp_path / "binary.m3u"
        binary.write_bytes(b"\x00\x01\x02junk")
        with pytest.raises(PlaylistFormatError, match="binary"):
            lib.import_playlist(binary)
        with pytest.raises(PlaylistFormatError, match="bad playlist name"):
            lib.save_playlist("a/b", [ids[0]])
        with pytest.raises(TrackNotFoundError):
            lib.save_playlist("x", [ids[0], "0" * 16])
        assert "x" not in {p["name"] for p in lib.playlists()}  # nothing half-saved
        lib.delete_playlist("mixed")
        with pytest.raises(PlaylistNotFoundError):
            lib.playlist("mixed")


def test_resolve_location():
    base = Path("/music/lists")
    assert resolve_location("../a/b.mp3", base) == "/music/a/b.mp3"
    assert resolve_location("file:///music/a%20b.flac", base) == "/music/a b.flac"
    assert resolve_location("http://x/y", base) == "http://x/y"


def test_cli_save_flag_and_playlist_commands(lib_dir, tmp_path, capsys):
    root, ids = lib_dir
    lib = ["--library", str(root)]
    assert main([*lib, "similar", ids[0], "--k", "4", "--save", "like it", "--json"]) == 0
    out = capsys.readouterr()
    similar = [r["id"] for r in json.loads(out.out)["results"]]
    assert "saved playlist 'like it': 4 tracks" in out.err
    assert main([*lib, "playlist", "show", "like it", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [t["id"] for t in shown["tracks"]] == similar
    assert shown["source"] == f"similar:{ids[0]}"
    dest = tmp_path / "like.m3u8"
    assert main([*lib, "playlist", "export", "like it", str(dest)]) == 0
    assert main([*lib, "playlist", "import", str(dest), "--name", "back"]) == 0
    assert "4 of 4 entries" in capsys.readouterr().out
    assert main([*lib, "playlist", "list"]) == 0
    listed = capsys.readouterr().out
    assert "like it  (4 tracks" in listed and "back  (4 tracks" in listed
    assert main([*lib, "path", ids[0], ids[1], "--steps", "3", "--save", "walk"]) == 0
    assert main([*lib, "playlist", "delete", "back"]) == 0
    assert main([*lib, "playlist", "show", "back"]) == 1
    assert "no playlist 'back'" in capsys.readouterr().err
    assert main([*lib, "playlist", "import", str(tmp_path / "none.m3u")]) == 1


def test_api(lib_dir):
    root, ids = lib_dir
    with TestClient(create_app(root)) as client:
        assert client.get("/api/playlists").json() == {"playlists": []}
        r = client.post("/api/playlists", json={"name": "queue 1", "track_ids": ids[:3],
                                                "source": "queue"})  # fmt: skip
        assert r.status_code == 200
        body = r.json()
        assert [t["id"] for t in body["tracks"]] == ids[:3]
        assert "path" not in body["tracks"][0] and body["tracks"][0]["audio_url"]
        assert client.get("/api/playlists").json()["playlists"][0]["n_tracks"] == 3
        m3u = client.get("/api/playlists/queue 1/export?format=m3u8")
        assert m3u.status_code == 200 and m3u.headers["content-type"].startswith("audio/x-mpegurl")
        assert m3u.text.count("#EXTINF:") == 3
        xspf = client.get("/api/playlists/queue 1/export?format=xspf")
        assert xspf.text.count("<location>file://") == 3
        bad = client.post("/api/playlists", json={"name": "x", "track_ids": ["0" * 16]})
        assert bad.status_code == 404 and "error" in bad.json()
        bad_name = client.post("/api/playlists", json={"name": "a/b", "track_ids": []})
        assert bad_name.status_code == 400
        assert client.delete("/api/playlists/queue 1").status_code == 200
        assert client.get("/api/playlists/queue 1").status_code == 404
