"""Recommendations from a library's listening events: fit on demand, cache, precompute.

Items
    An event's item is its linked track id when it has one (so plays of one song under
    different spellings merge), else the raw item string. Results name the track (title,
    artist) where the item is a library track, else the display name the importers
    recorded in the ``items`` table (HetRec artist names, ``artist``/``title`` columns),
    else nothing but the item.

Fitting and the cache
    Models are fitted on all the library's events (no hygiene filtering: every user who
    has events can be recommended). The fitted model is pickled under
    ``<library>/recs/<model>-<digest>.pkl``, where the digest hashes every event (user,
    item, count, timestamp) and, for models that use audio, the embedding set. Importing
    events changes the digest, so the next call refits (and removes the stale file).

The hybrid's item2vec part
    When the library has playlists or timestamped events, the hybrid's item2vec vectors
    come from :class:`~songscape.recommend.words.WordItem2Vec` trained on the users'
    item lists plus the playlists and listening sessions (with their words); otherwise
    from item2vec over the users' item lists alone.

Cold items and new users
    When the library's tracks have audio embeddings (``store.embedding_matrix`` of the
    library's default model) and enough played items have one, the ``als`` model learns
    a ridge map from embeddings to ALS item factors (:class:`FactorMapper`): tracks
    nobody has played get factors and are recommended too. ``recommend_seed`` folds a new
    user in from seed tracks/items (:func:`fold_in_user`, always with the ALS model);
    a seed that is a cold track uses its mapped factors.

Words
    :func:`recommend_words` ranks items by their closeness to words ("autumn rain") in a
    :class:`~songscape.recommend.words.WordItem2Vec` space trained on the users' item
    lists, the playlists (with their title words and tags) and the listening sessions;
    it is cached like the models, as ``<library>/recs/item2vec-words-s<seed>-<digest>.pkl``
    where the digest hashes those sentences (so importing events or playlists refits).

Precomputed lists
    :func:`precompute` stores the top-k of every user in the ``recommendations`` table
    (or Redis, keys ``songscape:recs:<model>:<user>``, JSON values) with the events
    digest; :func:`recommend_user` serves a stored list while its digest is current.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from songscape.catalog.store import LibraryStore, TrackNotFoundError
from songscape.errors import NoEventsError, UnknownItemError, UnknownUserError, UnknownWordsError
from songscape.recommend.data import Interactions
from songscape.recommend.recommenders import MODELS, Recommender, top_k, user_sentences

CACHE_DIR = "recs"
REDIS_PREFIX = "songscape:recs:"
#: Played items with an embedding needed before cold tracks are mapped to factors.
MIN_MAPPED_ITEMS = 10
SERVICE_MODELS = tuple(MODELS)


#: The name of :func:`recommend_words`' model (results and cache files).
WORDS_MODEL = "item2vec-words"
#: Below this many tokens the words model trains without downsampling and with more epochs.
SMALL_CORPUS_TOKENS = 20_000


@dataclass
class Fitted:
    """A fitted model with its item/user indexing and the events digest it came from."""

    name: str
    digest: str
    users: list[str]
    items: list[str]
    model: Recommender
    fit_s: float
    cold_items: list[str] = field(default_factory=list)
    cold_factors: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.user_index = {u: i for i, u in enumerate(self.users)}
        self.item_index = {x: i for i, x in enumerate(self.items)}


def library_interactions(store: LibraryStore) -> tuple[Interactions, str]:
    """The library's events as :class:`Interactions` and their digest (hex).

    Raises
    ------
    NoEventsError
        When there are no events.
    """
    rows = store.conn.execute(
        "SELECT user_id, COALESCE(track_id, item) AS item, count, timestamp FROM events "
        "ORDER BY user_id, item, rowid"
    ).fetchall()
    if not rows:
        raise NoEventsError("the library has no listening events (run `songscape import-events`)")
    h = hashlib.blake2b(digest_size=16)
    for r in rows:
        h.update(f"{r[0]}\x1f{r[1]}\x1f{r[2]!r}\x1f{r[3]!r}\x1e".encode())
    users = [r[0] for r in rows]
    items = [r[1] for r in rows]
    counts = [r[2] for r in rows]
    stamps = [r[3] for r in rows]
    ts = stamps if all(s is not None for s in stamps) else None
    return Interactions.from_triples(users, items, counts, ts), h.hexdigest()


def users_summary(store: LibraryStore) -> list[dict]:
    """Every user with events: ``id``, ``events`` (rows), ``items`` (distinct), ``plays``."""
    return [
        {"id": r["id"], "events": r["events"], "items": r["items"], "plays": float(r["plays"])}
        for r in store.conn.execute(
            "SELECT u.id, COUNT(e.rowid) AS events, COUNT(DISTINCT COALESCE(e.track_id, e.item)) "
            "AS items, COALESCE(SUM(e.count), 0) AS plays FROM users u "
            "LEFT JOIN events e ON e.user_id = u.id GROUP BY u.id ORDER BY u.id"
        )
    ]


def _embeddings(store: LibraryStore) -> tuple[dict[str, np.ndarray], str]:
    ids, _paths, vectors = store.embedding_matrix(store.default_model())
    h = hashlib.blake2b(vectors.tobytes(), digest_size=8)
    h.update("\x1f".join(ids).encode())
    return {t: vectors[i] for i, t in enumerate(ids)}, h.hexdigest()


def _make(
    name: str,
    inter: Interactions,
    features: np.ndarray | None,
    seed: int,
    item2vec_vectors: np.ndarray | None = None,
) -> Recommender:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} (choose from {', '.join(MODELS)})")
    # item2vec drops items with fewer listeners than min_count: scale it to small libraries
    min_count = int(min(30, max(1, inter.n_users // 50)))
    if name == "item2vec":
        return MODELS[name](min_count=min_count, seed=seed)
    if name == "hybrid":
        return MODELS[name](
            item_features=features,
            item2vec_vectors=item2vec_vectors,
            item2vec={"min_count": min_count},
            seed=seed,
        )
    return MODELS[name](seed=seed)


def _fit(store: LibraryStore, name: str, inter: Interactions, digest: str, seed: int) -> Fitted:
    features = None
    emb: dict[str, np.ndarray] = {}
    if name in ("hybrid", "als"):
        emb, _ = _embeddings(store)
        if emb:
            dim = len(next(iter(emb.values())))
            features = np.zeros((inter.n_items, dim), dtype=np.float32)
            for i, item in enumerate(inter.items):
                if item in emb:
                    features[i] = emb[item]
    t0 = time.perf_counter()
    vectors = _playlist_item2vec(store, inter, seed) if name == "hybrid" else None
    model = _make(name, inter, features, seed, vectors).fit(inter)
    fitted = Fitted(name, digest, inter.users, inter.items, model, time.perf_counter() - t0)
    if name == "als" and features is not None:
        from songscape.recommend.coldstart import FactorMapper

        played = [i for i, item in enumerate(inter.items) if item in emb]
        cold = sorted(set(emb) - set(inter.items))
        if len(played) >= MIN_MAPPED_ITEMS and cold:
            mapper = FactorMapper("ridge").fit(features[played], model.item_vectors[played])
            fitted.cold_items = cold
            fitted.cold_factors = mapper.predict(np.stack([emb[t] for t in cold]))
    return fitted


def _playlist_item2vec(store: LibraryStore, inter: Interactions, seed: int) -> np.ndarray | None:
    """item2vec vectors of the items trained on the users' item lists plus the library's
    playlists and listening sessions (with their words); None when there are neither."""
    from songscape.recommend.words import ITEM, WordItem2Vec, event_sessions, playlist_sentences

    extra = playlist_sentences(store) + event_sessions(store)
    if not extra:
        return None
    lists = user_sentences(inter.matrix, [ITEM + item for item in inter.items])
    min_count = int(min(5, max(1, inter.n_users // 50)))
    words = WordItem2Vec(min_count=min_count, seed=seed).fit(lists + extra)
    vectors = words.item_vectors(inter.items)
    return vectors if np.any(vectors) else None


def get_model(store: LibraryStore, name: str = "als", seed: int = 0) -> Fitted:
    """The model fitted on the library's current events (from the cache when fresh).

    Parameters
    ----------
    store : LibraryStore
        The library.
    name : str
        A model of :data:`~songscape.recommend.recommenders.MODELS`.
    seed : int
        Model seed.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} (choose from {', '.join(MODELS)})")
    inter, digest = library_interactions(store)
    key = digest
    if name in ("hybrid", "als"):
        key = hashlib.blake2b(f"{digest}:{_embeddings(store)[1]}".encode(),
                              digest_size=16).hexdigest()  # fmt: skip
    path = store.root / CACHE_DIR / f"{name}-s{seed}-{key}.pkl"
    cached = _load_cached(path, Fitted, digest)
    if cached is not None:
        return cached
    fitted = _fit(store, name, inter, digest, seed)
    _save_cached(path, fitted, f"{name}-s{seed}-")
    return fitted


