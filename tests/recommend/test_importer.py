"""Importing events and playlists: linking, malformed rows, idempotence."""

from __future__ import annotations

import json

import pytest

from songscape.catalog.store import LibraryStore
from songscape.recommend.importer import (
    ImportFormatError,
    TrackLinker,
    import_events,
    import_playlists,
)
from songscape.synthetic.catalogs import build_synthetic_library


@pytest.fixture
def store(tmp_path):
    ids = build_synthetic_library(tmp_path / "lib", 6, seed=3)
    with LibraryStore(tmp_path / "lib") as s, s.transaction() as conn:
        conn.execute(
            "UPDATE tracks SET artist = 'Beyoncé', title = 'Crazy in Love (feat. Jay-Z)' "
            "WHERE id = ?",
            (ids[0],),
        )
    s = LibraryStore(tmp_path / "lib")
    s.ids = ids
    yield s
    s.close()


def test_linker_by_id_path_and_artist_title(store):
    linker = TrackLinker(store)
    first = store.get_track(store.ids[1])
    assert linker.link(store.ids[1]) == (store.ids[1], "id")
    assert linker.link(first["path"]) == (store.ids[1], "path")
    name = f"{first['artist'].upper()} - {first['title']}!"
    assert linker.link(name) == (store.ids[1], "artist-title")
    by_fields = linker.link("x", artist="BEYONCE", title="crazy in love")
    assert by_fields == (store.ids[0], "artist-title")
    assert linker.link("Beyonce feat. Jay-Z - Crazy In Love") == (store.ids[0], "artist-title")
    assert linker.link("Nobody - Nothing") == (None, None)


def _events_csv(tmp_path, store, extra: str = "") -> str:
    t = store.get_track(store.ids[2])
    rows = [
        "user,item,count,timestamp",
        f"alice,{store.ids[1]},3,100",
        f"alice,{t['path']},1,200",
        f"bob,{t['artist']} - {t['title']},2,300",
        "bob,Unknown Band - Unknown Song,5,400",
        "carol,lastfm:12345,1,500",
    ]
    f = tmp_path / "events.csv"
    f.write_text("\n".join(rows) + "\n" + extra)
    return str(f)


def test_import_events_links_and_is_idempotent(tmp_path, store):
    path = _events_csv(tmp_path, store)
    report = import_events(store, path, "csv")
    assert report["rows"] == 5 and report["users"] == 3
    assert report["items"] == 5 and report["matched"] == 3 and report["unmatched"] == 2
    assert report["matched_by"] == {"id": 1, "path": 1, "artist-title": 1}
    assert report["replaced"] == 0 and report["skipped"] == 0
    again = import_events(store, path, "csv")
    assert again["replaced"] == 5
    n = store.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert n == 5
    linked = store.conn.execute(
        "SELECT track_id FROM events WHERE user_id = 'alice' ORDER BY timestamp"
    ).fetchall()
    assert [r[0] for r in linked] == [store.ids[1], store.ids[2]]
    unmatched = store.conn.execute(
        "SELECT track_id FROM events WHERE item = 'lastfm:12345'"
    ).fetchone()
    assert unmatched[0] is None
    users = [r[0] for r in store.conn.execute("SELECT id FROM users ORDER BY id")]
    assert users == ["alice", "bob", "carol"]


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ("dave,x,lots,1\n", r"events.csv:7: count is not a number"),
        ("dave,x,0,1\n", r"events.csv:7: count must be > 0"),
        ("dave,x,1\n", r"events.csv:7: expected 4 fields, got 3"),
        (",x,1,1\n", r"events.csv:7: empty user"),
        ("dave,x,1,yesterday\n", r"events.csv:7: timestamp is not a number"),
    ],
)
def test_malformed_row_imports_nothing(tmp_path, store, extra, match):
    path = _events_csv(tmp_path, store, extra)
    with pytest.raises(ImportFormatError, match=match):
        import_events(store, path, "csv")
    assert store.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
    assert store.conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0


def test_skip_bad_reports_counts(tmp_path, store):
    path = _events_csv(tmp_path, store, "dave,x,lots,1\nerin,y,1,1\nfrank,z\n")
    report = import_events(store, path, "csv", skip_bad=True)
    assert report["rows"] == 6 and report["skipped"] == 2
    assert report["errors"][0].endswith("events.csv:7: count is not a number: 'lots'")
    assert "events.csv:9: expected 4 fields" in report["errors"][1]


def test_bad_header_and_formats(tmp_path, store):
    f = tmp_path / "e.csv"
    f.write_text("who,what\na,b\n")
    with pytest.raises(ImportFormatError, match=r"e.csv:1: the header must name user, item"):
        import_events(store, f, "csv")
    f = tmp_path / "user_artists.dat"
    f.write_text("userID\tartistID\tweight\r\n2\t51\t100\r\n2\t52\t5\r\n3\t51\t7\r\n")
    assert import_events(store, f, "hetrec")["rows"] == 3
    g = tmp_path / "e.jsonl"
    g.write_text(json.dumps({"user": "u", "item": "i", "count": 2}) + "\n{bad\n")
    with pytest.raises(ImportFormatError, match=r"e.jsonl:2: invalid JSON"):
        import_events(store, g, "jsonl")
    h = tmp_path / "e.tsv"
    h.write_text("user\titem\nu\ti\n")
    assert import_events(store, h, "tsv")["rows"] == 1
    with pytest.raises(ValueError, match="unknown format"):
        import_events(store, h, "xml")


