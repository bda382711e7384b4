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
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

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

#: A file is *truncated* when the audio actually present falls short of the length its
#: header declares by more than BOTH of these. Codec priming/padding and header rounding
#: (an MP3 frame is 26 ms, an AAC frame 23 ms) stay far below; a cut download does not.
TRUNCATION_MIN_MISSING_S = 0.5
TRUNCATION_MIN_MISSING_FRACTION = 0.02

#: While decoding, a stream that runs this far past ``max_duration_s`` is rejected even
#: though its header said it fits (the header lied, or declared no length at all).
OVERRUN_SLACK_S = 0.5

#: ffprobe must answer within this many seconds.
FFPROBE_TIMEOUT_S = 30.0
#: ffmpeg decoding gets ``FFMPEG_MIN_TIMEOUT_S + duration / FFMPEG_MIN_SPEED`` seconds:
#: a real-time factor of 20 is far below ffmpeg's usual speed for audio codecs.
FFMPEG_MIN_TIMEOUT_S = 60.0
FFMPEG_MIN_SPEED = 20.0

# Output capacity guess for streams that declare no length; grows by 1.5x as needed.
_UNKNOWN_LENGTH_GUESS_S = 300.0
_FFMPEG_CAPACITY_MARGIN_S = 1.0

# Extensions libsndfile never reads: tell the user ffmpeg is what they are missing.
_FFMPEG_ONLY_EXTENSIONS = frozenset(
    {"aac", "ac3", "alac", "amr", "ape", "dts", "m4a", "m4b", "m4p", "mka", "mp4", "mpc",
     "ra", "tta", "webm", "wma", "wv"}
)

# Magic numbers of common non-audio files that end up in music folders.
_NON_AUDIO_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "a program"),
)
_SNIFF_BYTES = 512

# libsndfile logs a data-chunk size that disagrees with the file length as
# "data : 882000 (should be 440978)" (WAV/W64), "SSND : ..." (AIFF), "Data Size : ..." (AU).
_DATA_SIZE_LOG = re.compile(
    r"^\s*(?:data|SSND|Data Size)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE
)
# Data sizes that mean "unknown" (streamed writers) rather than a real length.
_UNKNOWN_DATA_SIZE = 0x7FFFF000

# libsndfile's log for an MP3 without a Xing/Info/VBRI header (length = a guess).
_MP3_LENGTH_GUESSED = re.compile(r"^\s*bitrate mode\s*:\s*constant", re.MULTILINE)
# ffprobe's warning when it does the same.
_FFPROBE_ESTIMATED = b"Estimating duration from bitrate"