def _load_cached(path: Path, cls: type, digest: str):
    """The pickled ``cls`` at ``path`` when it is there, loads and has ``digest``; else None."""
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    return obj if isinstance(obj, cls) and obj.digest == digest else None


def _save_cached(path: Path, obj, prefix: str) -> None:
    """Pickle ``obj`` to ``path`` atomically (temp file, then rename) and delete the other
    ``<prefix>*.pkl`` files of the folder (stale digests)."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        for old in folder.glob(f"{prefix}*.pkl"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only library still answers, just without the cache


def events_digest(store: LibraryStore) -> str:
    """The digest of the library's current events."""
    return library_interactions(store)[1]


def item_names(store: LibraryStore, items: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """``{item: (artist, title)}`` from the ``items`` table (names recorded on import) for
    the items that have one."""
    unique = list(dict.fromkeys(items))
    out: dict[str, tuple[str | None, str | None]] = {}
    try:
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in store.conn.execute(
                f"SELECT item, artist, title FROM items WHERE item IN ({marks})", chunk
            ):
                out[r["item"]] = (r["artist"], r["title"])
    except sqlite3.OperationalError:  # a catalog from before the items table
        return {}
    return out


def _describe(store: LibraryStore, items: list[str], scores: list[float]) -> list[dict]:
    names = item_names(store, items)
    out = []
    for item, score in zip(items, scores, strict=True):
        row = store.conn.execute(
            "SELECT id, title, artist, album, path FROM tracks WHERE id = ?", (item,)
        ).fetchone()
        entry = {"item": item, "score": round(float(score), 6), "track_id": None,
                 "title": None, "artist": None}  # fmt: skip
        if row is not None:
            entry.update(track_id=row["id"], title=row["title"], artist=row["artist"],
                         album=row["album"])  # fmt: skip
        elif item in names:
            entry.update(artist=names[item][0], title=names[item][1])
        out.append(entry)
    return out


def _name_items(store: LibraryStore, entries: list[dict]) -> None:
    """Add ``artist`` and ``title`` (None when unknown) to dicts with an ``item``: the
    library track's, else the imported name."""
    names = item_names(store, [e["item"] for e in entries])
    for e in entries:
        row = store.conn.execute(
            "SELECT artist, title FROM tracks WHERE id = ?", (e["item"],)
        ).fetchone()
        artist, title = (row["artist"], row["title"]) if row else names.get(e["item"], (None, None))
        e["artist"], e["title"] = artist, title


def _rank_user(fitted: Fitted, u: int, k: int) -> tuple[list[str], list[float]]:
    model = fitted.model
    scores = model.score_user(u).astype(np.float64, copy=True)
    scores[model._seen(u)] = -np.inf
    names = list(fitted.items)
    if fitted.cold_factors is not None:
        cold = (fitted.cold_factors @ model.user_vectors[u]).astype(np.float64)
        scores = np.concatenate([scores, cold])
        names += fitted.cold_items
    top = top_k(scores, k)
    return [names[i] for i in top], scores[top].tolist()


def _redis(url: str):
    try:
        import redis
    except ImportError as err:  # pragma: no cover - a dependency
        raise RuntimeError("the redis package is not installed (pip install redis)") from err
    return redis.Redis.from_url(url, socket_timeout=5)


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

    A fresh precomputed list (SQLite, or Redis with ``redis_url``) of at least ``k``
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
    known = store.conn.execute("SELECT 1 FROM events WHERE user_id = ? LIMIT 1", (user,))
    if known.fetchone() is None:
        raise UnknownUserError(f"no user {user!r} with listening events in the library")
    digest = events_digest(store)
    if use_precomputed and not explain:
        stored = read_precomputed(store, user, model, digest, redis_url)
        if stored is not None and stored["k"] >= k:
            items, scores = zip(*stored["items"][:k], strict=True) if stored["items"] else ((), ())
            return {"user": user, "model": model, "k": k, "source": stored["source"],
                    "results": _describe(store, list(items), list(scores))}  # fmt: skip
    fitted = get_model(store, model)
    u = fitted.user_index[user]
    items, scores = _rank_user(fitted, u, k)
    results = _describe(store, items, scores)
    if explain:
        for entry in results:
            i = fitted.item_index.get(entry["item"])
            if i is None:
                entry["why"] = {"reason": "cold track: factors mapped from its audio embedding"}
                continue
            why = fitted.model.explain(u, i)
            for near in why.get("because_you_listened", []):
                near["item"] = fitted.items[near["item"]]
            _name_items(store, why.get("because_you_listened", []))
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
    from songscape.recommend.coldstart import fold_in_user

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
        "results": _describe(store, [names[i] for i in top], scores[top].tolist()),
    }


