"""Emotion in the Python API (issue 19): ``Library.emotion``, ``Library.import_lyrics``, and
the emotion fields of track summaries. The logic is in :mod:`songscape.emotion`."""

from __future__ import annotations

import os

from songscape.catalog import emotion as emotion_db
from songscape.catalog.store import LibraryStore
from songscape.emotion.lyrics_import import import_lyrics
from songscape.emotion.tracks import add_emotion_fields, emotion_fields, track_emotion


class EmotionMixin:
    """The emotion methods of :class:`~songscape.library.library.Library`."""

    store: LibraryStore

    def emotion(self, ref: str) -> dict:
        """A track's emotion: ``valence``, ``arousal`` (-1...1), ``gems`` (nine emotions ->
        0...1), ``top_emotions``, ``emotion_method``, ``lyrics_used``, ``quadrant``, the
        audio-only values, the lyrics' part and the ``curve`` over time (``{times_s,
        valence, arousal}``); None values and a ``reason`` before the stage ran."""
        row = self.store.get_track(ref)
        return {
            "track_id": row["id"],
            "title": row["title"],
            **track_emotion(self.store, row["id"]),
        }

    def import_lyrics(self, folder: str | os.PathLike) -> dict:
        """Import the ``.lrc``/``.txt`` lyrics files of ``folder``, matched to tracks by file
        name or "artist - title", and fuse them into the tracks' valence (see
        :func:`songscape.emotion.lyrics_import.import_lyrics`)."""
        return import_lyrics(self.store, folder)

    def emotion_summary(self, track_id: str) -> dict:
        """The emotion fields of one track's summary (None values before the stage ran)."""
        return emotion_fields(emotion_db.emotion(self.store.conn, track_id))

    def with_emotion(self, summaries: list[dict]) -> list[dict]:
        """Track summaries with the emotion fields added."""
        return add_emotion_fields(self.store, summaries)
