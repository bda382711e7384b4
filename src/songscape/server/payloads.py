"""What the API shows of the catalog: track dicts without server paths, display titles, and
the ``/api/map`` payload with its per-point fields (docs/web.md has the shapes).

The functions that take a ``lib`` run on the library thread
(:meth:`songscape.server.deps.ServerState.call`); the others are pure.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from songscape.catalog import track_labels, web
from songscape.errors import UnknownModelError
from songscape.library.library import Library
from songscape.models.registry import get_spec
from songscape.search.emotion_map import EMOTION_COLOUR_FIELDS, emotion_point_fields
from songscape.search.map_labels import cluster_names, point_genre
from songscape.search.maps import MapResult

#: Colour fields of the map ``(name, label, kind)``; the page draws "continuous" fields
#: with a colour scale and the others with one colour per category.
COLOUR_FIELDS = (
    ("genre", "genre (tag, labels or folder)", "categorical"),
    ("top_tag", "top tag", "categorical"),
    ("album", "album", "categorical"),
    ("artist", "artist", "categorical"),
    ("tempo", "tempo (BPM)", "continuous"),
    ("key", "key", "categorical"),
    ("cluster", "cluster (k-means)", "categorical"),
    *EMOTION_COLOUR_FIELDS,  # valence, arousal, mood (issue 19)
)


def audio_url(track_id: str) -> str:
    """Where the API streams a track's audio."""
    return f"/api/tracks/{track_id}/audio"


def display_title(title: str | None, path: str | None) -> str:
    """The title tag, else the file's base name without extension, else ``"(untitled)"``."""
    if title:
        return title
    return os.path.splitext(os.path.basename(path or ""))[0] or "(untitled)"


def public_track(track: dict) -> dict:
    """A track dict for the API: ``path`` replaced by ``filename`` (the base name), plus
    ``display_title`` (when the dict has a title) and ``audio_url`` (when it has an id)."""
    out = {k: v for k, v in track.items() if k != "path"}
    if "path" in track:
        out["filename"] = os.path.basename(track["path"]) if track["path"] else None
        if "title" in track:
            out["display_title"] = display_title(track["title"], track["path"])
    if track.get("id"):
        out["audio_url"] = audio_url(track["id"])
    return out


# -- the map -------------------------------------------------------------------------


def versioned_embeddings(lib: Library, model: str) -> tuple[int, dict]:
    """``(catalog_version, lib.embeddings(model))`` read consistently: read again (up to 5
    times) while another process's write lands in between."""
    for _ in range(5):
        before = lib.store.catalog_version
        data = lib.embeddings(model)
        if lib.store.catalog_version == before:
            return before, data
    return lib.store.catalog_version, lib.embeddings(model)


def point_fields(lib: Library) -> tuple[str | None, dict[str, dict]]:
    """``(tag_model, {track_id: fields})`` of every healthy track.

    The fields are ``title`` (:func:`display_title`), ``artist``, ``album``, ``genre``
    (the file's genre tag, else a labels sidecar's, else its parent folder's name:
    :func:`map_labels.point_genre`)
    with ``genre_source`` (``"tag"``, ``"labels"``, ``"folder"`` or None), ``tempo`` (BPM,
    1 decimal), ``key`` and ``top_tag``. The top tag comes from one
    vocabulary, ``tag_model``: the default model's if it tags, else the tagging model that
    tagged the most tracks (None when no model tagged any).
    """
    conn = lib.store.conn
    label_genres = track_labels.labels(conn, "genre")
    fields = {
        r["id"]: {
            "title": display_title(r["title"], r["path"]),
            "artist": r["artist"],
            "album": r["album"],
            **dict(zip(("genre", "genre_source"),
                       point_genre(r["genre"], label_genres.get(r["id"]), r["path"]),
                       strict=True)),
            "tempo": None if r["tempo_bpm"] is None else round(float(r["tempo_bpm"]), 1),
            "key": r["key"],
            "top_tag": None,
        }
        for r in web.map_point_rows(conn)
    }
    tag_models = web.tag_models_by_coverage(conn)
    tag_model = None
    default = lib.default_model
    try:
        default_tags = bool(get_spec(default).labels)
    except UnknownModelError:
        default_tags = False
    if default_tags and default in tag_models:
        tag_model = default
    elif tag_models:
        tag_model = tag_models[0]
    if tag_model is not None:
        for track_id, tag in web.top_tags(conn, tag_model).items():
            if track_id in fields:
                fields[track_id]["top_tag"] = tag
    for track_id, emo in emotion_point_fields(lib.store).items():  # issue 19
        if track_id in fields:
            fields[track_id].update(emo)
    return tag_model, fields


