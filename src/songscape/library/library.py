"""The Python API of a songscape library: what the CLI and the server call."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE, ARRAY_FIELDS, Descriptors
from songscape.config import default_library_dir
from songscape.library.model_stages import model_stage_names
from songscape.library.pipeline import IngestOptions, IngestReport, Progress, ingest
from songscape.library.stages import TrackContext, pipeline_stages
from songscape.library.store import LibraryStore
from songscape.models.registry import DEFAULT_MODEL, get_spec

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

    @property
    def default_model(self) -> str:
        """The embedding model used for search and the map (set by ``ingest --model``)."""
        return self.store.default_model()

    def set_default_model(self, name: str) -> None:
        get_spec(name)  # raises UnknownModelError
        self.store.acquire_write_lock()
        try:
            self.store.set_default_model(name)
        finally:
            self.store.release_write_lock()

    def tags(self, ref: str, top: int | None = None) -> dict:
        """A track's tags from every tagging model that ran on it.

        Returns ``{"id", "path", "title", "artist", "tags": [...], "by_model": {...}}``
        where ``tags`` is the combined set, most probable first, each entry
        ``{"tag", "source", "name", "probability", "model"}`` with ``name`` =
        ``"source:tag"`` (e.g. ``"mtt:piano"``), and ``by_model`` maps each model
        to ``{tag: probability}``. ``top`` keeps the N most probable per model.
        """
        row = self.store.get_track(ref)
        by_model = self.store.track_tags(row["id"])
        combined = []
        for model, tags in by_model.items():
            try:
                source = get_spec(model).tag_source or model
            except KeyError:
                source = model  # a model no longer registered: still show its tags
            items = list(tags.items())[:top] if top else list(tags.items())
            by_model[model] = dict(items)
            for tag, p in items:
                combined.append(
                    {"tag": tag, "source": source, "name": f"{source}:{tag}",
                     "probability": round(float(p), 4), "model": model}
                )  # fmt: skip
        combined.sort(key=lambda t: (-t["probability"], t["name"]))
        return {
            "id": row["id"],
            "path": row["path"],
            "title": row["title"],
            "artist": row["artist"],
            "tags": combined,
            "by_model": {
                m: {t: round(float(p), 4) for t, p in tags.items()} for m, tags in by_model.items()
            },
        }

    def embeddings(self, model: str | None = None) -> dict:
        """The library's vectors of ``model`` (default: the library's default model).

        Returns ``{"model", "version", "ids", "paths", "vectors"}``; only vectors of the
        model's current version are included (``ingest`` recomputes stale ones).
        """
        spec = get_spec(model or self.default_model)
        ids, paths, vectors = self.store.embedding_matrix(spec.name, spec.version)
        return {
            "model": spec.name,
            "version": spec.version,
            "ids": ids,
            "paths": paths,
            "vectors": vectors,
        }

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
        out["tags"] = {
            model: dict(list(tags.items())[:10])
            for model, tags in self.store.track_tags(row["id"]).items()
        }
        out["embeddings"] = self.store.embedding_models(row["id"])
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
    model: str | None = DEFAULT_MODEL,
) -> dict:
    """Run every registered stage, and ``model``'s embed and tag stages, on one file.

    Returns one JSON-ready object: file info and tags (``format``, ``sample_rate`` —
    the file's own rate —, ``channels``, ``title``, ...) and the descriptors
    (``duration_s``, ``tempo_bpm``, ``beat_times``, ``downbeat_times``, ``key``, ...;
    ``analysis_sample_rate`` is the rate they were computed at). Later stages add
    their own fields: with a ``model`` (None skips the neural stages), ``tags`` (tag ->
    track-level probability, most probable first), ``tag_model``, ``embedding`` (a
    list of floats), ``embedding_model``, ``embedding_version``, ``embedding_layer``
    and ``embedding_dim``.

    Raises
    ------
    songscape.audio.decode.AudioError
        When the file cannot be decoded or is unusable (too short, silent, too long).
    """
    ctx = TrackContext(Path(path), max_duration_s=max_duration_s, min_duration_s=min_duration_s)
    out: dict = {"path": str(Path(path).expanduser().resolve())}
    extra = model_stage_names((model,), (model,) if get_spec(model).labels else ()) if model else []
    for stage in pipeline_stages(extra):
        payload = stage.run(ctx)
        if hasattr(payload, "json_fields"):
            out.update(payload.json_fields())
        elif isinstance(payload, Descriptors):
            fields = payload.to_json()
            fields["analysis_sample_rate"] = fields.pop("sample_rate", ANALYSIS_SAMPLE_RATE)
            out.update(fields)
        elif isinstance(payload, dict):
            for key, value in payload.items():
                out.setdefault(key, value)
        else:
            out[stage.name] = payload
    return out
