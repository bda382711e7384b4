"""The DSP descriptors of one track: the record, and :func:`describe`, which computes them all
from one STFT.

:func:`describe` computes a single magnitude STFT and derives from it the mel onset
envelope (tempo, beats, downbeats, onset rate), the low-band onset envelope
(downbeats), the chromagram (key, downbeats) and the spectral centroid, so each
expensive representation is computed once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import librosa
import numpy as np

from songscape.analysis import key as key_mod
from songscape.analysis import loudness, spectral
from songscape.analysis import rhythm as rhythm_mod

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
    rhythm_method: str | None = None  # which tracker made the beats (RHYTHM_METHODS)

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


#: STFT size, samples (93 ms at 22050 Hz): fine enough in frequency for chroma above
#: ~100 Hz, short enough in time for onsets.
N_FFT = 2048
#: Hop, samples (23.2 ms at 22050 Hz).
HOP_LENGTH = rhythm_mod.HOP_LENGTH
#: Mel bands of the onset envelope.
N_MELS = 128


@dataclass
class Features:
    """Intermediate representations shared by the descriptors (all at ``HOP_LENGTH``)."""

    S: np.ndarray  # magnitude STFT, (1 + N_FFT // 2, n_frames)
    onset_env: np.ndarray  # mel spectral flux, dB/frame, (n_frames,)
    low_env: np.ndarray  # spectral flux of mel bands below LOW_BAND_MAX_HZ, (n_frames,)
    chroma: np.ndarray  # (12, n_frames), each frame max-normalised


def compute_features(y: np.ndarray, sr: int = ANALYSIS_SAMPLE_RATE) -> Features:
    """The shared representations of :func:`describe`, from one STFT.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono float signal, at least ``N_FFT`` samples.
    sr : int
        Sample rate, Hz.
    """
    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH))
    power = S**2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_fft=N_FFT, n_mels=N_MELS)
    mel_db = librosa.power_to_db(mel)
    onset_env = rhythm_mod.onset_envelope(mel_db, sr, HOP_LENGTH)
    mel_hz = librosa.mel_frequencies(n_mels=N_MELS + 2, fmax=sr / 2.0)[1:-1]
    low_env = rhythm_mod.onset_envelope(mel_db[mel_hz < rhythm_mod.LOW_BAND_MAX_HZ], sr, HOP_LENGTH)
    # tuning=0: skip librosa's pitch-tracking tuning estimate (a third of the total run
    # time); the 12-bin chroma filters are a semitone wide, so a quarter-tone detuning
    # is the worst case and is rare on commercial recordings.
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, n_fft=N_FFT, tuning=0.0)
    return Features(S=S, onset_env=onset_env, low_env=low_env, chroma=chroma)


#: Beat trackers: the neural network + bar-pointer DBN (default), madmom's own (opt-in)
#: and the onset-envelope dynamic programme of :mod:`songscape.analysis.rhythm`.
RHYTHM_METHODS = ("beatnet-dbn", "madmom-dbn", "onset-dp")


@dataclass(frozen=True)
class RhythmEstimate:
    """What a beat tracker returns: tempo (BPM), beat and downbeat times (s), meter."""

    tempo_bpm: float | None
    beat_times: np.ndarray
    downbeat_times: np.ndarray
    beats_per_bar: int | None
    method: str


#: A beat tracker given to :func:`describe`: mono audio, its rate (Hz) and the onset
#: tracker's estimate (a tempo prior) in; an estimate out, or None when it cannot handle
#: the clip (the onset tracker's estimate is then kept).
RhythmTracker = Callable[[np.ndarray, int, "RhythmEstimate"], "RhythmEstimate | None"]


def _frames_to_times(frames: np.ndarray, sr: int) -> np.ndarray:
    return np.asarray(librosa.frames_to_time(frames, sr=sr, hop_length=HOP_LENGTH), dtype=float)


def _empty(duration_s: float, sr: int, y: np.ndarray, y_channels: np.ndarray | None,
           energy_rate_hz: float) -> Descriptors:
    return Descriptors(
        duration_s=duration_s, sample_rate=sr, tempo_bpm=None,
        beat_times=np.zeros(0), downbeat_times=np.zeros(0), beats_per_bar=None,
        key=None, key_confidence=None,
        loudness_lufs=loudness.integrated_loudness(
            y if y_channels is None else y_channels, sr),
        energy_curve=loudness.energy_curve(y, sr, rate_hz=energy_rate_hz),
        energy_rate_hz=energy_rate_hz, spectral_centroid_hz=None, onset_rate_hz=None,
    )


def describe(
    y: np.ndarray,
    sr: int = ANALYSIS_SAMPLE_RATE,
    y_channels: np.ndarray | None = None,
    *,
    energy_rate_hz: float = 2.0,
    rhythm: RhythmTracker | None = None,
) -> Descriptors:
    """Compute all descriptors of one track.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono signal in ``[-1, 1]`` (float32 or float64) at ``sr``.
    sr : int
        Sample rate, Hz (the pipeline uses :data:`ANALYSIS_SAMPLE_RATE`, 22050 Hz; the
        frame parameters below are tuned for it).
    y_channels : np.ndarray, shape (channels, n_ch), optional
        The original channels (any sample rate equal to ``sr``), used only for integrated
        loudness so stereo is measured per BS.1770 rather than on the mono downmix.
    energy_rate_hz : float
        Sampling rate of the energy curve, Hz.
    rhythm : callable, optional
        A beat tracker (``songscape.models.rhythm.rhythm_tracker`` gives the neural
        ones). Without one, or when it returns None, the onset-envelope tracker runs.

    Returns
    -------
    Descriptors
        Fields that cannot be estimated are None (key of silence, tempo of a drone) and
        beat/downbeat arrays are empty; this function does not raise on short or silent
        input.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"y must be mono, shape (n,), got {y.shape}")
    y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    duration_s = len(y) / sr
    if len(y) < N_FFT or not np.any(y):
        return _empty(duration_s, sr, y, y_channels, energy_rate_hz)

    f = compute_features(y, sr)

    # --- rhythm -------------------------------------------------------------------------
    estimate = onset_rhythm(f, sr)
    if rhythm is not None:
        estimate = rhythm(y, sr, estimate) or estimate

    # --- key ---------------------------------------------------------------------------
    # Unweighted mean chroma: near-silent frames normalise to a flat chroma, which adds a
    # constant and so leaves the (Pearson) key correlations unchanged.
    key, key_conf = key_mod.estimate_key(f.chroma)

    return Descriptors(
        duration_s=duration_s,
        sample_rate=sr,
        tempo_bpm=estimate.tempo_bpm,
        beat_times=np.asarray(estimate.beat_times, dtype=float),
        downbeat_times=np.asarray(estimate.downbeat_times, dtype=float),
        beats_per_bar=estimate.beats_per_bar,
        key=key,
        key_confidence=key_conf,
        loudness_lufs=loudness.integrated_loudness(
            y if y_channels is None else y_channels, sr
        ),
        energy_curve=loudness.energy_curve(y, sr, rate_hz=energy_rate_hz),
        energy_rate_hz=energy_rate_hz,
        spectral_centroid_hz=spectral.mean_spectral_centroid(f.S, sr, N_FFT),
        onset_rate_hz=rhythm_mod.onset_rate(f.onset_env, sr, HOP_LENGTH, duration_s),
        rhythm_method=estimate.method,
    )


def onset_rhythm(f: Features, sr: int) -> RhythmEstimate:
    """The onset-envelope tracker (:mod:`songscape.analysis.rhythm`) on shared features."""
    tempo_bpm, beat_frames = rhythm_mod.estimate_beats(f.onset_env, sr, HOP_LENGTH)
    downbeat_frames, beats_per_bar = rhythm_mod.estimate_downbeats(
        beat_frames, f.onset_env, f.low_env, f.chroma
    )
    return RhythmEstimate(
        tempo_bpm, _frames_to_times(beat_frames, sr), _frames_to_times(downbeat_frames, sr),
        beats_per_bar, "onset-dp",
    )  # fmt: skip
