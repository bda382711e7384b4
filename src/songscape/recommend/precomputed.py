"""Precomputed recommendation lists: every user's top-k stored ahead of the requests.

:func:`precompute` stores the top-k of every user in the catalog's ``recommendations``
table, or in Redis (keys ``songscape:recs:<model>:<user>``, JSON values; the ``scale``
extra), with the digest of the events they came from; :func:`read_precomputed` returns a
stored list only while that digest is the current one.

In Redis the lists of one run form a version that replaces the previous one atomically
(:class:`~songscape.recommend.redis_lists.RedisLists`: pipelined writes into bucketed
hashes ``songscape:recs:<model>:v<n>:b<bucket>``, then one swap of
``songscape:recs:<model>:current``), so readers never see a half-written set.
"""

from __future__ import annotations

import json
import time

from songscape.catalog import listening
from songscape.catalog.store import LibraryStore
from songscape.recommend.fitting import events_digest, get_model, rank_user
from songscape.recommend.redis_lists import RedisLists, encode_list, redis_client

#: First part of every Redis key of the precomputed recommendations.
REDIS_PREFIX = "songscape:recs:"


def precompute(
    store: LibraryStore, model: str = "als", k: int = 50, redis_url: str | None = None
) -> dict:
    """Top-k of every user into the ``recommendations`` table, or Redis with ``redis_url``.

    Returns
    -------
    dict
        ``model``, ``k``, ``users``, ``target`` (``sqlite`` or the Redis URL), ``digest``,
        ``seconds``.

    Raises
    ------
    CatalogBusyError
        Another connection kept the catalog locked through every retry.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    t0 = time.perf_counter()
    fitted = get_model(store, model)
    now = time.time()
    rows = [(user, *rank_user(fitted, u, k)) for user, u in fitted.user_index.items()]
    version = None
    if redis_url:
        lists = RedisLists(redis_client(redis_url), "recs", model)
        encoded = ((user, encode_list(items, scores)) for user, items, scores in rows)
        version = lists.write(encoded, {"k": k, "digest": fitted.digest})["version"]
        target = redis_url
    else:
        stored = [
            (user, k, json.dumps([[x, round(float(s), 6)]
                                  for x, s in zip(items, scores, strict=True)]),
             fitted.digest, now)
            for user, items, scores in rows
        ]  # fmt: skip
        listening.in_transaction(
            store,
            lambda conn: listening.replace_recommendations(conn, model, stored),
            f"storing the precomputed {model} lists",
        )
        target = "sqlite"
    return {
        "model": model,
        "k": k,
        "users": len(rows),
        "target": target,
        "version": version,
        "digest": fitted.digest,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def read_precomputed(
    store: LibraryStore,
    user: str,
    model: str,
    digest: str | None = None,
    redis_url: str | None = None,
) -> dict | None:
    """A stored list ``{"k", "items": [[item, score], ...], "source"}`` if fresh, else None
    (``digest`` defaults to the current events' digest)."""
    digest = digest or events_digest(store)
    if redis_url:
        found = RedisLists(redis_client(redis_url), "recs", model).read(user)
        if found is None or found[0].get("digest") != digest:
            return None
        return {"k": int(found[0]["k"]), "items": found[1], "source": "redis"}
    row = listening.precomputed_list(store.conn, user, model)
    if row is None or row["events_digest"] != digest:
        return None
    return {"k": int(row["k"]), "items": json.loads(row["items"]), "source": "precomputed"}
