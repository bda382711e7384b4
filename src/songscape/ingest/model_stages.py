"""The neural-model stages: ``embed:<model>`` and ``tag:<model>``.

Both run the model once per track (the network pass is shared through the
:class:`~songscape.ingest.stages.TrackContext` cache) and store, respectively,
the track-level embedding (``embeddings`` table, with the model name and version)
and the tag probabilities (``tags`` table) plus the per-patch taggram (array
``taggram:<model>``, one row per 3 s patch, for highlights and timelines).

A model's stage version is derived from the model's version string, so a new
model version re-runs exactly its own stages; adding a model to a library runs
only that model's stages.
"""

from __future__ import annotations

import os
import sqlite3
import zlib
from dataclasses import dataclass

import numpy as np

from songscape.catalog import analysis, model_outputs
from songscape.ingest.stages import Stage, TrackContext, register_stage_family
from songscape.models.registry import ModelOutput, get_spec, load_model

#: Models whose tags every ingest stores: together they give the combined tag set
#: (MSD's genres/moods/eras and MTT's instruments, voices, "classical").
DEFAULT_TAG_MODELS = ("musicnn-msd", "musicnn-mtt")


def taggram_array_name(model: str) -> str:
    return f"taggram:{model}"


def _configure_torch_threads() -> None:
    # Ingest workers run with OMP_NUM_THREADS=1 (parallelism comes from processes);
    # make torch follow it even if it was imported before the variable was set.
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads and threads.isdigit():
        import torch

        if torch.get_num_threads() != int(threads):
            torch.set_num_threads(int(threads))


def model_output(ctx: TrackContext, model: str) -> ModelOutput:
    """The model's analysis of the track, computed once per track and model."""
    key = ("model_output", model)
    if key not in ctx.cache:
        spec = get_spec(model)
        _configure_torch_threads()
        ctx.cache[key] = load_model(model).run(ctx.audio(spec.sample_rate, mono=True))
    return ctx.cache[key]


def _stage_version(model_version: str) -> int:
    return zlib.crc32(model_version.encode()) & 0x7FFFFFFF


@dataclass
class EmbeddingPayload:
    model: str
    version: str
    layer: str
    vector: np.ndarray

    def json_fields(self) -> dict:
        return {
            "embedding_model": self.model,
            "embedding_version": self.version,
            "embedding_layer": self.layer,
            "embedding_dim": int(self.vector.shape[0]),
            "embedding": [round(float(v), 6) for v in self.vector],
        }


@dataclass
class TagPayload:
    model: str
    version: str
    tag_source: str | None
    labels: tuple[str, ...]
    probabilities: np.ndarray
    taggram: np.ndarray
    patch_duration_s: float

    def json_fields(self) -> dict:
        order = np.argsort(-self.probabilities, kind="stable")
        return {
            "tag_model": self.model,
            "tags": {self.labels[i]: round(float(self.probabilities[i]), 4) for i in order},
        }


class EmbedStage(Stage):
    """Store the model's track-level embedding."""

    def __init__(self, model: str):
        spec = get_spec(model)
        self.model = model
        self.name = f"embed:{model}"
        self.embedding_dim = spec.embedding_dim

    @property
    def version(self) -> int:  # follows the registry (a re-registered model bumps it)
        return _stage_version(get_spec(self.model).version)

    def run(self, ctx: TrackContext) -> EmbeddingPayload:
        out = model_output(ctx, self.model)
        return EmbeddingPayload(
            self.model, out.version, out.embedding_layer, out.embedding.astype(np.float32)
        )

    def save(self, conn: sqlite3.Connection, track_id: str, payload: EmbeddingPayload) -> None:
        model_outputs.put_embedding(conn, track_id, payload.model, payload.version, payload.vector)


class TagStage(Stage):
    """Store the model's tag probabilities (track level) and its taggram (per patch)."""

    def __init__(self, model: str):
        spec = get_spec(model)
        if not spec.labels:
            raise ValueError(f"model {model!r} has no tag outputs")
        self.model = model
        self.name = f"tag:{model}"

    @property
    def version(self) -> int:
        return _stage_version(get_spec(self.model).version)

    def run(self, ctx: TrackContext) -> TagPayload:
        out = model_output(ctx, self.model)
        spec = get_spec(self.model)
        return TagPayload(
            model=self.model,
            version=out.version,
            tag_source=spec.tag_source,
            labels=out.labels,
            probabilities=out.tag_probabilities.astype(np.float32),
            taggram=out.taggram.astype(np.float32),
            patch_duration_s=out.patch_duration_s,
        )

    def save(self, conn: sqlite3.Connection, track_id: str, payload: TagPayload) -> None:
        model_outputs.replace_tags(
            conn,
            track_id,
            payload.model,
            zip(payload.labels, payload.probabilities, strict=True),
        )
        analysis.put_array(conn, track_id, taggram_array_name(payload.model), payload.taggram)


def model_stage_names(embed_models: tuple[str, ...], tag_models: tuple[str, ...]) -> list[str]:
    """Stage names for embedding with ``embed_models`` (track vector, and window vectors:
    ``windows:``, :mod:`songscape.ingest.window_stage`) and tagging with ``tag_models``."""
    for model in (*embed_models, *tag_models):
        get_spec(model)  # unknown names fail here, before any work starts
    return ([f"embed:{m}" for m in embed_models] + [f"windows:{m}" for m in embed_models]
            + [f"tag:{m}" for m in tag_models])  # fmt: skip


register_stage_family("embed", EmbedStage)
register_stage_family("tag", TagStage)
