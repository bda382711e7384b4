"""The map coloured and laid out by emotion (issue 19).

Colour fields: ``valence`` and ``arousal`` (continuous, -1...1) and ``mood`` (categorical:
the Russell quadrant, ``happy / excited``, ``tense / angry``, ``sad / depressed``,
``calm / relaxed``). Layout ``valence-arousal``: a track's point is
``x = (valence + 1) / 2``, ``y = (arousal + 1) / 2``, ``z = 0.5`` in the unit cube, in place of
the embedding's UMAP coordinates; tracks without an estimate are left out of that layout.
"""

from __future__ import annotations

from typing import Any

from songscape.catalog import emotion as emotion_db
from songscape.catalog.store import LibraryStore
from songscape.models.emotion_space import QUADRANT_NAMES, quadrant

#: ``(name, label, kind)`` of the emotion colour fields, as the map payload lists them.
EMOTION_COLOUR_FIELDS = (
    ("valence", "valence (-1 negative ... +1 positive)", "continuous"),
    ("arousal", "arousal (-1 calm ... +1 energetic)", "continuous"),
    ("mood", "mood (valence-arousal quadrant)", "categorical"),
)
LAYOUTS = ("embedding", "valence-arousal")


def emotion_point_fields(store: LibraryStore) -> dict[str, dict[str, Any]]:
    """``{track_id: {valence, arousal, mood}}`` of every healthy track with an estimate."""
    out = {}
    for track_id, row in emotion_db.emotions(store.conn).items():
        v, a = float(row["valence"]), float(row["arousal"])
        out[track_id] = {"valence": round(v, 3), "arousal": round(a, 3),
                         "mood": QUADRANT_NAMES[quadrant(v, a)]}  # fmt: skip
    return out


def valence_arousal_layout(payload: dict[str, Any]) -> dict[str, Any]:
    """A ``/api/map`` payload re-laid on the valence-arousal plane (see the module
    docstring): points without valence/arousal are dropped from every column."""
    fields = payload["fields"]
    keep = [i for i, (v, a) in enumerate(zip(fields["valence"], fields["arousal"], strict=True))
            if v is not None and a is not None]  # fmt: skip
    out = dict(payload)
    out["ids"] = [payload["ids"][i] for i in keep]
    out["x"] = [round((fields["valence"][i] + 1) / 2, 4) for i in keep]
    out["y"] = [round((fields["arousal"][i] + 1) / 2, 4) for i in keep]
    out["z"] = [0.5] * len(keep)
    out["fields"] = {name: [col[i] for i in keep] for name, col in fields.items()}
    out["n"] = len(keep)
    out["layout"] = "valence-arousal"
    dropped = len(payload["ids"]) - len(keep)
    if dropped:
        out["notes"] = [*payload.get("notes", []),
                        f"{dropped} tracks without an emotion estimate are not shown"]  # fmt: skip
    return out
