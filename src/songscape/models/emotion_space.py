"""The emotion space: nine GEMS emotions, valence and arousal, and the mapping between them.

GEMS (the Geneva Emotional Music Scale, Zentner, Grandjean & Scherer, *Emotion* 8(4),
2008) names nine emotions listeners report feeling with music; the Emotify data set
(Aljanaki, Wiering & Veltkamp 2016) collected them for 400 excerpts. Valence
(unpleasant -1 ... pleasant +1) and arousal (calm -1 ... excited +1) are the two axes of
Russell's circumplex model of affect (Russell, *J. Pers. Soc. Psychol.* 39(6), 1980),
the space of the 4Q data set (Panda et al. 2018) and of PMEmo.

The mapping
-----------
Each GEMS emotion gets a fixed point of the valence-arousal plane
(:data:`GEMS_VA`), placed where Russell (1980, fig. 2 and table 1) puts the affect words
that GEMS itself uses to describe the category (Zentner et al. 2008, table 6):
*joyful activation* ("joyful, amused, bouncy") near *happy/excited* (+V, +A); *power*
("energetic, triumphant, strong") at high arousal, mildly positive; *tension* ("tense,
agitated, nervous") near *tense/alarmed* (-V, +A); *sadness* near *sad/depressed*
(-V, low A); *calmness* ("relaxed, serene, meditative") near *calm/relaxed* (+V, -A);
*tenderness* ("tender, affectionate, mellow") positive and calm; *nostalgia*
("nostalgic, sentimental, melancholic") slightly negative and calm; *amazement*
("filled with wonder, dazzled, moved") near *astonished* (positive, aroused);
*solemnity* ("spiritual, transcendent", Zentner's *transcendence/peacefulness* side)
near the neutral centre, slightly calm. The coordinates are a design choice resting on
those word placements, not values fitted to any data set, and ``bench/emotion.py``
checks them on 4Q's quadrants (the zero-shot and GEMS-head rows of its valence and
arousal figures go through this mapping).

* GEMS -> valence/arousal (:func:`gems_to_va`): the score-weighted mean of the nine points
  (scores are shares of listeners, 0...1), stretched by :data:`VA_STRETCH` so that the
  typical spread of real excerpts uses the -1...1 range, and clipped to it.
* zero-shot arousal (:func:`zero_shot_arousal`): half the tags' arousal through the mapping,
  half a cue from two descriptors (:func:`descriptor_arousal`). Loudness and the rate of
  events are the two cues listeners' arousal follows most consistently (Gabrielsson &
  Lindström, in *Handbook of Music and Emotion*, 2010, table 14.2; Eerola, Lartillot &
  Toiviainen, ISMIR 2009: RMS level and event density for "activity"), and musicnn's
  tags hardly see either: its input is not level-normalised, so quieter audio reads as
  other genres rather than as calmer. The cue's units are fixed from perception, not
  fitted: one unit per doubling of perceived loudness (+10 dB, Stevens' sone scale)
  above the -14 LUFS playback reference of the streaming services, and one unit per
  doubling of the onset rate above 4 per second (eighth notes at 120 BPM, the most common
  pop tempo).
* valence/arousal -> GEMS (:func:`va_to_gems`): for a user's valence/arousal labels, each
  emotion scores ``exp(-d^2 / (2 * 0.5^2))`` with ``d`` the distance from its point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: The nine GEMS emotions, in the order of the Emotify labels.
GEMS = (
    "amazement", "solemnity", "tenderness", "nostalgia", "calmness",
    "power", "joyful_activation", "tension", "sadness",
)  # fmt: skip

#: (valence, arousal) of each GEMS emotion, each in -1...1 (see the module docstring).
GEMS_VA: dict[str, tuple[float, float]] = {
    "amazement": (0.5, 0.5),
    "solemnity": (0.0, -0.2),
    "tenderness": (0.6, -0.4),
    "nostalgia": (-0.2, -0.4),
    "calmness": (0.5, -0.8),
    "power": (0.3, 0.8),
    "joyful_activation": (0.8, 0.6),
    "tension": (-0.6, 0.7),
    "sadness": (-0.8, -0.4),
}

#: Factor applied to the weighted mean of the GEMS points (a mean of nine points shrinks
#: towards the centre; listeners' shares rarely single one emotion out).
VA_STRETCH = 2.0
#: Width of the valence/arousal -> GEMS kernel (distance units of the plane).
VA_KERNEL_WIDTH = 0.5

#: Words used in text search, filters and on the map for the four quadrants.
QUADRANT_NAMES = {
    "Q1": "happy / excited", "Q2": "tense / angry", "Q3": "sad / depressed",
    "Q4": "calm / relaxed",
}  # fmt: skip


def gems_points() -> np.ndarray:
    """The (9, 2) array of (valence, arousal) points in :data:`GEMS` order."""
    return np.array([GEMS_VA[name] for name in GEMS], dtype=np.float64)


def gems_to_va(scores: np.ndarray | Sequence[float]) -> np.ndarray:
    """Valence and arousal from GEMS scores.

    Parameters
    ----------
    scores : array_like, shape (..., 9)
        Score per GEMS emotion in :data:`GEMS` order, each in 0...1 (negative values
        are treated as 0).

    Returns
    -------
    np.ndarray, shape (..., 2)
        (valence, arousal), each in -1...1; (0, 0) where every score is 0.
    """
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, None)
    if s.shape[-1] != len(GEMS):
        raise ValueError(f"need {len(GEMS)} GEMS scores per row, got shape {s.shape}")
    total = s.sum(axis=-1, keepdims=True)
    weights = np.divide(s, total, out=np.zeros_like(s), where=total > 0)
    return np.clip(VA_STRETCH * (weights @ gems_points()), -1.0, 1.0)


def va_to_gems(va: np.ndarray | Sequence[float]) -> np.ndarray:
    """GEMS scores (0...1) from valence/arousal points, shape (..., 2) -> (..., 9)."""
    v = np.asarray(va, dtype=np.float64)
    if v.shape[-1] != 2:
        raise ValueError(f"need (valence, arousal) pairs, got shape {v.shape}")
    d2 = ((v[..., None, :] - gems_points()) ** 2).sum(axis=-1)
    return np.exp(-d2 / (2 * VA_KERNEL_WIDTH**2))


#: Playback reference level of the streaming services (LUFS): the cue is 0 there.
AROUSAL_REFERENCE_LUFS = -14.0
#: Level step that doubles perceived loudness (dB): one unit of the loudness cue.
LOUDNESS_DOUBLING_DB = 10.0
#: Onset rate at which the rate cue is 0 (onsets per second: eighth notes at 120 BPM).
AROUSAL_REFERENCE_ONSET_RATE_HZ = 4.0
#: Share of the zero-shot arousal that comes from :func:`descriptor_arousal`.
ZERO_SHOT_CUE_WEIGHT = 0.5


def descriptor_arousal(
    loudness_lufs: float | np.ndarray, onset_rate_hz: float | np.ndarray
) -> np.ndarray:
    """Arousal cue (-1...1) from a track's level and its rate of events.

    ``tanh`` of the mean of ``(loudness_lufs + 14) / 10`` (doublings of perceived
    loudness above the -14 LUFS reference) and ``log2(onset_rate_hz / 4)`` (doublings of
    the onset rate above 4 per second). Where one is unknown (NaN, or a rate <= 0) the
    other is used alone; NaN where both are.

    Parameters
    ----------
    loudness_lufs : float or np.ndarray
        Integrated loudness, LUFS (ITU-R BS.1770).
    onset_rate_hz : float or np.ndarray
        Onsets per second.

    Returns
    -------
    np.ndarray
        The cue, same shape as the broadcast inputs.
    """
    lufs = np.asarray(loudness_lufs, dtype=np.float64)
    level = (lufs - AROUSAL_REFERENCE_LUFS) / LOUDNESS_DOUBLING_DB
    rate = np.asarray(onset_rate_hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        events = np.where(rate > 0, np.log2(rate / AROUSAL_REFERENCE_ONSET_RATE_HZ), np.nan)
    both = np.stack(np.broadcast_arrays(level, events))
    known = np.isfinite(both)
    count = known.sum(axis=0)
    total = np.where(known, both, 0.0).sum(axis=0)
    mean = np.divide(total, count, out=np.full(count.shape, np.nan), where=count > 0)
    return np.tanh(mean)


def zero_shot_arousal(
    tag_arousal: float | np.ndarray, loudness_lufs: float, onset_rate_hz: float
) -> np.ndarray:
    """Zero-shot arousal: the tags' arousal (through the GEMS mapping) blended with
    :func:`descriptor_arousal` at weight :data:`ZERO_SHOT_CUE_WEIGHT`; the tags' value
    alone where the cue is unknown. Values in -1...1."""
    tags = np.asarray(tag_arousal, dtype=np.float64)
    cue = descriptor_arousal(loudness_lufs, onset_rate_hz)
    if not np.all(np.isfinite(cue)):
        return tags
    return np.clip((1 - ZERO_SHOT_CUE_WEIGHT) * tags + ZERO_SHOT_CUE_WEIGHT * cue, -1.0, 1.0)


def quadrant(valence: float, arousal: float) -> str:
    """Russell quadrant name ``Q1``...``Q4`` of a point (4Q's convention)."""
    if arousal >= 0:
        return "Q1" if valence >= 0 else "Q2"
    return "Q4" if valence >= 0 else "Q3"


def top_emotions(gems: Mapping[str, float], n: int = 3) -> list[str]:
    """The ``n`` highest-scoring GEMS emotions, best first (ties: :data:`GEMS` order)."""
    order = sorted(GEMS, key=lambda name: (-float(gems.get(name, 0.0)), GEMS.index(name)))
    return order[:n]


# ---- zero-shot: musicnn's tags -> GEMS ------------------------------------------------

#: How much each musicnn-msd tag speaks for each GEMS emotion (weights > 0), written from
#: the tags' meanings (MSD tags are Last.fm listener tags), never fitted to labels. A
#: tag may count for several emotions.
ZERO_SHOT_TAGS: dict[str, dict[str, float]] = {
    "amazement": {"beautiful": 1.0, "experimental": 0.5, "ambient": 0.3, "electronica": 0.3},
    "solemnity": {"instrumental": 0.6, "ambient": 0.6, "beautiful": 0.4, "Progressive rock": 0.3},
    "tenderness": {"beautiful": 0.8, "Mellow": 1.0, "acoustic": 0.6, "female vocalists": 0.3,
                   "easy listening": 0.5, "sexy": 0.3},
    "nostalgia": {"oldies": 1.0, "60s": 0.6, "70s": 0.6, "80s": 0.4, "Mellow": 0.5, "folk": 0.5,
                  "sad": 0.4, "classic rock": 0.4},
    "calmness": {"chillout": 1.0, "chill": 1.0, "ambient": 0.8, "easy listening": 0.8,
                 "Mellow": 0.8, "instrumental": 0.3},
    "power": {"metal": 1.0, "heavy metal": 1.0, "hard rock": 1.0, "punk": 0.8, "rock": 0.5,
              "electro": 0.4, "House": 0.3},
    "joyful_activation": {"happy": 1.0, "party": 1.0, "dance": 1.0, "catchy": 0.6, "funk": 0.6,
                          "House": 0.6, "pop": 0.3, "electronic": 0.3},
    "tension": {"metal": 0.6, "heavy metal": 0.6, "experimental": 0.6, "punk": 0.6,
                "hard rock": 0.4, "electro": 0.3},
    "sadness": {"sad": 1.0, "Mellow": 0.4, "beautiful": 0.2, "indie": 0.2},
}  # fmt: skip

ZERO_SHOT_MODEL = "musicnn-msd"
#: Mean tag probability at which a zero-shot score is 0.5.
ZERO_SHOT_HALF = 0.1


def zero_shot_gems(probabilities: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """GEMS scores from tag probabilities by the fixed table :data:`ZERO_SHOT_TAGS`.

    Each emotion's raw score ``r`` is the weighted mean of its tags' probabilities;
    the score is ``r / (r + 0.1)``: monotone in ``r`` (so rankings over tracks are
    those of ``r``), 0 without any of its tags, 0.5 at a mean probability of 0.1.

    Parameters
    ----------
    probabilities : np.ndarray, shape (..., n_tags)
        Tag probabilities, track-level (1-D) or per patch (2-D).
    labels : sequence of str
        Tag names, the last axis of ``probabilities`` (musicnn-msd's vocabulary).

    Returns
    -------
    np.ndarray, shape (..., 9)
        Scores in 0...1, :data:`GEMS` order.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    index = {name: i for i, name in enumerate(labels)}
    if p.shape[-1] != len(labels):
        raise ValueError(f"{p.shape[-1]} probabilities for {len(labels)} tag names")
    raw = np.zeros((*p.shape[:-1], len(GEMS)))
    for j, emotion in enumerate(GEMS):
        weights = {t: w for t, w in ZERO_SHOT_TAGS[emotion].items() if t in index}
        if not weights:
            raise ValueError(f"none of the tags for {emotion} is in the model's vocabulary")
        total = sum(weights.values())
        raw[..., j] = sum(w * p[..., index[t]] for t, w in weights.items()) / total
    return raw / (raw + ZERO_SHOT_HALF)
