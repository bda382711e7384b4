"""Chromaprint acoustic fingerprints of float32 arrays, through the C library.

Chromaprint (Lalinský, AcoustID) turns audio into a sequence of 32-bit words, one per
``ITEM_HOP_S`` (about 0.124 s, 8.08 words per second): the signal is resampled to
11025 Hz, cut into 4096-sample frames with a hop of 1365 samples, reduced to 12 chroma
bins per frame, and 16 learned filters over a sliding 16-frame chroma window each
contribute 2 bits (a Gray-coded quantisation). Two encodings of one recording give words
that agree in most bits at the same position, so matching is a bit-error rate over
aligned words (see :mod:`songscape.analysis.fingerprint_align`).

This module calls ``libchromaprint.so.1`` (Debian ``libchromaprint1``, installed with
``libchromaprint-tools``, whose ``fpcalc`` prints the same words with
``fpcalc -raw -json FILE``) with :mod:`ctypes`, feeding it 16-bit PCM from memory: no
temporary file and no subprocess per track.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

import numpy as np
import soxr

from songscape.audio.decode import RESAMPLE_QUALITY
from songscape.errors import FingerprintError

#: Chromaprint's internal sample rate (Hz), frame hop (samples) and default algorithm
#: (``CHROMAPRINT_ALGORITHM_TEST2``; ``fpcalc -algorithm 2``).
CHROMAPRINT_SAMPLE_RATE = 11025
CHROMAPRINT_HOP = 1365
CHROMAPRINT_ALGORITHM = 1
#: Seconds between two consecutive fingerprint words.
ITEM_HOP_S = CHROMAPRINT_HOP / CHROMAPRINT_SAMPLE_RATE
#: Seconds of audio the first word needs: one 4096-sample frame and 19 hops more (the
#: 5-frame chroma smoothing and the 16-frame filter window), 2.72 s.
MIN_AUDIO_S = (4096 + 19 * CHROMAPRINT_HOP) / CHROMAPRINT_SAMPLE_RATE

_LIBRARY_NAMES = ("libchromaprint.so.1", "libchromaprint.so", "libchromaprint.dylib")


@lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    names = list(_LIBRARY_NAMES)
    found = ctypes.util.find_library("chromaprint")
    if found:
        names.insert(0, found)
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.chromaprint_new.restype = ctypes.c_void_p
        lib.chromaprint_new.argtypes = [ctypes.c_int]
        lib.chromaprint_free.argtypes = [ctypes.c_void_p]
        lib.chromaprint_start.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.chromaprint_feed.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        lib.chromaprint_finish.argtypes = [ctypes.c_void_p]
        lib.chromaprint_get_raw_fingerprint.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.POINTER(ctypes.c_uint32)),
            ctypes.POINTER(ctypes.c_int),
        ]
        lib.chromaprint_dealloc.argtypes = [ctypes.c_void_p]
        lib.chromaprint_get_version.restype = ctypes.c_char_p
        return lib
    raise FingerprintError(
        "Chromaprint is not installed (libchromaprint.so.1 not found): "
        "apt-get install libchromaprint-tools"
    )


def chromaprint_available() -> bool:
    """Whether the Chromaprint C library can be loaded."""
    try:
        _library()
    except FingerprintError:
        return False
    return True


def chromaprint_version() -> str:
    """The loaded library's version string, e.g. ``"1.5.1"``."""
    return _library().chromaprint_get_version().decode()


def to_pcm16(y: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] (any shape) to clipped little-endian int16 samples."""
    return np.clip(np.round(np.asarray(y, dtype=np.float64) * 32767.0), -32768, 32767).astype("<i2")


def chromaprint_words(y: np.ndarray, sr: int) -> np.ndarray:
    """The raw Chromaprint fingerprint of a mono signal.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio, float in [-1, 1].
    sr : int
        Sample rate of ``y`` (Hz). Other rates than ``CHROMAPRINT_SAMPLE_RATE`` are first
        resampled with soxr (3x faster than Chromaprint's own resampler).

    Returns
    -------
    np.ndarray, shape (m,), dtype uint32
        One word per ``ITEM_HOP_S`` seconds; word ``i`` describes the audio from
        ``i * ITEM_HOP_S`` to ``i * ITEM_HOP_S + MIN_AUDIO_S`` seconds. Empty when ``y``
        is shorter than ``MIN_AUDIO_S``.
    """
    if y.ndim != 1:
        raise ValueError("chromaprint_words expects mono audio, shape (n,)")
    lib = _library()
    if sr != CHROMAPRINT_SAMPLE_RATE and len(y):
        y = soxr.resample(y, sr, CHROMAPRINT_SAMPLE_RATE, quality=RESAMPLE_QUALITY)
        sr = CHROMAPRINT_SAMPLE_RATE
    pcm = np.ascontiguousarray(to_pcm16(y))
    ctx = lib.chromaprint_new(CHROMAPRINT_ALGORITHM)
    if not ctx:
        raise FingerprintError("Chromaprint could not allocate a context")
    try:
        if not lib.chromaprint_start(ctx, int(sr), 1):
            raise FingerprintError(f"Chromaprint rejected the sample rate {sr} Hz")
        if len(pcm) and not lib.chromaprint_feed(ctx, pcm.ctypes.data, len(pcm)):
            raise FingerprintError("Chromaprint failed while reading the audio")
        if not lib.chromaprint_finish(ctx):
            raise FingerprintError("Chromaprint failed to finish the fingerprint")
        data = ctypes.POINTER(ctypes.c_uint32)()
        size = ctypes.c_int(0)
        if not lib.chromaprint_get_raw_fingerprint(ctx, ctypes.byref(data), ctypes.byref(size)):
            return np.zeros(0, dtype=np.uint32)
        try:
            words = np.ctypeslib.as_array(data, shape=(size.value,)).copy() if size.value else None
        finally:
            lib.chromaprint_dealloc(data)
    finally:
        lib.chromaprint_free(ctx)
    return np.zeros(0, dtype=np.uint32) if words is None else words.astype(np.uint32)


def shifted_chromaprints(y: np.ndarray, sr: int, shifts: int = 4) -> list[tuple[float, np.ndarray]]:
    """Fingerprints of ``y`` started at ``shifts`` sub-hop offsets.

    A clip cut at an arbitrary time is misaligned with the reference's frame grid by up
    to half a hop (62 ms), which flips bits; one of ``shifts`` evenly spaced starts
    (``ITEM_HOP_S / shifts`` apart) is always within ``ITEM_HOP_S / (2 * shifts)`` of it.

    Returns
    -------
    list of (start_s, words)
        The start of each fingerprint in the clip (seconds) and its words.
    """
    out = []
    for k in range(max(1, shifts)):
        start = int(round(k * ITEM_HOP_S * sr / max(1, shifts)))
        out.append((start / sr, chromaprint_words(y[start:], sr)))
    return out
