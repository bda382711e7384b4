"""Identify a clip: which library recording it was cut from, and where.

The clip is fingerprinted at a few sub-hop starts (:func:`~songscape.audio.chromaprint.
shifted_chromaprints`), each fingerprint is looked up in the
:class:`~songscape.recordings.index.FingerprintIndex`, and the candidate with the lowest
bit-error rate wins if that rate is under :data:`IDENTIFY_BER` and enough of the clip
matched. Otherwise the clip is *not identified* (music that is not in the library, pure
noise): the answer is ``None``, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from songscape.audio.chromaprint import ITEM_HOP_S, shifted_chromaprints
from songscape.audio.decode import check_signal
from songscape.recordings.index import FingerprintIndex

#: Shortest clip (seconds) accepted. Chromaprint needs 2.72 s for its first word and adds
#: one per 0.124 s, so a 3 s clip has 3 words and is rarely identified; 5 s give 19.
MIN_CLIP_S = 3.0
#: Mean BER of the whole clip at its best offset under which the clip is identified.
#: Unrelated audio sits near 0.5; bench/identify.py measures the right answers' BER under
#: re-encoding, gain and noise (docs/search.md).
IDENTIFY_BER = 0.18
#: Sub-hop starts at which the clip is fingerprinted.
CLIP_SHIFTS = 2


@dataclass(frozen=True)
class Identification:
    """Where a clip sits in a library track.

    Attributes
    ----------
    track_id : str
    offset_s : float
        Time in the track (seconds) where the clip starts.
    matched_s : float
        Seconds of the clip that match the track.
    ber : float
        Mean bit-error rate of the clip against the track at that offset (0..1).
    votes : int
        Exact word hits that nominated the track.
    """

    track_id: str
    offset_s: float
    matched_s: float
    ber: float
    votes: int

    def to_json(self) -> dict:
        return {
            "id": self.track_id,
            "offset_s": round(self.offset_s, 2),
            "matched_s": round(self.matched_s, 2),
            "ber": round(self.ber, 4),
        }


def identify_words(
    variants: list[tuple[float, np.ndarray]],
    index: FingerprintIndex,
    threshold: float = IDENTIFY_BER,
) -> Identification | None:
    """Identify fingerprinted clip variants (``(start_s, words)`` pairs) in ``index``.

    Returns the best candidate over all variants, or None when no candidate's BER is
    under ``threshold``.
    """
    best: tuple[float, Identification] | None = None
    for start_s, words in variants:
        if len(words) == 0:
            continue
        for cand in index.candidates(words, max_candidates=8):
            a = cand.alignment
            if a.ber >= threshold or a.matched_words == 0:
                continue
            matched_words = min(a.matched_words, a.overlap_words)
            ident = Identification(
                track_id=cand.track_id,
                offset_s=max(0.0, a.offset * index.item_hop_s - start_s),
                # Each word covers one hop; the last matched word also covers its window.
                matched_s=min(
                    float(matched_words * index.item_hop_s),
                    float(len(words) * index.item_hop_s + start_s),
                ),
                ber=a.ber,
                votes=cand.votes,
            )
            if best is None or a.ber < best[0]:
                best = (a.ber, ident)
            break  # candidates are sorted by BER: the first that passes is this variant's best
    return None if best is None else best[1]


def identify_clip(
    y: np.ndarray,
    sr: int,
    index: FingerprintIndex,
    shifts: int = CLIP_SHIFTS,
    threshold: float = IDENTIFY_BER,
) -> Identification | None:
    """Identify a mono clip in the library's fingerprint index.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        The clip, mono float audio.
    sr : int
        Its sample rate (Hz).
    index : FingerprintIndex
    shifts : int
        Sub-hop starts to fingerprint the clip at (``ITEM_HOP_S / shifts`` apart).
    threshold : float
        Largest accepted mean BER.

    Raises
    ------
    AudioTooShortError
        The clip is shorter than :data:`MIN_CLIP_S`.
    SilentAudioError
        The clip is silent.
    """
    check_signal(y, sr, min_duration_s=MIN_CLIP_S)
    return identify_words(shifted_chromaprints(y, sr, shifts), index, threshold)


__all__ = ["CLIP_SHIFTS", "IDENTIFY_BER", "ITEM_HOP_S", "MIN_CLIP_S", "Identification",
           "identify_clip", "identify_words"]  # fmt: skip
