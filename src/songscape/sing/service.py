"""``sing`` end to end on a library: read the songs' vocal analysis, match a voice."""

from __future__ import annotations

import sqlite3

import numpy as np

from songscape.catalog import vocals as vocals_catalog
from songscape.errors import LibraryError
from songscape.models.vocal_timbre import vocal_kind, vocal_models
from songscape.sing.match import SongVocals, match_songs, parse_weights
from songscape.sing.voice import VoiceAnalysis

NO_VOCALS_MESSAGE = ("no song in the library has a vocal analysis yet: run `songscape vocals` "
                     "(or `songscape sing` without --no-update)")


def load_song_vocals(conn: sqlite3.Connection, kinds: list[str] | None = None) -> SongVocals:
    """The vocal analysis of every healthy analysed track, with the embeddings of ``kinds``
    (default: every kind stored)."""
    rows = vocals_catalog.vocal_rows(conn)
    ids = [r["track_id"] for r in rows]
    kinds = vocals_catalog.vocal_embedding_kinds(conn) if kinds is None else kinds
    ranges = np.array([[np.nan if r["range_low"] is None else r["range_low"],
                        np.nan if r["range_high"] is None else r["range_high"]]
                       for r in rows], dtype=np.float64).reshape(-1, 2)  # fmt: skip
    return SongVocals(
        ids=ids,
        titles=[r["title"] or _file_stem(r["path"]) for r in rows],
        artists=[r["artist"] for r in rows],
        keys=[r["key"] for r in rows],
        ranges=ranges,
        note_hist=vocals_catalog.note_histograms(rows),
        hist_low=vocals_catalog.NOTE_HIST_LOW,
        embeddings={kind: vocals_catalog.vocal_embedding_matrix(conn, kind, ids)
                    for kind in kinds},  # fmt: skip
    )


def library_vocal_models(conn: sqlite3.Connection) -> list[str]:
    """The registered vocal models (``train --source vocals``) whose vectors the library
    holds: those a voice is embedded with."""
    kinds = set(vocals_catalog.vocal_embedding_kinds(conn))
    return [m for m in vocal_models() if vocal_kind(m) in kinds]


def _file_stem(path: str | None) -> str | None:
    if not path:
        return None
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0]


def sing_report(
    voice: VoiceAnalysis,
    songs: SongVocals,
    k: int = 10,
    weights: str | dict[str, float] | None = None,
    missing: int = 0,
) -> dict:
    """The ``sing --json`` object: ``voice``, ``results`` (best first), ``weights``,
    ``songs_considered`` (analysed, with singing), ``songs_without_singing`` (analysed,
    no singing found: left out) and ``songs_without_vocals`` (not analysed yet).

    Raises
    ------
    LibraryError
        No song of the library has a vocal analysis.
    """
    if not songs.ids:
        raise LibraryError(NO_VOCALS_MESSAGE)
    w = parse_weights(weights) if not isinstance(weights, dict) else weights
    comfortable = voice.range.comfortable_midi
    results = match_songs(comfortable, voice.embeddings, songs, k=k, weights=w,
                          tessitura_midi=voice.range.tessitura_midi)  # fmt: skip
    return {
        "voice": voice.to_json(),
        "results": results,
        "weights": w,
        "songs_considered": int((songs.note_hist.sum(axis=1) > 0).sum()),
        "songs_without_singing": int((songs.note_hist.sum(axis=1) <= 0).sum()),
        "songs_without_vocals": int(missing),
    }
