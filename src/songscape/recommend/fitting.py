"""Recommenders fitted on a library's listening events, and their cache.

Items
    An event's item is its linked track id when it has one (so plays of one song under
    different spellings merge), else the raw item string.

Fitting and the cache
    Models are fitted on all the library's events (no hygiene filtering: every user who
    has events can be recommended). The fitted model is pickled under
    ``<library>/recs/<model>-s<seed>-<digest>.pkl``, where the digest hashes every event
    (user, item, count, timestamp) and, for models that use audio, the embedding set.
    Importing events changes the digest, so the next call refits (and removes the stale
    file).

The hybrid's item2vec part
    When the library has playlists or timestamped events, the hybrid's item2vec vectors
    come from :class:`~songscape.recommend.words.WordItem2Vec` trained on the users'
    item lists plus the playlists and listening sessions (with their words); otherwise
    from item2vec over the users' item lists alone.

Cold items
    When the library's tracks have audio embeddings (``store.embedding_matrix`` of the
    library's default model) and at least :data:`MIN_MAPPED_ITEMS` played items have one,
    the ``als`` model learns a ridge map from embeddings to ALS item factors
    (:class:`~songscape.recommend.coldstart.FactorMapper`): tracks nobody has played get
    factors (:attr:`Fitted.cold_factors`) and are ranked too (:func:`rank_user`).
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from songscape.catalog import listening
from songscape.catalog.store import LibraryStore
from songscape.errors import NoEventsError
from songscape.recommend.base import Recommender, top_k
from songscape.recommend.coldstart import FactorMapper
from songscape.recommend.data import Interactions
from songscape.recommend.item2vec import user_sentences
from songscape.recommend.recommenders import MODELS
from songscape.recommend.words import ITEM, WordItem2Vec, event_sessions, playlist_sentences

log = logging.getLogger(__name__)

#: The folder of a library that holds the fitted-model cache.
CACHE_DIR = "recs"
#: Played items with an embedding needed before cold tracks are mapped to factors.
MIN_MAPPED_ITEMS = 10


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
    rows = listening.event_rows(store.conn)
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


def events_digest(store: LibraryStore) -> str:
    """The digest of the library's current events."""
    return library_interactions(store)[1]


def library_embeddings(store: LibraryStore) -> tuple[dict[str, np.ndarray], str]:
    """``{track_id: vector}`` of the library's default model and a digest of that set."""
    ids, _paths, vectors = store.embedding_matrix(store.default_model())
    h = hashlib.blake2b(vectors.tobytes(), digest_size=8)
    h.update("\x1f".join(ids).encode())
    return {t: vectors[i] for i, t in enumerate(ids)}, h.hexdigest()


def make_recommender(
    name: str,
    inter: Interactions,
    features: np.ndarray | None,
    seed: int,
    item2vec_vectors: np.ndarray | None = None,
) -> Recommender:
    """An unfitted model ``name`` with parameters scaled to the library's size."""
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


def fit_model(
    store: LibraryStore, name: str, inter: Interactions, digest: str, seed: int
) -> Fitted:
    """Fit model ``name`` on ``inter`` (the library's events, of digest ``digest``)."""
    features = None
    emb: dict[str, np.ndarray] = {}
    if name in ("hybrid", "als"):
        emb, _ = library_embeddings(store)
        if emb:
            dim = len(next(iter(emb.values())))
            features = np.zeros((inter.n_items, dim), dtype=np.float32)
            for i, item in enumerate(inter.items):
                if item in emb:
                    features[i] = emb[item]
    t0 = time.perf_counter()
    vectors = playlist_item2vec(store, inter, seed) if name == "hybrid" else None
    model = make_recommender(name, inter, features, seed, vectors).fit(inter)
    fitted = Fitted(name, digest, inter.users, inter.items, model, time.perf_counter() - t0)
    if name == "als" and features is not None:
        played = [i for i, item in enumerate(inter.items) if item in emb]
        cold = sorted(set(emb) - set(inter.items))
        if len(played) >= MIN_MAPPED_ITEMS and cold:
            mapper = FactorMapper("ridge").fit(features[played], model.item_vectors[played])
            fitted.cold_items = cold
            fitted.cold_factors = mapper.predict(np.stack([emb[t] for t in cold]))
    return fitted


def playlist_item2vec(store: LibraryStore, inter: Interactions, seed: int) -> np.ndarray | None:
    """item2vec vectors of the items trained on the users' item lists plus the library's
    playlists and listening sessions (with their words); None when there are neither."""
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
        key = hashlib.blake2b(f"{digest}:{library_embeddings(store)[1]}".encode(),
                              digest_size=16).hexdigest()  # fmt: skip
    path = store.root / CACHE_DIR / f"{name}-s{seed}-{key}.pkl"
    cached = load_cached(path, Fitted, digest)
    if cached is not None:
        return cached
    fitted = fit_model(store, name, inter, digest, seed)
    save_cached(path, fitted, f"{name}-s{seed}-")
    return fitted


def rank_user(fitted: Fitted, u: int, k: int) -> tuple[list[str], list[float]]:
    """The top-k unseen items (cold tracks included) of user index ``u`` and their scores."""
    model = fitted.model
    scores = model.score_user(u).astype(np.float64, copy=True)
    scores[model.seen_items(u)] = -np.inf
    names = list(fitted.items)
    if fitted.cold_factors is not None:
        cold = (fitted.cold_factors @ model.user_vectors[u]).astype(np.float64)
        scores = np.concatenate([scores, cold])
        names += fitted.cold_items
    top = top_k(scores, k)
    return [names[i] for i in top], scores[top].tolist()


def load_cached(path: Path, cls: type, digest: str):
    """The pickled ``cls`` at ``path`` when it is there, loads and has ``digest``; else None
    (an unreadable file is logged and refitted over)."""
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as err:
        log.warning("ignoring the unreadable model cache %s (%s): refitting", path, err)
        return None
    return obj if isinstance(obj, cls) and obj.digest == digest else None


def save_cached(path: Path, obj, prefix: str) -> None:
    """Pickle ``obj`` to ``path`` atomically (temp file, then rename) and delete the other
    ``<prefix>*.pkl`` files of the folder (stale digests) and ``<prefix>*.tmp`` files (left
    by killed writers). A library that cannot be written (read-only) still answers,
    without the cache: logged."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        for old in [*folder.glob(f"{prefix}*.pkl"), *folder.glob(f"{prefix}*.tmp")]:
            # older digests, and the temp files of writers killed mid-write (issue 16)
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as err:
        log.warning("cannot write the model cache %s (%s): going on without it", path, err)


def cache_files(root: str | Path) -> list[Path]:
    """The fitted-model cache files of a library."""
    return sorted((Path(root) / CACHE_DIR).glob("*.pkl"))