_OGG_CAPTURE = b"OggS\x00"
_OGG_MAX_PAGE = 27 + 255 + 255 * 255


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, as reported by its header (:func:`probe`) or by decoding it.

    Attributes
    ----------
    format : str
        Container and codec, e.g. ``"WAV/PCM_16"``, ``"OGG/VORBIS"``, ``"OGG/OPUS"``,
        ``"MP3"``, ``"FLAC"``, ``"M4A/AAC"``, ``"ASF/WMAV2"``.
    sample_rate : int
        Native sampling rate, in Hz.
    channels : int
        Number of channels.
    duration_s : float
        Duration in seconds. For :func:`probe`, the header's: ``nan`` if the container
        declares none, and only an estimate from the bitrate for MP3 files without a
        Xing/Info header and raw AAC streams. For :func:`load_audio`, the decoded one.
    decoder : str
        ``"soundfile"`` or ``"ffmpeg"``.
    """

    format: str
    sample_rate: int
    channels: int
    duration_s: float
    decoder: str


def ffmpeg_available() -> bool:
    """Whether both ``ffmpeg`` and ``ffprobe`` are on ``$PATH``.

    Returns
    -------
    bool
        True if formats libsndfile cannot read (M4A, WMA, ...) can be decoded.
    """
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Read a file's format, sample rate, channels and duration from its header.

    Cheap: no audio is decoded. libsndfile is asked first, ffprobe second.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.

    Returns
    -------
    AudioInfo
        ``duration_s`` is the header's duration (``nan`` if the container has none).

    Raises
    ------
    DecodeError
        If the file is missing, unreadable, empty, not audio, in an unknown format, or
        its header shows it is truncated.
    """
    return _probe(path).info


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
        than the file holds, by more than both :data:`TRUNCATION_MIN_MISSING_S` and
        :data:`TRUNCATION_MIN_MISSING_FRACTION` (a shortfall below that is decoded as is),
        or an Ogg file ends inside a page.
    AudioTooLongError
        If the audio exceeds ``max_duration_s``.
    """
    if sr is not None and (int(sr) != sr or sr <= 0):
        raise ValueError(f"sr must be a positive integer or None, got {sr!r}")
    if max_duration_s is not None and not max_duration_s > 0:
        raise ValueError(f"max_duration_s must be positive or None, got {max_duration_s!r}")
    if block_frames < 1:
        raise ValueError(f"block_frames must be >= 1, got {block_frames!r}")

    probed = _probe(path)
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
        blocks = _soundfile_blocks(probed.path, block_frames)
    else:
        blocks = _ffmpeg_blocks(probed.path, info, block_frames)
    with closing(blocks):  # stops ffmpeg / closes the file if we bail out early
        while True:
            try:
                block = next(blocks)
            except StopIteration:
                break
            except AudioError:
                raise
            except Exception as exc:  # libsndfile/mpg123 raise RuntimeError subclasses
                raise DecodeError(
                    _mid_stream_failure(n_native / native_sr, declared, exc)
                ) from exc
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
    if declared is not None and _is_truncated(decoded_s, declared):
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


# --------------------------------------------------------------------------- probing


@dataclass(frozen=True)
class _Probed:
    info: AudioInfo
    path: Path  # as checked by _open_check
    length_exact: bool = True  # False: duration_s is a guess from the bitrate


# Recent probe results keyed by (path, size, mtime, ctime): the pipeline reads a file's
# header for its metadata and again when decoding it; ffprobe costs ~100 ms a call.
# ctime is in the key because chmod changes it (and readability) but not mtime.
_PROBE_MEMO: dict[tuple[str, int, int, int], _Probed] = {}
_PROBE_MEMO_SIZE = 8


def _probe(path: str | os.PathLike[str]) -> _Probed:
    try:
        st = os.stat(path)
        key = (os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    except OSError:
        key = None  # _open_check reports the problem
    if key is not None and key in _PROBE_MEMO:
        return _PROBE_MEMO[key]
    probed = _probe_uncached(path)
    if key is not None:
        if len(_PROBE_MEMO) >= _PROBE_MEMO_SIZE:
            _PROBE_MEMO.pop(next(iter(_PROBE_MEMO)))
        _PROBE_MEMO[key] = probed
    return probed


def _probe_uncached(path: str | os.PathLike[str]) -> _Probed:
    p, head, size = _open_check(path)
    length_exact = True
    try:
        sf_info = sf.info(str(p))
    except (sf.SoundFileError, RuntimeError, OSError, ValueError) as exc:
        # Not a libsndfile format, or one it cannot handle (e.g. an Ogg file that also
        # carries a Theora cover-art stream): ffmpeg gets a chance.
        info, length_exact = _probe_ffmpeg(p, head, exc)
    else:
        if sf_info.samplerate <= 0 or sf_info.channels <= 0:
            raise DecodeError(
                f"invalid header: {sf_info.samplerate} Hz, {sf_info.channels} channels"
            )
        info = AudioInfo(
            format=_soundfile_format_name(sf_info.format, sf_info.subtype),
            sample_rate=int(sf_info.samplerate),
            channels=int(sf_info.channels),
            duration_s=sf_info.frames / sf_info.samplerate,
            decoder="soundfile",
        )
        _check_header_truncation(sf_info.extra_info, info.duration_s)
        if sf_info.format == "MP3" and _MP3_LENGTH_GUESSED.search(sf_info.extra_info):
            # No Xing/Info/VBRI header: libsndfile guesses the length from the first
            # frame's bitrate and stops reading there, silently dropping the rest of a
            # VBR file. ffmpeg decodes to the end of the stream.
            length_exact = False
            if ffmpeg_available():
                try:
                    info, _ = _probe_ffmpeg(p, head, None)
                except DecodeError:
                    pass  # libsndfile's partial decode beats none
    if info.format.startswith("OGG") and _ogg_ends_mid_page(p, size):
        raise DecodeError(
            f"truncated: the file ends inside an Ogg page after {info.duration_s:.1f} s "
            "of audio (incomplete copy or download?)"
        )
    return _Probed(info, p, length_exact)


def _open_check(path: str | os.PathLike[str]) -> tuple[Path, bytes, int]:
    """Stat and open ``path``; return it with its first bytes and its size."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError as exc:
        reason = "broken symbolic link" if p.is_symlink() else "file not found"
        raise DecodeError(reason) from exc
    except PermissionError as exc:
        raise DecodeError("permission denied: cannot access the file's folder") from exc
    except OSError as exc:
        raise DecodeError(f"cannot access the file: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(st.st_mode):
        raise DecodeError("is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        # A FIFO or device would block or never end.
        raise DecodeError("not a regular file (pipe, socket or device)")
    if st.st_size == 0:
        raise DecodeError("empty file (0 bytes)")
    try:
        with open(p, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except PermissionError as exc:
        raise DecodeError("permission denied: the file is not readable") from exc
    except OSError as exc:
        raise DecodeError(f"cannot read the file: {exc.strerror or exc}") from exc
    return p, head, st.st_size


def _soundfile_format_name(container: str, subtype: str) -> str:
    # FLAC and MP3 imply their codec; elsewhere the subtype says what is inside.
    if container == "FLAC" or (container == "MP3" and subtype == "MPEG_LAYER_III"):
        return container
    return f"{container}/{subtype}"


def _check_header_truncation(extra_info: str, present_s: float) -> None:
    """Raise if libsndfile's header log shows a data chunk longer than the file.

    For WAV, AIFF and AU, libsndfile clamps the frame count to the bytes actually
    present and logs the declared size, so this is the only place the cut shows.
    """
    match = _DATA_SIZE_LOG.search(extra_info)
    if match is None:
        return
    declared_bytes, present_bytes = int(match.group(1)), int(match.group(2))
    if declared_bytes == 0 or declared_bytes >= _UNKNOWN_DATA_SIZE or present_bytes == 0:
        return
    declared_s = present_s * declared_bytes / present_bytes
    if _is_truncated(present_s, declared_s):
        raise DecodeError(
            f"truncated: the file holds {present_s:.1f} s of the {declared_s:.1f} s "
            "declared in its header"
        )


def _ogg_ends_mid_page(path: Path, size: int) -> bool:
    """Whether an Ogg file stops inside its last page (a cut file).

    Ogg declares no total length, so a cut file decodes as a shorter, valid one.
    What gives it away: the last complete page is followed by the start of a page
    that does not fit in the file. A page counts only if another page ends exactly
    where it starts, so an ``OggS`` inside compressed data is not mistaken for one.
    """
    tail_len = min(size, 2 * _OGG_MAX_PAGE)
    try:
        with open(path, "rb") as fh:
            fh.seek(size - tail_len)
            tail = fh.read(tail_len)
    except OSError:
        return False
    at_file_start = tail_len == size
    ends: dict[int, int] = {}  # page start -> page end, for pages complete in the tail
    for m in re.finditer(re.escape(_OGG_CAPTURE), tail):
        start = m.start()
        if start + 27 > len(tail):
            continue
        n_segments = tail[start + 26]
        table_end = start + 27 + n_segments
        if table_end > len(tail):
            continue
        end = table_end + sum(tail[start + 27 : table_end])
        if end <= len(tail):
            ends[start] = end
    chained = [s for s in ends if s in ends.values() or (at_file_start and s == 0)]
    if not chained:
        return False  # too little structure to judge
    rest = tail[max(ends[s] for s in chained) :]
    # Nothing, or trailing junk (e.g. an ID3v1 tag), is fine; a partial page is not.
    return len(rest) > 0 and (
        rest.startswith(_OGG_CAPTURE) or _OGG_CAPTURE.startswith(rest)
    )


def _is_truncated(present_s: float, declared_s: float) -> bool:
    missing_s = declared_s - present_s
    return (
        missing_s > TRUNCATION_MIN_MISSING_S
        and missing_s > TRUNCATION_MIN_MISSING_FRACTION * declared_s
    )


# ---------------------------------------------------------------------- ffmpeg probe


def _probe_ffmpeg(
    path: Path, head: bytes, sf_error: BaseException | None
) -> tuple[AudioInfo, bool]:
    """AudioInfo from ffprobe, and whether its duration is exact (not a bitrate guess)."""
    if not ffmpeg_available():
        raise DecodeError(_unreadable_without_ffmpeg(path, head)) from sf_error
    cmd = [
        "ffprobe", "-v", "level+warning", "-select_streams", "a:0",
        "-show_entries",
        "format=format_name,duration:stream=codec_name,sample_rate,channels,duration",
        "-of", "json", _ffmpeg_url(path),
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, capture_output=True, timeout=FFPROBE_TIMEOUT_S, check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise DecodeError(f"ffprobe gave no answer within {FFPROBE_TIMEOUT_S:g} s") from exc
    except OSError as exc:
        raise DecodeError(f"could not run ffprobe: {exc.strerror or exc}") from exc
    try:
        report = json.loads(proc.stdout or b"{}")
    except ValueError:
        report = {}
    streams = report.get("streams") or []
    stream = streams[0] if streams else {}
    sample_rate = _as_int(stream.get("sample_rate"))
    channels = _as_int(stream.get("channels"))
    if proc.returncode != 0 or not stream or not sample_rate or not channels:
        not_audio = _sniff_non_audio(head)
        if not_audio:
            raise DecodeError(not_audio) from sf_error
        if proc.returncode == 0 and not streams:
            raise DecodeError("no audio stream found in the file") from sf_error
        detail = _ffmpeg_error_detail(proc.stderr, errors_only=True) or "no valid audio stream"
        if "moov atom not found" in detail:
            # ffmpeg's muxer writes the MP4 index last, so a cut M4A loses it first.
            raise DecodeError(
                "corrupt or truncated MP4/M4A: its index (moov atom) is missing"
            ) from sf_error
        raise DecodeError(f"not a recognised audio file, or corrupt ({detail})") from sf_error
    fmt = report.get("format") or {}
    duration = _as_float(stream.get("duration"))
    if duration is None:
        duration = _as_float(fmt.get("duration"))
    info = AudioInfo(
        format=_ffmpeg_format_name(fmt.get("format_name", ""), stream.get("codec_name", "")),
        sample_rate=sample_rate,
        channels=channels,
        duration_s=math.nan if duration is None else duration,
        decoder="ffmpeg",
    )
    return info, _FFPROBE_ESTIMATED not in proc.stderr


def _ffmpeg_url(path: Path) -> str:
    # "file:" + absolute path: a name like "-x.m4a" or "concat:a|b" stays a file name.
    return "file:" + str(path.resolve())


def _ffmpeg_format_name(format_name: str, codec_name: str) -> str:
    aliases = {"mov,mp4,m4a,3gp,3g2,mj2": "M4A", "matroska,webm": "MKA"}
    container = aliases.get(format_name, format_name.split(",")[0]).upper() or "UNKNOWN"
    codec = codec_name.upper()
    return container if not codec or codec == container else f"{container}/{codec}"


def _ffmpeg_error_detail(stderr: bytes, errors_only: bool = False) -> str:
    """First error line of ffmpeg's output, without ``[demuxer @ 0x..] [error]`` or path.

    Run with ``-v level+...``, ffmpeg tags each line with its level; warnings such as
    "misdetection possible" come first but say less than the error that follows.
    """
    lines = stderr.decode("utf-8", "replace").splitlines()
    errors = [line for line in lines if re.search(r"\[(?:error|fatal|panic)\]", line)]
    for raw in errors if errors or errors_only else lines:
        line = re.sub(r"^(?:\[[^\]]*\]\s*)+", "", raw.strip())
        line = re.sub(r"^file:.*?:\s+", "", line)
        if line:
            return line[:160]
    return ""


def _sniff_non_audio(head: bytes) -> str | None:
    """A reason string if the first bytes show the file is clearly not audio."""
    for magic, what in _NON_AUDIO_MAGIC:
        if head.startswith(magic):
            return f"not an audio file (looks like {what})"
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniff window is still text.
        if exc.start < len(head) - 3:
            return None
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "not an audio file (looks like a web page)"
    return "not an audio file (it contains text)"


def _unreadable_without_ffmpeg(path: Path, head: bytes) -> str:
    not_audio = _sniff_non_audio(head)
    if not_audio:
        return not_audio
    ext = path.suffix.lower().lstrip(".")
    if ext in _FFMPEG_ONLY_EXTENSIONS:
        return f"{ext} needs ffmpeg, which is not installed"
    return (
        "not a recognised audio file, or corrupt (libsndfile cannot read it; "
        "ffmpeg, which might, is not installed)"
    )


def _as_int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _as_float(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) and out >= 0 else None


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


# -------------------------------------------------------------------------- decoding


def _soundfile_blocks(path: Path, block_frames: int) -> Iterator[np.ndarray]:
    """Yield float32 blocks of shape (frames, channels); each is reused by the next."""
    with sf.SoundFile(str(path)) as f:
        buf = np.empty((block_frames, f.channels), dtype=np.float32)
        while True:
            block = f.read(block_frames, dtype="float32", always_2d=True, out=buf)
            if block.shape[0] == 0:
                return
            yield block


def _ffmpeg_blocks(path: Path, info: AudioInfo, block_frames: int) -> Iterator[np.ndarray]:
    """Yield float32 blocks of shape (frames, channels) read from an ffmpeg pipe."""
    channels = info.channels
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "level+error",
        "-i", _ffmpeg_url(path), "-map", "0:a:0", "-vn", "-sn", "-dn",
        # Pin rate and layout so the raw stream matches the probe even if it changes.
        "-ar", str(info.sample_rate), "-ac", str(channels),
        "-f", "f32le", "-c:a", "pcm_f32le", "pipe:1",
    ]  # fmt: skip
    duration = 0.0 if math.isnan(info.duration_s) else info.duration_s
    timeout_s = FFMPEG_MIN_TIMEOUT_S + duration / FFMPEG_MIN_SPEED
    try:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise DecodeError(f"could not run ffmpeg: {exc.strerror or exc}") from exc
    assert proc.stdout is not None and proc.stderr is not None
    # Drain stderr in a thread: a corrupt file can log more than the pipe buffer holds,
    # which would block ffmpeg (and us, waiting on stdout).
    err_lines: deque[bytes] = deque(maxlen=20)
    drain = threading.Thread(target=err_lines.extend, args=(proc.stderr,), daemon=True)
    drain.start()
    timed_out = threading.Event()

    def _kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout_s, _kill)
    timer.start()
    frame_bytes = 4 * channels
    try:
        while True:
            data = proc.stdout.read(block_frames * frame_bytes)
            usable = len(data) - len(data) % frame_bytes
            if usable == 0:
                break
            yield np.frombuffer(data, dtype="<f4", count=usable // 4).reshape(-1, channels)
        returncode = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        drain.join(timeout=5)
        proc.stderr.close()
    if timed_out.is_set():
        raise DecodeError(f"ffmpeg did not finish decoding within {timeout_s:.3g} s")
    if returncode != 0:
        detail = _ffmpeg_error_detail(b"".join(err_lines)) or f"exit status {returncode}"
        raise DecodeError(f"ffmpeg could not decode it ({detail})")


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
