"""Finding audio files and fingerprinting their content."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from songscape.audio.info import AUDIO_EXTENSIONS

HASH_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class FileStat:
    """Size and modification time: the cheap check for "unchanged since last ingest"."""

    size_bytes: int
    mtime: float


def is_audio_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def scan_audio_files(root: str | os.PathLike) -> Iterator[Path]:
    """Audio files under ``root`` (or ``root`` itself if it is a file), absolute, sorted.

    Hidden files and directories (names starting with ".") are skipped; symbolic
    links to directories are not followed (they can loop); paths are resolved so
    one file reached two ways is one path. A symbolic link that leads nowhere (its
    target is missing, or links loop) keeps its own path, so it is reported as itself.
    """
    root = Path(root).expanduser()
    if root.is_file():
        yield resolved(root)
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not is_audio_path(name):
                continue
            yield resolved(Path(dirpath) / name)


def resolved(path: Path) -> Path:
    """``path`` with its symbolic links resolved; a link that leads nowhere (missing
    target, loop) is returned unresolved (made absolute)."""
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: a link loop, before Python 3.13
        return path.absolute()


def stat_file(path: str | os.PathLike) -> FileStat | None:
    """Size and mtime of a file, or None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return FileStat(st.st_size, st.st_mtime)


def content_hash(path: str | os.PathLike, chunk_bytes: int = HASH_CHUNK_BYTES) -> str:
    """BLAKE2b-256 of the file's bytes, hex.

    Raises
    ------
    OSError
        When the file cannot be read, is not a regular file (a FIFO would block the
        read forever), or is a symbolic link leading nowhere.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise OSError(f"broken symbolic link (to {os.readlink(path)})") from None
        raise
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise OSError("symbolic link loop") from None
        raise
    if not stat.S_ISREG(st.st_mode):
        raise OSError("not a regular file (a FIFO, socket or device)")
    digest = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def path_id(path: str | os.PathLike) -> str:
    """A stable 16-hex-digit id derived from a path (for files whose content is unusable)."""
    return hashlib.blake2b(str(path).encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()
