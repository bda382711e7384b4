"""Time-frequency input features for the neural models.

Small pure functions over numpy arrays, like librosa's: explicit parameters with
the published models' values as defaults.
"""

from __future__ import annotations

import librosa
import numpy as np

MUSICNN_SAMPLE_RATE = 16000
MUSICNN_N_FFT = 512
MUSICNN_HOP_LENGTH = 256
MUSICNN_N_MELS = 96
MUSICNN_PATCH_FRAMES = 187  # 3 s at 16 kHz / hop 256 (librosa.time_to_frames(3) + 1)


def musicnn_log_mel(
    y: np.ndarray,
    sr: int = MUSICNN_SAMPLE_RATE,
    n_fft: int = MUSICNN_N_FFT,
    hop_length: int = MUSICNN_HOP_LENGTH,
    n_mels: int = MUSICNN_N_MELS,
) -> np.ndarray:
    """The log-compressed mel spectrogram the musicnn models were trained on.

    Power mel spectrogram (Hann window of ``n_fft`` samples, centred frames with
    zero padding, Slaney mel scale and norm, 0 Hz to ``sr / 2``), rounded to
    float16 as the original code does, then ``log10(10000 * mel + 1)``.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio at ``sr`` Hz.
    sr : int
        Sample rate in Hz (16000 for the pretrained models).
    n_fft : int
        FFT size in samples.
    hop_length : int
        Hop in samples.
    n_mels : int
        Mel bands.

    Returns
    -------
    np.ndarray, shape (frames, n_mels), float32
        ``frames = 1 + len(y) // hop_length``.

    Notes
    -----
    The original computed ``10000 * mel.astype(float16)`` under NumPy < 1.17,
    whose value-based casting promoted the product to float32. Under NumPy 2 the
    same expression stays float16 and overflows to ``inf`` above 6.55, so the
    float16 values are widened to float32 explicitly before scaling.
    """
    if y.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n,), got {y.shape}")
    mel = librosa.feature.melspectrogram(
        y=np.asarray(y, dtype=np.float32), sr=sr, n_fft=n_fft, hop_length=hop_length,
        n_mels=n_mels, center=True, pad_mode="constant", power=2.0,
    ).T  # fmt: skip
    quantised = mel.astype(np.float16).astype(np.float32)
    return np.log10(np.float32(10000) * quantised + np.float32(1)).astype(np.float32)


def patch_starts(n_frames: int, patch_frames: int, hop_frames: int) -> np.ndarray:
    """First frame of each whole patch: ``0, hop, 2 hop, ...`` (a partial tail is dropped)."""
    if patch_frames < 1 or hop_frames < 1:
        raise ValueError("patch_frames and hop_frames must be positive")
    if n_frames < patch_frames:
        return np.zeros(1, dtype=np.int64)  # the one patch of a short input (see frame_patches)
    return np.arange(0, n_frames - patch_frames + 1, hop_frames, dtype=np.int64)


def frame_patches(
    features: np.ndarray,
    patch_frames: int = MUSICNN_PATCH_FRAMES,
    hop_frames: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a (frames, bins) feature matrix into fixed-length patches.

    Parameters
    ----------
    features : np.ndarray, shape (frames, bins)
    patch_frames : int
        Frames per patch (187 = 3 s for musicnn).
    hop_frames : int or None
        Frames between patch starts; ``None`` means ``patch_frames`` (no overlap,
        as the original extractor). Trailing frames that do not fill a patch are
        dropped, as in the original.

    Returns
    -------
    patches : np.ndarray, shape (n_patches, patch_frames, bins)
    starts : np.ndarray of int, shape (n_patches,)
        First frame of each patch.

    Notes
    -----
    An input shorter than one patch is repeated until it fills one (the models'
    training used "repeat-pad" for short clips).
    """
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(f"expected a non-empty (frames, bins) matrix, got {features.shape}")
    hop_frames = patch_frames if hop_frames is None else int(hop_frames)
    n_frames = features.shape[0]
    if n_frames < patch_frames:
        reps = -(-patch_frames // n_frames)
        features = np.tile(features, (reps, 1))[:patch_frames]
    starts = patch_starts(features.shape[0], patch_frames, hop_frames)
    windows = np.lib.stride_tricks.sliding_window_view(features, patch_frames, axis=0)
    patches = np.ascontiguousarray(windows[starts].transpose(0, 2, 1))
    return patches, starts
