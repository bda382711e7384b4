"""The ``fingerprint`` stage: a Chromaprint fingerprint of every track (issue 20).

The words identify a clip of the track (``songscape similar --file``, ``POST
/api/identify``) and link copies of one recording in other files (``songscape
duplicates``); see :mod:`songscape.recordings`. The stage also records the file's
encoding (lossless, bitrate), which ranks those copies.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np

from songscape.audio.chromaprint import (
    CHROMAPRINT_SAMPLE_RATE,
    ITEM_HOP_S,
    chromaprint_available,
    chromaprint_words,
)
from songscape.audio.encoding import read_encoding
from songscape.catalog import fingerprints
from songscape.ingest.stages import Stage, TrackContext, register_stage

#: The name stored with each fingerprint (algorithm and library), so a later algorithm
#: never mixes with these words.
FINGERPRINT_ALGORITHM = "chromaprint-2"


@dataclass(frozen=True)
class FingerprintPayload:
    """What the stage computes for one track: the words and the file's encoding."""

    words: np.ndarray
    lossless: bool | None
    bitrate_bps: int | None

    def json_fields(self) -> dict:
        """A JSON-ready summary (``songscape analyze --json``): not the words themselves."""
        return {
            "fingerprint_words": int(len(self.words)),
            "lossless": self.lossless,
            "bitrate_kbps": None if not self.bitrate_bps else round(self.bitrate_bps / 1000, 1),
        }


class FingerprintStage(Stage):
    """Chromaprint words of the decoded mono audio, resampled to 11025 Hz (soxr, from the
    analysis-rate decode the other stages share)."""

    name = "fingerprint"
    version = 1

    def run(self, ctx: TrackContext) -> FingerprintPayload:
        y = ctx.audio(CHROMAPRINT_SAMPLE_RATE, mono=True)
        encoding = read_encoding(ctx.path, duration_s=len(y) / CHROMAPRINT_SAMPLE_RATE)
        return FingerprintPayload(
            chromaprint_words(y, CHROMAPRINT_SAMPLE_RATE), encoding.lossless, encoding.bitrate_bps
        )

    def save(self, conn: sqlite3.Connection, track_id: str, payload: FingerprintPayload) -> None:
        fingerprints.put_fingerprint(
            conn,
            track_id,
            payload.words,
            algorithm=FINGERPRINT_ALGORITHM,
            item_hop_s=ITEM_HOP_S,
            lossless=payload.lossless,
            bitrate_bps=payload.bitrate_bps,
        )


FINGERPRINT_STAGE = FingerprintStage()
# Without Chromaprint (Debian libchromaprint-tools) the stage is left out rather than failing
# every track: such a library has no fingerprints until Chromaprint is installed, and the
# next ingest then runs this stage alone on every track.
if chromaprint_available():
    register_stage(FINGERPRINT_STAGE)
