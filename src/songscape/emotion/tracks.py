"""A track's stored emotion as the CLI, the API and the map show it."""

from __future__ import annotations

from typing import Any

import numpy as np

from songscape.catalog import analysis
from songscape.catalog import emotion as emotion_db
from songscape.catalog.store import LibraryStore
from songscape.models.emotion_space import quadrant, top_emotions

#: JSON fields every track summary gains (None until the ``emotion`` stage ran).
EMOTION_KEYS = ("valence", "arousal", "gems", "top_emotions", "emotion_method", "lyrics_used")


def emotion_fields(row: dict[str, Any] | None) -> dict[str, Any]:
    """The summary fields of a stored emotion row (:data:`EMOTION_KEYS`; None values for
    a track without one)."""
    if row is None:
        return dict.fromkeys(EMOTION_KEYS)
    gems = {k: round(float(v), 4) for k, v in row["gems"].items()}
    return {
        "valence": round(float(row["valence"]), 4), "arousal": round(float(row["arousal"]), 4),
        "gems": gems, "top_emotions": top_emotions(gems), "emotion_method": row["method"],
        "lyrics_used": bool(row["lyrics_used"]),
    }  # fmt: skip


def track_emotion(store: LibraryStore, track_id: str) -> dict[str, Any]:
    """Everything stored about a track's emotion: the summary fields, the quadrant, the
    audio-only values, the lyrics' part and the curve (``{times_s, valence, arousal}``)."""
    row = emotion_db.emotion(store.conn, track_id)
    out = emotion_fields(row)
    if row is None:
        out["reason"] = "not analysed yet (run `songscape ingest` on its folder)"
        return out
    out["quadrant"] = quadrant(row["valence"], row["arousal"])
    out["audio"] = {"valence": round(row["audio_valence"], 4),
                    "arousal": round(row["audio_arousal"], 4)}  # fmt: skip
    out["lyrics"] = {
        "used": bool(row["lyrics_used"]), "source": row["lyrics_source"],
        "language": row["lyrics_language"],
        "valence": None if row["lyrics_valence"] is None else round(row["lyrics_valence"], 4),
        "weight": row["lyrics_weight"], "reason": row["lyrics_reason"],
    }  # fmt: skip
    curve = analysis.get_arrays(store.conn, track_id).get(emotion_db.CURVE_ARRAY)
    if curve is not None and len(curve):
        c = np.asarray(curve, dtype=float)
        out["curve"] = {"times_s": [round(float(t), 2) for t in c[:, 0]],
                        "valence": [round(float(v), 3) for v in c[:, 1]],
                        "arousal": [round(float(v), 3) for v in c[:, 2]]}  # fmt: skip
    else:
        out["curve"] = None
    return out


def add_emotion_fields(store: LibraryStore, summaries: list[dict]) -> list[dict]:
    """Track summaries with :data:`EMOTION_KEYS` added (one query for all)."""
    rows = emotion_db.emotions(store.conn)
    for s in summaries:
        s.update(emotion_fields(rows.get(s["id"])))
    return summaries
