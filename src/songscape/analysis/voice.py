"""A singing voice from its pitch contour: checks, range, tessitura, stability.

Pure functions over numpy arrays. A pitch contour is a MIDI-number array (fractional
semitones, ``nan`` where the frame is unvoiced) at a fixed hop; the pitch trackers
that make one live in :mod:`songscape.models.pitch` (CREPE) and here (:func:`pyin_pitch`,
librosa's probabilistic YIN, the fallback that needs no weights).

Range estimates are robust percentiles of the voiced frames, so a few octave errors,
a cracked note or breath noise do not move them:

* full range: the 2nd to 98th percentile;
* comfortable range: the 15th to 85th percentile (where the voice spends 70 % of its time);
* tessitura: the median sung pitch.

A pitch tracker's octave errors come in short runs (a few frames of a note read an octave
up or down); :func:`fold_octave_runs` moves such runs back to the octave of the melody
around them, after the octave-error step of Salamon & Gómez's Melodia.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import librosa
import numpy as np
from scipy.ndimage import median_filter

from songscape.errors import VoiceCheckError

#: Lowest and highest pitch a singing voice is looked for at (C2 and C6), Hz.
VOICE_FMIN_HZ = 65.4
VOICE_FMAX_HZ = 1046.5
#: Percentiles (of voiced frames) of the full and the comfortable range.
FULL_RANGE_PERCENTILES = (2.0, 98.0)
COMFORTABLE_PERCENTILES = (15.0, 85.0)
#: The checks' thresholds (see :func:`check_voice`).
MIN_VOICED_S = 5.0
SILENCE_DBFS = -60.0
MAX_CLIPPED_SHARE = 0.01
#: Set by the rule of bench/sing_checks.py (midway between read speech and amateur
#: singing on a calibration set; validated on other clips): docs/sing.md.
MIN_SUSTAINED_SHARE = 0.32
#: Voiced seconds needed before a recording can be judged as speech.
MIN_JUDGED_S = 1.5
#: Octave-error folding (:func:`fold_octave_runs`), set a priori after Salamon & Gómez
#: (2012) as Essentia's ``PitchContoursMelody`` implements it: the melody's reference pitch
#: over a 5 s window, three iterations; a run breaks at a step of half an octave.
OCTAVE_REFERENCE_S = 5.0
OCTAVE_FOLD_ITERATIONS = 3
RUN_BREAK_SEMITONES = 6.0


@dataclass(frozen=True)
class VoiceRange:
    """Where a voice sings, in MIDI note numbers (60 = C4).

    Attributes
    ----------
    range_midi : tuple of float
        Full range (low, high): 2nd and 98th percentile of the voiced frames.
    comfortable_midi : tuple of float
        Comfortable range (low, high): 15th and 85th percentile.
    tessitura_midi : float
        Median sung pitch.
    voiced_s : float
        Seconds of voiced frames.
    stability_cents : float
        Median absolute deviation of the pitch from its 150 ms running median, cents
        (small: steady notes; vibrato and scoops raise it).
    sustained_share : float
        Share of voiced frames that belong to a held note (:func:`sustained_share`).
    """

    range_midi: tuple[float, float]
    comfortable_midi: tuple[float, float]
    tessitura_midi: float
    voiced_s: float
    stability_cents: float
    sustained_share: float

    def to_json(self) -> dict:
        out = asdict(self)
        for key in ("range_midi", "comfortable_midi"):
            out[key] = [round(float(v), 2) for v in out[key]]
        for key in ("tessitura_midi", "voiced_s", "stability_cents", "sustained_share"):
            out[key] = round(float(out[key]), 3)
        return out


def hz_to_midi(f0_hz: np.ndarray) -> np.ndarray:
    """MIDI numbers of frequencies (Hz); non-positive or nan frequencies give nan."""
    f0 = np.asarray(f0_hz, dtype=np.float64)
    out = np.full(f0.shape, np.nan)
    ok = np.isfinite(f0) & (f0 > 0)
    out[ok] = 69.0 + 12.0 * np.log2(f0[ok] / 440.0)
    return out


def pyin_pitch(
    y: np.ndarray,
    sr: int,
    hop_s: float = 0.02,
    fmin: float = VOICE_FMIN_HZ,
    fmax: float = VOICE_FMAX_HZ,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pitch with librosa's pYIN (Mauch & Dixon 2014).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio.
    sr : int
        Sample rate, Hz.
    hop_s : float
        Seconds between frame centres (the first at 0 s).
    fmin, fmax : float
        Search range, Hz.

    Returns
    -------
    times_s, midi, voiced_probability : np.ndarray, shape (n_frames,)
        ``midi`` is nan where pYIN finds the frame unvoiced.
    """
    hop = max(1, round(hop_s * sr))
    frame_length = 2048 if sr > 32000 else 1024
    f0, voiced, prob = librosa.pyin(np.asarray(y, dtype=np.float32), fmin=fmin, fmax=fmax,
                                    sr=sr, frame_length=frame_length, hop_length=hop)  # fmt: skip
    midi = hz_to_midi(np.where(voiced, f0, np.nan))
    times = np.arange(len(midi)) * hop / sr
    return times, midi, np.nan_to_num(prob)


