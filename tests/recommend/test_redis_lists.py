"""Versioned top-k lists in a real redis-server on loopback: pipelined writes, the atomic
swap (a reader never sees a half-written set), grace expiry of the old version, and the
HTTP API reading from Redis when the library's ``serve.redis`` is set."""

from __future__ import annotations

import threading

import pytest

redis = pytest.importorskip("redis")

from songscape.recommend.redis_lists import (  # noqa: E402
    RedisLists,
    bucket_of,
    decode_list,
    encode_list,
)
from tests.engines import redis_server  # noqa: E402


@pytest.fixture(scope="module")
def redis_url():
    with redis_server() as url:
        yield url


def _lists(url: str, model: str) -> RedisLists:
    return RedisLists(redis.Redis.from_url(url), "recs", model)


def test_encode_round_trip_and_buckets() -> None:
    raw = encode_list(["a", "b"], [0.91234567, 0.5])
    assert decode_list(raw) == [["a", 0.912346], ["b", 0.5]]
    assert len(raw) < 30
    assert {bucket_of(f"user{i}", 16) for i in range(500)} == set(range(16))


def test_write_read_and_swap(redis_url) -> None:
    lists = _lists(redis_url, "m1")
    assert lists.read("u1") is None and lists.current() is None
    first = lists.write(((f"u{i}", encode_list([f"t{i}"], [1.0])) for i in range(1000)),
                        {"k": 1, "digest": "d1"}, buckets=8, batch=100)  # fmt: skip
    assert first == {**first, "version": 1, "previous": None, "count": 1000}
    meta, items = lists.read("u7")
    assert meta["digest"] == "d1" and items == [["t7", 1.0]]
    client = lists.client
    assert client.ttl("songscape:recs:m1:v1:b0") == -1  # durable once current
    second = lists.write(((f"u{i}", encode_list([f"x{i}"], [0.5])) for i in range(10)),
                         {"k": 1, "digest": "d2"}, buckets=4)  # fmt: skip
    assert second["version"] == 2 and second["previous"] == 1
    assert lists.read("u7") == (lists.meta(), [["x7", 0.5]])
    assert lists.read("u500") is None  # not in the new set (the old one is not mixed in)
    assert 0 < client.ttl("songscape:recs:m1:v1:b3") <= 60  # the old version expires
    assert 0 < client.ttl("songscape:recs:m1:v1:meta") <= 60


def test_readers_never_see_a_half_written_set(redis_url) -> None:
    lists = _lists(redis_url, "m2")
    n = 4000
    lists.write(((f"u{i}", encode_list(["old"], [0.0])) for i in range(n)), {"k": 1})
    seen: list[str] = []
    started = threading.Event()
    stop = threading.Event()

    def writing():
        def rows():
            for i in range(n):
                if i == n // 2:
                    started.set()
                yield f"u{i}", encode_list(["new"], [1.0])

        lists.write(rows(), {"k": 1}, batch=50)
        stop.set()

    reader = _lists(redis_url, "m2")
    thread = threading.Thread(target=writing)
    thread.start()
    started.wait(10)
    i = 0
    while not stop.is_set():  # users already written to the new, unfinished version too
        found = reader.read(f"u{i % n}")
        seen.append("missing" if found is None else found[1][0][0])
        i += 7
    thread.join()
    seen.append(reader.read("u1")[1][0][0])
    assert "missing" not in seen
    assert seen[0] == "old" and seen[-1] == "new"
    flips = sum(a != b for a, b in zip(seen[:-1], seen[1:], strict=True))
    assert flips == 1  # old until the swap, new after it: never the half-written set


def test_unreachable_configured_redis_falls_back(tmp_path) -> None:
    from songscape.catalog.settings import set_setting
    from songscape.catalog.store import LibraryStore
    from songscape.recommend.service import read_precomputed_or_configured
    from tests.engines import free_port

    with LibraryStore(tmp_path / "lib", create=True) as store:
        set_setting(store, "serve.redis", f"redis://127.0.0.1:{free_port()}/0")
        assert read_precomputed_or_configured(store, "u", "als", "d", None) is None
        with pytest.raises(redis.RedisError):
            read_precomputed_or_configured(store, "u", "als", "d",
                                           f"redis://127.0.0.1:{free_port()}/0")  # fmt: skip


def test_the_http_api_reads_from_redis_when_configured(tmp_path, redis_url) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from songscape.catalog.settings import set_setting
    from songscape.catalog.store import LibraryStore
    from songscape.recommend import service
    from songscape.recommend.importer import import_events
    from songscape.server.app import create_app
    from songscape.synthetic.listening import make_listening_library

    root, _ids, events = make_listening_library(tmp_path)
    with LibraryStore(root) as store:
        import_events(store, events, "csv")
        user = service.users_summary(store)[0]["id"]
        report = service.precompute(store, "als", k=20, redis_url=redis_url)
    with TestClient(create_app(root)) as client:
        before = client.get("/api/recommend", params={"user": user, "k": 5}).json()
        with LibraryStore(root) as store:
            set_setting(store, "serve.redis", redis_url)
        after = client.get("/api/recommend", params={"user": user, "k": 5}).json()
    assert before["source"] == "model" and after["source"] == "redis"
    assert [r["item"] for r in after["results"]] == [r["item"] for r in before["results"]]
    stored = _lists(redis_url, "als")
    assert stored.current() == report["version"] and int(stored.meta()["count"]) == report["users"]
