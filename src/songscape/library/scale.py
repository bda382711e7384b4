"""Precomputed similar-track lists in Redis: ``Library.precompute_similar`` writes every
track's top-k (from the configured vector index) as one versioned set
(:class:`~songscape.recommend.redis_lists.RedisLists`, kind ``similar``), and
``Library.similar`` answers an unfiltered query from it when the library's ``serve.redis``
is set and the set was made from the current catalog (docs/scale.md)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from songscape.catalog.settings import get_setting
from songscape.catalog.store import LibraryStore
from songscape.models.registry import get_spec
from songscape.recommend.redis_lists import RedisLists, encode_list, redis_client
from songscape.vectors import unit_rows

log = logging.getLogger(__name__)

#: Queries per index call while precomputing.
QUERY_BATCH = 256


class ScaleMixin:
    """The Redis similar-list methods of :class:`~songscape.library.library.Library`."""

    store: LibraryStore
    # Library provides: index(model, backend), embeddings(model), default_model.
    index: Any
    embeddings: Any
    default_model: Any

    def _similar_digest(self, model: str) -> str:
        return f"{get_spec(model).version}:{self.store.catalog_version}"

    def precompute_similar(
        self, redis_url: str, k: int = 50, model: str | None = None, backend: str | None = None
    ) -> dict:
        """Every track's ``k`` most similar tracks into Redis as a new version of the set.

        Parameters
        ----------
        redis_url : str
            ``redis://host:port/db``.
        k : int
            List length.
        model : str, optional
            Embedding model (default: the library's).
        backend : str, optional
            Vector index that answers (default: ``index.backend``).

        Returns
        -------
        dict
            ``model``, ``k``, ``tracks``, ``version``, ``target``, ``seconds``.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        started = time.perf_counter()
        spec = get_spec(model or self.default_model)
        index = self.index(spec.name, backend)
        digest = self._similar_digest(spec.name)
        data = self.embeddings(spec.name)
        ids, vectors = data["ids"], unit_rows(np.asarray(data["vectors"], dtype=np.float32))

        def lists() -> Iterator[tuple[str, bytes]]:
            for start in range(0, len(ids), QUERY_BATCH):
                batch = vectors[start:start + QUERY_BATCH]
                for tid, hits in zip(ids[start:start + QUERY_BATCH],
                                     index.search(batch, k + 1), strict=True):  # fmt: skip
                    kept = [(t, s) for t, s in hits if t != tid][:k]
                    yield tid, encode_list([t for t, _ in kept], [s for _, s in kept])

        lists_store = RedisLists(redis_client(redis_url), "similar", spec.name)
        written = lists_store.write(lists(), {"k": k, "digest": digest})
        return {"model": spec.name, "k": k, "tracks": written["count"],
                "version": written["version"], "target": redis_url,
                "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip

    def precomputed_similar(self, track_id: str, k: int, model: str) -> list | None:
        """``[(track id, score), ...]`` of ``track_id`` from the ``serve.redis`` set, or
        None (no Redis configured, no fresh list of at least ``k``, Redis unreachable)."""
        url = get_setting(self.store, "serve.redis")
        if not url:
            return None
        client = redis_client(url, "serve.redis (precomputed lists in Redis)")
        try:
            found = RedisLists(client, "similar", model).read(track_id)
        except Exception as err:  # redis.RedisError; the live index answers instead
            log.warning("serve.redis %s: %s; answering from the index", url, err)
            return None
        if found is None:
            return None
        meta, items = found
        if meta.get("digest") != self._similar_digest(model) or int(meta["k"]) < k:
            return None
        return [(t, float(s)) for t, s in items[:k]]
