"""One training run per model name at a time.

Two runs of ``songscape train NAME`` at once would write the same folder: each deletes
the other's temporary files at start (:func:`songscape.training.trainer.train` removes
what killed runs left), an ``--overwrite`` renames the other's folder away, and their
``last.pt`` and ``model.pt`` replace each other's. A run therefore holds an exclusive
``flock`` on ``<models dir>/.<name>.lock`` from before it touches the folder until it
returns; a second run of the same name exits at once with :class:`TrainingBusyError`,
naming the process that holds the lock. The lock file sits beside the folder, not in it,
because ``--overwrite`` moves the folder aside (a lock inside would go with it), and is
removed when the run ends; the kernel releases the lock when its process ends, however
it ends (a SIGKILL too, which leaves the file: the next run reuses it), so a killed run
never blocks the next one.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from songscape.errors import TrainingBusyError

__all__ = ["lock_path", "training_lock"]


def lock_path(models_dir: Path, name: str) -> Path:
    """The lock file of model ``name`` in ``models_dir`` (a dot file: never a model)."""
    return Path(models_dir) / f".{name}.lock"


def _holder(path: Path) -> str:
    """Who holds the lock, from what the holder wrote into the file."""
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info.get("started", 0))))
    command = f": {info['command']}" if info.get("command") else ""
    return f"process {info['pid']} on {info.get('host', '?')}, since {started}{command}"


def _command() -> str:
    """This process's command line, as the user typed it when it is songscape's."""
    argv = list(sys.argv) or ["?"]
    if os.path.basename(argv[0]) in ("songscape", "__main__.py"):
        argv[0] = "songscape"
    return " ".join(argv)[:300]


@contextmanager
def training_lock(models_dir: Path, name: str) -> Iterator[Path]:
    """Hold the training lock of ``name`` for the ``with`` block; yields the lock file.

    Raises
    ------
    TrainingBusyError
        Another process holds it (the message names that process and its command).
    """
    path = lock_path(models_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _locked_fd(path, name)
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                "command": _command()}  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield path
    finally:
        # Removed while still held: a process that opened it meanwhile finds, once it has
        # the lock, that the path no longer names its file, and opens the path again.
        path.unlink(missing_ok=True)
        os.close(fd)


def _locked_fd(path: Path, name: str) -> int:
    """An open descriptor of ``path`` holding its exclusive lock (the file the path names
    at that moment: a file removed by its last holder is not locked in vain)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TrainingBusyError(
                f"model {name!r} is being trained by {_holder(path)}; wait for it to "
                f"finish (or stop it), then run this command again"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed it between our open and our lock: again
