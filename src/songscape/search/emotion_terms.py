"""Emotion in search (issue 19): ``valence=``/``arousal=`` filters and mood words in text.

Filters: ``valence=-1..-0.3``, ``arousal=0.2..`` (signed ranges in -1...1, either end
open) or words: ``valence=positive`` (0...1), ``valence=negative`` (-1...0),
``arousal=high`` (0...1), ``arousal=low`` (-1...0).

Text: the words of :data:`MOOD_WORDS` ("calm", "sad songs", "something energetic",
"신나는 노래", "잔잔한 음악") ask for a direction on the valence and/or arousal axis. Each
track's stored valence/arousal, standardised over the library (z-score), times the
direction, adds to the text score with weight :data:`EMOTION_WEIGHT` (the weight of one
strongly matched tag), and the result's explanation says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from songscape.catalog import emotion as emotion_db
from songscape.catalog.store import LibraryStore
from songscape.errors import QueryError
from songscape.text import normalize_text

#: Word -> (valence direction, arousal direction); 0 leaves an axis alone.
MOOD_WORDS: dict[str, tuple[float, float]] = {
    "calm": (0.3, -1.0), "calming": (0.3, -1.0), "relaxing": (0.3, -1.0), "relaxed": (0.3, -1.0),
    "peaceful": (0.5, -1.0), "gentle": (0.3, -1.0), "soothing": (0.3, -1.0), "chill": (0.2, -0.8),
    "mellow": (0.0, -0.8), "quiet": (0.0, -0.8), "serene": (0.5, -1.0),
    "energetic": (0.3, 1.0), "energy": (0.3, 1.0), "exciting": (0.5, 1.0), "excited": (0.5, 1.0),
    "upbeat": (0.7, 0.8), "intense": (-0.3, 1.0), "powerful": (0.0, 1.0), "pumped": (0.3, 1.0),
    "happy": (1.0, 0.3), "cheerful": (1.0, 0.4), "joyful": (1.0, 0.5), "uplifting": (1.0, 0.3),
    "positive": (1.0, 0.0), "feel good": (1.0, 0.3), "sunny": (0.8, 0.3),
    "sad": (-1.0, -0.3), "melancholic": (-0.8, -0.4), "melancholy": (-0.8, -0.4),
    "depressing": (-1.0, -0.4), "gloomy": (-1.0, -0.3), "heartbreak": (-1.0, -0.2),
    "dark": (-0.8, 0.2), "tense": (-0.7, 0.8), "angry": (-1.0, 1.0), "aggressive": (-0.8, 1.0),
    "scary": (-0.8, 0.6), "negative": (-1.0, 0.0),
    # Korean, as voice-assistant users ask (issue 19)
    "신나는": (0.6, 1.0), "신나게": (0.6, 1.0), "잔잔한": (0.3, -1.0), "슬픈": (-1.0, -0.3),
    "행복한": (1.0, 0.3), "차분한": (0.3, -1.0),
}  # fmt: skip
#: Weight of the emotion term next to the tag score (a weighted mean of tag z-scores).
EMOTION_WEIGHT = 1.0

_WORDS = {
    "valence": {"positive": (0.0, 1.0), "negative": (-1.0, 0.0)},
    "arousal": {"high": (0.0, 1.0), "low": (-1.0, 0.0)},
}
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"


def parse_emotion_range(name: str, value: str) -> tuple[float, float]:
    """``(low, high)`` of a ``valence=``/``arousal=`` filter.

    Raises
    ------
    QueryError
        Not a range or word, numbers outside -1...1, low above high.
    """
    word = value.strip().lower()
    if word in _WORDS[name]:
        return _WORDS[name][word]
    match = re.fullmatch(rf"\s*({_NUMBER})?\s*\.\.\s*({_NUMBER})?\s*", value)
    if not match or not (match.group(1) or match.group(2)):
        words = " or ".join(_WORDS[name])
        raise QueryError(f"{name} wants a range in -1..1 like -1..-0.3, 0.2.. or ..0, or "
                         f"{words}; not {value!r}")  # fmt: skip
    lo = float(match.group(1)) if match.group(1) else -1.0
    hi = float(match.group(2)) if match.group(2) else 1.0
    for x in (lo, hi):
        if not -1.0 <= x <= 1.0:
            raise QueryError(f"{name}: {x:g} is outside -1..1 in {value!r}")
    if lo > hi:
        raise QueryError(f"{name}: empty range {value!r} (low end above high end)")
    return lo, hi


def tracks_in_ranges(
    store: LibraryStore, valence: tuple[float, float] | None, arousal: tuple[float, float] | None
) -> set[str] | None:
    """Ids passing the emotion filters (None: no emotion filter). Tracks without an emotion
    estimate never pass an emotion filter."""
    allowed: set[str] | None = None
    for column, bounds in (("valence", valence), ("arousal", arousal)):
        if bounds is not None:
            ids = emotion_db.ids_in_range(store.conn, column, *bounds)
            allowed = ids if allowed is None else allowed & ids
    return allowed


@dataclass
class MoodMatch:
    """A mood word of a query and the direction it asks for."""

    word: str
    valence: float
    arousal: float

    def to_json(self) -> dict:
        return {"word": self.word, "valence": self.valence, "arousal": self.arousal}


def mood_matches(query: str) -> list[MoodMatch]:
    """The mood words (:data:`MOOD_WORDS`) found in ``query``, whole words only."""
    text = f" {normalize_text(query)} "
    found = []
    for word, (v, a) in MOOD_WORDS.items():
        if f" {normalize_text(word)} " in text:
            found.append(MoodMatch(word, v, a))
    return found


def mood_scores(
    store: LibraryStore, track_ids: list[str], moods: list[MoodMatch]
) -> tuple[np.ndarray, dict[str, dict]]:
    """Per track (in ``track_ids`` order), the emotion term of the text score, and per
    track with an estimate ``{valence, arousal, contribution}`` for the explanation.

    The direction is the mean of the matched words' directions; a track's term is
    ``EMOTION_WEIGHT * (d_v z_v + d_a z_a) / (|d_v| + |d_a|)``; tracks without an estimate
    score 0 (the library mean).
    """
    rows = emotion_db.emotions(store.conn)
    n = len(track_ids)
    if not moods or not rows:
        return np.zeros(n), {}
    d = np.mean([[m.valence, m.arousal] for m in moods], axis=0)
    norm = float(np.abs(d).sum()) or 1.0
    va = np.array([[rows[t]["valence"], rows[t]["arousal"]] if t in rows else [np.nan, np.nan]
                   for t in track_ids])  # fmt: skip
    mean = np.nanmean(va, axis=0)
    std = np.nanstd(va, axis=0)
    std = np.where(std > 0.05, std, 0.05)
    z = np.where(np.isfinite(va), (va - mean) / std, 0.0)
    score = EMOTION_WEIGHT * (z @ d) / norm
    explain = {
        t: {"valence": round(float(va[i, 0]), 3), "arousal": round(float(va[i, 1]), 3),
            "contribution": round(float(score[i]), 4)}
        for i, t in enumerate(track_ids) if t in rows
    }  # fmt: skip
    return score, explain
