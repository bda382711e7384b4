"""One-time, cross-process-safe warm-up of the analysis code.

librosa compiles its beat tracker and other kernels with numba and caches the
machine code on disk (``cache=True``). Several processes compiling and writing that
cache at the same moment — the first parallel ingest after installing, or parallel
test workers — can crash one of them with a segmentation fault while it loads a
half-written cache entry. So the first use happens under an exclusive file lock:
the first process compiles and writes the cache, the others then load it. Once a
warm-up has succeeded for this installation, a marker file lets later processes
skip the lock (loading an existing cache concurrently is safe).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

LOCK_DIR = Path(tempfile.gettempdir())


def _install_key() -> str:
    # The numba cache belongs to one environment and one librosa/numba build.
    text = f"{sys.prefix}|{version('librosa')}|{version('numba')}|{sys.version}"
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def warm_up(lock_dir: str | os.PathLike = LOCK_DIR) -> bool:
    """Make sure librosa's numba kernels are compiled and cached, one process at a time.

    Imports the analysis stack and runs every descriptor once on 3 s of synthetic
    audio, under an exclusive lock, unless this installation is already warm.

    Returns
    -------
    bool
        True if this call did the warm-up, False if it was already done.
    """
    key = _install_key()
    marker = Path(lock_dir) / f"songscape-analysis-{key}.warm"
    if marker.exists():
        return False
    with open(Path(lock_dir) / f"songscape-analysis-{key}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if marker.exists():  # another process finished it while we waited
                return False
            import numpy as np

            from songscape.analysis.describe import describe
            from songscape.audio.synth import click_track

            song = click_track(120.0, duration_s=3.0, sr=22050, seed=0)
            describe(np.asarray(song.y, dtype=np.float32), 22050)
            marker.touch()
            return True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