def frame_rms_db(y: np.ndarray, sr: int, times_s: np.ndarray, window_s: float = 0.04) -> np.ndarray:
    """RMS level (dB re full scale) of ``window_s`` windows centred on ``times_s``."""
    y = np.asarray(y, dtype=np.float64)
    half = max(1, round(window_s * sr / 2))
    power = np.concatenate([[0.0], np.cumsum(y * y)])
    centres = np.round(np.asarray(times_s) * sr).astype(int)
    lo = np.clip(centres - half, 0, len(y))
    hi = np.clip(centres + half, 0, len(y))
    mean_power = (power[hi] - power[lo]) / np.maximum(hi - lo, 1)
    return 10.0 * np.log10(np.maximum(mean_power, 1e-12))


def gate_pitch(
    midi: np.ndarray,
    confidence: np.ndarray,
    level_db: np.ndarray,
    min_confidence: float = 0.5,
    floor_db: float = -40.0,
    fmin: float = VOICE_FMIN_HZ,
    fmax: float = VOICE_FMAX_HZ,
) -> np.ndarray:
    """The contour with frames set to nan that are unsure, quiet or outside the voice.

    Parameters
    ----------
    midi, confidence, level_db : np.ndarray, shape (n_frames,)
        Pitch (MIDI), the tracker's voicing confidence (0-1) and frame level (dBFS).
    min_confidence : float
        Frames below it are unvoiced.
    floor_db : float
        Frames quieter than the loudest frame by more than this many dB (negative)
        are unvoiced.
    fmin, fmax : float
        Hz; pitches outside are unvoiced.
    """
    midi = np.asarray(midi, dtype=np.float64).copy()
    lo, hi = hz_to_midi(np.array([fmin, fmax]))
    top = np.nanmax(level_db) if len(level_db) else 0.0
    bad = (np.asarray(confidence) < min_confidence) | (np.asarray(level_db) < top + floor_db)
    bad |= ~np.isfinite(midi) | (midi < lo) | (midi > hi)
    midi[bad] = np.nan
    return midi


def near_median(midi: np.ndarray, max_semitones: float = 13.0) -> np.ndarray:
    """The contour with frames farther than ``max_semitones`` from its median set to nan.

    A sung line rarely strays more than an octave from its median pitch; in a mix, the
    frames that do are mostly the bass or octave errors of the tracker (the default is
    set a priori: an octave and a semitone).
    """
    midi = np.asarray(midi, dtype=np.float64).copy()
    voiced = np.isfinite(midi)
    if voiced.any():
        centre = np.median(midi[voiced])
        midi[voiced & (np.abs(midi - centre) > max_semitones)] = np.nan
    return midi


