"""The ``vocals`` stage: where a song is sung, its vocal range and its voice timbre.

For each track (in the worker):

1. a vocal-dominant signal: Spleeter's vocal stem (:func:`songscape.models.spleeter.melody_signal`;
   HPSS + REPET-SIM, :func:`songscape.analysis.vocals.vocal_dominant`, when its weights are
   missing);
2. its pitch with the default tracker (:func:`songscape.models.pitch.track_pitch`);
3. vocal activity: frames that are voiced there *and* lie in a patch that
   musicnn-mtt's voice tags mark as sung (the MTT network pass is shared with the
   ``tag:musicnn-mtt`` stage through the track context);
4. the sung range, comfortable range, tessitura and a note histogram of the active
   frames within 13 semitones of their median, with the tracker's octave-error runs
   folded back (:func:`songscape.analysis.voice.sung_line`);
5. voice-timbre embeddings of the sung parts (``musicnn``, ``mfcc``: see
   :mod:`songscape.models.vocal_timbre`), and those of every registered vocal model
   (``songscape train --source vocals``; kind ``moco:<name>``/``tjae:<name>``) on the
   sung regions of the signal it learnt from;
6. the sung regions (``vocals.regions``): runs of active frames, gaps up to 0.3 s
   merged, at least 0.5 s long — what ``--source vocals`` trains on.

A vocal model trained (or retrained) later does not re-run this stage: ``songscape
vocals`` brings each track's vectors of it up to date from the stored regions
(:mod:`songscape.sing.vocal_training`), by their version.

The stage is opt-in (it costs a few seconds per track): ``songscape vocals`` and
``songscape sing`` ask for it (``vocals:<pitch tracker>``) through
``IngestOptions.extra_stages``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np

from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE
from songscape.analysis.vocals import (
    active_regions,
    vocal_activity,
    voice_tag_probability,
)
from songscape.analysis.voice import sung_line, voice_range
from songscape.catalog import vocals as vocals_catalog
from songscape.ingest.model_stages import model_output
from songscape.ingest.stages import Stage, TrackContext, register_stage_family
from songscape.models.pitch import DEFAULT_PITCH_TRACKER, PITCH_TRACKERS, track_pitch
from songscape.models.spleeter import melody_signal
from songscape.models.vocal_timbre import (
    baseline_vocal_embeddings,
    trained_vocal_embedding,
    vocal_kind,
    vocal_models,
)

VOCALS_STAGE = "vocals"
#: The MTT tagger whose voice tags give vocal activity.
VOICE_TAG_MODEL = "musicnn-mtt"
#: Seconds of sung frames below which a track has no vocal range.
MIN_SUNG_S = 2.0
PITCH_HOP_S = 0.02


def note_histogram(midi: np.ndarray, hop_s: float) -> np.ndarray:
    """Seconds sung per semitone (MIDI NOTE_HIST_LOW and up), from a nan-gapped contour."""
    low, bins = vocals_catalog.NOTE_HIST_LOW, vocals_catalog.NOTE_HIST_BINS
    notes = np.round(midi[np.isfinite(midi)]).astype(int) - low
    notes = notes[(notes >= 0) & (notes < bins)]
    return (np.bincount(notes, minlength=bins) * hop_s).astype(np.float32)


@dataclass
class VocalsPayload:
    values: dict
    note_hist: np.ndarray
    embeddings: dict
    regions: np.ndarray | None = None


def analyze_song_vocals(
    y: np.ndarray,
    sr: int,
    taggram: np.ndarray,
    labels: tuple[str, ...],
    patch_times_s: np.ndarray,
    patch_duration_s: float,
    tracker: str = DEFAULT_PITCH_TRACKER,
    encoders: dict[str, str] | None = None,
) -> VocalsPayload:
    """The vocal analysis of one mix (see the module docstring), given its MTT taggram.

    ``encoders``: ``{vocal model: signal}`` to embed with (default: every registered
    vocal model, :func:`songscape.models.vocal_timbre.vocal_models`).
    """
    dominant = melody_signal(y, sr)
    track = track_pitch(dominant, sr, tracker=tracker, hop_s=PITCH_HOP_S)
    voiced = np.isfinite(track.midi)
    active = vocal_activity(track.times_s, voiced, patch_times_s, patch_duration_s,
                            voice_tag_probability(taggram, labels))  # fmt: skip
    sung = sung_line(np.where(active, track.midi, np.nan), PITCH_HOP_S)  # no bass, no octave errors
    sung_s = float(np.isfinite(sung).sum() * PITCH_HOP_S)
    values: dict = {"tracker": tracker, "voiced_s": sung_s,
                    "vocal_share": float(active.mean()) if len(active) else 0.0}  # fmt: skip
    if sung_s >= MIN_SUNG_S:
        rng = voice_range(sung, PITCH_HOP_S)
        values.update(range_low=rng.range_midi[0], range_high=rng.range_midi[1],
                      comfortable_low=rng.comfortable_midi[0],
                      comfortable_high=rng.comfortable_midi[1],
                      tessitura=rng.tessitura_midi,
                      stability_cents=rng.stability_cents)  # fmt: skip
    embeddings = baseline_vocal_embeddings(dominant, sr, track.times_s, active)
    regions = active_regions(track.times_s, active, PITCH_HOP_S)
    for model, signal in (vocal_models() if encoders is None else encoders).items():
        embeddings[vocal_kind(model)] = trained_vocal_embedding(
            model, dominant if signal == "dominant" else y, sr, regions)  # fmt: skip
    return VocalsPayload(values, note_histogram(sung, PITCH_HOP_S), embeddings, regions)


class VocalsStage(Stage):
    """Vocal activity, sung range and vocal timbre embeddings of a track."""

    #: 2: the sung regions are recorded. 3: the vocal-dominant signal is Spleeter's vocal
    #: stem (was REPET-SIM, whose melody flipped octaves under a pitch shift: docs/sing.md).
    #: 4: the tracker's octave-error runs are folded back (analysis.voice.fold_octave_runs).
    version = 4

    def __init__(self, tracker: str = DEFAULT_PITCH_TRACKER):
        if tracker not in PITCH_TRACKERS:
            raise KeyError(f"unknown pitch tracker {tracker!r}; choose from {PITCH_TRACKERS}")
        self.tracker = tracker
        self.name = vocals_stage_name(tracker)

    def run(self, ctx: TrackContext) -> VocalsPayload:
        from songscape.models.registry import get_spec

        spec = get_spec(VOICE_TAG_MODEL)
        tags = model_output(ctx, VOICE_TAG_MODEL)
        return analyze_song_vocals(
            ctx.audio(ANALYSIS_SAMPLE_RATE, mono=True), ANALYSIS_SAMPLE_RATE,
            tags.taggram, spec.labels, tags.patch_times_s, tags.patch_duration_s, self.tracker,
        )  # fmt: skip

    def save(self, conn: sqlite3.Connection, track_id: str, payload: VocalsPayload) -> None:
        vocals_catalog.put_vocals(conn, track_id, payload.values, payload.note_hist,
                                  payload.embeddings, payload.regions)  # fmt: skip


def vocals_stage_name(tracker: str = DEFAULT_PITCH_TRACKER) -> str:
    """The stage's name for a pitch tracker, e.g. ``vocals:crepe-tiny``."""
    return f"{VOCALS_STAGE}:{tracker}"


# Opt-in: a stage family resolves "vocals:<tracker>" only when an ingest names it.
register_stage_family(VOCALS_STAGE, VocalsStage)
