"""The ffmpeg backend: ffprobe for headers, ffmpeg decoding raw float32 PCM to a pipe.

Used for everything libsndfile cannot open (M4A/AAC, ALAC, WMA, Ogg with a Theora
cover stream, the audio of video files) and for MP3 files without a Xing/Info header.
Both tools run as subprocesses with timeouts; every failure is a :class:`DecodeError`
with a short, user-facing reason.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from songscape.audio.info import AudioInfo, sniff_non_audio
from songscape.errors import DecodeError

#: ffprobe must answer within this many seconds.
FFPROBE_TIMEOUT_S = 30.0
#: ffmpeg decoding gets ``FFMPEG_MIN_TIMEOUT_S + duration / FFMPEG_MIN_SPEED`` seconds:
#: a real-time factor of 20 is far below ffmpeg's usual speed for audio codecs.
FFMPEG_MIN_TIMEOUT_S = 60.0
FFMPEG_MIN_SPEED = 20.0

# Extensions libsndfile never reads: tell the user ffmpeg is what they are missing.
_FFMPEG_ONLY_EXTENSIONS = frozenset(
    {"aac", "ac3", "alac", "amr", "ape", "dts", "m4a", "m4b", "m4p", "mka", "mp4", "mpc",
     "ra", "tta", "webm", "wma", "wv"}
)  # fmt: skip

# ffprobe's warning when it estimates a duration from the bitrate.
_FFPROBE_ESTIMATED = b"Estimating duration from bitrate"


def ffmpeg_available() -> bool:
    """Whether both ``ffmpeg`` and ``ffprobe`` are on ``$PATH``.

    Returns
    -------
    bool
        True if formats libsndfile cannot read (M4A, WMA, ...) can be decoded.
    """
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def ffprobe_info(path: Path, head: bytes, sf_error: BaseException | None) -> tuple[AudioInfo, bool]:
    """AudioInfo from ffprobe, and whether its duration is exact (not a bitrate guess).

    ``head`` is the file's first bytes; ``sf_error``, libsndfile's refusal (if any), is
    chained to the :class:`DecodeError` raised when ffprobe cannot read the file either.
    """
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
            cmd,
            capture_output=True,
            timeout=FFPROBE_TIMEOUT_S,
            check=False,
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
        not_audio = sniff_non_audio(head)
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


def _unreadable_without_ffmpeg(path: Path, head: bytes) -> str:
    not_audio = sniff_non_audio(head)
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


def ffmpeg_blocks(path: Path, info: AudioInfo, block_frames: int) -> Iterator[np.ndarray]:
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
