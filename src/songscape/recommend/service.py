"""Recommendations from a library's listening events: the entry points the CLI and the
web app call.

* :func:`recommend_user`: a user's top-k, from a fresh precomputed list
  (:mod:`~songscape.recommend.precomputed`, SQLite or Redis) when there is one, else
  from the model fitted on the library's events (:mod:`~songscape.recommend.fitting`:
  fitting, the cache under ``<library>/recs/``, cold tracks mapped from their audio).
* :func:`recommend_seed`: a new user who likes some seed tracks/items is folded in
  (:func:`~songscape.recommend.coldstart.fold_in_user`, always with the ALS model); a
  seed that is a cold track uses its mapped factors.
* :func:`~songscape.recommend.word_recs.recommend_words`: items for words ("autumn
  rain"), from item2vec over the playlists with their titles and tags.
* :func:`~songscape.recommend.precomputed.precompute`: every user's top-k stored ahead.

Results name their items (:mod:`~songscape.recommend.results`): the library track's
title and artist, else the display name the importers recorded, else nothing but the item.
This module also re-exports the names of those modules that callers use
(``service.get_model``, ``service.precompute``, ``service.recommend_words`` ...).
"""

from __future__ import annotations

import logging

import numpy as np

from songscape.catalog import listening
from songscape.catalog.settings import get_setting
from songscape.catalog.store import LibraryStore, TrackNotFoundError
from songscape.errors import NoEventsError, UnknownItemError, UnknownUserError, UnknownWordsError
from songscape.extras import require
from songscape.recommend.base import top_k
from songscape.recommend.coldstart import fold_in_user
from songscape.recommend.fitting import (
    CACHE_DIR,
    MIN_MAPPED_ITEMS,
    Fitted,
    cache_files,
    events_digest,
    get_model,
    library_interactions,
    rank_user,
)
from songscape.recommend.precomputed import REDIS_PREFIX, precompute, read_precomputed
from songscape.recommend.recommenders import MODELS
from songscape.recommend.results import describe, name_items
from songscape.recommend.word_recs import (
    SMALL_CORPUS_TOKENS,
    WORDS_MODEL,
    WordsFitted,
    get_words_model,
    recommend_words,
)

log = logging.getLogger(__name__)

__all__ = [
    "CACHE_DIR",
    "MIN_MAPPED_ITEMS",
    "REDIS_PREFIX",
    "SERVICE_MODELS",
    "SMALL_CORPUS_TOKENS",
    "WORDS_MODEL",
    "Fitted",
    "NoEventsError",
    "UnknownItemError",
    "UnknownUserError",
    "UnknownWordsError",
    "WordsFitted",
    "cache_files",
    "events_digest",
    "get_model",
    "get_words_model",
    "library_interactions",
    "precompute",
    "read_precomputed",
    "recommend_seed",
    "recommend_user",
    "recommend_words",
    "resolve_seed",
    "users_summary",
]

SERVICE_MODELS = tuple(MODELS)


def users_summary(store: LibraryStore) -> list[dict]:
    """Every user with events: ``id``, ``events`` (rows), ``items`` (distinct), ``plays``."""
    return [
        {"id": r["id"], "events": r["events"], "items": r["items"], "plays": float(r["plays"])}
        for r in listening.user_summaries(store.conn)
    ]


def read_precomputed_or_configured(
    store: LibraryStore, user: str, model: str, digest: str, redis_url: str | None
) -> dict | None:
    """:func:`read_precomputed` from ``redis_url``, else from the library's ``serve.redis``
    setting (how the HTTP API reads Redis), else from SQLite. A configured Redis that
    cannot be reached is logged and skipped (the model answers); an explicit
    ``redis_url`` that fails raises."""
    if redis_url is not None:
        return read_precomputed(store, user, model, digest, redis_url)
    configured = get_setting(store, "serve.redis")
    if configured:
        redis = require("redis", "scale", "serve.redis (precomputed lists in Redis)")
        try:
            return read_precomputed(store, user, model, digest, configured)
        except redis.RedisError as err:
            log.warning("serve.redis %s: %s; answering from the model", configured, err)
            return None
    return read_precomputed(store, user, model, digest, None)