def map_cluster_names(lib: Library, tag_model: str | None, result: MapResult) -> list[str]:
    """A name per cluster of ``result`` from ``tag_model``'s tags
    (:func:`songscape.search.map_labels.cluster_names`; numbers when nothing is tagged)."""
    n = result.n
    if tag_model is None or n == 0:
        return [f"cluster {c + 1}" for c in range(result.n_clusters)]
    row_of = {t: i for i, t in enumerate(result.ids)}
    rows = web.tag_probability_rows(lib.store.conn, tag_model)
    names = sorted({r["tag"] for r in rows})
    col_of = {t: j for j, t in enumerate(names)}
    probs = np.full((n, len(names)), np.nan, dtype=np.float32)
    for r in rows:
        i = row_of.get(r["track_id"])
        if i is not None:
            probs[i, col_of[r["tag"]]] = r["probability"]
    # A track tagged by the model has every tag of its vocabulary; a missing tag is 0.
    tagged = ~np.isnan(probs).all(axis=1)
    probs[tagged] = np.nan_to_num(probs[tagged], nan=0.0)
    return cluster_names(result.clusters, probs, names)


def map_payload(
    result: MapResult,
    tag_model: str | None,
    fields: dict[str, dict],
    names: list[str] | None = None,
) -> dict:
    """The JSON of ``/api/map``: columns with one entry per point (coordinates rounded to
    4 decimals in the unit cube), and how the map was made; ``cluster_names`` are
    ``names`` (from :func:`map_cluster_names`), else numbers."""
    coords = np.round(result.coords.astype(np.float64), 4)
    empty: dict[str, Any] = {}
    per = [fields.get(t, empty) for t in result.ids]

    def column(name: str) -> list:
        return [f.get(name) for f in per]

    source = None
    if tag_model:
        try:
            source = get_spec(tag_model).tag_source
        except UnknownModelError:
            source = None
    return {
        "model": result.model,
        "version": result.version,
        "method": result.method,
        "method_used": result.method_used,
        "catalog_version": result.catalog_version,
        "n": result.n,
        "fit_size": result.fit_size,
        "subsampled": result.fit_size < result.n,
        "notes": result.notes,
        "compute_s": result.compute_s,
        "source": result.source,
        "n_clusters": result.n_clusters,
        "cluster_names": list(names) if names is not None
        else [f"cluster {c + 1}" for c in range(result.n_clusters)],
        "top_tag_model": tag_model,
        "top_tag_source": source,
        "colour_fields": [
            {"name": n, "label": label, "kind": kind} for n, label, kind in COLOUR_FIELDS
        ],
        "ids": list(result.ids),
        "x": coords[:, 0].tolist(),
        "y": coords[:, 1].tolist(),
        "z": coords[:, 2].tolist(),
        "fields": {
            "title": column("title"),
            "artist": column("artist"),
            "album": column("album"),
            "genre": column("genre"),
            "genre_source": column("genre_source"),
            "top_tag": column("top_tag"),
            "tempo": column("tempo"),
            "key": column("key"),
            "cluster": [int(c) for c in result.clusters],
            **{name: column(name) for name, _, _ in EMOTION_COLOUR_FIELDS},  # issue 19
        },
    }
