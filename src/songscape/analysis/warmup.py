"""One-time, cross-process-safe warm-up of the analysis code.

librosa compiles its beat tracker and other kernels with numba and caches the
machine code on disk (``cache=True``). Several processes compiling and writing that
cache at the same moment — the first parallel ingest after installing, or parallel
test workers — can crash one of them with a segmentation fault while it loads a
half-written cache entry. So the first use happens under an exclusive file lock:
the first process compiles and writes the cache, the others then load it.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

LOCK_PATH = Path(tempfile.gettempdir()) / "songscape-analysis-warmup.lock"


def warm_up(lock_path: str | os.PathLike = LOCK_PATH) -> None:
    """Import the analysis stack and run every descriptor once on 3 s of synthetic audio.

    Safe to call from many processes at once; cheap (imports only) once the on-disk
    numba cache exists.
    """
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            import numpy as np

            from songscape.analysis.describe import describe
            from songscape.audio.synth import click_track

            song = click_track(120.0, duration_s=3.0, sr=22050, seed=0)
            describe(np.asarray(song.y, dtype=np.float32), 22050)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