# -- words -> items -------------------------------------------------------------------


@dataclass
class WordsFitted:
    """The words model of a library with the digest of the sentences it was trained on."""

    digest: str
    model: object  # a fitted songscape.recommend.words.WordItem2Vec
    sentences: int
    fit_s: float


def _words_sentences(store: LibraryStore) -> tuple[list[list[str]], int]:
    """The words model's sentences and the number of users with events: each user's items
    (most played first), then :func:`~songscape.recommend.words.playlist_sentences` and
    :func:`~songscape.recommend.words.event_sessions`."""
    from songscape.recommend.words import ITEM, event_sessions, playlist_sentences

    lists: dict[str, list[str]] = {}
    for r in store.conn.execute(
        "SELECT user_id, COALESCE(track_id, item) AS item, SUM(count) AS plays FROM events "
        "GROUP BY user_id, COALESCE(track_id, item) ORDER BY user_id, plays DESC, item"
    ):
        lists.setdefault(r["user_id"], []).append(ITEM + r["item"])
    return list(lists.values()) + playlist_sentences(store) + event_sessions(store), len(lists)


def get_words_model(store: LibraryStore, seed: int = 0) -> WordsFitted:
    """The :class:`~songscape.recommend.words.WordItem2Vec` of the library's current events
    and playlists (from the cache when fresh; see the module docstring).

    Raises
    ------
    NoEventsError
        When the library has neither playlists nor events.
    """
    from songscape.recommend.words import WordItem2Vec

    has_data = store.conn.execute(
        "SELECT EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM playlist_items)"
    ).fetchone()[0]
    if not has_data:
        raise NoEventsError(
            "the library has no playlists or listening events (run `songscape "
            "import-playlists` or `songscape import-events`)"
        )
    sentences, n_users = _words_sentences(store)
    min_count = int(min(5, max(1, n_users // 50)))
    # A small library's corpus is all "frequent" tokens to word2vec's downsampling, and
    # too short for 10 epochs to move the vectors: no downsampling, more epochs.
    tokens = sum(len(s) for s in sentences)
    small = tokens < SMALL_CORPUS_TOKENS
    epochs = int(min(200, max(10, SMALL_CORPUS_TOKENS // max(tokens, 1)))) if small else 10
    sample = 0.0 if small else 1e-3
    h = hashlib.blake2b(f"{min_count}:{epochs}:{sample}\x1d".encode(), digest_size=16)
    for sentence in sentences:
        h.update(("\x1f".join(sentence) + "\x1e").encode())
    digest = h.hexdigest()
    path = store.root / CACHE_DIR / f"{WORDS_MODEL}-s{seed}-{digest}.pkl"
    cached = _load_cached(path, WordsFitted, digest)
    if cached is not None:
        return cached
    t0 = time.perf_counter()
    model = WordItem2Vec(min_count=min_count, epochs=epochs, sample=sample,
                         seed=seed).fit(sentences)  # fmt: skip
    fitted = WordsFitted(digest, model, len(sentences), time.perf_counter() - t0)
    _save_cached(path, fitted, f"{WORDS_MODEL}-s{seed}-")
    return fitted


def recommend_words(store: LibraryStore, text: str, k: int = 20, seed: int = 0) -> dict:
    """The ``k`` items nearest to the words of ``text`` ("autumn rain": the phrase when it is
    a tag of the library, else the mean of its known single words).

    Returns
    -------
    dict
        ``words`` (those used), ``model`` (``item2vec-words``), ``k``, ``source``
        (``model``), ``results`` (as :func:`recommend_user`'s).

    Raises
    ------
    UnknownWordsError
        None of the words occurs in the library's playlists (titles, tags).
    NoEventsError
        The library has neither playlists nor events.
    """
    from songscape.recommend.words import WORD
    from songscape.text import normalize_text

    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not normalize_text(text, strip_featuring=True):
        raise ValueError("give at least one word")
    model = get_words_model(store, seed).model
    vector, used = model.query_vector(text)
    if vector is None:
        known = [t[len(WORD) :] for t in model.wv.index_to_key if t.startswith(WORD)][:8]
        hint = (f"known words include: {', '.join(known)}" if known else
                "the library's playlists have no titles or tags to learn words from")  # fmt: skip
        raise UnknownWordsError(
            f"none of the words of {text!r} occurs in the library's playlists ({hint})"
        )
    hits = model.nearest(vector, "item", k, exclude=used)
    return {
        "words": [t[len(WORD) :] for t in used],
        "model": WORDS_MODEL,
        "k": k,
        "source": "model",
        "results": _describe(store, [x for x, _ in hits], [s for _, s in hits]),
    }


# -- precomputed lists -----------------------------------------------------------------


def precompute(
    store: LibraryStore, model: str = "als", k: int = 50, redis_url: str | None = None
) -> dict:
    """Top-k of every user into the ``recommendations`` table, or Redis with ``redis_url``.

    Returns
    -------
    dict
        ``model``, ``k``, ``users``, ``target`` (``sqlite`` or the Redis URL), ``digest``,
        ``seconds``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    t0 = time.perf_counter()
    fitted = get_model(store, model)
    now = time.time()
    rows = []
    for user, u in fitted.user_index.items():
        items, scores = _rank_user(fitted, u, k)
        payload = [[x, round(float(s), 6)] for x, s in zip(items, scores, strict=True)]
        rows.append((user, json.dumps(payload)))
    if redis_url:
        client = _redis(redis_url)
        pipe = client.pipeline(transaction=False)
        for user, payload in rows:
            pipe.set(
                f"{REDIS_PREFIX}{model}:{user}",
                json.dumps(
                    {
                        "k": k,
                        "digest": fitted.digest,
                        "created_at": now,
                        "items": json.loads(payload),
                    }
                ),  # fmt: skip
            )
        pipe.execute()
        target = redis_url
    else:
        with store.transaction() as conn:
            conn.execute("DELETE FROM recommendations WHERE model = ?", (model,))
            conn.executemany(
                "INSERT INTO recommendations(user_id, model, k, items, events_digest, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(user, model, k, payload, fitted.digest, now) for user, payload in rows],
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
        raw = _redis(redis_url).get(f"{REDIS_PREFIX}{model}:{user}")
        if raw is None:
            return None
        value = json.loads(raw)
        if value.get("digest") != digest:
            return None
        return {"k": int(value["k"]), "items": value["items"], "source": "redis"}
    row = store.conn.execute(
        "SELECT k, items, events_digest FROM recommendations WHERE user_id = ? AND model = ?",
        (user, model),
    ).fetchone()
    if row is None or row["events_digest"] != digest:
        return None
    return {"k": int(row["k"]), "items": json.loads(row["items"]), "source": "precomputed"}


def cache_files(root: str | Path) -> list[Path]:
    """The fitted-model cache files of a library."""
    return sorted((Path(root) / CACHE_DIR).glob("*.pkl"))
