"""The ``windows:<model>`` stage: segment-level vectors beside the track vector (issue 20).

It reuses the network pass of the model's ``embed`` stage (the per-track cache of
:func:`~songscape.ingest.model_stages.model_output`): the per-patch embeddings are pooled
into overlapping windows (:func:`songscape.models.windows.window_vectors`, 10 s every
5 s) and stored in ``window_vectors`` with the model version. Its version follows the
model's version and the window geometry, so changing either recomputes it.
"""

from __future__ import annotations

import sqlite3
import zlib
from dataclasses import dataclass

import numpy as np

from songscape.catalog import windows as window_rows
from songscape.ingest.model_stages import model_output
from songscape.ingest.stages import Stage, TrackContext, register_stage_family
from songscape.models.registry import get_spec
from songscape.models.windows import WINDOW_HOP_S, WINDOW_S, window_vectors


def window_stage_name(model: str) -> str:
    return f"windows:{model}"


@dataclass
class WindowPayload:
    model: str
    version: str
    starts_s: np.ndarray
    vectors: np.ndarray
    window_s: float
    hop_s: float

    def json_fields(self) -> dict:
        return {"window_s": self.window_s, "window_hop_s": self.hop_s,
                "window_count": int(len(self.starts_s))}  # fmt: skip

    def vector_fields(self) -> dict:
        """The windows themselves (``analyze_file(..., windows=True)``): ``window_starts_s``
        (seconds) and ``window_vectors`` (one list of floats per window, not normalised)."""
        return {"window_starts_s": [float(t) for t in self.starts_s],
                "window_vectors": np.asarray(self.vectors, np.float32).tolist()}  # fmt: skip


class WindowStage(Stage):
    """Store the model's window vectors (one row per track and model)."""

    uses_models = True

    def __init__(self, model: str, window_s: float = WINDOW_S, hop_s: float = WINDOW_HOP_S):
        get_spec(model)  # unknown names fail here
        self.model = model
        self.name = window_stage_name(model)
        self.window_s = float(window_s)
        self.hop_s = float(hop_s)

    @property
    def version(self) -> int:  # the model's version and the window geometry
        key = f"{get_spec(self.model).version}|{self.window_s:g}|{self.hop_s:g}"
        return zlib.crc32(key.encode()) & 0x7FFFFFFF

    def run(self, ctx: TrackContext) -> WindowPayload:
        out = model_output(ctx, self.model)
        if out.patch_embeddings is None:  # a model without patch vectors: the whole track
            patches, times, length = out.embedding[None, :], np.zeros(1), out.patch_duration_s
        else:
            patches, times, length = out.patch_embeddings, out.patch_times_s, out.patch_duration_s
        w = window_vectors(patches, times, length, self.window_s, self.hop_s)
        return WindowPayload(self.model, out.version, w.starts_s, w.vectors, w.window_s, w.hop_s)

    def save(self, conn: sqlite3.Connection, track_id: str, payload: WindowPayload) -> None:
        window_rows.put_windows(
            conn, track_id, payload.model, payload.version, payload.starts_s,
            payload.vectors, payload.window_s, payload.hop_s,
        )  # fmt: skip


register_stage_family("windows", WindowStage)
