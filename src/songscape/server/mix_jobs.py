"""Rendering DJ mixes in the background for the web app (issue 13): one at a time, a
bounded queue, each mix written into ``<library>/mixes/<id>.ogg`` with its plan
(``.json``), CUE sheet (``.cue``) and source playlist (``.m3u8``) beside it.

A mix is planned in the request that asks for it, so that a bad request gets its error
at once, but on a library of its own (:meth:`MixJobs.plan`), never on the app's library
thread: a plan reads some audio of each track, and the other requests must not wait for
it. Only the rendering waits in the queue. Rendering reads the source files the plan names
and writes the output, nothing of the catalog, so it runs on this module's own thread
(SQLite objects refuse a second thread, so a change that made it touch the catalog would
fail loudly, not corrupt anything).

Finished mixes are files, so they survive a restart: :class:`MixJobs` lists them again
from the ``.json`` of each ``.ogg`` it finds. A mix that was queued or rendering when the
server stopped is gone (the writer leaves no half file; a stale partial of a dead process
is removed).
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from songscape.mix.plan import MixPlan
from songscape.server.deps import LibraryWorker

log = logging.getLogger(__name__)

#: Folder of the rendered mixes, inside the library directory.
MIXES_DIR = "mixes"
#: Audio format of the web app's mixes (Ogg Vorbis: small, and every browser but old
#: Safari plays it).
AUDIO_SUFFIX = ".ogg"
#: Mixes waiting or rendering at most; one more is refused with 429.
MAX_PENDING = 4
#: Seconds after which a mix's audio without its plan counts as cut short.
ORPHAN_AGE_S = 60.0
#: Failed mixes remembered (in memory; the oldest are forgotten).
MAX_FAILED_KEPT = 20
#: An id: 16 hex digits (random).
MIX_ID_RE = re.compile(r"^[0-9a-f]{16}$")
_PARTIAL_RE = re.compile(r"^\.([0-9a-f]{16})\.\w+\.partial-(\d+)$")
STATUSES = ("queued", "rendering", "done", "failed")


class QueueFullError(RuntimeError):
    """:data:`MAX_PENDING` mixes are already waiting or rendering."""


class _Cancelled(Exception):
    """Raised from the progress callback to stop a render when the server closes."""


@dataclass
class MixJob:
    """One mix: its plan (public JSON), where it stands and, once done, its render report.

    ``plan_obj`` is the :class:`MixPlan` the renderer needs; dropped once rendered.
    """

    id: str
    created: float
    status: str
    plan: dict
    plan_obj: MixPlan | None = None
    progress: float = 0.0
    error: str | None = None
    render: dict | None = None
    finished: float | None = None
    request: dict = field(default_factory=dict)


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, ±inf) replaced by None, recursively:
    the JSON the server sends has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def public_plan(plan_json: dict) -> dict:
    """A plan's JSON for the API: each segment's absolute ``path`` replaced by its
    ``filename``; the render report and file list (server paths) left out."""
    out = {k: v for k, v in plan_json.items() if k not in ("render", "files")}
    segments = []
    for seg in plan_json.get("segments", []):
        seg = dict(seg)
        path = seg.pop("path", None)
        seg["filename"] = os.path.basename(path) if path else None
        segments.append(seg)
    out["segments"] = segments
    return finite(out)


def public_render(render: dict | None) -> dict | None:
    """The render report without the output's server path."""
    if render is None:
        return None
    return finite({k: v for k, v in render.items() if k != "path"})


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class MixJobs:
    """The mixes of one library: those on disk, and a queue rendered by one thread.

    Parameters
    ----------
    library_dir : path-like
        The library; mixes go to its ``mixes/`` folder (created on the first mix).
    render : callable, optional
        ``render(plan, out_path, progress)`` writes the mix and its side files and returns
        the dict of :meth:`Library.render_mix <songscape.library.mix.MixMixin.render_mix>`
        (default: that method of the planner's library).
    max_pending : int
        Mixes being planned, queued or rendering at most.

    Notes
    -----
    Plans are made by :meth:`plan` on a library of their own (a
    :class:`~songscape.server.deps.LibraryWorker`: its own thread and SQLite connection,
    opened on the first plan), not on the app's library thread: a plan reads each
    track's audio to check its pulse (a fraction of a second per track), and the map,
    search and audio must keep answering meanwhile.
    """

    def __init__(self, library_dir: str | os.PathLike, render=None,  # noqa: ANN001
                 max_pending: int = MAX_PENDING):  # fmt: skip
        self.library_dir = Path(library_dir)
        self.folder = self.library_dir / MIXES_DIR
        self._render = render
        self.max_pending = max_pending
        self._planning = 0
        self._planner: LibraryWorker | None = None
        self._planner_lock = threading.Lock()
        self._lock = threading.Lock()
        self._jobs: dict[str, MixJob] = {}
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._load_finished()

    # -- what is on disk ----------------------------------------------------------------
    def _load_finished(self) -> None:
        """List the finished mixes of the folder; remove partial files of dead renders."""
        if not self.folder.is_dir():
            return
        for entry in self.folder.iterdir():
            m = _PARTIAL_RE.match(entry.name)
            if m and not _pid_alive(int(m.group(2))):
                entry.unlink(missing_ok=True)
            # The plan is written last: audio without it is a render cut short after the
            # audio (given a minute, in case another server is writing it right now).
            if (entry.suffix == AUDIO_SUFFIX and MIX_ID_RE.fullmatch(entry.stem)
                    and not entry.with_suffix(".json").exists()
                    and time.time() - entry.stat().st_mtime > ORPHAN_AGE_S):  # fmt: skip
                for suffix in (AUDIO_SUFFIX, ".cue", ".m3u8"):
                    entry.with_suffix(suffix).unlink(missing_ok=True)
        for plan_file in sorted(self.folder.glob("*.json")):
            mix_id = plan_file.stem
            audio = self.audio_path(mix_id)
            if not MIX_ID_RE.fullmatch(mix_id) or not audio.is_file():
                continue
            try:
                data = json.loads(plan_file.read_text(encoding="utf-8"))
                plan = public_plan(data)
                render = public_render(data.get("render"))
            except (OSError, ValueError, AttributeError, TypeError) as err:
                log.warning("skipping the mix %s: unreadable plan (%s)", plan_file, err)
                continue
            when = audio.stat().st_mtime
            self._jobs[mix_id] = MixJob(mix_id, when, "done", plan, progress=1.0,
                                        render=render, finished=when)  # fmt: skip

    def audio_path(self, mix_id: str) -> Path:
        return self.folder / f"{mix_id}{AUDIO_SUFFIX}"

    def side_path(self, mix_id: str, suffix: str) -> Path:
        """``<id>.cue``, ``<id>.m3u8`` or ``<id>.json``."""
        return self.folder / f"{mix_id}{suffix}"

    # -- the queue ----------------------------------------------------------------------
    def pending(self) -> int:
        """Mixes being planned, queued or rendering."""
        with self._lock:
            return self._pending_locked()

    def _pending_locked(self) -> int:
        busy = sum(j.status in ("queued", "rendering") for j in self._jobs.values())
        return busy + self._planning

    def planner(self) -> LibraryWorker:
        """The library plans are made on (opened on first use)."""
        with self._planner_lock:
            if self._planner is None:
                self._planner = LibraryWorker(self.library_dir)
            return self._planner

    def plan(self, fn: Callable[..., MixPlan]) -> MixPlan:
        """``fn(library)`` on the planner's library thread, counted as pending while it
        runs. Raises :class:`QueueFullError` when :data:`MAX_PENDING` mixes are pending."""
        with self._lock:
            if self._closing or self._pending_locked() >= self.max_pending:
                raise QueueFullError(self._full_message())
            self._planning += 1
        try:
            return self.planner().call(fn)
        finally:
            with self._lock:
                self._planning -= 1

    def _full_message(self) -> str:
        return (f"{self.max_pending} mixes are already being planned, waiting or rendering; "
                "try again when one is done")  # fmt: skip

    def check_room(self) -> None:
        """Raise :class:`QueueFullError` when no mix can be queued now."""
        if self.pending() >= self.max_pending:
            raise QueueFullError(self._full_message())

    def submit(self, plan: MixPlan, request: dict | None = None) -> MixJob:
        """Queue ``plan`` for rendering; returns its job (status ``queued``).

        Raises :class:`QueueFullError` when :data:`MAX_PENDING` mixes are pending.
        """
        job = MixJob(secrets.token_hex(8), time.time(), "queued", public_plan(plan.to_json()),
                     plan_obj=plan, request=dict(request or {}))  # fmt: skip
        with self._lock:
            if self._closing:
                raise QueueFullError("the server is shutting down")
            if sum(j.status in ("queued", "rendering") for j in self._jobs.values()) >= \
                    self.max_pending:  # fmt: skip
                raise QueueFullError(self._full_message())
            failed = sorted((j for j in self._jobs.values() if j.status == "failed"),
                            key=lambda j: j.created)  # fmt: skip
            for old in failed[: max(0, len(failed) - MAX_FAILED_KEPT)]:
                del self._jobs[old.id]  # failures are kept in memory only, a few
            self._jobs[job.id] = job
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="songscape-mixes",
                                                daemon=True)  # fmt: skip
                self._thread.start()
        self._queue.put(job.id)
        return job

    def get(self, mix_id: str) -> MixJob | None:
        with self._lock:
            return self._jobs.get(mix_id)

    def all(self) -> list[MixJob]:
        """Every mix, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def delete(self, mix_id: str) -> bool:
        """Forget a finished or failed mix and delete its files; False when there is no
        such mix. A mix still queued or rendering cannot be deleted (ValueError)."""
        with self._lock:
            job = self._jobs.get(mix_id)
            if job is None:
                return False
            if job.status in ("queued", "rendering"):
                raise ValueError(f"mix {mix_id} is {job.status}; delete it once it is done")
            del self._jobs[mix_id]
        for suffix in (AUDIO_SUFFIX, ".json", ".cue", ".m3u8"):
            self.side_path(mix_id, suffix).unlink(missing_ok=True)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop: the render in progress is abandoned at its next segment (no file is left),
        the queued ones are dropped."""
        with self._lock:
            self._closing = True
            thread = self._thread
        self._queue.put(None)
        if thread is not None:
            thread.join(timeout)
        with self._planner_lock:
            planner, self._planner = self._planner, None
        if planner is not None:
            planner.close()

    def _run(self) -> None:
        while True:
            mix_id = self._queue.get()
            if mix_id is None or self._closing:
                return
            job = self.get(mix_id)
            if job is None or job.plan_obj is None:
                continue
            self._render_one(job)

    def _render_one(self, job: MixJob) -> None:
        def progress(done: int, total: int) -> None:
            if self._closing:
                raise _Cancelled
            job.progress = round(done / max(1, total), 4)

        job.status = "rendering"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            render = self._render or self.planner().library.render_mix  # reads no catalog
            result = render(job.plan_obj, self.audio_path(job.id), progress)
        except _Cancelled:
            job.status, job.error = "failed", "the server stopped before the mix was rendered"
        except Exception as err:  # noqa: BLE001 - any failure is the job's, told to the user
            log.warning("mix %s failed: %s", job.id, err)
            job.status, job.error = "failed", str(err) or type(err).__name__
        else:
            job.render = public_render(result.get("render"))
            job.progress, job.status = 1.0, "done"
        finally:
            job.plan_obj = None
            job.finished = time.time()
