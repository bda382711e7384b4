"""The worker pool: separate processes (``spawn``), one BLAS thread each, crash-tolerant."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

#: Thread-count variables of the numeric libraries, pinned to 1 in workers.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def init_worker() -> None:
    """Set up a worker process: one thread per numeric library, analysis code warmed up."""
    # One BLAS/numba thread per worker: parallelism comes from the processes.
    for name in THREAD_ENV:
        os.environ[name] = "1"
    # Compile/load librosa's numba kernels one process at a time (see ingest.warmup).
    from songscape.ingest.warmup import warm_up

    warm_up()


@contextmanager
def single_threaded_env(enabled: bool = True) -> Iterator[None]:
    """Pin :data:`THREAD_ENV` to 1 for the block (inherited by workers spawned in it).

    The variables must be set before a worker imports numpy; they are restored after.
    """
    saved = {k: os.environ.get(k) for k in THREAD_ENV}
    if enabled:
        for name in THREAD_ENV:
            os.environ[name] = "1"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class WorkerPool:
    """Runs tasks in a process pool (or inline for one worker) with bounded in-flight work."""

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
        )

    def map_unordered(
        self, fn: Callable, items: Iterable, on_crash: Callable[[Any], Any] | None = None
    ) -> Iterator[tuple[Any, Any]]:
        """Yield ``(item, fn(item))`` as results arrive.

        If a worker process dies, the pool is rebuilt and the items that were in
        flight are retried one at a time; an item in flight during a second crash
        yields ``on_crash(item)`` instead of a result.
        """
        items = list(items)
        if self.workers == 1:
            for item in items:
                yield item, fn(item)
            return
        pending = list(reversed(items))
        isolate: list[Any] = []  # items retried alone after a crash
        max_in_flight = 2 * self.workers
        while pending or isolate:
            self._pool = self._pool or self._new_pool()
            in_flight: dict[Future, Any] = {}
            try:
                while pending or isolate or in_flight:
                    limit = 1 if isolate else max_in_flight
                    while len(in_flight) < limit and (isolate or pending):
                        item = isolate.pop() if isolate else pending.pop()
                        in_flight[self._pool.submit(fn, item)] = item
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for fut in done:
                        result = fut.result()  # raises BrokenProcessPool if a worker died
                        yield in_flight.pop(fut), result
            except BrokenProcessPool:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
                suspects = list(in_flight.values())
                if len(suspects) == 1:  # alone in flight: this item killed the worker
                    if on_crash is None:
                        raise
                    yield suspects[0], on_crash(suspects[0])
                else:
                    isolate.extend(suspects)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
