"""A singer's recording: checked, then measured (range, tessitura, timbre)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE
from songscape.analysis.vocals import active_regions
from songscape.analysis.voice import VoiceRange, check_level, check_singing, voice_range
from songscape.audio.decode import load_audio
from songscape.errors import AudioTooShortError, VoiceCheckError
from songscape.models.pitch import DEFAULT_PITCH_TRACKER, PitchTrack, track_pitch
from songscape.models.vocal_timbre import (
    baseline_vocal_embeddings,
    trained_vocal_embedding,
    vocal_kind,
)

#: Longest recording ``sing`` accepts, seconds (longer files are refused before decoding).
MAX_VOICE_S = 600.0
#: Seconds between pitch frames of a voice: range statistics need no finer grid, and the
#: tracker's cost is proportional to the frame count (bench/sing.py's speed figure).
PITCH_HOP_S = 0.04
#: The voice's ``musicnn`` vector is the mean over at most this many sung 3 s patches,
#: evenly spread: it bounds the network's cost (a 30 s recording has about 19). On ten
#: 30 s mir1k voices the capped vector's cosine with the full one, after removing their
#: mean, was at least 0.96 (to another singer's: at most 0.78): docs/sing.md, Speed.
VOICE_MAX_PATCHES = 10


@dataclass
class VoiceAnalysis:
    """A checked recording of a voice.

    Attributes
    ----------
    range : VoiceRange
    pitch : PitchTrack
    duration_s : float
    embeddings : dict of str to np.ndarray
        Voice-timbre vectors by kind (``musicnn``, ``mfcc``, trained models).
    """

    range: VoiceRange
    pitch: PitchTrack
    duration_s: float
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The ``voice`` object of ``sing --json``."""
        out = self.range.to_json()
        out["duration_s"] = round(self.duration_s, 2)
        out["pitch_tracker"] = self.pitch.tracker
        return out


def analyze_voice(
    y: np.ndarray,
    sr: int,
    tracker: str = DEFAULT_PITCH_TRACKER,
    encoders: list[str] | tuple[str, ...] = (),
) -> VoiceAnalysis:
    """Check a recording of a voice and measure it.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio.
    sr : int
        Sample rate, Hz.
    tracker : str
        Pitch tracker (:data:`songscape.models.pitch.PITCH_TRACKERS`).
    encoders : sequence of str
        Trained vocal models (:func:`songscape.models.vocal_timbre.vocal_models`) to
        embed the voice with, on its voiced regions (the recording as it is: a voice
        needs no separation), kind ``<task>:<name>``.

    Raises
    ------
    VoiceCheckError
        Silent, clipped, less than 5 s of singing, or speech rather than singing.
    """
    y = np.asarray(y, dtype=np.float32)
    check_level(y)
    pitch = track_pitch(y, sr, tracker=tracker, hop_s=PITCH_HOP_S)
    rng = voice_range(pitch.midi, PITCH_HOP_S)
    check_singing(rng)
    active = np.isfinite(pitch.midi)
    baselines = baseline_vocal_embeddings(y, sr, pitch.times_s, active, VOICE_MAX_PATCHES)
    embeddings = {kind: vec for kind, (_, vec) in baselines.items()}
    regions = active_regions(pitch.times_s, active, PITCH_HOP_S)
    for model in encoders:
        embeddings[vocal_kind(model)] = trained_vocal_embedding(model, y, sr, regions)[1]
    return VoiceAnalysis(rng, pitch, len(y) / sr, embeddings)


def load_voice(
    path: str | os.PathLike, max_duration_s: float = MAX_VOICE_S
) -> tuple[np.ndarray, int]:
    """Decode a recording (any format the decoder reads) to mono audio at 22050 Hz.

    Raises
    ------
    DecodeError
        Not audio.
    AudioTooLongError
        Longer than ``max_duration_s`` (refused before decoding).
    VoiceCheckError
        Shorter than the 5 s of singing a range needs.
    """
    try:
        y, _ = load_audio(path, sr=ANALYSIS_SAMPLE_RATE, mono=True, max_duration_s=max_duration_s)
    except AudioTooShortError as err:
        raise VoiceCheckError(f"the recording is too short to sing from: {err}") from err
    if len(y) < 5 * ANALYSIS_SAMPLE_RATE:
        raise VoiceCheckError(
            f"the recording lasts {len(y) / ANALYSIS_SAMPLE_RATE:.1f} s: sing for at least 5 s"
        )
    return y, ANALYSIS_SAMPLE_RATE
