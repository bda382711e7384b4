"""``songscape lyrics import DIR``: lyrics files matched to tracks, and the emotion re-fused.

A file ``<name>.lrc`` or ``<name>.txt`` (``.lyrics.txt`` too) is matched to the track whose
audio file has the stem ``<name>``, else to the track whose "artist - title" (or title)
equals ``<name>`` after :func:`~songscape.text.normalize_text`. Matched lyrics are stored
(they take precedence over tags and sidecars from then on) and each matched track's
valence is fused again with its stored audio estimate, without decoding any audio.
Files that match nothing, or several tracks, are reported, never guessed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from songscape.audio.lyrics_files import SIDECAR_SUFFIXES, read_lyrics_file
from songscape.catalog import emotion as emotion_db
from songscape.catalog.store import LibraryStore
from songscape.errors import LyricsError
from songscape.models.emotion import EmotionEstimate, installed_heads
from songscape.models.emotion_fusion import fused_values, lyrics_contribution
from songscape.models.lyrics import clean_lyrics
from songscape.text import normalize_text


def _stem(path: Path) -> str | None:
    name = path.name
    for suffix in SIDECAR_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return None


def _index(store: LibraryStore) -> dict[str, set[str]]:
    """Normalised names -> track ids (file stem, "artist - title", title)."""
    out: dict[str, set[str]] = {}
    for t in store.list_tracks("ok"):
        names = [Path(t["path"]).stem]
        if t["title"]:
            names.append(t["title"])
            if t["artist"]:
                names.append(f"{t['artist']} - {t['title']}")
        for name in names:
            key = normalize_text(name)
            if key:
                out.setdefault(key, set()).add(t["id"])
    return out


def refuse(store: LibraryStore, track_id: str, text: str, source: str) -> dict | None:
    """Fuse a track's stored audio estimate with ``text``; returns the new row (None when
    the track has no emotion row yet: the next ingest will fuse)."""
    row = emotion_db.emotion(store.conn, track_id)
    if row is None:
        return None
    base = row["method"].removesuffix("+lyrics")
    estimate = EmotionEstimate(row["audio_valence"], row["audio_arousal"], row["gems"], base,
                               np.zeros(0), np.zeros((0, 2)), row["audio_valence"],
                               row["audio_arousal"])  # fmt: skip
    values = fused_values(estimate, lyrics_contribution(text, source, installed_heads()))
    emotion_db.update_fusion(store.conn, track_id, values)
    return values


def import_lyrics(store: LibraryStore, folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Import every lyrics file under ``folder`` (see the module docstring).

    Returns
    -------
    dict
        ``imported`` [{file, track_id, lyrics_used, language, reason}], ``unmatched``
        [file], ``ambiguous`` [{file, track_ids}], ``rejected`` [{file, reason}].

    Raises
    ------
    FileNotFoundError
        ``folder`` does not exist.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and _stem(p) is not None)
    index = _index(store)
    report: dict[str, Any] = {"imported": [], "unmatched": [], "ambiguous": [], "rejected": []}
    store.acquire_write_lock()
    try:
        with store.transaction() as conn:
            for path in files:
                ids = index.get(normalize_text(_stem(path)), set())
                if not ids:
                    report["unmatched"].append(str(path))
                    continue
                if len(ids) > 1:
                    report["ambiguous"].append({"file": str(path), "track_ids": sorted(ids)})
                    continue
                try:
                    raw = read_lyrics_file(path)
                    text = clean_lyrics(raw)
                    if not text:
                        raise LyricsError("empty lyrics file")
                except (OSError, ValueError) as err:  # LyricsError is a ValueError
                    report["rejected"].append({"file": str(path), "reason": str(err)})
                    continue
                (track_id,) = ids
                emotion_db.put_imported_lyrics(conn, track_id, text, str(path), time.time())
                values = refuse(store, track_id, text, str(path))
                report["imported"].append({
                    "file": str(path), "track_id": track_id,
                    "lyrics_used": None if values is None else values["lyrics_used"],
                    "language": None if values is None else values["lyrics_language"],
                    "reason": None if values is None else values["lyrics_reason"],
                })  # fmt: skip
            if report["imported"]:
                store.bump_catalog_version(conn)
    finally:
        store.release_write_lock()
    return report
