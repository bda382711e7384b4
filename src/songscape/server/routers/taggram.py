"""``/api/tracks/{id}/taggram``: a track's tag probabilities over time (the per-patch
output of a tagging model, stored by ingest as ``taggram:<model>``), for the page's
taggram of the selected song."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query

from songscape.ingest.model_stages import taggram_array_name
from songscape.models.registry import get_spec
from songscape.models.taggram import top_tag_indices
from songscape.server.deps import StateDep
from songscape.server.errors import ApiError
from songscape.server.models import JSON_ROUTE, TaggramOut

router = APIRouter(tags=["tracks"])


@router.get("/api/tracks/{track_id}/taggram", summary="Tag probabilities over time",
            response_model=TaggramOut, **JSON_ROUTE)  # fmt: skip
def taggram(
    track_id: str,
    state: StateDep,
    model: Annotated[str, Query(max_length=100, description="a tagging model")] = "musicnn-msd",
    top: Annotated[int, Query(ge=1, le=50, description="tags, by mean probability")] = 8,
) -> dict:  # fmt: skip
    """`{model, patch_s, tags, values}`: the `top` tags with the highest mean probability
    and, per tag, its probability in each consecutive patch of `patch_s` seconds; empty
    lists when the track has no taggram of that model (ingest adds it)."""
    state.track_row(track_id)
    spec = get_spec(model)
    if not spec.labels:
        raise ApiError(400, f"bad parameter — model: {model} does not tag")
    arrays = state.call(lambda lib: lib.store.get_arrays(track_id))
    gram = arrays.get(taggram_array_name(spec.name))
    if gram is None or np.ndim(gram) != 2 or len(gram) == 0:  # not computed (yet)
        return {"model": spec.name, "patch_s": spec.patch_duration_s, "tags": [], "values": []}
    cols = top_tag_indices(gram, top)
    return {
        "model": spec.name,
        "patch_s": spec.patch_duration_s,
        "tags": [spec.labels[j] for j in cols],
        "values": np.round(gram[:, cols].T.astype(np.float64), 3).tolist(),
    }
