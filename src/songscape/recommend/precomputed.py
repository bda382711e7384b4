"""Precomputed recommendation lists: every user's top-k stored ahead of the requests.

:func:`precompute` stores the top-k of every user in the catalog's ``recommendations``
table, or in Redis (keys ``songscape:recs:<model>:<user>``, JSON values; the ``scale``
extra), with the digest of the events they came from; :func:`read_precomputed` returns a
stored list only while that digest is the current one.
"""

from __future__ import annotations

import json
import time

from songscape.catalog import listening
from songscape.catalog.store import LibraryStore
from songscape.extras import require
from songscape.recommend.fitting import events_digest, get_model, rank_user

REDIS_PREFIX = "songscape:recs:"
#: Seconds a Redis call may take before it fails.
REDIS_TIMEOUT_S = 5


def redis_client(url: str):
    """A Redis client for ``url`` (``redis://host:port/db``).

    Raises
    ------
    MissingExtraError
        The ``redis`` package (the ``scale`` extra) is not installed.
    """
    redis = require("redis", "scale", "precomputed recommendations in Redis (--redis)")
    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S)


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
    rows = []
    for user, u in fitted.user_index.items():
        items, scores = rank_user(fitted, u, k)
        payload = [[x, round(float(s), 6)] for x, s in zip(items, scores, strict=True)]
        rows.append((user, json.dumps(payload)))
    if redis_url:
        client = redis_client(redis_url)
        pipe = client.pipeline(transaction=False)
        for user, payload in rows:
            value = {"k": k, "digest": fitted.digest, "created_at": now,
                     "items": json.loads(payload)}  # fmt: skip
            pipe.set(f"{REDIS_PREFIX}{model}:{user}", json.dumps(value))
        pipe.execute()
        target = redis_url
    else:
        stored = [(user, k, payload, fitted.digest, now) for user, payload in rows]
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
        raw = redis_client(redis_url).get(f"{REDIS_PREFIX}{model}:{user}")
        if raw is None:
            return None
        value = json.loads(raw)
        if value.get("digest") != digest:
            return None
        return {"k": int(value["k"]), "items": value["items"], "source": "redis"}
    row = listening.precomputed_list(store.conn, user, model)
    if row is None or row["events_digest"] != digest:
        return None
    return {"k": int(row["k"]), "items": json.loads(row["items"]), "source": "precomputed"}
