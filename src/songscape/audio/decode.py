"""Decode audio files to float32 NumPy arrays with bounded memory.

Two decoders are used, in this order:

* **soundfile** (libsndfile 1.2): WAV, FLAC, Ogg/Vorbis, Ogg/Opus, MP3, AIFF, AU and the
  other formats listed by :func:`soundfile.available_formats`.
* **ffmpeg** (a subprocess writing raw float32 PCM to a pipe): everything libsndfile
  cannot open, e.g. M4A/AAC, ALAC, WMA, Ogg files with a Theora cover stream, the audio
  track of video files; and MP3 files without a Xing/Info header, whose length
  libsndfile guesses from the first frame and stops decoding at.

Decoding is block-wise: each block is checked, down-mixed (when ``mono=True``) and
resampled with a streaming :class:`soxr.ResampleStream` before the next one is read, so
peak memory is about the output array plus one block, never the whole native-rate,
multi-channel signal.

Every failure surfaces as an :class:`AudioError` subclass whose ``str()`` is a short,
user-facing reason; the underlying library exception, if any, is chained as
``__cause__``.

Header reading lives in :mod:`~songscape.audio.probing`, the ffmpeg backend in
:mod:`~songscape.audio.ffmpeg`; this module decodes, and re-exports what callers need
(:func:`probe`, :class:`AudioInfo`, :func:`ffmpeg_available`, the error classes).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from songscape.audio.ffmpeg import ffmpeg_available, ffmpeg_blocks
from songscape.audio.info import AudioInfo, is_truncated
from songscape.audio.probing import probe, probe_file
from songscape.errors import (
    AudioError,
    AudioTooLongError,
    AudioTooShortError,
    DecodeError,
    SilentAudioError,
)

__all__ = [
    "AudioError",
    "AudioInfo",
    "AudioTooLongError",
    "AudioTooShortError",
    "DecodeError",
    "SilentAudioError",
    "check_signal",
    "ffmpeg_available",
    "load_audio",
    "probe",
    "to_mono",
]

#: Frames read per block. 65536 frames of 44.1 kHz stereo float32 is 512 KiB.
DEFAULT_BLOCK_FRAMES = 65536

#: soxr quality. 'HQ' (20-bit precision, linear phase) is soxr's default and what
#: librosa's default ``res_type="soxr_hq"`` uses, so results match ``librosa.load``.
RESAMPLE_QUALITY = "HQ"

#: While decoding, a stream that runs this far past ``max_duration_s`` is rejected even
#: though its header said it fits (the header lied, or declared no length at all).
OVERRUN_SLACK_S = 0.5

# Output capacity guess for streams that declare no length; grows by 1.5x as needed.
_UNKNOWN_LENGTH_GUESS_S = 300.0
_FFMPEG_CAPACITY_MARGIN_S = 1.0


def load_audio(
    path: str | os.PathLike[str],
    sr: int | None = 22050,
    mono: bool = True,
    max_duration_s: float | None = None,
    *,
    block_frames: int = DEFAULT_BLOCK_FRAMES,
) -> tuple[np.ndarray, AudioInfo]:
    """Decode an audio file to a float32 array, block by block.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    sr : int or None
        Target sampling rate in Hz; ``None`` keeps the native rate. Resampling uses
        :class:`soxr.ResampleStream` at :data:`RESAMPLE_QUALITY`, which gives exactly
        the samples :func:`soxr.resample` gives on the whole signal.
    mono : bool
        Average the channels (per block, before resampling).
    max_duration_s : float or None
        Reject audio longer than this many seconds: checked against the header before
        anything is decoded (unless its length is only a bitrate estimate), and again
        while decoding, in case the header was wrong, with :data:`OVERRUN_SLACK_S` grace.
    block_frames : int
        Native-rate frames decoded per block; bounds the working memory.

    Returns
    -------
    y : np.ndarray, dtype float32
        Shape ``(n,)`` if ``mono``, else ``(channels, n)`` (also for a mono file).
    info : AudioInfo
        The file's native properties; ``duration_s`` is the decoded duration.

    Raises
    ------
    DecodeError
        If the file cannot be decoded, or is truncated: the header declares more audio
        than the file holds, by more than both ``TRUNCATION_MIN_MISSING_S`` and
        ``TRUNCATION_MIN_MISSING_FRACTION`` of :mod:`songscape.audio.info` (a shortfall
        below that is decoded as is), or an Ogg file ends inside a page.
    AudioTooLongError
        If the audio exceeds ``max_duration_s``.
    """
    if sr is not None and (int(sr) != sr or sr <= 0):
        raise ValueError(f"sr must be a positive integer or None, got {sr!r}")
    if max_duration_s is not None and not max_duration_s > 0:
        raise ValueError(f"max_duration_s must be positive or None, got {max_duration_s!r}")
    if block_frames < 1:
        raise ValueError(f"block_frames must be >= 1, got {block_frames!r}")

    probed = probe_file(path)
    info = probed.info
    # A length the header states, as opposed to one guessed from a bitrate.
    declared = info.duration_s if probed.length_exact and not math.isnan(info.duration_s) else None
    # Refuse before decoding: a 3-hour mix should cost a header read, not a decode.
    if max_duration_s is not None and declared is not None and declared > max_duration_s:
        raise AudioTooLongError(_too_long_message(declared, max_duration_s))

    native_sr = info.sample_rate
    target_sr = native_sr if sr is None else int(sr)
    out_channels = 1 if mono else info.channels

    resampler = None
    if target_sr != native_sr:
        resampler = soxr.ResampleStream(
            native_sr, target_sr, out_channels, dtype="float32", quality=RESAMPLE_QUALITY
        )
    capacity_s = info.duration_s if not math.isnan(info.duration_s) else _UNKNOWN_LENGTH_GUESS_S
    if info.decoder == "ffmpeg":
        # ffprobe durations leave out codec padding or are estimates; growing would cost
        # a copy, so over-allocate a little (mono output is shrunk in place).
        capacity_s += _FFMPEG_CAPACITY_MARGIN_S
    # soxr emits round(n * target / native) samples; +2 covers rounding either way.
    sink = _Sink(None if mono else out_channels, math.ceil(capacity_s * target_sr) + 2)

    overrun_limit = None if max_duration_s is None else max_duration_s + OVERRUN_SLACK_S
    n_native = 0
    if info.decoder == "soundfile":
        blocks = soundfile_blocks(probed.path, block_frames)
    else:
        blocks = ffmpeg_blocks(probed.path, info, block_frames)
    with closing(blocks):  # stops ffmpeg / closes the file if we bail out early
        while True:
            try:
                block = next(blocks)
            except StopIteration:
                break
            except (sf.SoundFileError, RuntimeError, OSError, ValueError) as exc:
                # libsndfile/mpg123 raise RuntimeError subclasses; a pipe read, OSError.
                raise DecodeError(_mid_stream_failure(n_native / native_sr, declared, exc)) from exc
            if not np.isfinite(block).all():
                raise DecodeError(
                    f"corrupt audio: non-finite samples (NaN/inf) at {n_native / native_sr:.1f} s"
                )
            n_native += block.shape[0]
            if overrun_limit is not None and n_native / native_sr > overrun_limit:
                raise AudioTooLongError(
                    _too_long_message(n_native / native_sr, max_duration_s, running=True)
                )
            block = block.mean(axis=1, dtype=np.float32) if mono else block
            if resampler is not None:
                block = resampler.resample_chunk(np.ascontiguousarray(block))
            sink.append(block)
    if resampler is not None:
        empty = np.zeros((0,) if mono else (0, out_channels), dtype=np.float32)
        sink.append(resampler.resample_chunk(empty, last=True))

    decoded_s = n_native / native_sr
    if declared is not None and is_truncated(decoded_s, declared):
        raise DecodeError(f"truncated: decoded {decoded_s:.1f} s of {declared:.1f} s declared")
    y = sink.finish()
    if resampler is not None:
        # librosa.load returns ceil(n * target / native) samples (soxr gives the rounded
        # count); matching it keeps frame counts identical to librosa-based references.
        y = librosa_length(y, math.ceil(n_native * target_sr / native_sr))
    return y, AudioInfo(info.format, native_sr, info.channels, decoded_s, info.decoder)


def librosa_length(y: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad the last axis of ``y`` to ``n`` samples."""
    have = y.shape[-1]
    if have == n:
        return y
    if have > n:
        return y[..., :n]
    pad = [(0, 0)] * (y.ndim - 1) + [(0, n - have)]
    return np.pad(y, pad)


