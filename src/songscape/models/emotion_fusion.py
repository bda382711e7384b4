"""Late fusion of the audio emotion estimate with the lyrics (what the ``emotion`` stage runs).

Jeon et al. (RecSys 2017) fuse audio and lyrics for polarity (valence); so does
songscape, and only for valence: arousal is heard, not read (the audio value stands).

* With a trained head whose valence target has a lyrics model
  (``songscape train --task emotion`` on labels with English lyrics), the lyrics value is
  that model's prediction and the weight the one fitted at training.
* Otherwise the lyrics value is :func:`~songscape.models.lyrics.lyrics_polarity`'s
  zero-shot valence and the weight :data:`DEFAULT_LYRICS_WEIGHT` (0.3): a fixed prior that
  gives the audio the larger say, chosen before any measurement (Jeon et al. found
  lyrics at least as informative as audio for polarity, but our zero-shot lyrics model
  is untrained). ``bench/emotion.py`` reports what fusion changes on the Jamendo and
  PMEmo lyrics.

Lyrics in another language than English, empty lyrics, no lyrics and binary junk are
not used (``lyrics_used`` false, the reason recorded); the audio estimate stands alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from songscape.errors import LyricsError
from songscape.models.emotion import EmotionEstimate, EmotionHead
from songscape.models.lyrics import fuse, lyrics_features, lyrics_polarity

DEFAULT_LYRICS_WEIGHT = 0.3


@dataclass
class LyricsContribution:
    """What the lyrics added to a track's estimate."""

    used: bool
    source: str | None
    language: str | None
    valence: float | None
    weight: float | None
    reason: str | None
    polarity: dict[str, Any] = field(default_factory=dict)


def lyrics_contribution(
    text: str | bytes | None, source: str | None, heads: Sequence[EmotionHead] = ()
) -> LyricsContribution:
    """The lyrics' valence and fusion weight, or why they are not used."""
    if text is None:
        return LyricsContribution(False, None, None, None, None, "no lyrics")
    try:
        polarity = lyrics_polarity(text)
    except LyricsError as err:
        return LyricsContribution(False, source, None, None, None, f"lyrics unusable: {err}")
    if not polarity.used:
        return LyricsContribution(False, source, polarity.language, None, None, polarity.reason,
                                  polarity.to_json())  # fmt: skip
    head = next((h for h in heads if "valence" in h.lyrics), None)
    if head is not None:
        model = head.lyrics["valence"]
        value = float(np.clip(model.predict(lyrics_features(str(text))), -1.0, 1.0))
        weight = float(head.lyrics_weight.get("valence", DEFAULT_LYRICS_WEIGHT))
    else:
        value, weight = float(polarity.valence), DEFAULT_LYRICS_WEIGHT
    return LyricsContribution(True, source, polarity.language, value, weight, None,
                              polarity.to_json())  # fmt: skip


def fused_values(estimate: EmotionEstimate, lyrics: LyricsContribution) -> dict[str, Any]:
    """The row the catalog stores: fused valence, audio arousal, GEMS, method, lyrics part."""
    valence = estimate.audio_valence
    method = estimate.method
    if lyrics.used and lyrics.valence is not None and lyrics.weight is not None:
        valence = fuse(estimate.audio_valence, lyrics.valence, lyrics.weight)
        method += "+lyrics"
    return {
        "valence": float(valence), "arousal": float(estimate.audio_arousal),
        "gems": dict(estimate.gems), "method": method,
        "audio_valence": float(estimate.audio_valence),
        "audio_arousal": float(estimate.audio_arousal),
        "lyrics_used": bool(lyrics.used), "lyrics_source": lyrics.source,
        "lyrics_language": lyrics.language, "lyrics_valence": lyrics.valence,
        "lyrics_weight": lyrics.weight, "lyrics_reason": lyrics.reason,
    }  # fmt: skip
