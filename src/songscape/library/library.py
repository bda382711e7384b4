"""The Python API of a songscape library: what the CLI and the server call."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE, ARRAY_FIELDS, Descriptors
from songscape.config import default_library_dir
from songscape.library.pipeline import IngestOptions, IngestReport, Progress, ingest
from songscape.library.stages import TrackContext, registered_stages
from songscape.library.store import LibraryStore

#: Keys of a track summary (``songscape tracks --json``), in order. Documented in docs/cli.md.
TRACK_SUMMARY_KEYS = (
    "id", "path", "title", "artist", "album", "genre", "year", "track_number",
    "duration_s", "format", "sample_rate", "channels", "size_bytes",
    "tempo_bpm", "beats_per_bar", "key", "key_confidence", "loudness_lufs",
    "spectral_centroid_hz", "onset_rate_hz", "status", "error", "added_at", "updated_at",
)  # fmt: skip

_ROUND = {
    "duration_s": 3, "tempo_bpm": 2, "key_confidence": 3, "loudness_lufs": 2,
    "spectral_centroid_hz": 1, "onset_rate_hz": 3, "added_at": 3, "updated_at": 3,
}  # fmt: skip


def _summary(row: sqlite3.Row | dict) -> dict:
    keys = row.keys()
    out = {}
    for key in TRACK_SUMMARY_KEYS:
        value = row[key] if key in keys else None
        if isinstance(value, float) and key in _ROUND:
            value = round(value, _ROUND[key])
        out[key] = value
    return out


class Library:
    """A songscape library directory.

    Parameters
    ----------
    root : path-like, optional
        The library directory; default :func:`songscape.config.default_library_dir`.
    create : bool
        Create an empty library if there is none (ingest does; read commands don't).

    Examples
    --------
    >>> lib = Library("~/music-library", create=True)       # doctest: +SKIP
    >>> report = lib.ingest(["~/Music"])                     # doctest: +SKIP
    >>> [t["title"] for t in lib.tracks()][:3]               # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike | None = None, create: bool = False):
        self.store = LibraryStore(root if root is not None else default_library_dir(), create)
        self.root = self.store.root

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ingest(
        self,
        paths: Iterable[str | os.PathLike],
        options: IngestOptions | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Add/update the audio under ``paths``; see :func:`songscape.library.pipeline.ingest`."""
        return ingest(self.store, paths, options, progress)

    def tracks(self, status: str | None = None) -> list[dict]:
        """Track summaries (keys :data:`TRACK_SUMMARY_KEYS`), optionally of one status."""
        return [_summary(row) for row in self.store.list_tracks(status)]

    def track(self, ref: str) -> dict:
        """Everything known about one track: summary, tags, lyrics, descriptors, arrays, stages.

        ``ref`` is a track id, a unique id prefix, or a path of the track's file (or of a
        duplicate copy of it). Raises :class:`~songscape.library.store.TrackNotFoundError`.
        """
        row = self.store.get_track(ref)
        desc = self.store.descriptors(row["id"])
        summary = {**dict(row), **(dict(desc) if desc else {})}
        out = _summary(summary)
        out["content_hash"] = row["content_hash"]
        out["lyrics"] = row["lyrics"]
        arrays = self.store.get_arrays(row["id"])
        out["descriptors"] = None
        if desc is not None:
            out["descriptors"] = {
                "analysis_sample_rate": desc["analysis_sample_rate"],
                "energy_rate_hz": desc["energy_rate_hz"],
                **{
                    name: [round(float(v), 2 if name == "energy_curve" else 3) for v in arr]
                    for name, arr in arrays.items()
                    if name in ARRAY_FIELDS
                },
            }
        out["duplicates"] = [
            r["path"]
            for r in self.store.conn.execute(
                "SELECT path FROM duplicates WHERE track_id = ? ORDER BY path", (row["id"],)
            )
        ]
        out["stages"] = [
            {k: r[k] for k in ("stage", "version", "status", "error")}
            for r in self.store.stage_runs(row["id"])
        ]
        return out

    def remove(self, ref: str) -> dict:
        """Forget a track (and its derived data); returns its summary. The file stays."""
        self.store.acquire_write_lock()
        try:
            row = self.store.get_track(ref)
            summary = _summary(row)
            self.store.remove_track(row["id"])
        finally:
            self.store.release_write_lock()
        return summary

    def stats(self) -> dict:
        return self.store.stats()


def analyze_file(
    path: str | os.PathLike,
    max_duration_s: float | None = None,
    min_duration_s: float = 1.0,
) -> dict:
    """Run every registered stage on one file, outside any library.

    Returns one JSON-ready object: file info and tags (``format``, ``sample_rate`` —
    the file's own rate —, ``channels``, ``title``, ...) and the descriptors
    (``duration_s``, ``tempo_bpm``, ``beat_times``, ``downbeat_times``, ``key``, ...;
    ``analysis_sample_rate`` is the rate they were computed at). Later stages add
    their own fields.

    Raises
    ------
    songscape.audio.decode.AudioError
        When the file cannot be decoded or is unusable (too short, silent, too long).
    """
    ctx = TrackContext(Path(path), max_duration_s=max_duration_s, min_duration_s=min_duration_s)
    out: dict = {"path": str(Path(path).expanduser().resolve())}
    for stage in registered_stages():
        payload = stage.run(ctx)
        if isinstance(payload, Descriptors):
            fields = payload.to_json()
            fields["analysis_sample_rate"] = fields.pop("sample_rate", ANALYSIS_SAMPLE_RATE)
            out.update(fields)
        elif isinstance(payload, dict):
            for key, value in payload.items():
                out.setdefault(key, value)
        else:
            out[stage.name] = payload
    return out