def check_signal(
    y: np.ndarray,
    sr: float,
    min_duration_s: float = 1.0,
    silence_dbfs: float = -70.0,
) -> None:
    """Reject decoded audio that is too short or silent to analyse.

    Parameters
    ----------
    y : np.ndarray
        Audio, shape ``(n,)`` or ``(channels, n)``, full scale = 1.0.
    sr : float
        Sampling rate of ``y``, in Hz.
    min_duration_s : float
        Minimum duration, in seconds.
    silence_dbfs : float
        Audio whose absolute peak is below this level, in dBFS, counts as silent.

    Raises
    ------
    AudioTooShortError
        If ``y`` lasts less than ``min_duration_s``.
    SilentAudioError
        If the peak of ``y`` is below ``silence_dbfs``.
    """
    duration_s = y.shape[-1] / sr
    if duration_s < min_duration_s:
        raise AudioTooShortError(
            f"too short: {duration_s:.2f} s (the minimum is {min_duration_s:g} s)"
        )
    peak = float(np.max(np.abs(y)))
    if peak == 0.0:
        raise SilentAudioError("silent: every sample is zero (digital silence)")
    peak_dbfs = 20.0 * math.log10(peak)
    if peak_dbfs < silence_dbfs:
        raise SilentAudioError(
            f"silent: peak level {peak_dbfs:.1f} dBFS is below {silence_dbfs:g} dBFS"
        )


