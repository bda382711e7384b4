"""The ``emotion`` stage (issue 19): valence, arousal, GEMS and a curve per track.

It runs on what the track's other stages already computed in this worker (the
:class:`~songscape.ingest.stages.TrackContext` cache): musicnn-msd's pass (shared with
its ``embed``/``tag`` stages), musicnn-mtt's pass when a head reads its features (shared
with its ``tag`` stage, which ingest runs by default) and the descriptors. The installed
emotion heads (:func:`songscape.models.emotion.installed_heads`: ``songscape train --task
emotion``) make the estimate; without one, the zero-shot mapping of musicnn's tags does,
its arousal blended with the descriptors' loudness and onset-rate cue
(:mod:`songscape.models.emotion`). The lyrics (the file's tags, else a sidecar
``.lrc``/``.txt``; lyrics imported with ``songscape lyrics import`` take precedence in
the writer) are fused in by :mod:`songscape.models.emotion_fusion`.

The stage's version follows the installed heads, so training or removing a head re-runs
it (and nothing else).
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from songscape.audio.lyrics_files import sidecar_lyrics
from songscape.audio.metadata import read_tags
from songscape.catalog import analysis
from songscape.catalog import emotion as emotion_db
from songscape.ingest.model_stages import model_output
from songscape.ingest.stages import Stage, TrackContext, get_stage, register_stage
from songscape.models.emotion import (
    FEATURE_MODEL,
    SECOND_MODEL,
    EmotionEstimate,
    EmotionHead,
    blocks_need_second_model,
    estimate_emotion,
    features_from_output,
    installed_heads,
)
from songscape.models.emotion_fusion import (
    LyricsContribution,
    fused_values,
    lyrics_contribution,
)
from songscape.models.emotion_space import top_emotions

#: Bump when the stage's computation changes.
STAGE_REVISION = 2  # 2: zero-shot arousal blends in a loudness/onset-rate cue
DESCRIPTORS_KEY = ("stage", "descriptors")

_HEADS: tuple[float, list[EmotionHead]] | None = None
_HEADS_TTL_S = 5.0


def current_heads() -> list[EmotionHead]:
    """The installed heads, re-read at most every few seconds per process."""
    global _HEADS
    now = time.monotonic()
    if _HEADS is None or now - _HEADS[0] > _HEADS_TTL_S:
        _HEADS = (now, installed_heads())
    return _HEADS[1]


def forget_heads() -> None:
    """Read the installed heads again on next use (after installing or removing one)."""
    global _HEADS
    _HEADS = None


def track_lyrics(ctx: TrackContext) -> tuple[str | bytes | None, str | None]:
    """``(text, source)``: the file's lyrics tag, else its sidecar file."""
    try:
        text = read_tags(ctx.path).lyrics
    except Exception:  # unreadable tags are the metadata stage's failure to report
        text = None
    if text and text.strip():
        return text, "tag"
    if text is not None and not text.strip():
        side, path = sidecar_lyrics(ctx.path)
        return (side, path) if side is not None else ("", "tag")
    return sidecar_lyrics(ctx.path)


@dataclass
class EmotionPayload:
    estimate: EmotionEstimate
    lyrics: LyricsContribution
    lyrics_text: str | None

    def values(self) -> dict[str, Any]:
        return fused_values(self.estimate, self.lyrics)

    def json_fields(self) -> dict:
        return emotion_json(self.values())


def emotion_json(values: dict[str, Any]) -> dict:
    """The JSON fields of a stored/computed emotion row (analyze, show, tracks --json)."""
    gems = {k: round(float(v), 4) for k, v in values["gems"].items()}
    return {
        "valence": round(float(values["valence"]), 4),
        "arousal": round(float(values["arousal"]), 4),
        "gems": gems, "top_emotions": top_emotions(gems),
        "emotion_method": values["method"], "lyrics_used": bool(values["lyrics_used"]),
    }  # fmt: skip


class EmotionStage(Stage):
    """Store a track's emotion estimate and its curve."""

    name = "emotion"
    requires = ("descriptors",)
    uses_models = True  # the musicnn pass its features come from

    @property
    def version(self) -> int:  # follows the installed heads
        key = f"{STAGE_REVISION}|" + ",".join(h.version for h in current_heads())
        return zlib.crc32(key.encode()) & 0x7FFFFFFF

    def run(self, ctx: TrackContext) -> EmotionPayload:
        if DESCRIPTORS_KEY not in ctx.cache:
            ctx.cache[DESCRIPTORS_KEY] = get_stage("descriptors").run(ctx)
        output = model_output(ctx, FEATURE_MODEL)
        heads = current_heads()
        # musicnn-mtt's pass is shared with its tag stage (on by default): free in an ingest.
        second = model_output(ctx, SECOND_MODEL) if blocks_need_second_model(heads) else None
        features = features_from_output(output, ctx.cache[DESCRIPTORS_KEY], second)
        estimate = estimate_emotion(features, heads)
        text, source = track_lyrics(ctx)
        lyrics = lyrics_contribution(text, source, heads)
        return EmotionPayload(estimate, lyrics, text if isinstance(text, str) else None)

    def save(self, conn: sqlite3.Connection, track_id: str, payload: EmotionPayload) -> None:
        lyrics = payload.lyrics
        imported = emotion_db.imported_lyrics(conn, track_id)
        if imported is not None:  # lyrics the user imported win over tags and sidecars
            lyrics = lyrics_contribution(imported[0], imported[1], current_heads())
        emotion_db.put_emotion(conn, track_id, fused_values(payload.estimate, lyrics))
        est = payload.estimate
        curve = np.column_stack([est.curve_times_s, est.curve]) if len(est.curve) else \
            np.zeros((0, 3))  # fmt: skip
        analysis.put_array(conn, track_id, emotion_db.CURVE_ARRAY, curve.astype(np.float32))


EMOTION_STAGE = register_stage(EmotionStage())
