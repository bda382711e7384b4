"""Pipeline stages: composable units of per-track work, and their registry.

A stage has a ``name``, an integer ``version`` and the names of stages it
``requires``. :meth:`Stage.run` executes in a worker process on a
:class:`TrackContext` (which decodes the audio once, lazily, per sample rate) and
returns a picklable payload; :meth:`Stage.save` runs in the single writer process
inside the track's transaction and stores that payload.

The library records which version of each stage produced a track's data, so
bumping a stage's version re-runs that stage (and the stages that require it)
and nothing else. Later parts of songscape add stages (``embed``, ``tag``, ...)
with :func:`register_stage`; the scanner and the ingest loop do not change.
"""

from __future__ import annotations

import math
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE, Descriptors
from songscape.audio.decode import (
    RESAMPLE_QUALITY,
    AudioInfo,
    check_signal,
    librosa_length,
    load_audio,
    probe,
)
from songscape.audio.metadata import read_tags
from songscape.catalog import analysis, tracks
from songscape.models.rhythm import DEFAULT_RHYTHM_BACKEND, rhythm_tracker


class TrackContext:
    """What a stage sees of one track: its path, header info, tags and decoded audio.

    Decoding happens at most once per (sample rate, channel layout), on first use,
    and the first decode at the analysis rate validates the signal (too short,
    silent), so a stage that needs audio never sees unusable input.

    Parameters
    ----------
    path : Path
        The audio file.
    max_duration_s : float or None
        Reject longer files before decoding (bounds memory per worker).
    min_duration_s : float
        Reject shorter files.
    """

    def __init__(
        self, path: Path, max_duration_s: float | None = None, min_duration_s: float = 1.0
    ):
        self.path = Path(path)
        self.max_duration_s = max_duration_s
        self.min_duration_s = min_duration_s
        self._info: AudioInfo | None = None
        self._audio: dict[tuple[int | None, bool], np.ndarray] = {}
        self.audio_seconds_decoded = 0.0
        #: Results stages share within one track (e.g. one network pass feeds both the
        #: ``embed`` and ``tag`` stages of a model).
        self.cache: dict[Any, Any] = {}

    @property
    def info(self) -> AudioInfo:
        if self._info is None:
            self._info = probe(self.path)
        return self._info

    def audio(self, sr: int | None = ANALYSIS_SAMPLE_RATE, mono: bool = True) -> np.ndarray:
        """Decoded float32 audio at ``sr`` Hz: shape (n,) if mono else (channels, n)."""
        key = (sr, mono)
        if key not in self._audio:
            source = self._resample_source(sr, mono)
            if mono and (sr, False) in self._audio:
                # Downmix what we already have instead of decoding again.
                multi = self._audio[(sr, False)]
                self._audio[key] = multi.mean(axis=0).astype(np.float32)
            elif source is not None:
                # Resampling decoded audio is much cheaper than decoding the file again.
                y, rate = source
                y_new = soxr.resample(y, rate, sr, quality=RESAMPLE_QUALITY)
                self._audio[key] = librosa_length(y_new, math.ceil(len(y) * sr / rate))
            else:
                y, info = load_audio(
                    self.path, sr=sr, mono=mono, max_duration_s=self.max_duration_s
                )
                self._info = info
                rate = sr if sr is not None else info.sample_rate
                if not self._audio:
                    check_signal(y, rate, min_duration_s=self.min_duration_s)
                self.audio_seconds_decoded = max(self.audio_seconds_decoded, y.shape[-1] / rate)
                self._audio[key] = y
        return self._audio[key]

    def _resample_source(self, sr: int | None, mono: bool) -> tuple[np.ndarray, int] | None:
        """Already-decoded mono audio at a higher rate that ``sr`` can be derived from."""
        if sr is None or not mono:
            return None
        rates = [r for (r, m) in self._audio if m and r is not None and r > sr]
        if not rates:
            return None
        rate = max(rates)
        return self._audio[(rate, True)], rate


class Stage(ABC):
    """One unit of per-track work. Subclasses set ``name``, ``version``, ``requires``."""

    name: str = ""
    version: int = 1
    requires: tuple[str, ...] = ()
    #: Runs a neural network: left out when an ingest or analysis asks for no models.
    uses_models: bool = False

    @abstractmethod
    def run(self, ctx: TrackContext) -> Any:
        """Compute this stage's payload for one track (in a worker process)."""

    @abstractmethod
    def save(self, conn: sqlite3.Connection, track_id: str, payload: Any) -> None:
        """Store the payload (in the writer process, inside the track's transaction)."""


class MetadataStage(Stage):
    """Container/codec info from the file header and tags read with mutagen."""

    name = "metadata"
    version = 1

    def run(self, ctx: TrackContext) -> dict:
        info = ctx.info
        tags = read_tags(ctx.path)
        return {
            "format": info.format,
            "decoder": info.decoder,
            "sample_rate": info.sample_rate,
            "channels": info.channels,
            # Some containers declare no length (NaN); descriptors fill it from the decode.
            "duration_s": info.duration_s if math.isfinite(info.duration_s) else None,
            **asdict(tags),
        }

    def save(self, conn: sqlite3.Connection, track_id: str, payload: dict) -> None:
        tracks.set_file_columns(conn, track_id, payload)


