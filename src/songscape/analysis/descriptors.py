"""The record of one track's DSP descriptors, shared by the analysis and the library."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

#: Sample rate (Hz) the descriptors are computed at.
ANALYSIS_SAMPLE_RATE = 22050

#: Names of the fields that hold arrays (stored as binary arrays, not JSON text).
ARRAY_FIELDS = ("beat_times", "downbeat_times", "energy_curve")


@dataclass
class Descriptors:
    """DSP descriptors of one track.

    Times are in seconds from the start of the audio; rates in Hz.
    A field is ``None`` when it could not be estimated (e.g. no beats in a drone).
    """

    duration_s: float
    sample_rate: int  # rate the descriptors were computed at, Hz
    tempo_bpm: float | None
    beat_times: np.ndarray = field(repr=False)  # seconds, float64, increasing
    downbeat_times: np.ndarray = field(repr=False)  # seconds, a subset of beat_times
    beats_per_bar: int | None  # estimated meter (3 or 4), None without beats
    key: str | None  # e.g. "A minor", "F# major"
    key_confidence: float | None  # 0..1, how much the best key beats the runner-up
    loudness_lufs: float | None  # integrated loudness, EBU R128 / ITU-R BS.1770
    energy_curve: np.ndarray = field(repr=False)  # dB RMS, sampled at energy_rate_hz
    energy_rate_hz: float = 2.0
    spectral_centroid_hz: float | None = None  # mean over frames, Hz
    onset_rate_hz: float | None = None  # detected onsets per second

    def to_json(self) -> dict:
        """A JSON-serialisable dict (arrays become lists of floats rounded to ms/0.01 dB)."""
        out = asdict(self)
        for name in ARRAY_FIELDS:
            values = np.asarray(getattr(self, name), dtype=float)
            decimals = 2 if name == "energy_curve" else 3
            out[name] = [round(float(v), decimals) for v in values]
        return out

    def scalars(self) -> dict:
        """The non-array fields."""
        return {k: v for k, v in asdict(self).items() if k not in ARRAY_FIELDS}

    def arrays(self) -> dict[str, np.ndarray]:
        """The array fields, as numpy arrays."""
        return {name: np.asarray(getattr(self, name)) for name in ARRAY_FIELDS}
