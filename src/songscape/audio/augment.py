"""Audio augmentations for training, and the views of contrastive learning.

Small pure functions over mono float32 arrays, like :mod:`songscape.audio.features`:
explicit parameters, and an ``rng: np.random.Generator`` wherever something is
drawn, so the same seed gives the same output.

An :class:`AugmentationPolicy` gives each augmentation (:data:`AUGMENTATIONS`) a
role (:data:`ROLES`) for contrastive training:

* ``"positive"``: applied, with independently drawn parameters, to both the anchor
  and the positive view; the model learns to be invariant to it;
* ``"negative"``: makes one extra negative view, the anchor transformed by it; the
  model learns to tell the two apart (e.g. pitch-shift as a negative keeps the
  embedding sensitive to key);
* ``"off"``: never applied.

``crop`` is special: every view is an ``n_samples`` crop of the clip. As a positive,
anchor and positive are independent random crops; off, they share one random
crop; as a negative, the negative view is the anchor's processing on another crop.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import librosa
import numpy as np
import scipy.signal

AUGMENTATIONS: tuple[str, ...] = ("crop", "gain", "noise", "filter", "pitch_shift", "time_stretch")
ROLES: tuple[str, ...] = ("positive", "negative", "off")
FILTER_KINDS: tuple[str, ...] = ("lowpass", "highpass", "bandpass")
# Order in which a view's augmentations are applied (after the crop).
_APPLY_ORDER = ("time_stretch", "pitch_shift", "filter", "gain", "noise")


def _mono(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n,), got {y.shape}")
    return y


def fix_length(y: np.ndarray, n_samples: int) -> np.ndarray:
    """Crop the end off, or zero-pad the end, to exactly ``n_samples`` samples (float32)."""
    y = _mono(y)
    if len(y) >= n_samples:
        return y[:n_samples].copy()
    return np.pad(y, (0, n_samples - len(y)))


def crop(y: np.ndarray, start: int, n_samples: int) -> np.ndarray:
    """``y[start : start + n_samples]``, zero-padded at the end when the clip runs out.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio.
    start : int
        First sample.
    n_samples : int
        Output length in samples.

    Returns
    -------
    np.ndarray, shape (n_samples,), float32
    """
    if n_samples < 1 or start < 0:
        raise ValueError(f"need n_samples >= 1 and start >= 0, got {n_samples}, {start}")
    return fix_length(_mono(y)[start : start + n_samples], n_samples)


def random_crop_start(n_total: int, n_samples: int, rng: np.random.Generator) -> int:
    """A uniform start in ``0 .. n_total - n_samples`` (0 when the clip is shorter)."""
    return int(rng.integers(0, max(n_total - n_samples, 0) + 1))


def random_crop(y: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly placed crop of ``n_samples`` samples; shorter clips are zero-padded.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio.
    n_samples : int
        Crop length in samples.
    rng : np.random.Generator

    Returns
    -------
    np.ndarray, shape (n_samples,), float32
    """
    return crop(y, random_crop_start(len(y), n_samples, rng), n_samples)


def apply_gain(y: np.ndarray, gain_db: float) -> np.ndarray:
    """Scale by ``10 ** (gain_db / 20)`` (gain in dB of amplitude)."""
    return (_mono(y) * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)


