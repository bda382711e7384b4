"""Choose a track's highlight: the stored one, or recomputed from the audio.

The ``highlight`` stage stores each method's 30 s window at ingest; another length,
or a method that was not stored (``attention``/``fused`` before the model was
installed), is computed here from the file (:func:`analyze_highlights`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE, Descriptors, describe
from songscape.analysis.highlight import (
    DEFAULT_LENGTH_S,
    METHODS,
    Highlight,
    compute_highlights,
    default_method,
)
from songscape.analysis.structure import Structure, analyze_structure
from songscape.audio.decode import load_audio
from songscape.errors import UsageError
from songscape.models.highlight_attention import (
    DEFAULT_ATTENTION_MODEL,
    attention_curve,
    attention_model_version,
)


@dataclass
class TrackAnalysis:
    """Everything a highlight is chosen from, for one decoded file."""

    y: np.ndarray
    sr: int
    descriptors: Descriptors
    structure: Structure
    highlights: dict[str, Highlight]


def check_method(method: str | None) -> str | None:
    """``method`` if it is one of :data:`METHODS` (or None); else a :class:`UsageError`."""
    if method is not None and method not in METHODS:
        raise UsageError(f"unknown highlight method {method!r}; choose one of "
                         f"{', '.join(METHODS)}")  # fmt: skip
    return method


def attention_available(model: str = DEFAULT_ATTENTION_MODEL) -> bool:
    return attention_model_version(model) is not None


def analyze_highlights(
    path: str | os.PathLike,
    length_s: float = DEFAULT_LENGTH_S,
    attention_model: str | None = DEFAULT_ATTENTION_MODEL,
    max_duration_s: float | None = None,
) -> TrackAnalysis:
    """Decode a file and compute its descriptors, structure and every available highlight.

    ``attention_model`` None (or not installed) gives the signal method only.
    """
    if not length_s > 0:
        raise UsageError(f"--length must be positive, got {length_s}")
    y, _ = load_audio(path, sr=ANALYSIS_SAMPLE_RATE, mono=True, max_duration_s=max_duration_s)
    d = describe(y, ANALYSIS_SAMPLE_RATE)
    st = analyze_structure(y, ANALYSIS_SAMPLE_RATE, d.beat_times, d.downbeat_times,
                           d.energy_curve, d.energy_rate_hz)  # fmt: skip
    curve = None
    if attention_model and attention_available(attention_model) and st.grid != "none":
        from songscape.models.registry import get_spec

        sr = get_spec(attention_model).sample_rate
        y_att, _ = load_audio(path, sr=sr, mono=True, max_duration_s=max_duration_s)
        curve = attention_curve(y_att, attention_model)
    found = compute_highlights(st, d.energy_curve, d.energy_rate_hz, d.downbeat_times,
                               d.beat_times, length_s, attention=curve)  # fmt: skip
    return TrackAnalysis(y, ANALYSIS_SAMPLE_RATE, d, st, found)


def pick(highlights: dict[str, Highlight], method: str | None) -> Highlight:
    """The highlight of ``method`` (None: the default one).

    Raises :class:`UsageError` when that method was not computed (attention and fused
    need the attention model: ``songscape highlight-train``).
    """
    method = check_method(method) or default_method(highlights)
    if method not in highlights:
        raise UsageError(
            f"no {method} highlight: the attention model {DEFAULT_ATTENTION_MODEL!r} is not "
            "installed (train it with `songscape highlight-train`); use --method signal"
        )
    return highlights[method]
