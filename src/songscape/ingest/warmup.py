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
import importlib.util
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


def _default_marker_dir() -> Path:
    """Where "this install is warm" is recorded: beside librosa's own numba cache files,
    so a rebuilt environment (or a wiped cache) is never mistaken for a warm one."""
    spec = importlib.util.find_spec("librosa")  # locates the package without importing it
    if spec is not None and spec.origin:
        cache_dir = Path(spec.origin).parent / "__pycache__"
        if os.access(cache_dir if cache_dir.exists() else cache_dir.parent, os.W_OK):
            cache_dir.mkdir(exist_ok=True)
            return cache_dir
    return LOCK_DIR


def warm_up(lock_dir: str | os.PathLike | None = None) -> bool:
    """Make sure librosa's numba kernels are compiled and cached, one process at a time.

    Imports the analysis stack and runs every descriptor once on 3 s of synthetic
    audio, under an exclusive lock, unless this installation is already warm.

    Parameters
    ----------
    lock_dir : path-like, optional
        Folder for the lock and the "warm" marker (tests). Default: the lock in the
        temp folder, the marker beside librosa's numba cache.

    Returns
    -------
    bool
        True if this call did the warm-up, False if it was already done.
    """
    key = _install_key()
    marker_dir = Path(lock_dir) if lock_dir is not None else _default_marker_dir()
    marker = marker_dir / f"songscape-analysis-{key}.warm"
    if marker.exists():
        return False
    lock_path = (Path(lock_dir) if lock_dir is not None else LOCK_DIR) / f"songscape-{key}.lock"
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if marker.exists():  # another process finished it while we waited
                return False
            import numpy as np

            from songscape.analysis.descriptors import describe
            from songscape.audio.synth import click_track

            song = click_track(120.0, duration_s=3.0, sr=22050, seed=0)
            describe(np.asarray(song.y, dtype=np.float32), 22050)
            marker.touch()
            return True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