def add_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise at exactly ``snr_db`` dB signal-to-noise ratio.

    The drawn noise is rescaled so that ``10 log10(mean(y**2) / mean(noise**2))``
    equals ``snr_db``. Silent input is returned unchanged (the SNR is undefined).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio.
    snr_db : float
        Signal-to-noise power ratio in dB.
    rng : np.random.Generator

    Returns
    -------
    np.ndarray, shape (n,), float32
    """
    y = _mono(y)
    signal_power = float(np.mean(np.square(y, dtype=np.float64))) if len(y) else 0.0
    if signal_power == 0.0:
        return y.copy()
    noise = rng.standard_normal(len(y))
    noise *= math.sqrt(signal_power / 10.0 ** (snr_db / 10.0) / np.mean(noise**2))
    return (y + noise).astype(np.float32)


def apply_filter(
    y: np.ndarray,
    sr: int,
    kind: str = "lowpass",
    cutoff_hz: float | tuple[float, float] = 4000.0,
    order: int = 4,
) -> np.ndarray:
    """Butterworth filter (``scipy.signal.butter``, second-order sections, causal ``sosfilt``).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio.
    sr : int
        Sample rate in Hz.
    kind : {"lowpass", "highpass", "bandpass"}
    cutoff_hz : float or (float, float)
        -3 dB frequency in Hz; ``(low, high)`` for ``"bandpass"``. Must lie in
        ``(0, sr / 2)``.
    order : int
        Filter order (per edge).

    Returns
    -------
    np.ndarray, shape (n,), float32
    """
    if kind not in FILTER_KINDS:
        raise ValueError(f"kind must be one of {FILTER_KINDS}, got {kind!r}")
    edges = np.atleast_1d(np.asarray(cutoff_hz, dtype=np.float64))
    if len(edges) != (2 if kind == "bandpass" else 1):
        raise ValueError(f"{kind} needs {'two cutoffs' if kind == 'bandpass' else 'one cutoff'}")
    if np.any(edges <= 0) or np.any(edges >= sr / 2) or np.any(np.diff(edges) <= 0):
        raise ValueError(f"cutoff(s) {edges.tolist()} Hz must be increasing and in (0, {sr / 2})")
    sos = scipy.signal.butter(
        order, edges if kind == "bandpass" else edges[0], kind, fs=sr, output="sos"
    )
    return scipy.signal.sosfilt(sos, _mono(y)).astype(np.float32)


def pitch_shift(y: np.ndarray, sr: int, n_steps: float) -> np.ndarray:
    """Shift the pitch by ``n_steps`` semitones keeping the duration (``librosa.effects``).

    Returns
    -------
    np.ndarray, shape (n,), float32
        Same length as ``y``.
    """
    y = _mono(y)
    if n_steps == 0:
        return y.copy()
    return fix_length(librosa.effects.pitch_shift(y, sr=sr, n_steps=float(n_steps)), len(y))


def time_stretch(y: np.ndarray, rate: float) -> np.ndarray:
    """Speed up (``rate > 1``) or slow down (``rate < 1``) keeping the pitch (``librosa.effects``).

    The result is cropped or zero-padded back to ``len(y)`` samples; to fill the
    output with stretched audio, stretch ``ceil(len * rate)`` samples instead (as
    :meth:`AugmentationPolicy.make_views` does).

    Returns
    -------
    np.ndarray, shape (n,), float32
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    y = _mono(y)
    if rate == 1:
        return y.copy()
    return fix_length(librosa.effects.time_stretch(y, rate=float(rate)), len(y))


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def random_filter(
    y: np.ndarray,
    sr: int,
    rng: np.random.Generator,
    kinds: tuple[str, ...] = FILTER_KINDS,
    lowpass_hz: tuple[float, float] = (2000.0, 6000.0),
    highpass_hz: tuple[float, float] = (100.0, 800.0),
) -> tuple[np.ndarray, dict[str, Any]]:
    """A random Butterworth filter: kind uniform, cutoffs log-uniform in the ranges.

    Band-pass filters take their low edge from ``highpass_hz`` and their high edge
    from ``lowpass_hz``. Cutoffs are capped at 0.45 ``sr``.

    Returns
    -------
    filtered : np.ndarray, shape (n,), float32
    params : dict
        ``{"kind": ..., "cutoff_hz": float or [low, high]}``.
    """
    params = _draw_filter(sr, rng, kinds, lowpass_hz, highpass_hz)
    return apply_filter(y, sr, params["kind"], params["cutoff_hz"]), params


def _draw_filter(
    sr: int,
    rng: np.random.Generator,
    kinds: tuple[str, ...],
    lowpass_hz: tuple[float, float],
    highpass_hz: tuple[float, float],
) -> dict[str, Any]:
    kind = kinds[int(rng.integers(len(kinds)))]
    cap = 0.45 * sr
    low = min(_log_uniform(rng, *highpass_hz), cap / 2)
    high = min(_log_uniform(rng, *lowpass_hz), cap)
    cutoff: float | list[float] = {"lowpass": high, "highpass": low, "bandpass": [low, high]}[kind]
    return {"kind": kind, "cutoff_hz": cutoff}


