"""Vocal analyses with known truth for a synthetic library (tests and bench/sing.py).

:func:`add_synthetic_vocals` stores, for each given track, a vocal line (a note
histogram over a known range) and random voice-timbre vectors of the baseline kinds,
as the ``vocals`` stage would, so ``sing`` can be tested and timed on a library of any
size without analysing audio.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from songscape.catalog import vocals as vocals_catalog
from songscape.catalog.store import LibraryStore

#: Dimensions of the baseline embedding kinds (musicnn penultimate, MFCC statistics).
BASELINE_DIMS = {"musicnn": 200, "mfcc": 38}


def vocal_line_histogram(low: int, high: int, rng: np.random.Generator) -> np.ndarray:
    """Seconds sung per semitone for a line from MIDI ``low`` to ``high`` (inclusive)."""
    hist = np.zeros(vocals_catalog.NOTE_HIST_BINS, dtype=np.float32)
    notes = np.arange(low, high + 1) - vocals_catalog.NOTE_HIST_LOW
    weights = 1.0 + rng.random(len(notes)) + np.hanning(len(notes) + 2)[1:-1] * 4
    hist[notes] = weights.astype(np.float32)
    return hist


def add_synthetic_vocals(
    root: str | os.PathLike,
    track_ids: Sequence[str],
    ranges: Sequence[tuple[int, int]] | None = None,
    seed: int = 0,
    embeddings: dict[str, np.ndarray] | None = None,
) -> list[tuple[int, int]]:
    """Store a vocal analysis for each track; returns the (low, high) ranges used.

    Parameters
    ----------
    root : path-like
        An existing library.
    track_ids : sequence of str
    ranges : sequence of (low, high), optional
        MIDI range of each track's vocal line; default: random 12-16 semitone spans
        between MIDI 40 and 80.
    seed : int
    embeddings : dict of kind to array (n_tracks, dim), optional
        Vectors to store; default: random vectors of :data:`BASELINE_DIMS`.
    """
    rng = np.random.default_rng(seed)
    if ranges is None:
        lows = rng.integers(40, 66, size=len(track_ids))
        ranges = [(int(lo), int(lo + rng.integers(12, 17))) for lo in lows]
    if embeddings is None:
        embeddings = {kind: rng.standard_normal((len(track_ids), dim)).astype(np.float32)
                      for kind, dim in BASELINE_DIMS.items()}  # fmt: skip
    with LibraryStore(root) as store, store.transaction() as conn:
        for i, (track_id, (lo, hi)) in enumerate(zip(track_ids, ranges, strict=True)):
            hist = vocal_line_histogram(lo, hi, rng)
            values = {"tracker": "synthetic", "voiced_s": float(hist.sum()), "vocal_share": 0.5,
                      "range_low": float(lo), "range_high": float(hi),
                      "comfortable_low": lo + 2.0, "comfortable_high": hi - 2.0,
                      "tessitura": (lo + hi) / 2, "stability_cents": 20.0}  # fmt: skip
            vecs = {kind: ("synthetic", m[i]) for kind, m in embeddings.items()}
            vocals_catalog.put_vocals(conn, track_id, values, hist, vecs)
        store.bump_catalog_version(conn)
    return list(ranges)
