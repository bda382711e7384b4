"""Similar-track filters as Milvus scalar fields and boolean expressions.

The Milvus backend (:mod:`~songscape.search.milvus_index`) stores, beside each vector,
the facts the filters of :mod:`~songscape.search.similar` look at, and turns a
:class:`~songscape.search.similar.Filters` into one Milvus filter expression, so Milvus
ranks only the tracks that pass (pushed down) instead of songscape computing an allowed
set first. Both paths select exactly the same tracks:

==============  =========================================================================
field           value (missing facts get a value no filter accepts)
==============  =========================================================================
``tempo``       BPM (DOUBLE, -1 when unknown)
``duration``    seconds (DOUBLE, -1 when unknown)
``key``         key name, e.g. ``"A minor"`` (``""`` when unknown)
``artist``      :func:`~songscape.search.similar.fold_name` of the artist
``tags``        ``"source:tag"`` (tag case-folded) of each vocabulary's top 5 tags
``tag_names``   the same tags without their source
==============  =========================================================================
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from typing import Any

from songscape.catalog.store import LibraryStore
from songscape.catalog.vectors import healthy_filter_facts, healthy_tag_rows
from songscape.errors import QueryError
from songscape.notation import compatible_keys
from songscape.search.similar import Filters, fold_name, top_tags

#: Value stored for an unknown tempo or duration (no range filter accepts it).
MISSING = -1.0
#: Most tags stored per track (5 per vocabulary; a library with many vocabularies is cut).
MAX_TAGS = 64
#: Longest stored string (artist, tag); longer ones are cut (Milvus VARCHAR limit).
MAX_TEXT = 512


def track_fields(store: LibraryStore, ids: Iterable[str] | None = None) -> dict[str, dict]:
    """The filter fields of every healthy track (or of ``ids``), by track id."""
    wanted = None if ids is None else set(ids)
    tags: dict[str, dict[str, dict[str, float]]] = {}
    for r in healthy_tag_rows(store.conn):
        if wanted is None or r["track_id"] in wanted:
            tags.setdefault(r["track_id"], {}).setdefault(r["model"], {})[r["tag"]] = r[
                "probability"
            ]
    out: dict[str, dict] = {}
    for r in healthy_filter_facts(store.conn):
        if wanted is not None and r["id"] not in wanted:
            continue
        tops = top_tags(tags.get(r["id"], {}))
        pairs = sorted({(s, t.casefold()[:MAX_TEXT]) for s, ts in tops.items() for t in ts})
        out[r["id"]] = {
            "tempo": MISSING if r["tempo_bpm"] is None else float(r["tempo_bpm"]),
            "duration": MISSING if r["duration_s"] is None else float(r["duration_s"]),
            "key": r["key"] or "",
            "artist": fold_name(r["artist"])[:MAX_TEXT],
            "tags": [f"{s}:{t}"[:MAX_TEXT] for s, t in pairs][:MAX_TAGS],
            "tag_names": sorted({t for _, t in pairs})[:MAX_TAGS],
        }
    return out


def fields_checksum(vector_sum: int, fields: dict) -> int:
    """A signed 64-bit checksum of a vector's checksum and its filter fields: a track is
    rewritten in Milvus when either its vector or a filterable fact changed."""
    text = json.dumps([int(vector_sum), fields], sort_keys=True, ensure_ascii=True)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little",
                          signed=True)  # fmt: skip


def quote(text: str) -> str:
    """A Milvus string literal (double-quoted, backslash escapes)."""
    return json.dumps(text, ensure_ascii=False)


def _range(field: str, lo: float, hi: float) -> str:
    parts = [f"{field} >= {lo!r}"]
    if math.isfinite(hi):
        parts.append(f"{field} <= {hi!r}")
    return "(" + " and ".join(parts) + ")"


def filter_expression(
    filters: Filters, query: dict[str, Any] | None, exclude: Iterable[str] = ()
) -> str:
    """One Milvus boolean expression selecting the tracks that pass ``filters`` (the same
    tracks :func:`~songscape.search.similar.allowed_tracks` returns) minus ``exclude``;
    ``""`` when nothing restricts.

    Raises
    ------
    QueryError
        ``key=compatible`` with a query whose key is unknown.
    """
    clauses: list[str] = []
    if filters.tempo:
        lo, hi = filters.tempo
        ranges = [_range("tempo", lo, hi)]
        if filters.half_double:  # 2t in [lo, hi] or t/2 in [lo, hi]
            ranges += [_range("tempo", lo / 2, hi / 2), _range("tempo", 2 * lo, 2 * hi)]
        clauses.append("(" + " or ".join(ranges) + ")")
    if filters.duration:
        clauses.append(_range("duration", *filters.duration))
    if filters.key == "compatible":
        if not query or not query.get("key"):
            raise QueryError("key=compatible needs a query with a detected key")
        keys = list(compatible_keys(query["key"]))
        clauses.append(f"key in [{', '.join(quote(k) for k in keys)}]")
    elif filters.key:
        clauses.append(f"key == {quote(filters.key)}")
    if filters.artist:
        clauses.append(f"artist == {quote(fold_name(filters.artist))}")
    query_artist = fold_name(query.get("artist")) if query else ""
    if filters.other_artists and query_artist:
        clauses.append(f"artist != {quote(query_artist)}")
    for source, tag in filters.tags:
        folded = tag.casefold()
        if source is None:
            clauses.append(f"array_contains(tag_names, {quote(folded)})")
        else:
            clauses.append(f"array_contains(tags, {quote(f'{source}:{folded}')})")
    excluded = sorted(set(exclude))
    if excluded:
        clauses.append(f"id not in [{', '.join(quote(t) for t in excluded)}]")
    return " and ".join(clauses)