class DescriptorsStage(Stage):
    """DSP descriptors (tempo, beats, downbeats, key, loudness, energy, brightness)."""

    name = "descriptors"
    #: 2: beats and downbeats from BeatNet's network and the bar-pointer DBN (issue 18).
    version = 2

    def __init__(self, rhythm_backend: str = DEFAULT_RHYTHM_BACKEND):
        self.rhythm_backend = rhythm_backend

    def run(self, ctx: TrackContext) -> Descriptors:
        from songscape.analysis.descriptors import describe

        y_channels = ctx.audio(ANALYSIS_SAMPLE_RATE, mono=False)
        y = ctx.audio(ANALYSIS_SAMPLE_RATE, mono=True)
        d = describe(y, ANALYSIS_SAMPLE_RATE, y_channels=y_channels,
                     rhythm=rhythm_tracker(self.rhythm_backend))  # fmt: skip
        ctx.cache[("stage", "descriptors")] = d  # for later stages (structure, highlight)
        return d

    def save(self, conn: sqlite3.Connection, track_id: str, payload: Descriptors) -> None:
        d = payload
        analysis.put_descriptors(
            conn,
            track_id,
            {
                "analysis_sample_rate": d.sample_rate,
                "tempo_bpm": d.tempo_bpm,
                "beats_per_bar": d.beats_per_bar,
                "key": d.key,
                "key_confidence": d.key_confidence,
                "loudness_lufs": d.loudness_lufs,
                "energy_rate_hz": d.energy_rate_hz,
                "spectral_centroid_hz": d.spectral_centroid_hz,
                "onset_rate_hz": d.onset_rate_hz,
                "rhythm_method": d.rhythm_method,
            },
        )
        # The decoded duration is the truth; the header's can be an estimate or absent.
        tracks.set_file_columns(conn, track_id, {"duration_s": d.duration_s})
        for name, values in d.arrays().items():
            dtype = np.float32 if name == "energy_curve" else np.float64
            analysis.put_array(conn, track_id, name, np.asarray(values, dtype=dtype))


_REGISTRY: dict[str, Stage] = {}


def register_stage(stage: Stage, replace: bool = False) -> Stage:
    """Add a stage to the pipeline. Its ``requires`` must already be registered."""
    if not stage.name:
        raise ValueError("a stage needs a name")
    if stage.name in _REGISTRY and not replace:
        raise ValueError(f"stage {stage.name!r} is already registered")
    missing = [r for r in stage.requires if r not in _REGISTRY]
    if missing:
        raise ValueError(f"stage {stage.name!r} requires unregistered stages {missing}")
    _REGISTRY[stage.name] = stage
    return stage


def unregister_stage(name: str) -> None:
    """Remove a stage (tests; plug-ins that are switched off)."""
    dependants = [s.name for s in _REGISTRY.values() if name in s.requires]
    if dependants:
        raise ValueError(f"cannot unregister {name!r}: required by {dependants}")
    _REGISTRY.pop(name, None)


def registered_stages() -> list[Stage]:
    """All stages in an order where every stage comes after the ones it requires."""
    # Registration order already satisfies this: requires must exist at registration.
    return list(_REGISTRY.values())


_FAMILIES: dict[str, Callable[[str], Stage]] = {}
_FAMILY_STAGES: dict[str, Stage] = {}


def register_stage_family(prefix: str, factory: Callable[[str], Stage]) -> None:
    """Register parameterised stages named ``prefix:argument`` (e.g. ``embed:musicnn-msd``).

    ``factory(argument)`` builds the stage on first use, in whichever process asks,
    so workers resolve the same names as the parent. Such stages run only when an
    ingest asks for them (see :func:`pipeline_stages`).
    """
    _FAMILIES[prefix] = factory
    for name in [n for n in _FAMILY_STAGES if n.partition(":")[0] == prefix]:
        del _FAMILY_STAGES[name]


def get_stage(name: str) -> Stage:
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _FAMILY_STAGES:
        return _FAMILY_STAGES[name]
    prefix, sep, argument = name.partition(":")
    if sep and prefix in _FAMILIES:
        stage = _FAMILY_STAGES[name] = _FAMILIES[prefix](argument)
        return stage
    raise KeyError(f"unknown stage {name!r}; known: {sorted(_REGISTRY)}")


def pipeline_stages(extra: Iterable[str] = ()) -> list[Stage]:
    """The registered stages followed by the parameterised ones named in ``extra``."""
    stages = registered_stages()
    seen = {s.name for s in stages}
    for name in extra:
        if name not in seen:
            stages.append(get_stage(name))
            seen.add(name)
    return stages


def without_model_stages(stages: list[Stage]) -> list[Stage]:
    """``stages`` less those that run a neural network (``--no-models``)."""
    return [s for s in stages if not s.uses_models]


def stale_stages(
    recorded: dict[str, tuple[int, str]], stages: list[Stage] | None = None
) -> list[str]:
    """Names of stages to (re)run given a track's recorded ``{stage: (version, status)}``.

    A stage is stale when it never ran, ran at another version, or failed; every
    stage requiring a stale stage is stale too. ``stages`` defaults to the
    registered ones; stages that are not asked for are never stale.
    """
    stale: list[str] = []
    for stage in registered_stages() if stages is None else stages:
        rec = recorded.get(stage.name)
        if (
            rec is None
            or rec[0] != stage.version
            or rec[1] != "done"
            or any(r in stale for r in stage.requires)
        ):
            stale.append(stage.name)
    return stale


register_stage(MetadataStage())
register_stage(DescriptorsStage())
