"""Listening data with planted structure, for the recommendation tests and benchmarks.

* :func:`planted`: two groups of :data:`N_PER_GROUP` users, each listening only to items
  of its own block (items ``0..BLOCK-1`` for group A, ``BLOCK..2*BLOCK-1`` for group B),
  each user to :data:`PER_USER` of the block's items with random counts;
  :func:`planted_features` gives those items content vectors with the same blocks.
* :func:`blocks`: ``n_groups`` groups whose users play items of their own block with a
  skewed (1/rank) popularity, timestamped in play order.
* :func:`make_listening_library`: a synthetic library with an events CSV whose users of
  a genre play that genre's tracks (by id, path or "artist - title") plus outside items.
* :func:`make_words_library`: a library without tracks whose playlists carry the words
  "autumn evenings" (items A, B, C) and "summer party" (D, E, F).
* :func:`synthetic_lastfm`: a play-count matrix the size of Last.fm 360K (or scaled down)
  for timing, with power-law item popularity.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from songscape.catalog.store import LibraryStore
from songscape.recommend.data import Interactions
from songscape.recommend.importer import import_playlists
from songscape.synthetic.catalogs import build_synthetic_library

#: Users per group, items per block and items per user of :func:`planted`.
N_PER_GROUP, BLOCK, PER_USER = 20, 15, 8
#: Users, items and non-zeros of Last.fm 360K (the shape :func:`synthetic_lastfm` copies).
LASTFM_360K = (358_868, 160_112, 17_535_655)
#: Tracks of :func:`make_listening_library`, and how many of them are played (the rest
#: are cold: never played, but with audio embeddings).
N_TRACKS, N_PLAYED = 64, 48


def planted(seed: int = 0) -> Interactions:
    """The two-block matrix of the module docstring (users ``u<i>``, items ``i<j>``)."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for u in range(2 * N_PER_GROUP):
        block = 0 if u < N_PER_GROUP else 1
        items = rng.choice(BLOCK, PER_USER, replace=False) + block * BLOCK
        rows += [u] * PER_USER
        cols += items.tolist()
        vals += rng.integers(1, 50, PER_USER).tolist()
    m = sp.csr_matrix(
        (np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(2 * N_PER_GROUP, 2 * BLOCK)
    )
    users = [f"u{u}" for u in range(m.shape[0])]
    items = [f"i{i}" for i in range(m.shape[1])]
    return Interactions(users, items, m)


def block_of_item(i: int) -> int:
    """The block (0 or 1) of item index ``i`` of :func:`planted`."""
    return int(i) // BLOCK


def block_of_user(u: int) -> int:
    """The group (0 or 1) of user index ``u`` of :func:`planted`."""
    return 0 if u < N_PER_GROUP else 1


def planted_features(seed: int = 0, missing: tuple[int, ...] = ()) -> np.ndarray:
    """Content vectors of :func:`planted`'s items with the blocks planted: block centre +
    noise (12 dimensions); rows in ``missing`` are zeros (no vector)."""
    rng = np.random.default_rng(seed + 100)
    centres = rng.standard_normal((2, 12))
    x = np.stack([centres[block_of_item(i)] for i in range(2 * BLOCK)])
    x = x + 0.3 * rng.standard_normal(x.shape)
    x[list(missing)] = 0.0
    return x.astype(np.float32)


def blocks(
    n_groups: int = 4, users_per_group: int = 60, block: int = 40, per_user: int = 20,
    seed: int = 0,
) -> Interactions:
    """``n_groups`` groups of users (``g<g>u<u>``) playing ``per_user`` items of their own
    block (``b<g>i<i>``); counts 1..29, timestamps the play order."""
    rng = np.random.default_rng(seed)
    users, items, counts, stamps = [], [], [], []
    for g in range(n_groups):
        for u in range(users_per_group):
            # popularity within a block is skewed, so the baseline is not hopeless
            p = 1.0 / np.arange(1, block + 1)
            chosen = rng.choice(block, per_user, replace=False, p=p / p.sum())
            for t, i in enumerate(chosen):
                users.append(f"g{g}u{u}")
                items.append(f"b{g}i{i}")
                counts.append(int(rng.integers(1, 30)))
                stamps.append(t)
    return Interactions.from_triples(users, items, counts, stamps)


def make_listening_library(base: Path) -> tuple[Path, list[str], Path]:
    """A synthetic library (64 tracks with embeddings) and an events CSV: users of a genre
    play 4 of that genre's first 48 tracks (by id, path or "artist - title") plus outside
    items of their genre; the last 16 tracks are never played (cold).

    Returns
    -------
    root : Path
        The library (``base/lib``); the events are not imported yet.
    ids : list of str
        The track ids.
    events : Path
        The events CSV (``base/events.csv``: user, item, count, timestamp).
    """
    root = base / "lib"
    ids = build_synthetic_library(root, N_TRACKS, seed=11)
    with LibraryStore(root) as store:
        tracks = [store.get_track(t) for t in ids]
    rng = np.random.default_rng(0)
    by_genre: dict[str, list] = {}
    for t in tracks[:N_PLAYED]:
        by_genre.setdefault(t["genre"], []).append(t)
    rows = ["user,item,count,timestamp"]
    n = 0
    for genre, group in sorted(by_genre.items()):
        if len(group) < 5:
            continue
        for j in range(6):
            user = f"{genre}-{j}"
            for t in rng.choice(len(group), 4, replace=False):
                track = group[t]
                ref = (track["id"], track["path"], f"{track['artist']} - {track['title']}")[n % 3]
                rows.append(f"{user},{ref},{int(rng.integers(1, 20))},{n}")
                n += 1
            rows.append(f"{user},ext:{genre}:{j % 3},2,{n}")
            n += 1
    events = base / "events.csv"
    events.write_text("\n".join(rows) + "\n")
    return root, ids, events


def make_words_library(base: Path, n: int = 4) -> Path:
    """A library without tracks whose playlists are n "autumn evenings" (items A, B, C) and
    n "summer party" (D, E, F), each in its own shuffled order; items carry names
    (``Artist X`` / ``Song X``). The playlists (``base/words.csv``) are imported; returns
    the library (``base/lib``)."""
    rng = np.random.default_rng(0)
    rows = ["playlist,item,title,tags,artist,track_title"]
    for p in range(n):
        for pid, title, tags, items in (("au", "Autumn evenings", "calm", "ABC"),
                                        ("su", "Summer party", "", "DEF")):  # fmt: skip
            for x in rng.permutation(list(items)):
                rows.append(f"{pid}{p},{x},{title},{tags},Artist {x},Song {x}")
    pl = base / "words.csv"
    pl.write_text("\n".join(rows) + "\n")
    root = base / "lib"
    with LibraryStore(root, create=True) as store:
        import_playlists(store, pl, "csv")
    return root


def synthetic_lastfm(scale: float = 1.0, zipf: float = 0.9, seed: int = 0) -> sp.csr_matrix:
    """A users x items play-count matrix with Last.fm 360K's shape (:data:`LASTFM_360K`
    users, items and non-zeros, each times ``scale``): log-normal user activity and a
    power-law item popularity (Zipf exponent ``zipf``), popular items anywhere in the index;
    counts are geometric (mean 20). What ``bench/recs.py`` times ALS on, the real file
    being unavailable."""
    rng = np.random.default_rng(seed)
    n_users, n_items, nnz = (max(1, int(round(x * scale))) for x in LASTFM_360K)
    # user activity: log-normal, rescaled to the wanted number of non-zeros
    activity = rng.lognormal(mean=0.0, sigma=0.8, size=n_users)
    per_user = np.maximum(1, np.round(activity / activity.sum() * nnz)).astype(np.int64)
    per_user = np.minimum(per_user, n_items)
    rows = np.repeat(np.arange(n_users, dtype=np.int32), per_user)
    p = 1.0 / np.arange(1, n_items + 1) ** zipf
    cdf = np.cumsum(p / p.sum())
    perm = rng.permutation(n_items).astype(np.int32)  # popular items anywhere in the index
    m = sp.csr_matrix((n_users, n_items), dtype=np.float32)
    for _ in range(3):  # repeated (user, item) draws merge: top up towards the wanted nnz
        cols = np.minimum(np.searchsorted(cdf, rng.random(len(rows))), n_items - 1)
        counts = rng.geometric(0.05, size=len(rows)).astype(np.float32)
        m = m + sp.csr_matrix((counts, (rows, perm[cols])), shape=(n_users, n_items))
        deficit = nnz - m.nnz
        if deficit < 0.01 * nnz:
            break
        rows = rng.choice(rows, deficit)
    m.sum_duplicates()
    return m.tocsr()
