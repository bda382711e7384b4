"""Words written on the map: a name for each cluster and a genre for each point.

Cluster names
    Each k-means cluster of the map is named by its two most *distinctive* tags: the
    tags whose mean probability inside the cluster exceeds their mean over the whole
    library by the most (a tag every song has, such as "rock" in a rock collection,
    names no cluster). Clusters whose tracks carry no tags keep a number.

Genres
    A point's genre is its file's genre tag; else the genre a labels sidecar gave it
    (``songscape ingest --labels FILE``, when that exists); else the name of the folder
    the file sits in, unless that name is a generic one such as ``audio`` or ``music``.
    :func:`point_genre` returns the value and where it came from, so the page can say
    "from the folder name".
"""

from __future__ import annotations

import os
import re

import numpy as np

#: Folder names that say nothing about a genre (compared without case).
GENERIC_FOLDERS = frozenset({
    "audio", "music", "musik", "musique", "songs", "song", "tracks", "clips", "wav", "mp3",
    "flac", "ogg", "m4a", "data", "files", "media", "downloads", "download", "library",
    "misc", "various", "unknown", "new folder", "samples", "sounds", "itunes", "itunes media",
})  # fmt: skip


def folder_genre(path: str | None) -> str | None:
    """The name of the folder holding ``path``, when it can be a genre.

    Parameters
    ----------
    path : str or None
        A file path.

    Returns
    -------
    str or None
        The parent folder's name (underscores shown as spaces), or None when there is
        none, it is a generic name (:data:`GENERIC_FOLDERS`), or it looks like a disc,
        a year or a number (``CD1``, ``Disc 2``, ``1997``).
    """
    if not path:
        return None
    name = os.path.basename(os.path.dirname(path)).replace("_", " ").strip()
    if not name or name.casefold() in GENERIC_FOLDERS:
        return None
    if re.fullmatch(r"(?i)(cd|disc|disk)\s*\d*|\d+", name):
        return None
    return name


def point_genre(
    tag_genre: str | None, label_genre: str | None, path: str | None
) -> tuple[str | None, str | None]:
    """``(genre, source)`` of one point: source is ``"tag"``, ``"labels"``, ``"folder"``
    or None (no genre from any of them)."""
    if tag_genre and tag_genre.strip():
        return tag_genre.strip(), "tag"
    if label_genre and label_genre.strip():
        return label_genre.strip(), "labels"
    folder = folder_genre(path)
    if folder:
        return folder, "folder"
    return None, None


def cluster_names(
    clusters: np.ndarray,
    probabilities: np.ndarray,
    tag_names: list[str],
    n_tags: int = 2,
) -> list[str]:
    """A name for each cluster: its ``n_tags`` most distinctive tags, joined by " · ".

    Parameters
    ----------
    clusters : np.ndarray
        ``(n,)`` int cluster labels, 0-based.
    probabilities : np.ndarray
        ``(n, n_tags_total)`` tag probabilities in 0..1, NaN for a track without tags.
    tag_names : list of str
        The column names of ``probabilities``.
    n_tags : int
        Tags per name.

    Returns
    -------
    list of str
        One name per cluster label ``0 .. max(clusters)``; ``"cluster k"`` (1-based) for
        a cluster without tagged tracks. Two clusters that would get the same name get
        their number appended.
    """
    clusters = np.asarray(clusters, dtype=np.int64)
    n_clusters = int(clusters.max()) + 1 if clusters.size else 0
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != clusters.shape[0] or probs.shape[1] != len(tag_names):
        raise ValueError(
            f"probabilities {probs.shape} do not match {clusters.shape[0]} tracks and "
            f"{len(tag_names)} tags"
        )
    tagged = ~np.isnan(probs).any(axis=1)
    names: list[str] = []
    if not tagged.any() or not tag_names:
        return [f"cluster {c + 1}" for c in range(n_clusters)]
    overall = probs[tagged].mean(axis=0)
    for c in range(n_clusters):
        rows = tagged & (clusters == c)
        if not rows.any():
            names.append(f"cluster {c + 1}")
            continue
        lift = probs[rows].mean(axis=0) - overall
        best = np.argsort(-lift, kind="stable")[:n_tags]
        names.append(" · ".join(tag_names[j] for j in best))
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    return [f"{n} ({c + 1})" if seen[n] > 1 else n for c, n in enumerate(names)]
