"""Recommendations from a library's events: the CLI commands, the model cache, precomputed
lists in SQLite and Redis."""

from __future__ import annotations

import json
import sqlite3
import sys

import numpy as np
import pytest

from songscape.catalog import listening
from songscape.catalog.store import LibraryStore
from songscape.cli import RECOMMEND_MODELS, main
from songscape.errors import CatalogBusyError, MissingExtraError
from songscape.recommend import fitting, service
from songscape.recommend.recommenders import MODELS
from songscape.recommend.redis_lists import RedisLists
from songscape.synthetic.listening import (
    N_PLAYED,
    blocks,
    make_listening_library,
    make_words_library,
)
from tests.engines import free_port, redis_server


def run_json(capsys, *argv: str):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else captured.err)


@pytest.fixture
def lib(tmp_path, capsys):
    root, ids, events = make_listening_library(tmp_path)
    code, report = run_json(capsys, "--library", str(root), "import-events", str(events),
                            "--json")  # fmt: skip
    assert code == 0, report
    return root, ids, events, report


def test_models_list_in_sync():
    assert RECOMMEND_MODELS == tuple(MODELS)


def test_import_users_and_reimport(lib, capsys):
    root, _ids, events, report = lib
    assert report["matched"] > 0 and report["unmatched"] > 0
    assert set(report["matched_by"]) == {"id", "path", "artist-title"}
    code, users = run_json(capsys, "--library", str(root), "users", "--json")
    assert code == 0 and len(users) == report["users"]
    assert all(u["events"] == 5 and u["items"] == 5 and u["plays"] > 0 for u in users)
    code, again = run_json(capsys, "--library", str(root), "import-events", str(events), "--json")
    assert again["replaced"] == report["rows"]
    code, users2 = run_json(capsys, "--library", str(root), "users", "--json")
    assert users2 == users
    assert main(["--library", str(root), "users"]) == 0
    assert "5 events" in capsys.readouterr().out


