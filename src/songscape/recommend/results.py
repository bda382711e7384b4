"""Naming recommended items: a library track's title and artist, else the display name
the importers recorded (``items`` table: HetRec artist names, ``artist``/``title``
columns), else nothing but the item."""

from __future__ import annotations

from songscape.catalog import listening
from songscape.catalog.store import LibraryStore


def describe(store: LibraryStore, items: list[str], scores: list[float]) -> list[dict]:
    """One result per item: ``item``, ``score`` (rounded to 6 decimals), ``track_id``,
    ``title``, ``artist`` (None when unknown) and, for library tracks, ``album``."""
    names = listening.item_names(store.conn, items)
    tracks = listening.tracks_by_id(store.conn, items)
    out = []
    for item, score in zip(items, scores, strict=True):
        row = tracks.get(item)
        entry = {"item": item, "score": round(float(score), 6), "track_id": None,
                 "title": None, "artist": None}  # fmt: skip
        if row is not None:
            entry.update(track_id=row["id"], title=row["title"], artist=row["artist"],
                         album=row["album"])  # fmt: skip
        elif item in names:
            entry.update(artist=names[item][0], title=names[item][1])
        out.append(entry)
    return out


def name_items(store: LibraryStore, entries: list[dict]) -> None:
    """Add ``artist`` and ``title`` (None when unknown) to dicts with an ``item``: the
    library track's, else the imported name."""
    items = [e["item"] for e in entries]
    names = listening.item_names(store.conn, items)
    tracks = listening.tracks_by_id(store.conn, items)
    for e in entries:
        row = tracks.get(e["item"])
        artist, title = (row["artist"], row["title"]) if row else names.get(e["item"], (None, None))
        e["artist"], e["title"] = artist, title
