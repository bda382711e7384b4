"""Emotion from audio: the features, the trained heads and the zero-shot fallback.

An emotion estimate of a track is made from what ingest already computes:

* ``embedding``: musicnn-msd's penultimate layer (200-d), mean over 3 s patches;
* ``tags``: musicnn-msd's 50 tag probabilities, mean over patches (per patch for the curve);
* ``descriptors``: tempo (BPM), integrated loudness (LUFS), mode (1 major, 0 minor), key
  confidence, log spectral centroid (brightness) and onset rate (per second);
* ``embedding_std``, ``tags_std``: the standard deviation of musicnn-msd's patch
  embeddings and tags over the patches (how much the track changes);
* ``mtt_embedding``, ``mtt_tags``, ``mtt_tags_std``: the same from musicnn-mtt, the
  second tagger every ingest runs by default (its pass is shared with its tag stage).

A :class:`EmotionHead` (trained by ``songscape train --task emotion``, see
:mod:`songscape.training.emotion`) is a set of linear models on these standardised
features, one per target: ridge regression for continuous targets (GEMS shares, valence
and arousal in -1...1) and logistic regression for two-class ones (valence
positive/negative, arousal high/low: the value is ``2 p - 1``). It is plain JSON
(``emotion.json`` in the model's folder of the models directory, next to the trained
networks of ``songscape train``), read with numpy only. A head may also hold a *patch*
model (on the per-patch tags) that shapes the curve over time, and a lyrics model with
its late-fusion weight.

Without a head, :func:`zero_shot_estimate` maps musicnn-msd's mood and genre tags to GEMS
by the fixed table of :mod:`songscape.models.emotion_space`, and GEMS to valence/arousal
by its documented mapping; arousal is then blended with a loudness and onset-rate cue
(:func:`~songscape.models.emotion_space.zero_shot_arousal`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from songscape.config import default_models_dir
from songscape.errors import TrainedModelError
from songscape.models.emotion_space import (
    GEMS,
    ZERO_SHOT_MODEL,
    gems_to_va,
    top_emotions,
    zero_shot_arousal,
    zero_shot_gems,
)

#: File of a trained emotion head inside ``<models dir>/<name>/``.
HEAD_FILE = "emotion.json"
HEAD_FORMAT = "songscape-emotion-head"
#: Version 2 added the blocks beyond :data:`BASE_BLOCKS`; version 1 files still load.
HEAD_FORMAT_VERSION = 2
#: The network whose embedding and tags feed the heads.
FEATURE_MODEL = ZERO_SHOT_MODEL
#: Names of the descriptor features, in order.
DESCRIPTOR_FEATURES = (
    "tempo_bpm", "loudness_lufs", "major", "key_confidence", "log_centroid_hz", "onset_rate_hz",
)  # fmt: skip
#: The second tagger whose pass ingest also runs (its tag stage is on by default).
SECOND_MODEL = "musicnn-mtt"
#: Feature blocks a head may use, in the order of the flat training row, with their size.
#: ``*_std``: standard deviation over the 3 s patches (how much the track changes);
#: ``mtt_*``: musicnn-mtt's embedding and tags (instruments, voices, "classical", ...).
BLOCK_SIZES = {
    "embedding": 200, "tags": 50, "descriptors": 6, "embedding_std": 200, "tags_std": 50,
    "mtt_embedding": 200, "mtt_tags": 50, "mtt_tags_std": 50,
}  # fmt: skip
BLOCKS = tuple(BLOCK_SIZES)
#: The blocks of the first feature version (a row of 256 values).
BASE_BLOCKS = ("embedding", "tags", "descriptors")
#: Blocks computed from :data:`SECOND_MODEL`'s pass.
SECOND_MODEL_BLOCKS = ("mtt_embedding", "mtt_tags", "mtt_tags_std")
#: Targets a head may predict.
VA_TARGETS = ("valence", "arousal")
TARGETS = (*GEMS, *VA_TARGETS)


def descriptor_vector(descriptors: Mapping[str, Any] | Any) -> np.ndarray:
    """The 6 descriptor features (:data:`DESCRIPTOR_FEATURES`); NaN where unknown.

    Parameters
    ----------
    descriptors : mapping or :class:`~songscape.analysis.descriptors.Descriptors`
        Needs ``tempo_bpm`` (BPM), ``loudness_lufs`` (LUFS), ``key`` (e.g. "A minor"),
        ``key_confidence`` (0...1), ``spectral_centroid_hz`` (Hz), ``onset_rate_hz`` (1/s).
    """

    def get(name: str) -> Any:
        if isinstance(descriptors, Mapping):
            return descriptors.get(name)
        return getattr(descriptors, name, None)

    def num(value: Any) -> float:
        return float(value) if value is not None and math.isfinite(float(value)) else math.nan

    key = get("key")
    major = math.nan if not key else (1.0 if str(key).endswith("major") else 0.0)
    centroid = num(get("spectral_centroid_hz"))
    return np.array([
        num(get("tempo_bpm")), num(get("loudness_lufs")), major, num(get("key_confidence")),
        math.log(centroid) if centroid > 0 else math.nan, num(get("onset_rate_hz")),
    ], dtype=np.float64)  # fmt: skip


@dataclass
class AudioEmotionFeatures:
    """One track's inputs to an emotion estimate.

    Attributes
    ----------
    embedding : np.ndarray, shape (200,)
    tags : np.ndarray, shape (50,)
        musicnn-msd tag probabilities (track level).
    descriptors : np.ndarray, shape (6,)
    taggram : np.ndarray, shape (n_patches, 50)
        Tag probabilities per patch.
    patch_times_s : np.ndarray, shape (n_patches,)
        Start of each patch, seconds.
    patch_duration_s : float
    tag_labels : tuple of str
    """

    embedding: np.ndarray
    tags: np.ndarray
    descriptors: np.ndarray
    taggram: np.ndarray
    patch_times_s: np.ndarray
    patch_duration_s: float
    tag_labels: tuple[str, ...]
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def block(self, name: str) -> np.ndarray:
        """A feature block; NaN (unknown, replaced by the training mean) when not computed."""
        if name in BASE_BLOCKS:
            return np.asarray(getattr(self, name), dtype=np.float64)
        if name in self.extra:
            return np.asarray(self.extra[name], dtype=np.float64)
        return np.full(BLOCK_SIZES[name], np.nan)

    def flat(self) -> np.ndarray:
        """Every block of :data:`BLOCKS` concatenated (the training cache's row)."""
        return np.concatenate([self.block(b) for b in BLOCKS])


def patch_std(rows: np.ndarray | None, size: int) -> np.ndarray:
    """Standard deviation over patches (axis 0); NaN when unknown, 0 for one patch."""
    if rows is None or len(rows) == 0:
        return np.full(size, np.nan)
    return np.asarray(rows, dtype=np.float64).std(axis=0)


def features_from_output(
    output: Any, descriptors: Any, second: Any | None = None
) -> AudioEmotionFeatures:
    """Features from musicnn-msd's :class:`~songscape.models.spec.ModelOutput`, the
    descriptors and, when given, musicnn-mtt's output (:data:`SECOND_MODEL`)."""
    if output.model != FEATURE_MODEL:
        raise ValueError(f"emotion features need {FEATURE_MODEL}'s output, got {output.model}")
    extra = {
        "embedding_std": patch_std(output.patch_embeddings, BLOCK_SIZES["embedding_std"]),
        "tags_std": patch_std(output.taggram, BLOCK_SIZES["tags_std"]),
    }
    if second is not None:
        if second.model != SECOND_MODEL:
            raise ValueError(f"second emotion model must be {SECOND_MODEL}, got {second.model}")
        extra["mtt_embedding"] = np.asarray(second.embeddings["penultimate"], dtype=np.float64)
        extra["mtt_tags"] = np.asarray(second.tag_probabilities, dtype=np.float64)
        extra["mtt_tags_std"] = patch_std(second.taggram, BLOCK_SIZES["mtt_tags_std"])
    return AudioEmotionFeatures(
        embedding=np.asarray(output.embeddings["penultimate"], dtype=np.float64),
        tags=np.asarray(output.tag_probabilities, dtype=np.float64),
        descriptors=descriptor_vector(descriptors),
        taggram=np.asarray(output.taggram, dtype=np.float64),
        patch_times_s=np.asarray(output.patch_times_s, dtype=np.float64),
        patch_duration_s=float(output.patch_duration_s),
        tag_labels=tuple(output.labels),
        extra=extra,
    )


def split_flat(row: np.ndarray) -> dict[str, np.ndarray]:
    """Inverse of :meth:`AudioEmotionFeatures.flat`: ``{block: array}`` (rows kept).

    A row of the first feature version (256 values: :data:`BASE_BLOCKS`) gives NaN
    for the other blocks.
    """
    width = np.shape(row)[-1]
    names = BLOCKS if width == sum(BLOCK_SIZES.values()) else BASE_BLOCKS
    if width != sum(BLOCK_SIZES[b] for b in names):
        raise ValueError(f"a flat emotion feature row has {width} values")
    out, start = {}, 0
    for name in BLOCKS:
        size = BLOCK_SIZES[name]
        if name in names:
            out[name] = np.asarray(row[..., start : start + size], dtype=np.float64)
            start += size
        else:
            out[name] = np.full((*np.shape(row)[:-1], size), np.nan)
    return out


def blocks_need_second_model(heads: Sequence[EmotionHead]) -> bool:
    """Whether any head's model reads a block of :data:`SECOND_MODEL`."""
    return any(b in SECOND_MODEL_BLOCKS for h in heads for m in h.audio.values() for b in m.blocks)


# ---- linear models ----------------------------------------------------------------------


@dataclass
class LinearModel:
    """``x -> (x - mean) / scale @ coef + intercept`` (then ``2 sigmoid - 1`` if binary).

    NaN inputs are replaced by ``mean`` (the training mean) before scaling.
    """

    blocks: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    binary: bool = False

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        X = np.where(np.isfinite(X), X, self.mean)
        z = ((X - self.mean) / self.scale) @ self.coef + self.intercept
        if self.binary:
            return 2.0 / (1.0 + np.exp(-z)) - 1.0
        return z

    def to_json(self) -> dict:
        return {"blocks": list(self.blocks), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": float(self.intercept), "binary": self.binary}  # fmt: skip

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LinearModel:
        arrays = {k: np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "coef")}
        if not (arrays["mean"].shape == arrays["scale"].shape == arrays["coef"].shape):
            raise ValueError("mean, scale and coef differ in length")
        unknown = [b for b in d["blocks"] if b not in BLOCK_SIZES and b != "lyrics"]
        if unknown:
            raise ValueError(f"unknown feature blocks {unknown}")
        return cls(tuple(d["blocks"]), arrays["mean"], arrays["scale"], arrays["coef"],
                   float(d["intercept"]), bool(d.get("binary", False)))  # fmt: skip


def block_matrix(features: Mapping[str, np.ndarray], blocks: Sequence[str]) -> np.ndarray:
    """The named blocks concatenated along the last axis."""
    return np.concatenate([np.asarray(features[b], dtype=np.float64) for b in blocks], axis=-1)


@dataclass
class EmotionHead:
    """A trained emotion head (see the module docstring).

    Attributes
    ----------
    name : str
    audio : dict of str to LinearModel
        Per target (:data:`TARGETS`), the model on the track-level audio features.
    patch : dict of str to LinearModel
        Per target, a model on the per-patch tags (the curve's shape); may be empty.
    lyrics : dict of str to LinearModel
        Per target, a model on the lyrics features (:func:`songscape.models.lyrics.
        lyrics_features`); may be empty.
    lyrics_weight : dict of str to float
        Late-fusion weight of the lyrics model per target (0...1).
    info : dict
        Training record: labels file, counts, cross-validated metrics, date.
    """

    name: str
    audio: dict[str, LinearModel]
    patch: dict[str, LinearModel] = field(default_factory=dict)
    lyrics: dict[str, LinearModel] = field(default_factory=dict)
    lyrics_weight: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(t for t in TARGETS if t in self.audio)

    def to_json(self) -> dict:
        return {
            "format": HEAD_FORMAT, "format_version": HEAD_FORMAT_VERSION, "name": self.name,
            "feature_model": FEATURE_MODEL,
            "audio": {t: m.to_json() for t, m in self.audio.items()},
            "patch": {t: m.to_json() for t, m in self.patch.items()},
            "lyrics": {t: m.to_json() for t, m in self.lyrics.items()},
            "lyrics_weight": dict(self.lyrics_weight), "info": self.info,
        }  # fmt: skip

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str = "emotion head") -> EmotionHead:
        try:
            if d.get("format") != HEAD_FORMAT or d.get("format_version") not in (
                1,
                HEAD_FORMAT_VERSION,
            ):
                raise ValueError(f"not a {HEAD_FORMAT} v1/v{HEAD_FORMAT_VERSION} file")
            parts = {k: {t: LinearModel.from_json(m) for t, m in d.get(k, {}).items()}
                     for k in ("audio", "patch", "lyrics")}  # fmt: skip
            unknown = [t for part in parts.values() for t in part if t not in TARGETS]
            if unknown:
                raise ValueError(f"unknown targets {unknown}")
            return cls(str(d["name"]), parts["audio"], parts["patch"], parts["lyrics"],
                       {k: float(v) for k, v in d.get("lyrics_weight", {}).items()},
                       dict(d.get("info", {})))  # fmt: skip
        except (KeyError, TypeError, ValueError) as err:
            raise TrainedModelError(f"{where}: broken emotion head ({err})") from err

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / HEAD_FILE
        tmp = path.with_name(f".{HEAD_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_json(), allow_nan=False))
        os.replace(tmp, path)
        return path

    @property
    def version(self) -> str:
        """A short hash of the head's content (stage versions follow it)."""
        import hashlib

        blob = json.dumps(self.to_json(), sort_keys=True).encode()
        return hashlib.sha1(blob).hexdigest()[:12]


def load_head(path: str | os.PathLike[str]) -> EmotionHead:
    """Read an ``emotion.json``; :class:`TrainedModelError` if unreadable or broken."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise TrainedModelError(f"{path}: unreadable emotion head ({err})") from err
    if not isinstance(data, dict):
        raise TrainedModelError(f"{path}: not a JSON object")
    return EmotionHead.from_json(data, where=str(path))


def installed_heads(models_dir: str | os.PathLike[str] | None = None) -> list[EmotionHead]:
    """Every readable emotion head of the models directory, newest file first.

    A broken head is skipped (with a warning), like a broken trained network.
    """
    import warnings

    root = Path(models_dir).expanduser() if models_dir else default_models_dir()
    found = sorted(root.glob(f"*/{HEAD_FILE}"), key=lambda p: p.stat().st_mtime, reverse=True)
    heads = []
    for path in found:
        try:
            heads.append(load_head(path))
        except TrainedModelError as err:
            warnings.warn(f"skipping {err}", stacklevel=2)
    return heads


# ---- estimates --------------------------------------------------------------------------


@dataclass
class EmotionEstimate:
    """A track's emotion (what the ``emotion`` stage stores).

    Attributes
    ----------
    valence, arousal : float
        -1...1.
    gems : dict of str to float
        Each GEMS emotion -> 0...1.
    method : str
        How: ``zero-shot:musicnn-msd``, ``head:NAME`` (several joined by ``+``), with
        ``+lyrics`` when the lyrics were fused in.
    curve_times_s : np.ndarray
        Patch start times, seconds.
    curve : np.ndarray, shape (n_patches, 2)
        Valence and arousal per patch.
    audio_valence, audio_arousal : float
        The audio-only values (before lyrics fusion).
    """

    valence: float
    arousal: float
    gems: dict[str, float]
    method: str
    curve_times_s: np.ndarray
    curve: np.ndarray
    audio_valence: float
    audio_arousal: float

    @property
    def top_emotions(self) -> list[str]:
        return top_emotions(self.gems)


def _shift_curve(curve: np.ndarray, target: float) -> np.ndarray:
    """The curve moved so that its mean is the track value, clipped to -1...1."""
    if len(curve) == 0:
        return curve
    return np.clip(curve - curve.mean() + target, -1.0, 1.0)


def zero_shot_estimate(features: AudioEmotionFeatures) -> EmotionEstimate:
    """GEMS from musicnn-msd's tags (fixed table), valence/arousal by the mapping; arousal
    blended with the descriptors' loudness and onset-rate cue."""
    gems = zero_shot_gems(features.tags, features.tag_labels)
    va = gems_to_va(gems)
    loudness_lufs, onset_rate_hz = features.descriptors[1], features.descriptors[5]
    va[1] = float(zero_shot_arousal(va[1], loudness_lufs, onset_rate_hz))
    patch_va = gems_to_va(zero_shot_gems(features.taggram, features.tag_labels))
    curve = np.stack([_shift_curve(patch_va[:, 0], va[0]), _shift_curve(patch_va[:, 1], va[1])],
                     axis=1) if len(patch_va) else np.zeros((0, 2))  # fmt: skip
    return EmotionEstimate(
        valence=float(va[0]), arousal=float(va[1]),
        gems={g: float(s) for g, s in zip(GEMS, gems, strict=True)},
        method=f"zero-shot:{FEATURE_MODEL}", curve_times_s=features.patch_times_s,
        curve=curve, audio_valence=float(va[0]), audio_arousal=float(va[1]),
    )  # fmt: skip


def head_estimate(features: AudioEmotionFeatures, heads: Sequence[EmotionHead]) -> EmotionEstimate:
    """The heads' predictions; what no head predicts comes from the zero-shot mapping.

    GEMS: from the first head with GEMS targets (else zero-shot). Valence/arousal: from
    the first head that predicts them, else from the GEMS scores by the mapping.
    """
    base = zero_shot_estimate(features)
    needed = {b for h in heads for m in h.audio.values() for b in m.blocks}
    blocks = {b: features.block(b) for b in needed}
    used: list[str] = []
    gems = dict(base.gems)
    gems_head = next((h for h in heads if all(g in h.audio for g in GEMS)), None)
    if gems_head is not None:
        for g in GEMS:
            m = gems_head.audio[g]
            gems[g] = float(np.clip(m.predict(block_matrix(blocks, m.blocks)), 0.0, 1.0))
        used.append(gems_head.name)
    # Without a GEMS head, what no head predicts is the zero-shot value (with its cue).
    va_mapped = (gems_to_va(np.array([gems[g] for g in GEMS])) if gems_head is not None
                 else np.array([base.valence, base.arousal]))  # fmt: skip
    values, curves = {}, {}
    for j, target in enumerate(("valence", "arousal")):
        head = next((h for h in heads if target in h.audio), None)
        if head is None:
            values[target] = float(va_mapped[j])
            curves[target] = _shift_curve(base.curve[:, j], values[target])
            continue
        m = head.audio[target]
        values[target] = float(np.clip(m.predict(block_matrix(blocks, m.blocks)), -1.0, 1.0))
        if head.name not in used:
            used.append(head.name)
        if target in head.patch and len(features.taggram):
            raw = head.patch[target].predict(features.taggram)
            curves[target] = _shift_curve(raw, values[target])
        else:
            curves[target] = _shift_curve(base.curve[:, j], values[target])
    curve = np.stack([curves["valence"], curves["arousal"]], axis=1)
    method = "+".join(f"head:{n}" for n in used) if used else base.method
    if len(used) and gems_head is None:
        method += f"+zero-shot:{FEATURE_MODEL}"
    return EmotionEstimate(values["valence"], values["arousal"], gems, method,
                           features.patch_times_s, curve, values["valence"],
                           values["arousal"])  # fmt: skip


def estimate_emotion(
    features: AudioEmotionFeatures, heads: Sequence[EmotionHead] = ()
) -> EmotionEstimate:
    """The audio emotion estimate: trained heads when there are any, else zero-shot."""
    return head_estimate(features, heads) if heads else zero_shot_estimate(features)
