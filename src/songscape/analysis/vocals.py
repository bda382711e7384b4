"""The singing in a mix: a vocal-dominant signal, vocal activity, and voice timbre.

Pure functions over numpy arrays.

* :func:`vocal_dominant` — harmonic/percussive separation (Fitzgerald 2010), then
  REPET-SIM (Rafii & Pardo 2012) on the harmonic part: the repeating background of
  each frame is the median of its most similar frames (cosine, at least 2 s away);
  a soft mask keeps what does not repeat, which in a song is mostly the voice. This
  follows librosa's "vocal separation" example.
* :func:`vocal_activity` — per frame: the musicnn MTT voice tags of the enclosing
  patches (interpolated) combined with the tracker's voicing on the vocal-dominant
  signal (the "refined by the signal" part).
* :func:`mfcc_timbre` — the MFCC-statistics voice timbre baseline (mean and standard
  deviation of MFCC 1-19 over the voiced frames).
"""

from __future__ import annotations

import librosa
import numpy as np

#: MTT tags that name a voice (musicnn-mtt's vocabulary).
MTT_VOICE_TAGS = ("vocal", "vocals", "voice", "male vocal", "female vocal", "male voice",
                  "female voice", "male", "female", "singing", "woman", "man")  # fmt: skip
#: MTT tags that deny one.
MTT_NO_VOICE_TAGS = ("no vocal", "no vocals", "no voice", "instrumental")
#: Separation settings (22050 Hz analysis rate).
SEPARATION_N_FFT = 2048
SEPARATION_HOP = 512


def vocal_dominant(
    y: np.ndarray,
    sr: int,
    n_fft: int = SEPARATION_N_FFT,
    hop_length: int = SEPARATION_HOP,
    min_gap_s: float = 2.0,
    margin: float = 2.0,
) -> np.ndarray:
    """A vocal-dominant version of a mix (HPSS, then REPET-SIM foreground).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono mix.
    sr : int
        Sample rate, Hz.
    n_fft, hop_length : int
        STFT size and hop, samples.
    min_gap_s : float
        Frames nearer than this (seconds) are not used as each other's repetitions.
    margin : float
        Mask margin of the foreground (larger: more background removed).

    Returns
    -------
    np.ndarray, shape (n,), float32
        The foreground (voice-dominant) signal.
    """
    y = np.asarray(y, dtype=np.float32)
    stft = librosa.stft(y, n_fft=n_fft, hop_length=hop_length)
    harmonic, _ = librosa.decompose.hpss(stft, margin=1.0)
    mag, phase = np.abs(harmonic), np.exp(1j * np.angle(harmonic))
    width = max(2, int(round(min_gap_s * sr / hop_length)))
    if mag.shape[1] > 2 * width + 2:
        background = librosa.decompose.nn_filter(
            mag, aggregate=np.median, metric="cosine", width=width
        )
        background = np.minimum(mag, background)
    else:  # too short for repetitions: the harmonic part is all we have
        background = np.zeros_like(mag)
    mask = librosa.util.softmask(mag - background, margin * background, power=2)
    out = librosa.istft(mask * mag * phase, hop_length=hop_length, length=len(y))
    return out.astype(np.float32)


