"""What an ingest run reports: counts and failures, and the progress callback protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Progress(Protocol):
    """Receives progress; the CLI draws it as a bar with ETA."""

    def phase(self, name: str, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class NoProgress:
    """A :class:`Progress` that shows nothing."""

    def phase(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


@dataclass
class IngestReport:
    """What an ingest run did. Counts are of files (or tracks, for ``missing``)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    duplicates: int = 0
    failed: int = 0
    missing: int = 0
    restaged: int = 0  # unchanged tracks whose stale stages were re-run
    failures: list[dict] = field(default_factory=list)  # {"path", "error"}
    audio_seconds: float = 0.0  # audio decoded and analysed in this run
    elapsed_s: float = 0.0
    interrupted: bool = False

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "moved": self.moved,
            "duplicates": self.duplicates,
            "failed": self.failed,
            "missing": self.missing,
            "restaged": self.restaged,
            "failures": self.failures,
            "audio_seconds": round(self.audio_seconds, 2),
            "elapsed_s": round(self.elapsed_s, 3),
            "interrupted": self.interrupted,
        }
