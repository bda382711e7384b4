"""Top-k lists in Redis at scale: versioned sets, written with pipelining, swapped atomically.

A *set* is every list of one kind and model (``recs``: a user's recommendations;
``similar``: a track's nearest tracks). Each precompute run writes a new **version**:

- ``<ns>:<kind>:<model>:seq`` — ``INCR`` gives the run its version number ``v``;
- ``<ns>:<kind>:<model>:v<v>:b<bucket>`` — Redis hashes (field = user or track id,
  value = the list as compact JSON ``[[id, ...], [score, ...]]``); a key's bucket is
  ``crc32(key) % buckets``, so one version is spread over ``buckets`` hashes (no single
  giant key; on a Redis Cluster the buckets land on different shards);
- ``<ns>:<kind>:<model>:v<v>:meta`` — a hash: ``k``, ``digest``, ``created_at``,
  ``count``, ``buckets``;
- ``<ns>:<kind>:<model>:current`` — the version readers use.

Writes go out in pipelines of :data:`PIPELINE_BATCH` commands (one round trip each, no
``MULTI``); only when every list is written does one ``SET`` of ``current`` make the new
version visible — a single command, so readers see either the whole old set or the whole
new one, never a mix. The previous version is then given :data:`GRACE_S` seconds to live
(``EXPIRE``) so a reader that resolved ``current`` just before the swap still finds its
lists, and disappears on its own. A run that dies half way leaves an orphan version that
``current`` never points at (it expires after :data:`ORPHAN_TTL_S`).
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from songscape.extras import require

NAMESPACE = "songscape"
#: Commands per pipeline round trip.
PIPELINE_BATCH = 2000
#: Hashes one version is spread over.
DEFAULT_BUCKETS = 256
#: Seconds the replaced version stays readable after a swap.
GRACE_S = 60
#: Seconds an unfinished version lives (set on every write; cleared by the swap).
ORPHAN_TTL_S = 24 * 3600
#: Seconds a Redis call may take before it fails.
REDIS_TIMEOUT_S = 5


def redis_client(url: str, feature: str = "precomputed lists in Redis (--redis)") -> Any:
    """A ``redis.Redis`` client for ``url`` (``redis://host:port/db``).

    Raises
    ------
    MissingExtraError
        The ``redis`` package (the ``scale`` extra) is not installed.
    """
    redis = require("redis", "scale", feature)
    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S)


def bucket_of(key: str, buckets: int) -> int:
    """The hash bucket of ``key`` (CRC-32 of its UTF-8 bytes, modulo ``buckets``)."""
    return zlib.crc32(key.encode()) % buckets


def encode_list(ids: Sequence[Any], scores: Sequence[float]) -> bytes:
    """A top-k list as compact JSON ``[[id, ...], [score, ...]]`` (scores to 6 digits)."""
    rounded = np.round(np.asarray(scores, dtype=np.float64), 6).tolist()
    return json.dumps([list(ids), rounded], separators=(",", ":")).encode()


def decode_list(raw: bytes) -> list[list]:
    """``[[id, score], ...]`` from :func:`encode_list`'s bytes."""
    ids, scores = json.loads(raw)
    return [[i, s] for i, s in zip(ids, scores, strict=True)]


class RedisLists:
    """The versioned top-k lists of one ``kind`` (``recs``, ``similar``) and ``model``.

    Parameters
    ----------
    client : redis.Redis
    kind, model : str
        Which set; part of every key.
    namespace : str
        First part of every key (default ``songscape``).
    """

    def __init__(self, client: Any, kind: str, model: str, namespace: str = NAMESPACE):
        self.client = client
        self.base = f"{namespace}:{kind}:{model}"
        self._metas: dict[int, dict[str, str]] = {}  # a version's meta never changes

    def _bucket_key(self, version: int, bucket: int) -> str:
        return f"{self.base}:v{version}:b{bucket}"

    def _meta_key(self, version: int) -> str:
        return f"{self.base}:v{version}:meta"

    def write(
        self,
        lists: Iterable[tuple[str, bytes]],
        meta: dict[str, Any],
        buckets: int = DEFAULT_BUCKETS,
        batch: int = PIPELINE_BATCH,
    ) -> dict[str, Any]:
        """Write a new version of the set and make it current.

        Parameters
        ----------
        lists : iterable of (key, value)
            A user or track id and its encoded list (:func:`encode_list`); streamed.
        meta : dict
            Stored with the version (``k``, ``digest``, ...); strings and numbers.
        buckets : int
            Hashes to spread the version over.
        batch : int
            Commands per pipeline round trip.

        Returns
        -------
        dict
            ``version``, ``previous`` (None for the first), ``count``, ``seconds``.
        """
        started = time.perf_counter()
        version = int(self.client.incr(f"{self.base}:seq"))
        pipe = self.client.pipeline(transaction=False)
        pending = 0
        count = 0
        touched: set[int] = set()
        for key, value in lists:
            b = bucket_of(key, buckets)
            pipe.hset(self._bucket_key(version, b), key, value)
            if b not in touched:  # an unfinished version must not live forever
                touched.add(b)
                pipe.expire(self._bucket_key(version, b), ORPHAN_TTL_S)
            count += 1
            pending += 1
            if pending >= batch:
                pipe.execute()
                pending = 0
        info = {**{k: str(v) for k, v in meta.items()}, "count": str(count),
                "buckets": str(buckets), "created_at": repr(time.time())}  # fmt: skip
        pipe.hset(self._meta_key(version), mapping=info)
        pipe.execute()
        # Make it durable (no TTL) *before* it becomes visible.
        for b in touched:
            pipe.persist(self._bucket_key(version, b))
        pipe.execute()
        previous = self.client.getset(f"{self.base}:current", version)  # the atomic swap
        if previous is not None:
            old = int(previous)
            if old != version:
                for b in range(self._buckets_of(old)):
                    pipe.expire(self._bucket_key(old, b), GRACE_S)
                pipe.expire(self._meta_key(old), GRACE_S)
                pipe.execute()
        return {"version": version, "previous": None if previous is None else int(previous),
                "count": count, "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip

    def _buckets_of(self, version: int) -> int:
        raw = self.client.hget(self._meta_key(version), "buckets")
        return int(raw) if raw is not None else DEFAULT_BUCKETS

    def current(self) -> int | None:
        """The version readers use now (None: nothing written yet)."""
        raw = self.client.get(f"{self.base}:current")
        return None if raw is None else int(raw)

    def meta(self, version: int | None = None) -> dict[str, str] | None:
        """The stored meta of ``version`` (default: the current one), or None."""
        version = self.current() if version is None else version
        if version is None:
            return None
        raw = self.client.hgetall(self._meta_key(version))
        return {k.decode(): v.decode() for k, v in raw.items()} or None

    def read(self, key: str) -> tuple[dict[str, str], list[list]] | None:
        """``(meta, [[id, score], ...])`` of ``key`` in the current version, or None.

        Two round trips (the current version, then the list); a version's meta is read
        once per object.
        """
        version = self.current()
        if version is None:
            return None
        meta = self._metas.get(version) or self.meta(version)
        if meta is None:  # the version expired under us: read the new current
            return self.read(key) if self.current() != version else None
        self._metas[version] = meta
        raw = self.client.hget(self._bucket_key(version, bucket_of(key, int(meta["buckets"]))),
                               key)  # fmt: skip
        return None if raw is None else (meta, decode_list(raw))