def recommend_user(
    store: LibraryStore,
    user: str,
    k: int = 20,
    model: str = "als",
    explain: bool = False,
    redis_url: str | None = None,
    use_precomputed: bool = True,
) -> dict:
    """Top-k for a user of the library's events.

    A fresh precomputed list (SQLite, or Redis with ``redis_url`` or the library's
    ``serve.redis`` setting) of at least ``k``
    items is served when there is one and ``explain`` is off; otherwise the model is
    fitted (or loaded from the cache).

    Returns
    -------
    dict
        ``user``, ``model``, ``k``, ``source`` (``precomputed``, ``redis`` or ``model``),
        ``results`` (``item``, ``score``, ``track_id``, ``title``, ``artist`` [, ``why``]).

    Raises
    ------
    UnknownUserError
        The user has no events.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not listening.user_has_events(store.conn, user):
        raise UnknownUserError(f"no user {user!r} with listening events in the library")
    digest = events_digest(store)
    if use_precomputed and not explain:
        stored = read_precomputed_or_configured(store, user, model, digest, redis_url)
        if stored is not None and stored["k"] >= k:
            items, scores = zip(*stored["items"][:k], strict=True) if stored["items"] else ((), ())
            return {"user": user, "model": model, "k": k, "source": stored["source"],
                    "results": describe(store, list(items), list(scores))}  # fmt: skip
    fitted = get_model(store, model)
    u = fitted.user_index[user]
    items, scores = rank_user(fitted, u, k)
    results = describe(store, items, scores)
    if explain:
        for entry in results:
            i = fitted.item_index.get(entry["item"])
            if i is None:
                entry["why"] = {"reason": "cold track: factors mapped from its audio embedding"}
                continue
            why = fitted.model.explain(u, i)
            for near in why.get("because_you_listened", []):
                near["item"] = fitted.items[near["item"]]
            name_items(store, why.get("because_you_listened", []))
            why.pop("user", None)
            why.pop("item", None)
            entry["why"] = why
    return {"user": user, "model": model, "k": k, "source": "model", "results": results}


def resolve_seed(store: LibraryStore, fitted: Fitted, ref: str) -> tuple[str, int | None]:
    """``(item, index)`` of a seed: a library track (id, id prefix, path), or an item of
    the events; index is None for a cold track (mapped factors)."""
    if ref in fitted.item_index:
        return ref, fitted.item_index[ref]
    try:
        track_id = store.get_track(ref)["id"]
    except TrackNotFoundError:
        track_id = None
    if track_id is not None:
        if track_id in fitted.item_index:
            return track_id, fitted.item_index[track_id]
        if track_id in fitted.cold_items:
            return track_id, None
        raise UnknownItemError(
            f"track {track_id} has no listening events and no audio embedding to map"
        )
    raise UnknownItemError(f"no track or item {ref!r} in the library's events")


def recommend_seed(store: LibraryStore, seeds: list[str], k: int = 20) -> dict:
    """Top-k for a new user who likes ``seeds`` (ALS fold-in; see the module docstring)."""
    if not seeds:
        raise ValueError("give at least one seed")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    fitted = get_model(store, "als")
    model = fitted.model
    names = list(fitted.items)
    factors = model.item_vectors
    if fitted.cold_factors is not None:
        factors = np.vstack([factors, fitted.cold_factors])
        names += fitted.cold_items
    index = {x: i for i, x in enumerate(names)}
    resolved = [resolve_seed(store, fitted, s)[0] for s in seeds]
    rows = sorted({index[x] for x in resolved})
    user = fold_in_user(model, rows, item_factors=factors)
    scores = (factors @ user).astype(np.float64)
    scores[rows] = -np.inf
    top = top_k(scores, k)
    return {
        "seeds": resolved,
        "model": "als (fold-in)",
        "k": k,
        "source": "model",
        "results": describe(store, [names[i] for i in top], scores[top].tolist()),
    }