def _check_range(name: str, value: Any, minimum: float | None = None) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair, got {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValueError(f"{name} must be finite with low <= high, got {value!r}")
    if minimum is not None and low < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return low, high


@dataclass(frozen=True)
class ContrastiveViews:
    """The views made from one clip for contrastive training.

    Attributes
    ----------
    anchor : np.ndarray, shape (n_samples,), float32
        The query view.
    positive : np.ndarray, shape (n_samples,), float32
        The positive key view.
    negatives : list of np.ndarray
        One view per ``"negative"`` augmentation, in :data:`AUGMENTATIONS` order.
    applied : dict
        What was done: ``{"anchor": {name: params}, "positive": {name: params},
        "negatives": [{"augmentation": name, "params": {name: params, ...}}]}``, the
        per-view dicts holding every augmentation applied with its parameters
        (``crop``: ``start`` in samples; ``gain``: ``gain_db``; ``noise``:
        ``snr_db``; ``filter``: ``kind``, ``cutoff_hz``; ``pitch_shift``:
        ``n_steps`` in semitones; ``time_stretch``: ``rate``).
    """

    anchor: np.ndarray
    positive: np.ndarray
    negatives: list[np.ndarray] = field(default_factory=list)
    applied: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AugmentationPolicy:
    """Roles and parameter ranges of the augmentations.

    Parameters
    ----------
    crop, gain, noise, filter, pitch_shift, time_stretch : {"positive", "negative", "off"}
        Role of each augmentation. Defaults: crop, gain, noise and filter positive;
        pitch-shift and time-stretch (the slow ones) off.
    gain_db : (float, float)
        Gain range in dB, uniform (default -6 to +6).
    snr_db : (float, float)
        White-noise SNR range in dB, uniform (default 10 to 40).
    filter_kinds : tuple of str
        Filter kinds drawn uniformly (default all of :data:`FILTER_KINDS`).
    lowpass_hz, highpass_hz : (float, float)
        Cutoff ranges in Hz, log-uniform (defaults 2000-6000 and 100-800).
    pitch_semitones : (float, float)
        Range of the shift's magnitude in semitones, uniform, sign random
        (default 1 to 4).
    stretch_factor : (float, float)
        Range of the stretch factor, log-uniform, >= 1; the rate is the factor or
        its inverse with equal probability (default 1.05 to 1.25: rates 0.8-0.95
        and 1.05-1.25).
    probability : float
        Chance that each positive augmentation is applied to a view (the crop
        always is; negatives always are).
    """

    crop: str = "positive"
    gain: str = "positive"
    noise: str = "positive"
    filter: str = "positive"
    pitch_shift: str = "off"
    time_stretch: str = "off"
    gain_db: tuple[float, float] = (-6.0, 6.0)
    snr_db: tuple[float, float] = (10.0, 40.0)
    filter_kinds: tuple[str, ...] = FILTER_KINDS
    lowpass_hz: tuple[float, float] = (2000.0, 6000.0)
    highpass_hz: tuple[float, float] = (100.0, 800.0)
    pitch_semitones: tuple[float, float] = (1.0, 4.0)
    stretch_factor: tuple[float, float] = (1.05, 1.25)
    probability: float = 1.0

    def __post_init__(self) -> None:
        for name in AUGMENTATIONS:
            role = getattr(self, name)
            if role not in ROLES:
                raise ValueError(f"role of {name!r} must be one of {ROLES}, got {role!r}")
        _check_range("gain_db", self.gain_db)
        _check_range("snr_db", self.snr_db)
        _check_range("lowpass_hz", self.lowpass_hz, minimum=1e-3)
        _check_range("highpass_hz", self.highpass_hz, minimum=1e-3)
        _check_range("pitch_semitones", self.pitch_semitones, minimum=0.0)
        _check_range("stretch_factor", self.stretch_factor, minimum=1.0)
        kinds = tuple(self.filter_kinds)
        if not kinds or any(k not in FILTER_KINDS for k in kinds):
            raise ValueError(f"filter_kinds must be a non-empty subset of {FILTER_KINDS}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {self.probability}")

    @classmethod
    def from_spec(cls, spec: str, **params: Any) -> AugmentationPolicy:
        """Parse ``"name=role,name=role"`` (e.g. ``"pitch_shift=negative,time_stretch=positive"``).

        Augmentations the spec does not name keep their default role; an empty spec
        is the default policy. Hyphens are accepted for underscores.

        Parameters
        ----------
        spec : str
            Comma-separated ``name=role`` pairs, names from :data:`AUGMENTATIONS`,
            roles from :data:`ROLES`.
        **params
            Other fields of the policy (parameter ranges, ``probability``).

        Raises
        ------
        ValueError
            For a malformed pair, an unknown name or role, or a name given twice.
        """
        roles: dict[str, str] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            name, sep, role = (s.strip() for s in item.partition("="))
            name = name.replace("-", "_")
            if not sep or not name or not role:
                raise ValueError(f"expected 'name=role' in augmentation spec, got {item!r}")
            if name not in AUGMENTATIONS:
                raise ValueError(f"unknown augmentation {name!r}; choose from {AUGMENTATIONS}")
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r} for {name!r}; choose from {ROLES}")
            if name in roles:
                raise ValueError(f"augmentation {name!r} given twice in {spec!r}")
            roles[name] = role
        overlap = set(roles) & set(params)
        if overlap:
            raise ValueError(f"role(s) {sorted(overlap)} given both in the spec and as keywords")
        return cls(**roles, **params)

    def roles(self) -> dict[str, str]:
        """``{augmentation: role}`` for every augmentation."""
        return {name: getattr(self, name) for name in AUGMENTATIONS}

    def to_spec(self) -> str:
        """The roles as a spec string that :meth:`from_spec` parses back."""
        return ",".join(f"{name}={role}" for name, role in self.roles().items())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (tuples as lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @property
    def positive_augmentations(self) -> tuple[str, ...]:
        """Names with role ``"positive"``, in :data:`AUGMENTATIONS` order."""
        return tuple(n for n in AUGMENTATIONS if getattr(self, n) == "positive")

    @property
    def negative_augmentations(self) -> tuple[str, ...]:
        """Names with role ``"negative"``, in :data:`AUGMENTATIONS` order."""
        return tuple(n for n in AUGMENTATIONS if getattr(self, n) == "negative")

    def draw(self, name: str, sr: int, rng: np.random.Generator) -> dict[str, Any]:
        """Draw parameters of augmentation ``name`` (not ``"crop"``) from the policy's ranges."""
        if name == "gain":
            return {"gain_db": float(rng.uniform(*self.gain_db))}
        if name == "noise":
            return {"snr_db": float(rng.uniform(*self.snr_db)), "seed": int(rng.integers(2**31))}
        if name == "filter":
            return _draw_filter(
                sr, rng, tuple(self.filter_kinds), self.lowpass_hz, self.highpass_hz
            )
        if name == "pitch_shift":
            sign = 1.0 if rng.random() < 0.5 else -1.0
            return {"n_steps": sign * float(rng.uniform(*self.pitch_semitones))}
        if name == "time_stretch":
            factor = _log_uniform(rng, *self.stretch_factor)
            return {"rate": factor if rng.random() < 0.5 else 1.0 / factor}
        raise ValueError(f"no parameters to draw for {name!r}")

    def _draw_positives(self, sr: int, rng: np.random.Generator) -> dict[str, dict[str, Any]]:
        drawn = {}
        for name in self.positive_augmentations:
            if name == "crop":
                continue
            if self.probability >= 1.0 or rng.random() < self.probability:
                drawn[name] = self.draw(name, sr, rng)
        return drawn

    def make_views(
        self, y: np.ndarray, sr: int, n_samples: int, rng: np.random.Generator
    ) -> ContrastiveViews:
        """Anchor, positive and negative views of one clip.

        Parameters
        ----------
        y : np.ndarray, shape (n,)
            The whole clip, mono, at ``sr`` Hz.
        sr : int
            Sample rate in Hz.
        n_samples : int
            Samples per view.
        rng : np.random.Generator
            Source of every random choice (same seed, same views).

        Returns
        -------
        ContrastiveViews
            Anchor and positive: crops of the clip (independent ones when crop is
            positive, the same one otherwise), each with independently drawn
            parameters of every positive augmentation. One negative per negative
            augmentation: the anchor's crop and augmentations plus that one (a
            negative crop is the anchor's processing on another random crop).
        """
        y = _mono(y)
        anchor_params = self._draw_positives(sr, rng)
        positive_params = self._draw_positives(sr, rng)
        anchor_start = random_crop_start(len(y), _source_length(n_samples, anchor_params), rng)
        if self.crop == "positive":
            need = _source_length(n_samples, positive_params)
            positive_start = random_crop_start(len(y), need, rng)
        else:
            positive_start = anchor_start
        anchor_params = {"crop": {"start": anchor_start}, **anchor_params}
        positive_params = {"crop": {"start": positive_start}, **positive_params}
        negatives, negative_params = [], []
        for name in self.negative_augmentations:
            params = dict(anchor_params)
            if name == "crop":
                need = _source_length(n_samples, params)
                params["crop"] = {"start": random_crop_start(len(y), need, rng)}
            else:
                params[name] = self.draw(name, sr, rng)
            negatives.append(render_view(y, sr, n_samples, params))
            negative_params.append({"augmentation": name, "params": params})
        return ContrastiveViews(
            anchor=render_view(y, sr, n_samples, anchor_params),
            positive=render_view(y, sr, n_samples, positive_params),
            negatives=negatives,
            applied={
                "anchor": anchor_params,
                "positive": positive_params,
                "negatives": negative_params,
            },
        )

    def augment_supervised(
        self, y: np.ndarray, sr: int, n_samples: int, rng: np.random.Generator
    ) -> np.ndarray:
        """One random crop with the positive augmentations applied once (supervised training).

        The crop start is always random (the role of ``crop`` only matters between
        contrastive views); negative augmentations are not applied.

        Returns
        -------
        np.ndarray, shape (n_samples,), float32
        """
        y = _mono(y)
        params = self._draw_positives(sr, rng)
        start = random_crop_start(len(y), _source_length(n_samples, params), rng)
        return render_view(y, sr, n_samples, {"crop": {"start": start}, **params})


def _source_length(n_samples: int, params: dict[str, dict[str, Any]]) -> int:
    """Samples to crop so that the (optionally time-stretched) view fills ``n_samples``."""
    rate = params.get("time_stretch", {}).get("rate", 1.0)
    return int(math.ceil(n_samples * rate))


def render_view(
    y: np.ndarray, sr: int, n_samples: int, params: dict[str, dict[str, Any]]
) -> np.ndarray:
    """Apply recorded augmentation parameters to a clip (deterministic).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        The whole clip.
    sr : int
        Sample rate in Hz.
    n_samples : int
        Output length in samples.
    params : dict
        ``{name: params}`` as in :attr:`ContrastiveViews.applied`; ``crop`` (start
        0 if absent) is applied first, then time-stretch, pitch-shift, filter, gain
        and noise. With a stretch of rate ``r``, ``ceil(n_samples * r)`` samples are
        cropped (moved left if the clip ends) and stretched to ``n_samples``.

    Returns
    -------
    np.ndarray, shape (n_samples,), float32
    """
    y = _mono(y)
    need = _source_length(n_samples, params)
    start = int(params.get("crop", {}).get("start", 0))
    start = max(0, min(start, len(y) - need))
    out = crop(y, start, need)
    for name in _APPLY_ORDER:
        if name not in params:
            continue
        p = params[name]
        if name == "time_stretch":
            out = fix_length(librosa.effects.time_stretch(out, rate=float(p["rate"])), n_samples)
        elif name == "pitch_shift":
            out = pitch_shift(out, sr, p["n_steps"])
        elif name == "filter":
            out = apply_filter(out, sr, p["kind"], p["cutoff_hz"])
        elif name == "gain":
            out = apply_gain(out, p["gain_db"])
        elif name == "noise":
            out = add_noise(out, p["snr_db"], np.random.default_rng(p["seed"]))
    return fix_length(out, n_samples)


def make_views(
    y: np.ndarray,
    sr: int,
    n_samples: int,
    rng: np.random.Generator,
    policy: AugmentationPolicy | None = None,
) -> ContrastiveViews:
    """:meth:`AugmentationPolicy.make_views` of ``policy`` (default: ``AugmentationPolicy()``)."""
    return (policy or AugmentationPolicy()).make_views(y, sr, n_samples, rng)


def augment_supervised(
    y: np.ndarray,
    sr: int,
    n_samples: int,
    rng: np.random.Generator,
    policy: AugmentationPolicy | None = None,
) -> np.ndarray:
    """:meth:`AugmentationPolicy.augment_supervised` of ``policy`` (default policy if None)."""
    return (policy or AugmentationPolicy()).augment_supervised(y, sr, n_samples, rng)
