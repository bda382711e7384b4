"""Response models of the JSON routes: the ``200`` bodies ``/openapi.json`` promises
(issue 16: the OpenAPI document as a real contract, checked by schemathesis).

Every model names the fields a client can rely on, with their types and whether they
can be null. Models *allow extra fields*: a track carries its descriptors, emotions and
whatever later stages add, and an answer may gain fields without breaking a client, but
a field named here always has the type given. Routes declare them with
``response_model=...`` and ``response_model_exclude_unset=True``, so a body is sent as
the route built it (a field absent from it is not added as null); a route that returns
pre-encoded JSON (``/api/map``) declares its model for the document only.

The shapes are documented in docs/web.md; ``tests/server/test_response_models.py`` walks
``app.openapi()`` and fails for a JSON route without a typed ``200`` schema.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DeletedPlaylist", "DistancesOut", "IdentifyOut", "MapOut", "PathOut", "PlaylistList",
    "PlaylistOut", "RecommendOut", "SearchOut", "SimilarOut", "SingOut", "StatsOut",
    "TaggramOut", "TrackDetail", "TrackPage", "UsersOut", "JSON_ROUTE",
]  # fmt: skip


class ApiModel(BaseModel):
    """A JSON object of the API: the fields named are typed, others may follow."""

    model_config = ConfigDict(extra="allow")


#: The keyword arguments of a JSON route's decorator besides ``response_model``.
JSON_ROUTE: dict[str, Any] = {"response_model_exclude_unset": True}


# -- tracks ----------------------------------------------------------------------------


class TrackRef(ApiModel):
    """A track as every answer shows it (``path`` is never sent: ``filename`` is its base
    name). Absent fields were not part of that answer; null ones are unknown."""

    id: str
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    duration_s: float | None = Field(default=None, description="seconds")
    tempo_bpm: float | None = None
    key: str | None = None
    filename: str | None = None
    display_title: str | None = Field(default=None, description="title, else file name")
    audio_url: str | None = None


class TrackSummary(TrackRef):
    """A row of ``/api/tracks`` (``songscape tracks --json``)."""

    status: Literal["ok", "failed", "missing"]
    genre: str | None = None
    year: int | str | None = None
    track_number: int | None = None
    format: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    size_bytes: int | None = None
    error: str | None = None
    added_at: float | None = Field(default=None, description="Unix time")
    updated_at: float | None = Field(default=None, description="Unix time")
    valence: float | None = None
    arousal: float | None = None


class TrackPage(ApiModel):
    total: int = Field(description="matches before paging")
    offset: int
    limit: int
    tracks: list[TrackSummary]


class TopTag(ApiModel):
    tag: str
    source: str | None = None
    name: str
    probability: float
    model: str


class Highlight(ApiModel):
    start_s: float
    end_s: float
    method: str | None = None
    score: float | None = None


class Section(ApiModel):
    start_s: float
    end_s: float
    label: str | None = None


class EnergyCurve(ApiModel):
    times_s: list[float]
    values: list[float] = Field(description="0..1")


class StageRun(ApiModel):
    stage: str
    version: int | None = None
    status: str
    error: str | None = None


class TrackDetail(TrackSummary):
    """``/api/tracks/{id}``: the summary, descriptors, tags and timeline of one track."""

    duplicates: int = Field(description="recorded copies of the file")
    top_tags: list[TopTag] = Field(description="both vocabularies, most probable first")
    tags: dict[str, dict[str, float]] | None = None
    stages: list[StageRun] | None = None
    highlight: Highlight | None = None
    sections: list[Section] | None = None
    energy_curve: EnergyCurve | None = None
    beat_times: list[float] | None = None
    downbeat_times: list[float] | None = None


# -- search ------------------------------------------------------------------------------


class WindowMatch(ApiModel):
    """The 10 s window of a result that matched (segment search)."""

    start_s: float
    end_s: float | None = None
    score: float
    query_start_s: float | None = None


class SimilarTrack(TrackRef):
    score: float = Field(description="cosine similarity")
    explanation: dict[str, Any] | None = None
    window: WindowMatch | None = None
    track_score: float | None = None


class SimilarOut(ApiModel):
    query: TrackRef
    model: str
    filters: list[str]
    matched_by: Literal["track", "segment"] | None = None
    source: str | None = None
    results: list[SimilarTrack]


class DistancesOut(ApiModel):
    id: str
    model: str
    ids: list[str]
    distance: list[float] = Field(description="1 - cosine similarity, one per id")


class SearchTrack(TrackRef):
    score: float
    explanation: dict[str, Any] | None = None


class SearchOut(ApiModel):
    query: str
    intent: dict[str, Any] = Field(description="how the query was read")
    results: list[SearchTrack]


class PathTrack(TrackRef):
    similarity: float | None = Field(default=None, description="to the track before")


class PathOut(ApiModel):
    model: str
    from_: str = Field(alias="from")
    to: str
    steps: int
    path: list[PathTrack]


class Identified(ApiModel):
    id: str
    offset_s: float = Field(description="where the clip starts in the track")
    matched_s: float
    ber: float = Field(description="bit error rate of the match")


class IdentifyOut(ApiModel):
    model: str | None
    identified: Identified | None
    track: TrackRef | None
    similar: list[SimilarTrack]
    matched_by: Literal["track", "segment"] | None = None
    note: str | None = None


# -- the map -----------------------------------------------------------------------------


class ColourField(ApiModel):
    name: str
    label: str
    kind: Literal["categorical", "continuous"]


class MapOut(ApiModel):
    """``/api/map``: one entry per point in each column (``ids``, ``x``, ``y``, ``z``,
    ``fields.*``), and how the map was made."""

    model: str
    version: str
    method: str
    method_used: str
    catalog_version: int
    n: int
    fit_size: int
    subsampled: bool
    notes: list[str]
    compute_s: float
    source: str | None = None
    n_clusters: int
    cluster_names: list[str]
    top_tag_model: str | None
    top_tag_source: str | None
    colour_fields: list[ColourField]
    ids: list[str]
    x: list[float]
    y: list[float]
    z: list[float]
    fields: dict[str, list[Any]] = Field(description="colour columns, one value per point")
    layout: str | None = None


# -- library, playlists, listeners -------------------------------------------------------


class StatsOut(ApiModel):
    schema_version: int
    catalog_version: int
    tracks: int
    by_status: dict[str, int]
    duplicates: int
    total_duration_s: float | None = None
    total_size_bytes: int | None = None
    artists: int | None = None
    formats: dict[str, int] | None = None
    genres: dict[str, int] | None = None
    keys: dict[str, int] | None = None
    tempo_bpm: dict[str, float | None] | None = None
    stages: dict[str, dict[str, int]] | None = None
    default_model: str
    embeddings: dict[str, dict[str, int]] | None = None
    map_methods: list[str]


class PlaylistInfo(ApiModel):
    name: str
    source: str | None = None
    created_at: float | None = None
    updated_at: float | None = None
    n_tracks: int
    duration_s: float | None = None


class PlaylistTrack(TrackRef):
    position: int
    status: str | None = None


class PlaylistOut(PlaylistInfo):
    tracks: list[PlaylistTrack]


class PlaylistList(ApiModel):
    playlists: list[PlaylistInfo]


class DeletedPlaylist(ApiModel):
    deleted: str


class UserSummary(ApiModel):
    id: str | int
    events: int
    items: int
    plays: float


class UsersOut(ApiModel):
    total: int
    users: list[UserSummary]


class RecommendItem(ApiModel):
    item: str
    score: float
    track_id: str | None
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    audio_url: str | None = None


class RecommendOut(ApiModel):
    model: str
    k: int
    source: str | None = None
    results: list[RecommendItem]


class TaggramOut(ApiModel):
    model: str
    patch_s: float = Field(description="seconds per column of values")
    tags: list[str]
    values: list[list[float]] = Field(description="per tag, its probability per patch")


class SingOut(ApiModel):
    voice: dict[str, Any]
    results: list[dict[str, Any]]
    weights: dict[str, float]
    songs_considered: int
    songs_without_singing: int
    songs_without_vocals: int
