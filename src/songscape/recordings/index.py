"""An inverted index over the library's Chromaprint words, and alignment of a query to it.

Looking a query up: every query word is searched among all the library's words (one
sorted array, ``np.searchsorted``); each exact hit votes for a (track, offset) pair,
offset = the hit's position in its track minus the word's position in the query. The
tracks with the most votes at one offset are the candidates, and each is scored by
aligning the whole query at (and around) its voted offsets by bit-error rate
(:func:`songscape.analysis.fingerprint_align.best_alignment`). Words that occur very
often in the library (silence, a held chord) are not looked up: they vote for everything.

Exact 32-bit hits are rare between encodings (most words differ in a bit or two), but a
few seconds of audio have tens of words and one or two exact hits at the right offset
suffice to nominate the right track; the BER alignment then decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from songscape.analysis.fingerprint_align import Alignment, best_alignment
from songscape.catalog.fingerprints import StoredFingerprints

#: Words with more postings than this are skipped at look-up (they carry no identity).
MAX_POSTINGS = 256
#: Candidate tracks verified by alignment per query.
MAX_CANDIDATES = 16


@dataclass(frozen=True)
class Candidate:
    """A track nominated by the word look-up, with its best alignment to the query."""

    track_index: int
    track_id: str
    votes: int
    alignment: Alignment


class FingerprintIndex:
    """Exact-word inverted index over a library's fingerprints.

    Parameters
    ----------
    stored : StoredFingerprints
        The concatenated fingerprints of the library's tracks.
    order : np.ndarray of int, optional
        ``np.argsort(stored.words, kind="stable")`` when already known (a saved index,
        :mod:`songscape.recordings.index_cache`); computed otherwise.

    Raises
    ------
    ValueError
        ``order`` does not sort ``stored.words`` (a damaged saved index).
    """

    def __init__(self, stored: StoredFingerprints, order: np.ndarray | None = None):
        self.stored = stored
        self.track_ids = stored.track_ids
        self.item_hop_s = stored.item_hop_s
        given = order is not None
        if order is None:
            order = np.argsort(stored.words, kind="stable")
        elif len(order) != len(stored.words):
            raise ValueError(f"{len(order)} sort positions for {len(stored.words)} words")
        self._keys = stored.words[order]
        if given and not bool(np.all(self._keys[1:] >= self._keys[:-1])):
            raise ValueError("the given order does not sort the words")
        self._flat_positions = order.astype(np.int64 if len(order) > 2**31 - 1 else np.int32,
                                            copy=False)  # fmt: skip

    @property
    def sort_order(self) -> np.ndarray:
        """The words' stable sort order (what a saved index keeps)."""
        return self._flat_positions

    def __len__(self) -> int:
        return len(self.track_ids)

    @property
    def n_words(self) -> int:
        return int(len(self._keys))

    def nbytes(self) -> int:
        """Memory held by the index arrays (bytes), besides the stored words."""
        return int(self._keys.nbytes + self._flat_positions.nbytes)

    def track_words(self, track_index: int) -> np.ndarray:
        return self.stored.track_words(track_index)

    def votes(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact-hit votes of ``query``: ``(track_index, offset, count)`` arrays, most first.

        ``offset`` is the track word aligned with the query's first word.
        """
        query = np.asarray(query, dtype=np.uint32)
        if len(query) == 0 or len(self._keys) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        lo = np.searchsorted(self._keys, query, side="left")
        hi = np.searchsorted(self._keys, query, side="right")
        counts = hi - lo
        keep = (counts > 0) & (counts <= MAX_POSTINGS)
        if not keep.any():
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        lo, counts = lo[keep], counts[keep]
        query_pos = np.flatnonzero(keep)
        # Expand each kept word's postings range [lo, lo + count) into one flat array.
        total = int(counts.sum())
        ends = np.cumsum(counts)
        within = np.arange(total) - np.repeat(ends - counts, counts)
        posting = np.repeat(lo, counts) + within
        flat = self._flat_positions[posting].astype(np.int64)
        track = np.searchsorted(self.stored.starts, flat, side="right") - 1
        offset = flat - self.stored.starts[track] - np.repeat(query_pos, counts)
        # Count votes per (track, offset); a pair key keeps this one np.unique call.
        span = int(max(len(query), 1)) + int(np.diff(self.stored.starts).max()) + 1
        key = track * (2 * span) + (offset + span)
        uniq, n = np.unique(key, return_counts=True)
        order = np.argsort(-n, kind="stable")
        uniq, n = uniq[order], n[order]
        return uniq // (2 * span), uniq % (2 * span) - span, n

    def candidates(
        self,
        query: np.ndarray,
        max_candidates: int = MAX_CANDIDATES,
        min_votes: int = 1,
        exclude: int | None = None,
    ) -> list[Candidate]:
        """The best-voted tracks, each aligned to ``query``, lowest BER first.

        Parameters
        ----------
        query : np.ndarray of uint32
        max_candidates : int
            Tracks to verify by alignment.
        min_votes : int
            Fewest exact hits at one offset for a track to be considered.
        exclude : int, optional
            A track index to leave out (the query's own track when linking).
        """
        tracks, offsets, counts = self.votes(query)
        chosen: dict[int, list[int]] = {}
        best_votes: dict[int, int] = {}
        for t, off, c in zip(tracks.tolist(), offsets.tolist(), counts.tolist(), strict=True):
            if c < min_votes:
                break
            if t == exclude:
                continue
            if t not in chosen:
                if len(chosen) >= max_candidates:
                    continue
                chosen[t], best_votes[t] = [], c
            if len(chosen[t]) < 4:  # the track's few best offsets
                chosen[t].append(off)
        out = []
        for t, offs in chosen.items():
            alignment = best_alignment(query, self.track_words(t), np.array(offs))
            out.append(Candidate(t, self.track_ids[t], best_votes[t], alignment))
        out.sort(key=lambda c: (c.alignment.ber, -c.votes))
        return out
