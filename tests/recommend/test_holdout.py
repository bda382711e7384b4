"""Readers, data hygiene, the holdout protocol, evaluation and the evaluate-recs command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from songscape.cli import main
from songscape.recommend.data import Interactions, clean, read_csv, read_hetrec, read_jsonl
from songscape.recommend.holdout import evaluate, split_holdout
from songscape.synthetic.listening import blocks

HETREC = Path(__file__).resolve().parents[3] / "shared/data/lastfm_hetrec2011_2k/user_artists.dat"
KEYS = {"model", "precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10", "coverage",
        "novelty", "fit_s", "n_users", "n_items", "protocol"}  # fmt: skip


# -- readers ------------------------------------------------------------------------


def test_read_hetrec(tmp_path):
    f = tmp_path / "user_artists.dat"
    f.write_bytes(b"userID\tartistID\tweight\r\n2\t51\t100\r\n2\t52\t5\r\n3\t51\t7\r\n")
    inter = read_hetrec(f)
    assert inter.users == ["2", "3"] and inter.items == ["51", "52"]
    assert inter.matrix.toarray().tolist() == [[100, 5], [7, 0]]
    assert inter.timestamps is None


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("userID\tartistID\tweight\n2\t51\t100\n2\t52\n", r"user_artists.dat:3: expected 3"),
        ("userID\tartistID\tweight\n2\t51\tlots\n", r"user_artists.dat:2: count is not a number"),
        ("userID\tartistID\tweight\n2\t51\t0\n", r"user_artists.dat:2: count must be > 0"),
        ("user\tartist\n", r"user_artists.dat:1: expected header"),
    ],
)
def test_read_hetrec_malformed(tmp_path, body, match):
    f = tmp_path / "user_artists.dat"
    f.write_text(body)
    with pytest.raises(ValueError, match=match):
        read_hetrec(f)


def test_read_csv_merges_duplicates_and_timestamps(tmp_path):
    f = tmp_path / "events.csv"
    f.write_text("user,item,count,timestamp\na,x,2,10\na,x,3,30\nb,y,1,5\n\n")
    inter = read_csv(f)
    assert inter.matrix.toarray().tolist() == [[5, 0], [0, 1]]
    assert inter.timestamps.toarray().tolist() == [[30, 0], [0, 5]]
    g = tmp_path / "plain.csv"
    g.write_text("item,user\nx,a\ny,a\n")
    assert read_csv(g).matrix.toarray().tolist() == [[1, 1]]


def test_read_csv_malformed(tmp_path):
    f = tmp_path / "events.csv"
    f.write_text("user,item,count\na,x,2\nb,y\n")
    with pytest.raises(ValueError, match=r"events.csv:3: expected 3 fields"):
        read_csv(f)
    f.write_text("who,what\na,x\n")
    with pytest.raises(ValueError, match="header must name"):
        read_csv(f)


def test_read_jsonl(tmp_path):
    f = tmp_path / "events.jsonl"
    f.write_text('{"user": "a", "item": "x", "count": 4}\n{"user": "b", "item": "x"}\n')
    assert read_jsonl(f).matrix.toarray().tolist() == [[4], [1]]
    f.write_text('{"user": "a", "item": "x"}\n{"user": "b", "item": \n')
    with pytest.raises(ValueError, match=r"events.jsonl:2: invalid JSON"):
        read_jsonl(f)
    f.write_text('{"user": "a"}\n')
    with pytest.raises(ValueError, match=r"events.jsonl:1: expected an object"):
        read_jsonl(f)


# -- hygiene ------------------------------------------------------------------------


def test_clean_drops_degenerate_users():
    users, items, counts = [], [], []
    for u in range(20):  # normal users: items p0..p2 (popular) plus 5 niche ones
        for i in [0, 1, 2, *range(10 + u, 15 + u)]:
            users.append(f"u{u}")
            items.append(f"i{i}")
            counts.append(3)
    for i in range(6):  # a top-N-only user
        users.append("top")
        items.append(f"i{i % 3}" if i < 3 else f"i{10 + i}")
        counts.append(1)
    users += ["few", "few"]
    items += ["i0", "i1"]
    counts += [1, 1]
    for i in range(8):  # an over-clicker
        users.append("bot")
        items.append(f"i{40 + i}")
        counts.append(10**6)
    inter = Interactions.from_triples(users, items, counts)
    out, report = clean(inter, min_interactions=5, max_plays_quantile=0.95, top_n_only=6)
    assert "few" not in out.users and "bot" not in out.users and "top" not in out.users
    assert len(out.users) == 20
    assert report["too_few"] == 1 and report["over_clickers"] == 1 and report["top_n_only"] == 1
    assert out.matrix.shape == (20, len(out.items))
    assert np.all(np.asarray(out.matrix.sum(axis=0)).ravel() > 0)


# -- holdout and evaluation ---------------------------------------------------------


def test_split_holdout_random_and_time():
    inter = blocks()
    train, test, protocol = split_holdout(inter, protocol="random", seed=1)
    assert protocol == "random" and len(test) == inter.n_users
    assert train.nnz + sum(len(v) for v in test.values()) == inter.nnz
    assert all(len(v) == 4 for v in test.values())  # 20% of 20
    for u, held in test.items():
        assert not set(held.tolist()) & set(train[u].indices.tolist())
    again = split_holdout(inter, protocol="random", seed=1)[1]
    assert all(np.array_equal(test[u], again[u]) for u in test)
    train_t, test_t, protocol = split_holdout(inter)  # timestamps exist -> time
    assert protocol == "time"
    u = 0
    ts = dict(zip(inter.matrix[u].indices.tolist(), inter.timestamps[u].data.tolist(), strict=True))
    held_max = min(ts[i] for i in test_t[u])
    assert all(ts[i] < held_max for i in train_t[u].indices)


def test_evaluate_models_beat_popularity():
    inter = blocks()
    results = evaluate(inter, ["als", "bpr", "item2vec"], k=10, seed=0, protocol="random")
    by = {r["model"]: r for r in results}
    assert list(by) == ["popularity", "als", "bpr", "item2vec"]
    for r in results:
        assert KEYS <= set(r)
        assert r["protocol"] == "random"
        assert 0 <= r["precision_at_10"] <= 1 and 0 <= r["coverage"] <= 1
    base = by["popularity"]["ndcg_at_10"]
    for name in ("als", "bpr", "item2vec"):
        assert by[name]["ndcg_at_10"] > base, (name, by[name]["ndcg_at_10"], base)


# -- the command --------------------------------------------------------------------


@pytest.mark.skipif(not HETREC.exists(), reason="../shared/data is not here")
def test_cli_evaluate_recs_hetrec(capsys):
    argv = ["evaluate-recs", "--events", str(HETREC), "--format", "hetrec", "--json"]
    assert main([*argv, "--models", "popularity,als"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in results] == ["popularity", "als"]
    for r in results:
        assert KEYS <= set(r)
        assert r["n_users"] == 1892 and r["n_items"] == 17632
    assert results[1]["ndcg_at_10"] > results[0]["ndcg_at_10"]


def test_cli_evaluate_recs_csv_table_and_errors(tmp_path, capsys):
    f = tmp_path / "events.csv"
    inter = blocks(n_groups=2, users_per_group=30)
    rows = ["user,item,count"]
    m = inter.matrix.tocoo()
    rows += [f"{inter.users[u]},{inter.items[i]},{int(c)}" for u, i, c in
             zip(m.row, m.col, m.data, strict=True)]  # fmt: skip
    f.write_text("\n".join(rows) + "\n")
    assert main(["evaluate-recs", "--events", str(f), "--format", "csv", "--models", "als"]) == 0
    out = capsys.readouterr().out
    assert "popularity" in out and "als" in out and "NDCG@10" in out
    assert main(["evaluate-recs", "--events", str(f), "--format", "csv", "--models", "svd"]) == 2
    assert "unknown model" in capsys.readouterr().err
    missing = str(tmp_path / "nope.csv")
    assert main(["evaluate-recs", "--events", missing, "--format", "csv"]) == 2
    f.write_text("user,item,count\na,x,many\n")
    assert main(["evaluate-recs", "--events", str(f), "--format", "csv"]) == 2
    assert "events.csv:2" in capsys.readouterr().err
