"""Write audio block by block into a file that appears only when it is complete."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

#: Output containers by file suffix: (libsndfile format, subtype).
OUTPUT_FORMATS = {
    ".wav": ("WAV", "PCM_24"),
    ".flac": ("FLAC", "PCM_24"),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}


def output_format(path: str | os.PathLike) -> tuple[str, str]:
    """``(format, subtype)`` for the path's suffix; ValueError for another suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ValueError(
            f"cannot write {suffix or 'a file without a suffix'}; "
            f"use one of {', '.join(OUTPUT_FORMATS)}"
        )
    return OUTPUT_FORMATS[suffix]


def remove_stale_partials(path: Path) -> list[Path]:
    """Delete the temporary files of earlier writes of ``path`` whose process is gone (a
    SIGKILL leaves its partial behind); returns what was removed."""
    removed = []
    for partial in path.parent.glob(f".{path.name}.partial-*"):
        pid = partial.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running: another write of the same file
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # alive, someone else's
        partial.unlink(missing_ok=True)
        removed.append(partial)
    return removed


class AtomicAudioWriter:
    """A context manager that streams blocks (channels, n) into ``path``.

    The samples go to a hidden temporary file beside ``path``; leaving the ``with``
    block normally renames it to ``path`` (atomic on one filesystem), leaving it by an
    exception (Ctrl-C included) deletes it, so no half-written mix is ever left.
    """

    def __init__(self, path: str | os.PathLike, sr: int, channels: int = 2) -> None:
        self.path = Path(path)
        self.format, self.subtype = output_format(self.path)
        self.tmp = self.path.with_name(f".{self.path.name}.partial-{os.getpid()}")
        self.sr, self.channels = sr, channels
        self.frames = 0
        self._file: sf.SoundFile | None = None

    def __enter__(self) -> AtomicAudioWriter:
        remove_stale_partials(self.path)
        self._file = sf.SoundFile(
            str(self.tmp),
            "w",
            samplerate=self.sr,
            channels=self.channels,
            format=self.format,
            subtype=self.subtype,
        )
        return self

    def write(self, block: np.ndarray) -> None:
        """Append a block of shape (channels, n), values in [-1, 1]."""
        assert self._file is not None, "use AtomicAudioWriter in a with block"
        if block.shape[-1]:
            self._file.write(np.ascontiguousarray(block.T, dtype=np.float32))
            self.frames += block.shape[-1]

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        if self._file is not None:
            try:
                self._file.close()
            except Exception:
                if exc_type is None:
                    self.tmp.unlink(missing_ok=True)
                    raise
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
