"""Finding audio files and fingerprinting their content."""

from __future__ import annotations

import hashlib
import os
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
    one file reached two ways is one path.
    """
    root = Path(root).expanduser()
    if root.is_file():
        yield root.resolve()
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not is_audio_path(name):
                continue
            yield (Path(dirpath) / name).resolve()


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
        When the file cannot be read.
    """
    digest = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def path_id(path: str | os.PathLike) -> str:
    """A stable 16-hex-digit id derived from a path (for files whose content is unusable)."""
    return hashlib.blake2b(str(path).encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()
