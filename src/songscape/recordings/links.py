"""Link tracks that hold the same recording (or part of one), and group them.

Each track's whole fingerprint is looked up in the library's index; every candidate
whose alignment matches over most of *both* tracks (:data:`SAME_COVERAGE`) is the
same recording in another file (another format, bitrate, rip or tags); one that
matches over at least :data:`RELATED_MIN_S` seconds but not most of both is
*related* (a radio edit, an intro cut, a live version sharing a stretch). Links are
stored in the catalog and only tracks whose fingerprint is new or changed are
compared again (:func:`update_links`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from songscape.catalog import fingerprints as fp_catalog
from songscape.catalog.fingerprints import RELATION_RELATED, RELATION_SAME
from songscape.recordings.index import FingerprintIndex

#: Share of each track's words that must match for two files to be one recording.
SAME_COVERAGE = 0.8
#: Mean BER (over the overlap) under which a whole-track alignment counts at all.
LINK_BER = 0.3
#: Seconds of matched audio for a partial overlap to be reported as related.
RELATED_MIN_S = 10.0
#: Exact word hits at one offset needed to consider a pair (whole tracks have many).
LINK_MIN_VOTES = 3


def track_links(index: FingerprintIndex, track_index: int) -> list[dict]:
    """Links of one indexed track to the others (see :func:`fingerprints.replace_links`)."""
    words = index.track_words(track_index)
    hop = index.item_hop_s
    out = []
    for cand in index.candidates(words, min_votes=LINK_MIN_VOTES, exclude=track_index):
        a = cand.alignment
        if a.ber >= LINK_BER and a.matched_words * hop < RELATED_MIN_S:
            continue
        n_self, n_other = len(words), len(index.track_words(cand.track_index))
        matched = a.matched_words
        cover_self = matched / max(n_self, 1)
        cover_other = matched / max(n_other, 1)
        if min(cover_self, cover_other) >= SAME_COVERAGE and a.ber < LINK_BER:
            relation = RELATION_SAME
        elif matched * hop >= RELATED_MIN_S:
            relation = RELATION_RELATED
        else:
            continue
        out.append(
            {
                "other": cand.track_id,
                "relation": relation,
                "matched_s": matched * hop,
                # The other track's time (s) at this track's start.
                "offset_s": a.offset * hop,
                "ber": a.ber,
                "coverage_self": cover_self,
                "coverage_other": cover_other,
            }
        )
    return out


def update_links(
    conn: sqlite3.Connection,
    index: FingerprintIndex,
    transaction: Callable,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Compare every unchecked track with the library and store its links.

    Parameters
    ----------
    conn : sqlite3.Connection
        For reading which tracks need a check.
    index : FingerprintIndex
        The current index of every live track.
    transaction : callable
        A context manager factory giving a write connection (``LibraryStore.transaction``).
    progress : callable, optional
        Called as ``progress(done, total)``.

    Returns
    -------
    int
        Tracks compared.
    """
    todo = fp_catalog.unchecked_tracks(conn)
    position = {tid: i for i, tid in enumerate(index.track_ids)}
    todo = [t for t in todo if t in position]
    for done, track_id in enumerate(todo, start=1):
        i = position[track_id]
        links = track_links(index, i)
        with transaction() as wconn:
            fp_catalog.replace_links(wconn, track_id, links, int(index.stored.crcs[i]), time.time())
        if progress is not None:
            progress(done, len(todo))
    return len(todo)


def recording_groups(links: list[dict]) -> list[list[str]]:
    """Connected groups of tracks over ``same`` links (each group sorted, groups by first id)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for link in links:
        if link["relation"] == RELATION_SAME:
            ra, rb = find(link["track_a"]), find(link["track_b"])
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for x in parent:
        groups.setdefault(find(x), []).append(x)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0])
