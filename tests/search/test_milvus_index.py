"""The Milvus backend (Milvus Lite, in process, a real engine) against faiss exact search:
same similar lists with every filter pushed down, incremental sync, check, config, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from songscape.catalog import model_outputs  # noqa: E402
from songscape.catalog.store import LibraryStore  # noqa: E402
from songscape.cli import main  # noqa: E402
from songscape.errors import UsageError  # noqa: E402
from songscape.library.library import Library  # noqa: E402
from songscape.models.registry import DEFAULT_MODEL  # noqa: E402
from songscape.search.milvus_filters import filter_expression  # noqa: E402
from songscape.search.similar import parse_filters  # noqa: E402
from songscape.synthetic.catalogs import build_synthetic_library  # noqa: E402

N = 400

FILTER_CASES = [
    ([], False, False),
    (["tempo=90..130"], False, False),
    (["tempo=150.."], True, False),
    (["key=compatible"], False, False),
    (["key=A minor"], False, False),
    (["tag=rock"], False, False),
    (["tag=msd:jazz", "duration=100..300"], False, False),
    (["artist=Artist 0007"], False, False),
    (["tempo=..120"], False, True),
]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("milvus") / "lib"
    ids = build_synthetic_library(root, N, seed=3, n_tags=12)
    lib = Library(root)
    yield lib, ids
    lib.close()


def _ids(result: dict) -> list[str]:
    return [r["id"] for r in result["results"]]


def test_similar_lists_match_faiss_exact_search_with_filters_pushed_down(library) -> None:
    lib, ids = library
    milvus = lib.index(backend="milvus")
    assert milvus.kind == "milvus:flat" and milvus.n == N
    faiss = lib.index(backend="faiss")
    assert faiss.kind == "exact"
    total = agree = 0
    for filters, half_double, other_artists in FILTER_CASES:
        for query in ids[:4]:
            kw = {"k": 10, "filters": filters, "half_double": half_double,
                  "other_artists": other_artists}  # fmt: skip
            a = lib.similar(query, backend="faiss", **kw)
            b = lib.similar(query, backend="milvus", **kw)
            assert len(_ids(a)) == len(_ids(b)), (filters, query)
            total += len(_ids(a))
            agree += sum(x == y for x, y in zip(_ids(a), _ids(b), strict=True))
            scores_a = [r["score"] for r in a["results"]]
            scores_b = [r["score"] for r in b["results"]]
            np.testing.assert_allclose(scores_a, scores_b, atol=2e-4)
    assert total > 200  # the filters leave enough candidates to compare
    assert agree / total >= 0.99


def test_the_filter_is_a_milvus_expression_not_an_id_list() -> None:
    f = parse_filters(["tempo=90..110", "tag=mtt:Piano", "artist=Beyoncé"], half_double=True)
    expr = filter_expression(f, {"key": "A minor", "artist": "x"})
    assert "array_contains(tags, \"mtt:piano\")" in expr
    assert "artist == \"beyonce\"" in expr
    assert "tempo >= 45.0" in expr and "tempo <= 220.0" in expr
    assert " id in " not in expr


def test_incremental_sync_adds_updates_and_deletes(library) -> None:
    lib, ids = library
    milvus = lib.index(backend="milvus")
    build_synthetic_library(lib.root, 5, seed=99)  # 5 new tracks
    lib.remove(ids[-1])
    with LibraryStore(lib.root) as store, store.transaction() as conn:  # tags changed only
        model_outputs.replace_tags(conn, ids[-2], DEFAULT_MODEL, [("zydeco-test", 0.99)])
        store.bump_catalog_version(conn)
    out = milvus.sync()
    assert (out["added"], out["removed"], out["updated"]) == (5, 1, 1)
    assert milvus.check()["in_sync"] and milvus.n == N + 4
    hits = lib.similar(ids[0], k=3, filters=["tag=zydeco-test"], backend="milvus")
    assert _ids(hits) == [ids[-2]]
    assert ids[-1] not in _ids(lib.similar(ids[0], k=N, backend="milvus"))
    assert milvus.sync() == milvus.sync()  # nothing moved: nothing done


def test_path_through_milvus_equals_the_faiss_path(library) -> None:
    lib, ids = library
    a = lib.path(ids[1], ids[2], steps=6, backend="faiss")
    b = lib.path(ids[1], ids[2], steps=6, backend="milvus")
    assert [r["id"] for r in a["path"]] == [r["id"] for r in b["path"]]


def test_config_chooses_the_backend_and_cli_overrides_it(library, capsys) -> None:
    lib, ids = library
    root = str(lib.root)
    assert main(["--library", root, "config", "set", "index.backend", "milvus"]) == 0
    capsys.readouterr()
    with Library(root) as other:
        assert other.config("index.backend") == "milvus"
        assert other.index().kind == "milvus:flat"
        with pytest.raises(UsageError):
            other.set_config("index.backend", "annoy")
    assert main(["--library", root, "index", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "milvus:flat" and report["in_sync"]
    assert main(["--library", root, "similar", ids[0], "--backend", "faiss", "--json"]) == 0
    via_faiss = json.loads(capsys.readouterr().out)
    assert main(["--library", root, "similar", ids[0], "--json"]) == 0
    via_milvus = json.loads(capsys.readouterr().out)
    assert _ids(via_faiss) == _ids(via_milvus)
    assert main(["--library", root, "config", "unset", "index.backend"]) == 0
    assert main(["--library", root, "index", "--uri", "x.db"]) == 2  # --uri needs milvus
    assert "--uri" in capsys.readouterr().err