def voiced_runs(midi: np.ndarray, break_semitones: float = RUN_BREAK_SEMITONES) -> np.ndarray:
    """The runs of a contour: consecutive voiced frames without a jump.

    Parameters
    ----------
    midi : np.ndarray, shape (n_frames,)
        MIDI numbers, nan where unvoiced.
    break_semitones : float
        A step between consecutive voiced frames of at least this many semitones starts a
        new run (the default, half an octave, always splits at an octave jump and never
        inside a held or gliding note).

    Returns
    -------
    np.ndarray of int, shape (n_runs, 2)
        ``[start, stop)`` frame indices of each run, in time order.
    """
    midi = np.asarray(midi, dtype=np.float64)
    idx = np.flatnonzero(np.isfinite(midi))
    if len(idx) == 0:
        return np.empty((0, 2), dtype=int)
    breaks = (np.diff(idx) > 1) | (np.abs(np.diff(midi[idx])) >= break_semitones)
    starts = idx[np.r_[True, breaks]]
    stops = idx[np.r_[breaks, True]] + 1
    return np.stack([starts, stops], axis=1)


def running_median(midi: np.ndarray, width: int, at: np.ndarray | None = None) -> np.ndarray:
    """Median of the voiced frames in a centred window of ``width`` frames.

    Parameters
    ----------
    midi : np.ndarray, shape (n_frames,)
        MIDI numbers, nan where unvoiced (ignored).
    width : int
        Window length, frames (made odd).
    at : np.ndarray of int, optional
        Frames to compute it at (default: every frame).

    Returns
    -------
    np.ndarray, shape (len(at),)
        nan where the window holds no voiced frame.
    """
    midi = np.asarray(midi, dtype=np.float64)
    at = np.arange(len(midi)) if at is None else np.asarray(at, dtype=int)
    half = max(1, int(width)) // 2
    padded = np.pad(midi, half, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    out = np.full(len(at), np.nan)
    for lo in range(0, len(at), 2048):  # bounded memory on long songs
        rows = np.sort(windows[at[lo : lo + 2048]], axis=1)  # nan sorts last
        count = np.isfinite(rows).sum(axis=1)
        ok = count > 0
        i = np.arange(len(rows))[ok]
        mid = (rows[i, (count[ok] - 1) // 2] + rows[i, count[ok] // 2]) / 2
        out[lo : lo + 2048][ok] = mid
    return out


def fold_octave_runs(
    midi: np.ndarray,
    hop_s: float,
    reference_s: float = OCTAVE_REFERENCE_S,
    iterations: int = OCTAVE_FOLD_ITERATIONS,
    break_semitones: float = RUN_BREAK_SEMITONES,
) -> np.ndarray:
    """The contour with octave-error runs moved back to the melody's octave.

    A tracker that reads a note at its second harmonic (or its subharmonic) jumps by
    an octave for a few frames and back. Each run (:func:`voiced_runs`) is compared with
    the melody around it: the running median of the voiced frames over ``reference_s``,
    averaged over the run's frames. Of the run's median pitch ``m`` and its octave
    duplicates ``m ± 12``, the one nearest that reference is kept, i.e. a run more than
    6 semitones from it moves by an octave towards it (one octave at most). This is the
    octave-error step of Melodia (Salamon & Gómez, "Melody extraction from polyphonic
    music signals using pitch contour characteristics", IEEE TASLP 20(6), 2012, §II-D;
    Essentia's ``PitchContoursMelody``: a 5 s melody pitch mean, of two octave duplicates
    the contour nearer it, three iterations), with a median instead of a salience-weighted
    mean: one contour per frame, and the median ignores the errors being removed.

    A leap of an octave that the voice holds (for more than about half the window)
    moves the reference with it and is kept; so is a contour without octave errors whose
    runs stay within 6 semitones of their surroundings. A brief genuine note more than
    6 semitones from the melody around it is folded too: the price of the rule.

    Parameters
    ----------
    midi : np.ndarray, shape (n_frames,)
        MIDI numbers, nan where unvoiced.
    hop_s : float
        Seconds between frames.
    reference_s : float
        Length of the reference's running window, seconds.
    iterations : int
        Passes: each recomputes the reference from the contour the previous one left
        and decides every run's octave afresh from the tracker's own pitch (stops early
        once no decision changes).
    break_semitones : float
        Step that starts a new run, semitones.

    Returns
    -------
    np.ndarray, shape (n_frames,)
        The contour, each run moved by 0 or ±12 semitones; unvoiced frames stay nan.
    """
    original = np.asarray(midi, dtype=np.float64)
    midi = original.copy()
    runs = voiced_runs(original, break_semitones)
    if len(runs) < 2:
        return midi
    width = max(3, int(round(reference_s / hop_s)) | 1)
    run_of = np.repeat(np.arange(len(runs)), runs[:, 1] - runs[:, 0])
    frames = np.concatenate([np.arange(a, b) for a, b in runs])
    med = np.array([np.median(original[a:b]) for a, b in runs])
    octaves = np.zeros(len(runs))
    for _ in range(iterations):
        # as Melodia, each pass decides from the tracker's runs as they came, against
        # the reference of the contour the previous pass left: one octave at most
        ref = running_median(midi, width, at=frames)
        ref_run = np.bincount(run_of, weights=ref) / np.bincount(run_of)
        new = np.clip(np.round((med - ref_run) / 12.0), -1, 1)
        if np.array_equal(new, octaves):
            break
        octaves = new
        midi[frames] = original[frames] - 12.0 * octaves[run_of]
    return midi


def sung_line(midi: np.ndarray, hop_s: float) -> np.ndarray:
    """A song's sung line from the pitch of its vocal-dominant signal.

    The frames within 13 semitones of the median (:func:`near_median`: drops the bass and
    far outliers), then octave-error runs folded back (:func:`fold_octave_runs`). What
    the ``vocals`` stage stores (range, tessitura, note histogram).

    Parameters
    ----------
    midi : np.ndarray, shape (n_frames,)
        MIDI numbers, nan where unvoiced (or not sung).
    hop_s : float
        Seconds between frames.
    """
    return fold_octave_runs(near_median(midi), hop_s)


def sustained_share(
    midi: np.ndarray, hop_s: float, note_s: float = 0.15, tolerance: float = 0.5
) -> float:
    """Share of voiced frames inside a held note: sung, not spoken.

    A frame is held when the ``note_s`` window centred on it is entirely voiced and
    its pitch stays within ``tolerance`` semitones of the window's median. Singing
    holds notes (vibrato included) most of the time; speech glides between short
    syllables, so the share is low.

    Returns
    -------
    float
        0-1; 0 when nothing is voiced.
    """
    midi = np.asarray(midi, dtype=np.float64)
    voiced = np.isfinite(midi)
    if not voiced.any():
        return 0.0
    width = max(3, int(round(note_s / hop_s)) | 1)
    filled = np.where(voiced, midi, 0.0)
    med = median_filter(filled, size=width, mode="nearest")
    dev = np.abs(filled - med)
    all_voiced = np.convolve(voiced.astype(float), np.ones(width), mode="same") >= width - 0.5
    dev_max = np.lib.stride_tricks.sliding_window_view(np.pad(dev, width // 2, mode="edge"), width)
    held = all_voiced & (dev_max.max(axis=1) <= tolerance)
    return float(held[voiced].mean())


def voice_range(midi: np.ndarray, hop_s: float) -> VoiceRange:
    """Range, comfortable range, tessitura and stability of a pitch contour.

    Parameters
    ----------
    midi : np.ndarray, shape (n_frames,)
        MIDI numbers, nan where unvoiced.
    hop_s : float
        Seconds between frames.

    Raises
    ------
    VoiceCheckError
        Nothing is voiced.
    """
    midi = np.asarray(midi, dtype=np.float64)
    voiced = midi[np.isfinite(midi)]
    if len(voiced) == 0:
        raise VoiceCheckError("no sung pitch found: is this a recording of a voice?")
    lo, hi = np.percentile(voiced, FULL_RANGE_PERCENTILES)
    c_lo, c_hi = np.percentile(voiced, COMFORTABLE_PERCENTILES)
    width = max(3, int(round(0.15 / hop_s)) | 1)
    filled = np.where(np.isfinite(midi), midi, 0.0)
    dev = np.abs(filled - median_filter(filled, size=width, mode="nearest"))
    dev = dev[np.isfinite(midi)]
    return VoiceRange(
        range_midi=(float(lo), float(hi)),
        comfortable_midi=(float(c_lo), float(c_hi)),
        tessitura_midi=float(np.median(voiced)),
        voiced_s=float(len(voiced) * hop_s),
        stability_cents=float(np.median(dev[dev < 2.0]) * 100) if (dev < 2.0).any() else 0.0,
        sustained_share=sustained_share(midi, hop_s),
    )


def clipped_share(y: np.ndarray, ceiling: float = 0.999) -> float:
    """Share of samples at or beyond ``ceiling`` of full scale, in runs of 3 or more.

    A clipped recording sits at its ceiling for several samples in a row; a single
    full-scale peak of a normalised file does not count.
    """
    y = np.abs(np.asarray(y, dtype=np.float64))
    if len(y) < 3:
        return 0.0
    peak = max(float(y.max()), 1e-9)
    level = min(ceiling, peak * 0.999) if peak >= ceiling * 0.98 else ceiling
    at = y >= level
    runs = at[:-2] & at[1:-1] & at[2:]
    return float(runs.sum() / len(y))


def check_level(y: np.ndarray) -> None:
    """Raise :class:`VoiceCheckError` for a silent or clipped recording.

    Silent: peak below :data:`SILENCE_DBFS`. Clipped: more than
    :data:`MAX_CLIPPED_SHARE` of the samples stuck at full scale.
    """
    y = np.asarray(y)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak <= 10 ** (SILENCE_DBFS / 20):
        raise VoiceCheckError("the recording is silent: check the microphone and sing again")
    share = clipped_share(y)
    if share > MAX_CLIPPED_SHARE:
        raise VoiceCheckError(
            f"the recording is clipped ({share:.1%} of the samples at full scale): "
            "record further from the microphone or lower its gain"
        )


def check_singing(voice: VoiceRange) -> None:
    """Raise :class:`VoiceCheckError` when a contour is too short or sounds spoken.

    Speech: fewer than :data:`MIN_SUSTAINED_SHARE` of the voiced frames in held notes
    (judged from :data:`MIN_JUDGED_S` voiced seconds on). Too short: fewer than
    :data:`MIN_VOICED_S` seconds of voiced frames.
    """
    # Speech first (when there is enough voiced sound to tell): it is the useful answer
    # for a spoken recording, whose voiced frames are few anyway.
    if voice.sustained_share < MIN_SUSTAINED_SHARE and voice.voiced_s >= MIN_JUDGED_S:
        raise VoiceCheckError(
            f"this sounds like speech, not singing (only {voice.sustained_share:.0%} of the "
            "voiced sound holds a note): sing a melody rather than speaking"
        )
    if voice.voiced_s < MIN_VOICED_S:
        raise VoiceCheckError(
            f"only {voice.voiced_s:.1f} s of singing found; sing for at least "
            f"{MIN_VOICED_S:.0f} s (a verse or a scale) and try again"
        )
