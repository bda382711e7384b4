"""Aligning Chromaprint word sequences by bit-error rate."""

from __future__ import annotations

import numpy as np

from songscape.analysis.fingerprint_align import (
    ber_all_offsets,
    ber_by_offset,
    best_alignment,
    matched_span,
    word_errors,
)


def _words(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)


def _flip_bits(words: np.ndarray, bits: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = words.copy()
    for i in range(len(out)):
        for b in rng.choice(32, bits, replace=False):
            out[i] ^= np.uint32(1 << int(b))
    return out


def test_word_errors_counts_bits():
    a = np.array([0, 0xFFFFFFFF, 0b1011], dtype=np.uint32)
    b = np.array([0, 0, 0b0001], dtype=np.uint32)
    assert word_errors(a, b).tolist() == [0, 32, 2]


def test_a_noisy_excerpt_is_found_at_its_offset():
    ref = _words(600, 0)
    query = _flip_bits(ref[230:310], 3, 1)
    bers = ber_all_offsets(query, ref)
    assert len(bers) == 600 - 80 + 1 and int(np.argmin(bers)) == 230
    assert abs(bers[230] - 3 / 32) < 1e-9 and bers.min() < 0.2 < np.delete(bers, 230).min()
    a = best_alignment(query, ref)
    assert a.offset == 230 and a.matched_words == 80 and (a.query_start, a.query_end) == (0, 80)
    # Refining around proposed offsets finds it too; far offsets do not.
    assert best_alignment(query, ref, np.array([228])).offset == 230
    assert best_alignment(query, ref, np.array([10]), search_radius=2).ber > 0.4


def test_partial_overlap_and_edges():
    ref = _words(300, 2)
    query = np.concatenate([ref[100:160], _words(60, 3)])  # the first half matches
    a = matched_span(query, ref, 100)
    assert a.overlap_words == 120 and 50 <= a.matched_words <= 70
    assert a.query_start == 0 and 55 <= a.query_end <= 70
    # Overlaps past either end count only the overlapping words; none at all: BER 1.
    assert ber_by_offset(ref[:50], ref, np.array([-10, 270, 400])).tolist()[2] == 1.0
    assert 0.35 < ber_by_offset(ref[:50], ref, np.array([-10]))[0] < 0.65  # 40 unrelated words
    assert ber_by_offset(ref[280:], ref, np.array([280]))[0] == 0.0
    assert len(ber_all_offsets(ref, ref[:10])) == 0
