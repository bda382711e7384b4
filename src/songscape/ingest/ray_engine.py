"""The Ray engine of ingest (``songscape ingest DIR --engine ray [--ray-address ADDR]``).

:class:`RayPool` has the interface of the local :class:`~songscape.ingest.workers.WorkerPool`
(``map_unordered(fn, items, on_crash)``), so the pipeline runs unchanged: the driver scans
and fingerprints the files and is the single catalog writer; only the analysis of each
file — every registered stage of the item (decode, descriptors, embeddings, tags, and
whatever stages are registered later), fused in one task on one actor so no waveform
travels between machines — runs on Ray.

- **Actors**: ``workers`` long-lived actors (one CPU each); each imports songscape,
  pins its numeric libraries to one thread and warms up once
  (:func:`~songscape.ingest.workers.init_worker`), so models are loaded once per actor
  and reused for every file it analyses.
- **Back-pressure**: at most ``2 x workers`` tasks are in flight; a result (one track's
  payloads) is taken back as soon as it is ready and handed to the writer, so the object
  store holds a bounded number of small results, never the whole run.
- **Faults**: an actor that dies (a killed worker, a lost node, a decoder segfault) is
  replaced; the items it had in flight are retried one at a time, alone on a fresh actor,
  and an item that kills its actor again is recorded as failed (``on_crash``). A killed
  driver loses only uncommitted tracks: a re-run finds the rest done (the catalog is the
  record of progress), exactly as with the local engine.

``address`` None starts a private local Ray instance for the run, never a cluster that
Ray's discovery (``RAY_ADDRESS``, ``/tmp/ray/ray_current_cluster``) would find; ``"auto"``
or ``host:port`` joins a running cluster (``ray start --head`` …). Both go through
:func:`songscape.training.ray_runtime.connect_ray` (private token, nothing left in
``~/.ray``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from songscape.ingest.workers import THREAD_ENV
from songscape.training.ray_runtime import RaySession, connect_ray, disconnect_ray

log = logging.getLogger(__name__)

#: Tasks in flight per actor (one running, one queued: the actor never waits for work).
IN_FLIGHT_PER_ACTOR = 2


class _AnalysisActor:
    """Runs work items in one Ray worker process (wrapped by ``ray.remote`` on use)."""

    def __init__(self) -> None:
        from songscape.ingest.workers import init_worker

        init_worker()

    def run(self, fn: Callable, item: Any) -> Any:
        return fn(item)

    def pid(self) -> int:
        return os.getpid()


class RayPool:
    """Runs tasks on Ray actors with bounded in-flight work (see the module docstring).

    Parameters
    ----------
    workers : int
        Actors (one CPU each).
    address : str, optional
        Ray cluster to join (``"auto"``, ``"host:port"``); None starts a local one.
    """

    def __init__(self, workers: int, address: str | None = None):
        self.workers = max(1, int(workers))
        self.address = address
        self._ray: Any = None
        self._session: RaySession | None = None
        self._actor_cls: Any = None
        self._actors: list[Any] = []

    def _connect(self) -> Any:
        if self._ray is None:
            env = {"env_vars": {name: "1" for name in THREAD_ENV}}
            self._session = connect_ray(self.address, "ingest --engine ray", runtime_env=env,
                                        log_to_driver=False, include_dashboard=False,
                                        configure_logging=False)  # fmt: skip
            ray = self._session.ray
            self._ray = ray
            self._actor_cls = ray.remote(num_cpus=1, max_restarts=0)(_AnalysisActor)
        return self._ray

    def connect(self) -> str:
        """Start (no address) or join Ray now rather than at the first task; the address
        of the Ray instance in use (its GCS, ``host:port``).

        Raises
        ------
        MissingExtraError
            Ray is not installed (the ``scale`` extra).
        RayClusterError
            The cluster at ``address`` cannot be reached or refuses the token.
        """
        return self._connect().get_runtime_context().gcs_address

    def _new_actor(self) -> Any:
        return self._actor_cls.remote()

    def map_unordered(
        self, fn: Callable, items: Iterable, on_crash: Callable[[Any], Any] | None = None
    ) -> Iterator[tuple[Any, Any]]:
        """Yield ``(item, fn(item))`` as results arrive (any order).

        An actor that dies takes its in-flight items with it: they are retried one at a
        time on a fresh actor; one that kills its actor again yields ``on_crash(item)``
        (or raises the Ray error when ``on_crash`` is None).
        """
        items = list(items)
        if not items:
            return
        ray = self._connect()
        actor_died = ray.exceptions.RayActorError
        while len(self._actors) < min(self.workers, len(items)):
            self._actors.append(self._new_actor())
        fn_ref = ray.put(fn)
        pending = list(reversed(items))
        suspects: list[Any] = []  # items in flight when an actor died: retried alone
        in_flight: dict[Any, tuple[Any, int, bool]] = {}  # ref -> (item, actor, alone)
        load = [0] * len(self._actors)
        alone_actor: int | None = None  # while set, only that actor works, on one item
        while pending or suspects or in_flight:
            if suspects and alone_actor is None and not in_flight:
                alone_actor = 0
            if alone_actor is not None:
                if not in_flight and suspects:
                    item = suspects.pop()
                    ref = self._actors[alone_actor].run.remote(fn_ref, item)
                    in_flight[ref] = (item, alone_actor, True)
                    load[alone_actor] += 1
            else:
                for a in range(len(self._actors)):
                    while load[a] < IN_FLIGHT_PER_ACTOR and pending:
                        item = pending.pop()
                        in_flight[self._actors[a].run.remote(fn_ref, item)] = (item, a, False)
                        load[a] += 1
            if not in_flight:
                alone_actor = None
                continue
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            ref = ready[0]
            item, a, alone = in_flight.pop(ref)
            load[a] -= 1
            try:
                result = ray.get(ref)
            except actor_died as err:
                log.warning("a Ray worker died (%s); retrying its files one at a time",
                            type(err).__name__)  # fmt: skip
                self._actors[a] = self._new_actor()
                lost = [ref2 for ref2, (_, a2, _) in in_flight.items() if a2 == a]
                for ref2 in lost:
                    suspects.append(in_flight.pop(ref2)[0])
                load[a] = 0
                if alone:  # it died alone on this item: the item is the cause
                    if on_crash is None:
                        raise
                    yield item, on_crash(item)
                else:
                    suspects.append(item)
                    # Finish what other actors hold, then run the suspects alone.
                    pending_back = pending
                    pending = []
                    while in_flight:
                        ready, _ = ray.wait(list(in_flight), num_returns=1)
                        item2, a2, _ = in_flight.pop(ready[0])
                        load[a2] -= 1
                        try:
                            yield item2, ray.get(ready[0])
                        except actor_died:
                            self._actors[a2] = self._new_actor()
                            load[a2] = 0
                            suspects.append(item2)
                    pending = pending_back
                    alone_actor = 0
                continue
            yield item, result
            if alone and not suspects:
                alone_actor = None

    def close(self) -> None:
        """Let the actors go; shut Ray down when this pool started it."""
        if self._ray is None:
            return
        for actor in self._actors:
            try:
                self._ray.kill(actor)
            except Exception:  # already dead: nothing to release
                pass
        self._actors = []
        if self._session is not None:
            disconnect_ray(self._session)  # shuts Ray down only when this pool started it
            self._session = None
        self._ray = None