def test_import_playlists(tmp_path, store):
    t = store.get_track(store.ids[3])
    f = tmp_path / "playlists.csv"
    f.write_text(
        "playlist,item,position,title,tags\n"
        f"p1,{store.ids[1]},1,Autumn evening,autumn|calm\n"
        f"p1,{t['artist']} - {t['title']},0,,\n"
        "p1,Some Band - Some Song,,,\n"
        f"p2,{store.ids[2]},,Workout,\n"
    )
    report = import_playlists(store, f, "csv")
    assert report["playlists"] == 2 and report["rows"] == 4
    assert report["matched"] == 3 and report["unmatched"] == 1
    rows = store.conn.execute(
        "SELECT position, item, track_id FROM playlist_items WHERE playlist_id = 'p1' "
        "ORDER BY position"
    ).fetchall()
    assert [r[0] for r in rows] == [0, 1, 2]
    assert rows[0][2] == store.ids[3] and rows[1][2] == store.ids[1] and rows[2][2] is None
    p1 = store.conn.execute("SELECT title, tags FROM playlists WHERE id = 'p1'").fetchone()
    assert tuple(p1) == ("Autumn evening", "autumn|calm")
    assert import_playlists(store, f, "csv")["replaced"] == 2
    assert store.conn.execute("SELECT COUNT(*) FROM playlist_items").fetchone()[0] == 4
    f.write_text("playlist,item,position\np3,a,0\np3,b,0\n")
    with pytest.raises(ImportFormatError, match=r"playlists.csv:3: position 0 of playlist 'p3'"):
        import_playlists(store, f, "csv")
    assert store.conn.execute("SELECT COUNT(*) FROM playlists").fetchone()[0] == 2


def _names(store) -> dict:
    return {r[0]: (r[1], r[2]) for r in store.conn.execute("SELECT item, artist, title FROM items")}


def test_hetrec_import_records_artist_names(tmp_path, store):
    folder = tmp_path / "hetrec"
    folder.mkdir()
    (folder / "user_artists.dat").write_text(
        "userID\tartistID\tweight\r\n2\t51\t100\r\n2\t52\t5\r\n3\t51\t7\r\n3\t99\t1\r\n"
    )
    (folder / "artists.dat").write_text(
        "id\tname\turl\tpictureURL\n"
        "51\tDuran Duran\thttp://www.last.fm/music/Duran+Duran\thttp://x/1.jpg\n"
        "52\tMorcheeba\thttp://www.last.fm/music/Morcheeba\n"  # a short row
        "odd row without tabs\n"
        "53\tNot Played\thttp://x\thttp://y\n"
        "\n"
    )
    report = import_events(store, folder / "user_artists.dat", "hetrec")
    assert report["rows"] == 4 and report["named"] == 2
    assert _names(store) == {"51": ("Duran Duran", None), "52": ("Morcheeba", None)}
    # without artists.dat: imported all the same, names kept
    (folder / "artists.dat").unlink()
    report = import_events(store, folder / "user_artists.dat", "hetrec")
    assert report["rows"] == 4 and report["named"] == 0 and report["replaced"] == 4
    assert _names(store)["51"] == ("Duran Duran", None)


def test_csv_and_playlist_names_upsert(tmp_path, store):
    f = tmp_path / "named.csv"
    f.write_text(
        "user,item,count,artist,title\n"
        "a,x1,1,Some Band,Some Song\n"
        "a,x2,1,Only Artist,\n"
        "b,x3,1,,\n"
    )
    report = import_events(store, f, "csv")
    assert report["named"] == 2
    assert _names(store) == {"x1": ("Some Band", "Some Song"), "x2": ("Only Artist", None)}
    assert import_events(store, f, "csv")["replaced"] == 3
    assert _names(store) == {"x1": ("Some Band", "Some Song"), "x2": ("Only Artist", None)}
    # a later non-null value replaces, a null never erases
    g = tmp_path / "more.jsonl"
    g.write_text(json.dumps({"user": "c", "item": "x1", "artist": None, "title": "New Title"})
                 + "\n" + json.dumps({"user": "c", "item": "x2"}) + "\n")  # fmt: skip
    import_events(store, g, "jsonl")
    assert _names(store) == {"x1": ("Some Band", "New Title"), "x2": ("Only Artist", None)}
    p = tmp_path / "pl.csv"
    p.write_text("playlist,item,artist,track_title\np,x3,Third,Track\np,x2,,Song Two\n")
    assert import_playlists(store, p, "csv")["named"] == 2
    names = _names(store)
    assert names["x3"] == ("Third", "Track") and names["x2"] == ("Only Artist", "Song Two")
