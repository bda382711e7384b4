"""Aligning two Chromaprint word sequences: bit-error rates over offsets, matched spans.

Chromaprint words of the same audio agree in most of their 32 bits at the same
position; words of unrelated audio differ in about half of them (bit-error rate, BER,
near 0.5). So a query (a clip, or a whole track) is matched to a reference by the
offset that minimises the mean BER of the overlapping words, and the matched part is
where a running mean of the per-word BER stays below a threshold.

All functions are pure numpy over ``uint32`` arrays; offsets are in words (one word is
``songscape.audio.chromaprint.ITEM_HOP_S`` seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Running-mean BER under which words count as matched. Same-recording words after
#: MP3/Ogg re-encoding, gain and 20 dB noise sit around 0.10-0.25; unrelated audio
#: around 0.45-0.50 (measured by bench/identify.py).
MATCH_BER = 0.35
#: Words in the running mean that decides whether a stretch is matched (about 2 s).
SMOOTH_WORDS = 16


def word_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits that differ between two equally shaped ``uint32`` arrays (0..32 each)."""
    return np.bitwise_count(np.bitwise_xor(a, b)).astype(np.int32)


def ber_by_offset(query: np.ndarray, reference: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Mean bit-error rate of ``query`` placed at each offset of ``reference``.

    Parameters
    ----------
    query, reference : np.ndarray of uint32
        Word sequences.
    offsets : np.ndarray of int
        Offsets (words) of the query's first word in the reference; may be negative or
        run past the end: only overlapping words count.

    Returns
    -------
    np.ndarray of float64, shape (len(offsets),)
        Mean BER (0..1) over the overlap; 1.0 where fewer than
        ``min(SMOOTH_WORDS // 2, len(query))`` words overlap (too little to judge).
    """
    m, n = len(query), len(reference)
    out = np.ones(len(offsets), dtype=np.float64)
    min_length = max(1, min(SMOOTH_WORDS // 2, m))
    for i, off in enumerate(np.asarray(offsets, dtype=np.int64)):
        q0, r0 = max(0, -off), max(0, off)
        length = min(m - q0, n - r0)
        if length < min_length:
            continue
        errors = word_errors(query[q0 : q0 + length], reference[r0 : r0 + length])
        out[i] = errors.sum() / (32.0 * length)
    return out


def ber_all_offsets(query: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Mean BER of ``query`` at every offset where it lies wholly inside ``reference``.

    Vectorised over a sliding window: shape (len(reference) - len(query) + 1,), empty when
    the query is longer than the reference.
    """
    m, n = len(query), len(reference)
    if m == 0 or n < m:
        return np.zeros(0, dtype=np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(reference, m)
    errors = np.bitwise_count(np.bitwise_xor(windows, query[None, :]))
    return errors.sum(axis=1, dtype=np.int64) / (32.0 * m)


@dataclass(frozen=True)
class Alignment:
    """Where a query sits in a reference and how much of it matches.

    Attributes
    ----------
    offset : int
        Reference word aligned with the query's first word (may be negative).
    ber : float
        Mean bit-error rate over the whole overlap at that offset.
    matched_words : int
        Overlapping words whose running-mean BER is under ``MATCH_BER``.
    overlap_words : int
        Words where query and reference overlap at that offset.
    query_start, query_end : int
        First and one-past-last matched word in the query (0, 0 when nothing matched).
    """

    offset: int
    ber: float
    matched_words: int
    overlap_words: int
    query_start: int
    query_end: int


def matched_span(
    query: np.ndarray,
    reference: np.ndarray,
    offset: int,
    threshold: float = MATCH_BER,
    smooth: int = SMOOTH_WORDS,
) -> Alignment:
    """Score ``query`` at one offset of ``reference``: overall BER and matched words.

    A word counts as matched when the mean BER of the ``smooth`` words centred on it is
    under ``threshold``; ``query_start``/``query_end`` bound the matched words.
    """
    m, n = len(query), len(reference)
    q0, r0 = max(0, -offset), max(0, offset)
    length = max(0, min(m - q0, n - r0))
    if length == 0:
        return Alignment(offset, 1.0, 0, 0, 0, 0)
    errors = word_errors(query[q0 : q0 + length], reference[r0 : r0 + length]) / 32.0
    width = min(smooth, length)
    # Mean over the words actually inside the window (fewer at the two ends).
    kernel = np.ones(width)
    running = np.convolve(errors, kernel, mode="same") / np.convolve(
        np.ones(length), kernel, mode="same"
    )
    matched = np.flatnonzero(running < threshold)
    start, end = (int(matched[0]) + q0, int(matched[-1]) + q0 + 1) if len(matched) else (0, 0)
    return Alignment(
        offset=int(offset),
        ber=float(errors.mean()),
        matched_words=int(len(matched)),
        overlap_words=int(length),
        query_start=start,
        query_end=end,
    )


def best_alignment(
    query: np.ndarray,
    reference: np.ndarray,
    candidate_offsets: np.ndarray | None = None,
    search_radius: int = 2,
    min_overlap: int = SMOOTH_WORDS,
) -> Alignment:
    """The offset of ``reference`` that best explains ``query`` (lowest mean BER).

    Parameters
    ----------
    query, reference : np.ndarray of uint32
    candidate_offsets : np.ndarray of int or None
        Offsets proposed by an index lookup; each is refined within ``search_radius``
        words. ``None`` tries every offset with at least ``min_overlap`` words overlap.
    search_radius : int
        Words around each candidate offset to try.
    min_overlap : int
        Overlaps shorter than this are not considered.
    """
    m, n = len(query), len(reference)
    if candidate_offsets is None:
        offsets = np.arange(min_overlap - m, n - min_overlap + 1)
    else:
        base = np.unique(np.asarray(candidate_offsets, dtype=np.int64))
        offsets = np.unique((base[:, None] + np.arange(-search_radius, search_radius + 1)).ravel())
    if len(offsets) == 0:
        return Alignment(0, 1.0, 0, 0, 0, 0)
    bers = ber_by_offset(query, reference, offsets)
    best = int(offsets[int(np.argmin(bers))])
    return matched_span(query, reference, best)