def to_mono(y: np.ndarray) -> np.ndarray:
    """Average the channels of ``y``.

    Parameters
    ----------
    y : np.ndarray
        Shape ``(n,)`` (returned as is) or ``(channels, n)``.

    Returns
    -------
    np.ndarray
        Shape ``(n,)``, same dtype as ``y``.
    """
    if y.ndim == 1:
        return y
    return np.mean(y, axis=0, dtype=y.dtype)


def _too_long_message(duration_s: float, limit_s: float, running: bool = False) -> str:
    if running:
        return (
            f"too long: still playing at {_human_duration(duration_s)}, past the "
            f"{_human_duration(limit_s)} limit, though its header said less "
            "(raise max_duration_s to accept it)"
        )
    return (
        f"too long: {_human_duration(duration_s)} exceeds the {_human_duration(limit_s)} "
        "limit (raise max_duration_s to accept it)"
    )


def _human_duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _mid_stream_failure(at_s: float, declared_s: float | None, exc: BaseException) -> str:
    of = f" of {declared_s:.1f} s declared" if declared_s is not None else ""
    detail = str(exc).strip().rstrip(".")
    detail = re.sub(r"^Error (?:(?:reading|opening) '.*?')?\s*:\s*", "", detail)
    return f"truncated or corrupt: decoding failed at {at_s:.1f} s{of} ({detail[:160]})"


def soundfile_blocks(path: Path, block_frames: int) -> Iterator[np.ndarray]:
    """Yield float32 blocks of shape (frames, channels); each is reused by the next."""
    with sf.SoundFile(str(path)) as f:
        buf = np.empty((block_frames, f.channels), dtype=np.float32)
        while True:
            block = f.read(block_frames, dtype="float32", always_2d=True, out=buf)
            if block.shape[0] == 0:
                return
            yield block


class _Sink:
    """Pre-allocated output that blocks are copied into; grows only if the header lied."""

    def __init__(self, channels: int | None, capacity: int) -> None:
        self._channels = channels
        shape = (capacity,) if channels is None else (channels, capacity)
        self._buf = np.empty(shape, dtype=np.float32)
        self._n = 0

    def append(self, block: np.ndarray) -> None:
        m = block.shape[0]
        if self._n + m > self._buf.shape[-1]:
            self._grow(self._n + m)
        if self._channels is None:
            self._buf[self._n : self._n + m] = block
        else:
            self._buf[:, self._n : self._n + m] = block.T
        self._n += m

    def _grow(self, needed: int) -> None:
        capacity = max(needed, int(self._buf.shape[-1] * 1.5) + 1)
        shape = (capacity,) if self._channels is None else (self._channels, capacity)
        grown = np.empty(shape, dtype=np.float32)
        grown[..., : self._n] = self._buf[..., : self._n]
        self._buf = grown

    def finish(self) -> np.ndarray:
        buf, n = self._buf, self._n
        if n == buf.shape[-1]:
            return buf
        if self._channels is None:
            # realloc in place: no second copy of the output.
            buf.resize((n,), refcheck=False)
            return buf
        return np.ascontiguousarray(buf[:, :n])
