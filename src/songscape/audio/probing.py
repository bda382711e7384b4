"""Read a file's header: format, sample rate, channels, duration; refuse broken files early.

libsndfile is asked first, ffprobe second. Besides reading the header, probing
catches what would otherwise decode as something else: a missing, empty or
unreadable file, a folder or pipe, a non-audio file, a WAV/AIFF/AU whose data chunk
is longer than the file, an Ogg file cut inside a page. Recent results are memoised
by (path, size, mtime, ctime), so probing then decoding a file reads its header once.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from songscape.audio.ffmpeg import ffmpeg_available, ffprobe_info
from songscape.audio.info import SNIFF_BYTES, AudioInfo, is_truncated
from songscape.errors import DecodeError

# libsndfile logs a data-chunk size that disagrees with the file length as
# "data : 882000 (should be 440978)" (WAV/W64), "SSND : ..." (AIFF), "Data Size : ..." (AU).
_DATA_SIZE_LOG = re.compile(
    r"^\s*(?:data|SSND|Data Size)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE
)
# Data sizes that mean "unknown" (streamed writers) rather than a real length.
_UNKNOWN_DATA_SIZE = 0x7FFFF000

# libsndfile's log for an MP3 without a Xing/Info/VBRI header (length = a guess).
_MP3_LENGTH_GUESSED = re.compile(r"^\s*bitrate mode\s*:\s*constant", re.MULTILINE)

_OGG_CAPTURE = b"OggS\x00"
_OGG_MAX_PAGE = 27 + 255 + 255 * 255


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
    return probe_file(path).info


@dataclass(frozen=True)
class Probed:
    """What :func:`probe_file` found: the header's info and the path it checked."""

    info: AudioInfo
    path: Path  # as checked by _open_check
    length_exact: bool = True  # False: duration_s is a guess from the bitrate


# Recent probe results keyed by (path, size, mtime, ctime): the pipeline reads a file's
# header for its metadata and again when decoding it; ffprobe costs ~100 ms a call.
# ctime is in the key because chmod changes it (and readability) but not mtime.
_PROBE_MEMO: dict[tuple[str, int, int, int], Probed] = {}
_PROBE_MEMO_SIZE = 8


def probe_file(path: str | os.PathLike[str]) -> Probed:
    """Like :func:`probe`, but also says whether the duration is exact (memoised)."""
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


def clear_probe_memo() -> None:
    """Forget the memoised headers (tests that fake I/O failures under a probe)."""
    _PROBE_MEMO.clear()


def _probe_uncached(path: str | os.PathLike[str]) -> Probed:
    p, head, size = _open_check(path)
    length_exact = True
    try:
        sf_info = sf.info(str(p))
    except (sf.SoundFileError, RuntimeError, OSError, ValueError) as exc:
        # Not a libsndfile format, or one it cannot handle (e.g. an Ogg file that also
        # carries a Theora cover-art stream): ffmpeg gets a chance.
        info, length_exact = ffprobe_info(p, head, exc)
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
                    info, _ = ffprobe_info(p, head, None)
                except DecodeError:
                    pass  # libsndfile's partial decode beats none
    if info.format.startswith("OGG") and _ogg_ends_mid_page(p, size):
        raise DecodeError(
            f"truncated: the file ends inside an Ogg page after {info.duration_s:.1f} s "
            "of audio (incomplete copy or download?)"
        )
    return Probed(info, p, length_exact)


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
            head = fh.read(SNIFF_BYTES)
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
    if is_truncated(present_s, declared_s):
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
    return len(rest) > 0 and (rest.startswith(_OGG_CAPTURE) or _OGG_CAPTURE.startswith(rest))