def test_import_errors(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,count\na,x,1\nb,y,zero\n")
    lib_dir = str(tmp_path / "lib")
    assert main(["--library", lib_dir, "import-events", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.csv:3: count is not a number" in err and "nothing was imported" in err
    code, report = run_json(capsys, "--library", lib_dir, "import-events", str(bad),
                            "--skip-bad", "--json")  # fmt: skip
    assert code == 0 and report["rows"] == 1 and report["skipped"] == 1
    assert main(["--library", lib_dir, "import-events", str(tmp_path / "none.csv")]) == 2
    pl = tmp_path / "pl.tsv"
    pl.write_text("playlist\titem\tposition\np\ta\t0\np\tb\tx\n")
    assert main(["--library", lib_dir, "import-playlists", str(pl)]) == 1
    assert "pl.tsv:3: position is not a number" in capsys.readouterr().err


def test_recommend_user_seed_and_errors(lib, capsys, monkeypatch):
    root, ids, _events, _ = lib
    code, users = run_json(capsys, "--library", str(root), "users", "--json")
    user = users[0]["id"]
    code, out = run_json(capsys, "--library", str(root), "recommend", "--user", user,
                         "--k", "5", "--json")  # fmt: skip
    assert code == 0, out
    assert out["user"] == user and out["source"] == "model" and len(out["results"]) == 5
    for r in out["results"]:
        assert {"item", "score", "track_id", "title", "artist"} <= set(r)
        if r["track_id"]:
            assert r["title"].startswith("Song ") and r["item"] == r["track_id"]
    scores = [r["score"] for r in out["results"]]
    assert scores == sorted(scores, reverse=True)
    # the fitted model is cached and reused
    assert len(service.cache_files(root)) == 1
    monkeypatch.setattr(fitting, "fit_model", lambda *a, **k: pytest.fail("refitted"))
    code, again = run_json(capsys, "--library", str(root), "recommend", "--user", user,
                           "--k", "5", "--json")  # fmt: skip
    assert again == out
    monkeypatch.undo()
    # unknown user / seed: exit 1 with a clear message
    assert main(["--library", str(root), "recommend", "--user", "nobody"]) == 1
    assert "no user 'nobody'" in capsys.readouterr().err
    assert main(["--library", str(root), "recommend", "--seed", "nothing-here"]) == 1
    assert "no track or item 'nothing-here'" in capsys.readouterr().err
    assert main(["--library", str(root), "recommend"]) == 2
    capsys.readouterr()
    # seeds: a played track and a cold one (mapped from its embedding)
    code, seeded = run_json(capsys, "--library", str(root), "recommend", "--seed", ids[0],
                            "--seed", ids[-1], "--k", "8", "--json")  # fmt: skip
    assert code == 0 and seeded["seeds"] == [ids[0], ids[-1]]
    got = [r["item"] for r in seeded["results"]]
    assert len(got) == 8 and ids[0] not in got and ids[-1] not in got
    # cold tracks (never played) can be recommended
    code, many = run_json(capsys, "--library", str(root), "recommend", "--user", user,
                          "--k", "200", "--json")  # fmt: skip
    assert set(ids[N_PLAYED:]) <= {r["item"] for r in many["results"]}
    # human output and --explain
    assert main(["--library", str(root), "recommend", "--user", user, "--k", "3",
                 "--explain"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "recommendations for user" in text and "Artist" in text
    code, explained = run_json(capsys, "--library", str(root), "recommend", "--user", user,
                               "--model", "hybrid", "--k", "3", "--explain", "--json")  # fmt: skip
    assert code == 0 and all("parts" in r["why"] for r in explained["results"])
    assert set(explained["results"][0]["why"]["parts"]) == {"als", "item2vec", "audio"}


def test_hybrid_uses_playlists_and_sessions(lib, capsys, tmp_path):
    root, ids, _events, _ = lib
    rows = ["playlist,item,title,tags"]
    for p in range(6):
        rows += [f"p{p},{ids[(p * 5 + j) % N_PLAYED]},Autumn mix {p},calm" for j in range(6)]
    pl = tmp_path / "pl.csv"
    pl.write_text("\n".join(rows) + "\n")
    assert main(["--library", str(root), "import-playlists", str(pl)]) == 0
    capsys.readouterr()
    with LibraryStore(root) as store:
        user = service.users_summary(store)[0]["id"]
        out = service.recommend_user(store, user, k=5, model="hybrid", explain=True)
        fitted = service.get_model(store, "hybrid")
    assert len(out["results"]) == 5 and all("parts" in r["why"] for r in out["results"])
    vectors = fitted.model.item2vec_vectors
    assert vectors is not None and vectors.shape[0] == len(fitted.items)
    in_playlists = [fitted.item_index[t] for t in ids[:30] if t in fitted.item_index]
    assert in_playlists and np.all(np.any(vectors[in_playlists], axis=1))


def test_cache_invalidated_by_import(lib, capsys, tmp_path):
    root, _ids, _events, _ = lib
    user = run_json(capsys, "--library", str(root), "users", "--json")[1][0]["id"]
    assert main(["--library", str(root), "recommend", "--user", user, "--json"]) == 0
    capsys.readouterr()
    first = service.cache_files(root)
    more = tmp_path / "more.csv"
    more.write_text("user,item\nnewcomer,ext:a\nnewcomer,ext:b\n")
    assert main(["--library", str(root), "import-events", str(more)]) == 0
    capsys.readouterr()
    code, out = run_json(capsys, "--library", str(root), "recommend", "--user", "newcomer",
                         "--json")  # fmt: skip
    assert code == 0 and out["results"]
    second = service.cache_files(root)
    assert len(second) == 1 and second != first


def test_precompute_sqlite_round_trip(lib, capsys, tmp_path):
    root, _ids, _events, _ = lib
    code, report = run_json(capsys, "--library", str(root), "recommend", "--precompute",
                            "--k", "10", "--json")  # fmt: skip
    assert code == 0 and report["target"] == "sqlite" and report["k"] == 10
    with LibraryStore(root) as store:
        n = store.conn.execute("SELECT COUNT(*) FROM recommendations").fetchone()[0]
        user = store.conn.execute("SELECT user_id FROM recommendations LIMIT 1").fetchone()[0]
    assert n == report["users"]
    code, out = run_json(capsys, "--library", str(root), "recommend", "--user", user,
                         "--k", "5", "--json")  # fmt: skip
    assert out["source"] == "precomputed" and len(out["results"]) == 5
    code, live = run_json(capsys, "--library", str(root), "recommend", "--user", user,
                          "--k", "5", "--json", "--explain")  # fmt: skip
    assert [r["item"] for r in live["results"]] == [r["item"] for r in out["results"]]
    # more than was precomputed, or stale after an import: computed live
    code, big = run_json(capsys, "--library", str(root), "recommend", "--user", user,
                         "--k", "20", "--json")  # fmt: skip
    assert big["source"] == "model"
    more = tmp_path / "more.csv"
    more.write_text("user,item\nx,y\nx,z\n")
    assert main(["--library", str(root), "import-events", str(more)]) == 0
    capsys.readouterr()
    code, stale = run_json(capsys, "--library", str(root), "recommend", "--user", user,
                           "--k", "5", "--json")  # fmt: skip
    assert stale["source"] == "model"
    assert main(["--library", str(root), "recommend", "--precompute"]) == 0
    assert "precomputed top-50" in capsys.readouterr().out


@pytest.fixture
def redis_url():
    with redis_server() as url:
        yield url


def listening_users(root) -> list[str]:
    with LibraryStore(root) as store:
        return [r["id"] for r in listening.user_summaries(store.conn) if r["events"]]


def test_precompute_redis_round_trip(lib, capsys, redis_url):
    import redis

    root, _ids, _events, _ = lib
    code, report = run_json(capsys, "--library", str(root), "recommend", "--precompute",
                            "--k", "7", "--redis", redis_url, "--json")  # fmt: skip
    assert code == 0 and report["target"] == redis_url
    lists = RedisLists(redis.Redis.from_url(redis_url), "recs", "als")
    assert lists.current() == report["version"]
    assert int(lists.meta()["count"]) == report["users"]
    user = sorted(listening_users(root))[0]
    code, out = run_json(capsys, "--library", str(root), "recommend", "--user", user, "--k", "7",
                         "--redis", redis_url, "--json")  # fmt: skip
    assert out["source"] == "redis" and len(out["results"]) == 7
    code, live = run_json(capsys, "--library", str(root), "recommend", "--user", user, "--k", "7",
                          "--json")  # fmt: skip
    assert live["source"] == "model"
    assert [r["item"] for r in live["results"]] == [r["item"] for r in out["results"]]
    dead = f"redis://127.0.0.1:{free_port()}/0"
    assert main(["--library", str(root), "recommend", "--precompute", "--redis", dead]) == 1
    assert "redis" in capsys.readouterr().err.lower()


def test_evaluate_recs_hygiene_flags(tmp_path, capsys):
    inter = blocks(n_groups=2, users_per_group=20, block=20, per_user=10)
    m = inter.matrix.tocoo()
    rows = ["user,item,count,timestamp"]
    rows += [f"{inter.users[u]},{inter.items[i]},{int(c)},{int(t)}" for u, i, c, t in
             zip(m.row, m.col, m.data, inter.timestamps.tocoo().data, strict=True)]  # fmt: skip
    rows += ["lonely,b0i1,1,0"]
    f = tmp_path / "e.csv"
    f.write_text("\n".join(rows) + "\n")
    code, results = run_json(capsys, "evaluate-recs", "--events", str(f), "--format", "csv",
                             "--models", "als,bpr-pop,hybrid", "--min-items", "3",
                             "--top-n-only", "5", "--max-plays-quantile", "1",
                             "--holdout", "random", "--test-fraction", "0.3", "--json")  # fmt: skip
    assert code == 0, results
    assert [r["model"] for r in results] == ["popularity", "als", "bpr-pop", "hybrid"]
    for r in results:
        assert r["protocol"] == "random" and r["n_users"] == 40
        assert r["hygiene"]["too_few"] == 1 and r["hygiene"]["thresholds"]["min_interactions"] == 3
        assert r["fit_s"] >= 0 and 0 <= r["ndcg_at_10"] <= 1
    code, results = run_json(capsys, "evaluate-recs", "--events", str(f), "--format", "csv",
                             "--models", "als", "--json")  # fmt: skip
    assert results[0]["protocol"] == "time" and results[0]["n_users"] == 41
    assert "hygiene" not in results[0]


def test_results_show_imported_names(tmp_path, capsys):
    """HetRec artists (artists.dat beside user_artists.dat) show by name, not by id."""
    folder = tmp_path / "hetrec"
    folder.mkdir()
    rows = ["userID\tartistID\tweight"]
    for u in range(8):
        rows += [f"{u}\t{10 + (u + j) % 6}\t{5 + j}" for j in range(3)]
    (folder / "user_artists.dat").write_text("\n".join(rows) + "\n")
    (folder / "artists.dat").write_text(
        "id\tname\turl\tpictureURL\n" + "".join(f"{10 + a}\tBand {a}\thttp://x\thttp://y\n"
                                                for a in range(6))  # fmt: skip
    )
    lib = str(tmp_path / "lib")
    code, report = run_json(capsys, "--library", lib, "import-events",
                            str(folder / "user_artists.dat"), "--json")  # fmt: skip
    assert code == 0 and report["format"] == "hetrec" and report["named"] == 6
    code, out = run_json(capsys, "--library", lib, "recommend", "--user", "0", "--k", "3",
                         "--explain", "--json")  # fmt: skip
    assert code == 0 and len(out["results"]) == 3
    for r in out["results"]:
        assert r["track_id"] is None and r["title"] is None
        assert r["artist"] == f"Band {int(r['item']) - 10}"
        for near in r["why"].get("because_you_listened", []):
            assert near["artist"] == f"Band {int(near['item']) - 10}"
    assert main(["--library", lib, "recommend", "--user", "0", "--k", "3"]) == 0
    text = capsys.readouterr().out
    assert "Band " in text and not any(f". {10 + a}  [" in text for a in range(6))
    # re-importing keeps the names
    assert main(["--library", lib, "import-events", str(folder / "user_artists.dat")]) == 0
    capsys.readouterr()
    code, again = run_json(capsys, "--library", lib, "recommend", "--user", "0", "--k", "3",
                           "--json")  # fmt: skip
    assert all(r["artist"].startswith("Band ") for r in again["results"])


def test_recommend_words(tmp_path, capsys, monkeypatch):
    from songscape.recommend import words

    root = make_words_library(tmp_path)
    capsys.readouterr()
    lib = ["--library", str(root), "recommend"]
    code, out = run_json(capsys, *lib, "--words", "Autumn!", "--k", "6", "--json")
    assert code == 0, out
    assert out["words"] == ["autumn"] and out["model"] == "item2vec-words" and out["k"] == 6
    ranked = [r["item"] for r in out["results"]]
    assert set(ranked[:3]) == set("ABC") and set(ranked[3:]) == set("DEF"), out["results"]
    assert all(r["artist"] == f"Artist {r['item']}" and r["title"] == f"Song {r['item']}"
               and r["track_id"] is None for r in out["results"])  # fmt: skip
    code, out = run_json(capsys, *lib, "--words", "summer party", "--k", "3", "--json")
    assert out["words"] == ["summer party"] and {r["item"] for r in out["results"]} == set("DEF")
    # cached: one file, not refitted
    files = service.cache_files(root)
    assert len(files) == 1 and files[0].name.startswith("item2vec-words-s0-")
    monkeypatch.setattr(words.WordItem2Vec, "fit", lambda *a: pytest.fail("refitted"))
    code, again = run_json(capsys, *lib, "--words", "calm autumn", "--k", "3", "--json")
    assert code == 0 and set(again["words"]) == {"calm", "autumn"}
    monkeypatch.undo()
    # human output names the items
    assert main([*lib, "--words", "autumn", "--k", "3"]) == 0
    text = capsys.readouterr().out
    assert "recommendations for words 'autumn'" in text and "Artist A - Song A" in text
    # unknown words: exit 1 with suggestions; bad usage: exit 2
    assert main([*lib, "--words", "winter rain"]) == 1
    err = capsys.readouterr().err
    assert "'winter rain'" in err and "known words include" in err and "autumn" in err
    assert main([*lib, "--words", "autumn", "--user", "x"]) == 2
    assert "--words TEXT" in capsys.readouterr().err
    assert main([*lib, "--words", "!!"]) == 1
    assert "give at least one word" in capsys.readouterr().err
    # an import changes the digest: refitted, the stale file removed
    more = tmp_path / "more.csv"
    more.write_text("user,item\nu,A\nu,B\n")
    assert main(["--library", str(root), "import-events", str(more)]) == 0
    assert main([*lib, "--words", "autumn", "--json"]) == 0
    capsys.readouterr()
    again = service.cache_files(root)
    assert len(again) == 1 and again != files


def test_recommend_words_without_data(tmp_path, capsys):
    LibraryStore(tmp_path / "lib").close()
    assert main(["--library", str(tmp_path / "lib"), "recommend", "--words", "autumn"]) == 1
    assert "no playlists or listening events" in capsys.readouterr().err
    with LibraryStore(tmp_path / "lib") as store, pytest.raises(service.NoEventsError):
        service.recommend_words(store, "autumn")


def test_precompute_on_a_locked_catalog_is_reported(lib, monkeypatch):
    """A catalog another connection keeps locked is retried, then reported: never taken
    for an old catalog, never written half."""
    root, *_ = lib
    monkeypatch.setattr(listening.time, "sleep", lambda seconds: None)
    with LibraryStore(root) as store:
        user = service.users_summary(store)[0]["id"]
        store.conn.execute("PRAGMA busy_timeout = 0")  # the other writer shows at once
        other = sqlite3.connect(store.catalog_path, timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(CatalogBusyError, match="precomputed popularity lists"):
                service.precompute(store, "popularity", k=5)
        finally:
            other.rollback()
            other.close()
        assert listening.precomputed_list(store.conn, user, "popularity") is None
        assert service.precompute(store, "popularity", k=5)["users"] > 0
        assert listening.precomputed_list(store.conn, user, "popularity") is not None
        assert service.recommend_user(store, user, k=5, model="popularity")["source"] == (
            "precomputed")  # fmt: skip


def test_results_of_a_catalog_without_the_items_table(tmp_path, capsys):
    """A catalog from before the items table (read-only, so not migrated) answers with
    library names only."""
    folder = tmp_path / "hetrec"
    folder.mkdir()
    rows = ["userID\tartistID\tweight"] + [f"{u}\t{10 + (u + j) % 6}\t{5 + j}"
                                           for u in range(8) for j in range(3)]  # fmt: skip
    (folder / "user_artists.dat").write_text("\n".join(rows) + "\n")
    (folder / "artists.dat").write_text("id\tname\n" + "".join(f"{10 + a}\tBand {a}\n"
                                                              for a in range(6)))  # fmt: skip
    lib = tmp_path / "lib"
    assert main(["--library", str(lib), "import-events", str(folder / "user_artists.dat")]) == 0
    with LibraryStore(lib) as store, store.transaction() as conn:
        conn.execute("DROP TABLE items")
    with LibraryStore(lib, readonly=True) as store:
        out = service.recommend_user(store, "0", k=3)
    assert len(out["results"]) == 3 and all(r["artist"] is None for r in out["results"])


def test_redis_without_the_scale_extra(lib, monkeypatch):
    root, *_ = lib
    monkeypatch.setitem(sys.modules, "redis", None)
    with LibraryStore(root) as store, pytest.raises(MissingExtraError) as err:
        service.precompute(store, "popularity", k=5, redis_url="redis://127.0.0.1:1/0")
    assert err.value.extra == "scale" and "pip install 'songscape[scale]'" in str(err.value)
