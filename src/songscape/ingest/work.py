"""The worker side of an ingest: fingerprint a file, run a track's stages.

Everything here runs in a worker process (or inline with one worker) and returns
picklable results; nothing here touches the catalog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import songscape.ingest.emotion_stage  # noqa: F401  (``emotion``, issue 19)
import songscape.ingest.fingerprint_stage  # noqa: F401  (registers the ``fingerprint`` stage)

# Imported for its side effect: it registers the ``embed:``/``tag:`` stage families,
# which a spawned worker (importing only this module) needs to resolve stage names.
import songscape.ingest.model_stages  # noqa: F401
import songscape.ingest.structure_stages  # noqa: F401  (``structure``, ``highlight``)
import songscape.ingest.vocals_stage  # noqa: F401  (``vocals:<tracker>``, issue 14)
import songscape.ingest.window_stage  # noqa: F401  (``windows:<model>``, issue 20)
from songscape.errors import AudioError
from songscape.ingest.scan import FileStat, content_hash
from songscape.ingest.stages import TrackContext, get_stage

log = logging.getLogger(__name__)


@dataclass
class WorkItem:
    """One file to analyse: which stages to run, and why (``kind``)."""

    path: str
    track_id: str
    content_hash: str | None
    stat: FileStat | None
    stages: list[str]
    kind: str  # "new", "update" or "restage"
    attempts: int = 0


@dataclass
class WorkResult:
    """The stages' payloads for one item, or why it failed (a short, user-facing reason)."""

    item: WorkItem
    ok: bool
    payloads: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    failed_stage: str | None = None
    audio_seconds: float = 0.0


def hash_file(path: str) -> tuple[str, str | None, str | None]:
    """``(path, content hash, None)``, or ``(path, None, reason)`` when it cannot be read."""
    try:
        return path, content_hash(path), None
    except OSError as err:
        return path, None, os_error_text(err)


def os_error_text(err: OSError) -> str:
    """A short reason for an OS error, e.g. ``"permission denied"``."""
    if isinstance(err, PermissionError):
        return "permission denied"
    if isinstance(err, FileNotFoundError):
        return "file not found"
    return err.strerror or str(err)


def run_item(item: WorkItem, max_duration_s: float | None, min_duration_s: float) -> WorkResult:
    """Run ``item.stages`` in order on one file; the first failure stops the rest.

    Parameters
    ----------
    item : WorkItem
    max_duration_s : float or None
        Reject longer files (seconds) before decoding.
    min_duration_s : float
        Reject shorter files (seconds).

    Returns
    -------
    WorkResult
        Never raises for a bad file or a failing stage: the reason is in ``error``.
    """
    ctx = TrackContext(
        Path(item.path), max_duration_s=max_duration_s, min_duration_s=min_duration_s
    )
    result = WorkResult(item=item, ok=True)
    current = None
    try:
        for name in item.stages:
            current = name
            result.payloads[name] = get_stage(name).run(ctx)
    except AudioError as err:
        result.ok, result.error, result.failed_stage = False, str(err), current
    except MemoryError:
        result.ok, result.failed_stage = False, current
        result.error = "out of memory while analysing (try --max-duration or fewer --workers)"
    except Exception as err:  # a stage bug must not stop the batch; keep the reason
        result.ok, result.failed_stage = False, current
        result.error = f"{current} failed: {type(err).__name__}: {err}"
        # The recorded reason has no traceback; keep it for whoever enables logging.
        log.debug("stage %s failed on %s", current, item.path, exc_info=True)
    result.audio_seconds = ctx.audio_seconds_decoded
    return result


class ItemRunner:
    """Picklable callable carrying the duration limits to the workers (see :func:`run_item`)."""

    def __init__(self, max_duration_s: float | None, min_duration_s: float):
        self.max_duration_s = max_duration_s
        self.min_duration_s = min_duration_s

    def __call__(self, item: WorkItem) -> WorkResult:
        return run_item(item, self.max_duration_s, self.min_duration_s)


def crash_result(item: WorkItem) -> WorkResult:
    """The result recorded for an item whose worker process died twice on it."""
    return WorkResult(
        item=item, ok=False, error="the decoder crashed on this file (worker process died)"
    )
