"""SIGKILL at a chosen moment (issue 16): run a function in a child process and kill it
after a delay, or the moment a condition holds (a file it writes appears) — as
``tests/ingest/stateful.py`` kills its ingests, but from a clean parent.

The children are forked by a multiprocessing *forkserver* that has imported songscape
and nothing else has run in: the kill lands in the work, not in Python's start-up, and a
child never inherits a thread pool of the test process (numba's GNU OpenMP layer aborts a
child forked from a process that used it, and any earlier test may have).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: What the forkserver imports once, so that each child starts with it done.
PRELOAD = ["songscape.cli", "songscape.library.library", "songscape.search.maps",
           "songscape.search.index", "songscape.recommend.precomputed",
           "songscape.recommend.recommenders", "umap", "sklearn.cluster"]  # fmt: skip


@dataclass
class ChildRun:
    """How a child ended.

    Attributes
    ----------
    killed : bool
        Killed by SIGKILL (before it could finish).
    exit_code : int or None
        Its exit status when it finished by itself.
    seconds : float
        From its start to its end.
    output : str
        What it printed (stdout and stderr).
    """

    killed: bool
    exit_code: int | None
    seconds: float
    output: str


def _context() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _child(work: Callable[..., int], args: tuple, log: str) -> None:
    """The child: output to ``log``, run ``work(*args)``, exit with its code."""
    code = 99
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        code = work(*args)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_killed(
    work: Callable[..., int],
    args: tuple,
    log: Path,
    kill_after_s: float | None = None,
    kill_when: Callable[[], bool] | None = None,
) -> ChildRun:
    """Run ``work(*args)`` (a module-level function returning an exit code) in a child;
    SIGKILL it after ``kill_after_s`` seconds (None: let it finish), or as soon as
    ``kill_when()`` (polled about every millisecond) is true."""
    process = _context().Process(target=_child, args=(work, args, str(log)))
    process.start()
    t0 = time.perf_counter()
    if kill_after_s is not None:
        deadline = t0 + kill_after_s
        while process.is_alive() and time.perf_counter() < deadline:
            if kill_when is not None and kill_when():
                break
            time.sleep(0.001 if kill_when else 0.005)
        if process.is_alive():
            process.kill()
    process.join()
    seconds = time.perf_counter() - t0
    code = process.exitcode
    process.close()
    text = log.read_text(errors="replace") if log.exists() else ""
    return ChildRun(code == -9, code if code is not None and code >= 0 else None, seconds, text)


def kill_times(total_s: float, n: int, seed: int) -> list[float]:
    """``n`` kill delays spread over ``(0, total_s)``: one at a random moment of each of
    ``n`` equal slices (seeded), so that every part of the run is hit."""
    rng = np.random.default_rng(seed)
    return [float(total_s * (j + rng.uniform(0.05, 0.95)) / n) for j in range(n)]


# -- work for the children (module-level: they are pickled by name) ----------------------


def cli_main(argv: list[str]) -> int:
    """``songscape ARGV``: the CLI's ``main`` in the child."""
    from songscape.cli import main

    return main(argv)


def compute_map(root: str) -> int:
    """Compute (or load) the default map of the library at ``root``, writing its cache."""
    from songscape.library.library import Library
    from songscape.search.maps import library_map

    with Library(root) as lib:
        library_map(lib)
    return 0