def voice_tag_probability(taggram: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """Per patch: how likely a voice sings, from MTT tag probabilities.

    The largest probability among :data:`MTT_VOICE_TAGS` times one minus the largest
    among :data:`MTT_NO_VOICE_TAGS`.

    Parameters
    ----------
    taggram : np.ndarray, shape (n_patches, n_tags)
    labels : tuple of str
        Tag names of the columns.
    """
    taggram = np.asarray(taggram, dtype=np.float64)
    voice = [i for i, name in enumerate(labels) if name in MTT_VOICE_TAGS]
    no_voice = [i for i, name in enumerate(labels) if name in MTT_NO_VOICE_TAGS]
    p = taggram[:, voice].max(axis=1) if voice else np.ones(len(taggram))
    if no_voice:
        p = p * (1.0 - taggram[:, no_voice].max(axis=1))
    return p


def vocal_activity(
    frame_times_s: np.ndarray,
    voiced: np.ndarray,
    patch_times_s: np.ndarray,
    patch_duration_s: float,
    patch_voice_probability: np.ndarray,
    threshold: float = 0.2,
) -> np.ndarray:
    """Frames where the voice sings: a voice-tagged patch and a voiced frame.

    Parameters
    ----------
    frame_times_s : np.ndarray, shape (n_frames,)
    voiced : np.ndarray of bool, shape (n_frames,)
        The pitch tracker's voicing on the vocal-dominant signal.
    patch_times_s : np.ndarray, shape (n_patches,)
        Patch starts, seconds.
    patch_duration_s : float
    patch_voice_probability : np.ndarray, shape (n_patches,)
        :func:`voice_tag_probability`.
    threshold : float
        Patches below it hold no voice.

    Returns
    -------
    np.ndarray of bool, shape (n_frames,)
    """
    frame_times_s = np.asarray(frame_times_s, dtype=np.float64)
    if len(patch_times_s) == 0:
        return np.asarray(voiced, dtype=bool)
    centres = np.asarray(patch_times_s) + patch_duration_s / 2
    p = np.interp(frame_times_s, centres, np.asarray(patch_voice_probability, dtype=np.float64))
    return np.asarray(voiced, dtype=bool) & (p >= threshold)


def mfcc_timbre(
    y: np.ndarray,
    sr: int,
    frame_times_s: np.ndarray | None = None,
    active: np.ndarray | None = None,
) -> np.ndarray:
    """MFCC-statistics voice timbre: mean and std of MFCC 1-19 over the active frames.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio (a voice, or a vocal-dominant signal).
    sr : int
    frame_times_s, active : np.ndarray, optional
        A frame grid and which of its frames sing; MFCC frames nearest to an active
        frame are used (all frames when not given, or when none is active).

    Returns
    -------
    np.ndarray, shape (38,), float32
    """
    hop = 512 if sr > 16000 else 320
    mfcc = librosa.feature.mfcc(y=np.asarray(y, dtype=np.float32), sr=sr, n_mfcc=20,
                                hop_length=hop)[1:]  # fmt: skip
    if frame_times_s is not None and active is not None and np.any(active):
        t = np.arange(mfcc.shape[1]) * hop / sr
        idx = np.clip(np.searchsorted(frame_times_s, t), 0, len(frame_times_s) - 1)
        keep = np.asarray(active, dtype=bool)[idx]
        if keep.sum() >= 4:
            mfcc = mfcc[:, keep]
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)]).astype(np.float32)


def active_regions(
    frame_times_s: np.ndarray,
    active: np.ndarray,
    hop_s: float,
    max_gap_s: float = 0.3,
    min_length_s: float = 0.5,
) -> np.ndarray:
    """Sung regions from per-frame vocal activity: runs of active frames, merged and kept.

    Parameters
    ----------
    frame_times_s : np.ndarray, shape (n_frames,)
        Frame centres, seconds.
    active : np.ndarray of bool, shape (n_frames,)
        :func:`vocal_activity`.
    hop_s : float
        Seconds between frames (each active frame covers ``hop_s`` around its centre).
    max_gap_s : float
        Runs separated by at most this many seconds (a breath, a consonant) are merged.
    min_length_s : float
        Regions shorter than this (after merging) are dropped.

    Returns
    -------
    np.ndarray, shape (n_regions, 2), float64
        ``(start_s, end_s)`` in time order.
    """
    t = np.asarray(frame_times_s, dtype=np.float64)
    a = np.asarray(active, dtype=bool)
    if not a.any():
        return np.zeros((0, 2))
    edges = np.diff(np.concatenate([[0], a.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    regions: list[list[float]] = []
    for s, e in zip(t[starts] - hop_s / 2, t[ends] + hop_s / 2, strict=True):
        if regions and s - regions[-1][1] <= max_gap_s:
            regions[-1][1] = e
        else:
            regions.append([max(0.0, s), e])
    out = np.array(regions, dtype=np.float64).reshape(-1, 2)
    return out[out[:, 1] - out[:, 0] >= min_length_s]


def sung_audio(y: np.ndarray, sr: int, regions: np.ndarray) -> np.ndarray:
    """The samples of ``y`` inside ``regions`` (``(n, 2)`` seconds), concatenated."""
    y = np.asarray(y, dtype=np.float32)
    parts = [y[max(0, int(round(a * sr))): max(0, int(round(b * sr)))]
             for a, b in np.asarray(regions, dtype=np.float64).reshape(-1, 2)]  # fmt: skip
    parts = [p for p in parts if len(p)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
