"""``/api/map``: the 3D map of the library (computed by :mod:`songscape.search.maps`,
cached in memory and on disk by :meth:`songscape.server.deps.ServerState.map_json`)."""

from __future__ import annotations

import json
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from songscape.search.emotion_map import valence_arousal_layout
from songscape.server.deps import StateDep
from songscape.server.models import MapOut

router = APIRouter(tags=["map"])


@router.get("/api/map", summary="3D map of the library", response_model=MapOut)
def map_(
    state: StateDep,
    model: Annotated[str | None, Query(description="embedding model (default: the "
                                       "library's)")] = None,
    method: Annotated[Literal["umap", "tsne"], Query()] = "umap",
    layout: Annotated[Literal["embedding", "valence-arousal"], Query(
        description="point positions: the embedding's map, or the valence-arousal plane "
        "(x = valence, y = arousal; issue 19)")] = "embedding",
) -> Response:  # fmt: skip
    """One point per healthy track with a vector: `ids`, `x`, `y`, `z` (unit cube)
    and colour fields (`fields.title/artist/album/genre/top_tag/tempo/key/cluster`,
    `valence`/`arousal` in -1..1 and `mood`, the quadrant name),
    as columns. Cached per model, method and catalog version (memory and
    `<library>/maps/`); `notes` says when PCA or subsampling was used."""
    t0 = time.perf_counter()
    body = state.map_json(model, method)
    if layout == "valence-arousal":
        payload = valence_arousal_layout(json.loads(body))
        body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
    # Already-encoded JSON: the cached bytes go out as they are.
    return Response(
        body, media_type="application/json",
        headers={"Server-Timing": f"map;dur={(time.perf_counter() - t0) * 1000:.1f}"},
    )  # fmt: skip
