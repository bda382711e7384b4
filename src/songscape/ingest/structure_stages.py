"""The ``structure`` and ``highlight`` stages (issue 18).

``structure`` segments a track into labelled sections
(:func:`songscape.analysis.structure.analyze_structure`) on the beats and downbeats
of the ``descriptors`` stage; ``highlight`` picks the 30 s highlight window with the
signal scorer and, when the attention model (:data:`~songscape.models.
highlight_attention.DEFAULT_ATTENTION_MODEL`) is installed, with the attention scorer
and their fusion (:func:`songscape.analysis.highlight.compute_highlights`); the stored
default is ``fused`` when it exists, else ``signal``.

Both reuse what earlier stages computed for the same track (the
:class:`~songscape.ingest.stages.TrackContext` cache); when they run alone (a version
bump), they recompute the descriptors from the audio rather than read the catalog, as
every stage runs in a worker that never touches the catalog. The highlight stage's
version includes the attention model's version, so installing or retraining that
model re-runs it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE, Descriptors
from songscape.analysis.highlight import (
    DEFAULT_LENGTH_S,
    Highlight,
    compute_highlights,
    default_method,
)
from songscape.analysis.structure import Structure, analyze_structure
from songscape.catalog import structure as structure_db
from songscape.ingest.stages import Stage, TrackContext, get_stage, register_stage
from songscape.models.highlight_attention import (
    DEFAULT_ATTENTION_MODEL,
    attention_curve,
    attention_model_version,
    version_number,
)

#: ``TrackContext.cache`` keys.
DESCRIPTORS_KEY = ("stage", "descriptors")
STRUCTURE_KEY = ("stage", "structure")


def track_descriptors(ctx: TrackContext) -> Descriptors:
    """The track's descriptors: the ``descriptors`` stage's result if it ran on this
    context, else computed now (and kept for the other stages)."""
    if DESCRIPTORS_KEY not in ctx.cache:
        ctx.cache[DESCRIPTORS_KEY] = get_stage("descriptors").run(ctx)
    return ctx.cache[DESCRIPTORS_KEY]


def track_structure(ctx: TrackContext) -> Structure:
    """The track's structure, computed once per context."""
    if STRUCTURE_KEY not in ctx.cache:
        d = track_descriptors(ctx)
        ctx.cache[STRUCTURE_KEY] = analyze_structure(
            ctx.audio(ANALYSIS_SAMPLE_RATE, mono=True), ANALYSIS_SAMPLE_RATE,
            d.beat_times, d.downbeat_times, d.energy_curve, d.energy_rate_hz,
        )  # fmt: skip
    return ctx.cache[STRUCTURE_KEY]


class StructureStage(Stage):
    """Sections with repeat labels, and the chorus candidate."""

    name = "structure"
    version = 1
    requires = ("descriptors",)

    def run(self, ctx: TrackContext) -> Structure:
        return track_structure(ctx)

    def save(self, conn: sqlite3.Connection, track_id: str, payload: Structure) -> None:
        structure_db.put_structure(
            conn, track_id, [(s.start_s, s.end_s, s.label) for s in payload.sections],
            payload.chorus, payload.grid, payload.reason,
        )  # fmt: skip


@dataclass
class HighlightPayload:
    highlights: dict[str, Highlight]
    default: str

    def json_fields(self) -> dict:
        """``highlight`` (the default method's ``{start_s, end_s, method, score}``) and
        ``highlights`` (every method's), for ``songscape analyze --json``."""
        return {"highlight": self.highlights[self.default].to_json(),
                "highlights": {m: h.to_json() for m, h in self.highlights.items()}}  # fmt: skip


class HighlightStage(Stage):
    """The highlight window: signal scorer, plus attention and fused with the model."""

    name = "highlight"
    requires = ("structure",)
    #: Bump when the signal scorer's output changes.
    base_version = 1

    def __init__(self, attention_model: str = DEFAULT_ATTENTION_MODEL,
                 length_s: float = DEFAULT_LENGTH_S):  # fmt: skip
        self.attention_model = attention_model
        self.length_s = length_s

    @property
    def version(self) -> int:  # type: ignore[override]
        model_version = attention_model_version(self.attention_model)
        return self.base_version * 1_000_000_000 + version_number(model_version) % 1_000_000_000

    def run(self, ctx: TrackContext) -> HighlightPayload:
        d = track_descriptors(ctx)
        st = track_structure(ctx)
        curve = None
        if attention_model_version(self.attention_model) is not None and st.grid != "none":
            from songscape.models.registry import get_spec

            sr = get_spec(self.attention_model).sample_rate
            curve = attention_curve(ctx.audio(sr, mono=True), self.attention_model)
        found = compute_highlights(st, d.energy_curve, d.energy_rate_hz, d.downbeat_times,
                                   d.beat_times, self.length_s, attention=curve)  # fmt: skip
        return HighlightPayload(found, default_method(found))

    def save(self, conn: sqlite3.Connection, track_id: str, payload: HighlightPayload) -> None:
        structure_db.put_highlights(
            conn, track_id, [h.to_json() for h in payload.highlights.values()], payload.default
        )


STRUCTURE_STAGE = register_stage(StructureStage())
HIGHLIGHT_STAGE = register_stage(HighlightStage())
