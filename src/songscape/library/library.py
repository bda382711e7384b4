"""The Python API of a songscape library: what the CLI and the server call."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE, ARRAY_FIELDS, Descriptors
from songscape.catalog.store import LibraryStore
from songscape.config import default_library_dir
from songscape.datasets import LabelSet, track_labels
from songscape.errors import NoVectorError
from songscape.ingest.model_stages import model_stage_names
from songscape.ingest.pipeline import IngestOptions, IngestReport, Progress, ingest
from songscape.ingest.stages import (
    DescriptorsStage,
    TrackContext,
    pipeline_stages,
    without_model_stages,
)
from songscape.library.emotion import EmotionMixin
from songscape.library.labels import LabelsMixin
from songscape.library.mix import MixMixin
from songscape.library.playlists import PlaylistsMixin
from songscape.library.recordings import RecordingsMixin
from songscape.library.scale import ScaleMixin
from songscape.library.segments import SegmentsMixin, check_by, clip_query_windows
from songscape.library.settings import SettingsMixin
from songscape.library.sing import SingMixin
from songscape.library.structure import StructureMixin
from songscape.library.tag_writing import TagWritingMixin
from songscape.models.registry import DEFAULT_MODEL, get_spec
from songscape.models.rhythm import DEFAULT_RHYTHM_BACKEND
from songscape.vectors import unit_rows

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


class Library(SettingsMixin, ScaleMixin, RecordingsMixin, StructureMixin, SingMixin, EmotionMixin,
              PlaylistsMixin, TagWritingMixin, LabelsMixin, MixMixin, SegmentsMixin):
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
        self._indexes: dict[tuple[str, str, str], object] = {}
        self._text_engine = None

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
        """Add/update the audio under ``paths``; see :func:`songscape.ingest.pipeline.ingest`.

        Afterwards the vector index (and window index) of every model the run embedded
        with is brought up to date (built on first use), so the first search is fast.
        """
        report = ingest(self.store, paths, options, progress)
        if not report.interrupted and (report.added or report.updated or report.restaged
                                       or report.missing or report.moved):  # fmt: skip
            models = (options.embed_models if options else None) or (self.default_model,)
            counts = self.store.embedding_counts()
            for model in models:
                if counts.get(model):
                    self.index(model).sync()
                    self.window_index(model).sync()  # the 10 s windows (issue 20)
        return report

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
        return self.with_emotion([_summary(row) for row in self.store.list_tracks(status)])

    def labels(self, field_name: str = "genre") -> LabelSet:
        """A training/evaluation label set from the tracks' own ``genre`` or ``artist``
        (see :func:`songscape.datasets.track_labels`)."""
        return track_labels(self.tracks(status="ok"), field_name, source=f"library:{self.root}")

    def track(self, ref: str) -> dict:
        """Everything known about one track: summary, tags, lyrics, descriptors, arrays, stages.

        ``ref`` is a track id, a unique id prefix, or a path of the track's file (or of a
        duplicate copy of it). Raises :class:`~songscape.catalog.store.TrackNotFoundError`.
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
                "rhythm_method": desc["rhythm_method"],
                **{
                    name: [round(float(v), 2 if name == "energy_curve" else 3) for v in arr]
                    for name, arr in arrays.items()
                    if name in ARRAY_FIELDS
                },
            }
        out["duplicates"] = self.store.duplicates(row["id"])
        out["tags"] = {
            model: dict(list(tags.items())[:10])
            for model, tags in self.store.track_tags(row["id"]).items()
        }
        out.update(self.emotion_summary(row["id"]))  # issue 19
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

    def check(self, repair: bool = False):
        """Check the library's consistency (``--repair``: fix what can be fixed); returns a
        :class:`songscape.library.check.CheckReport`."""
        from songscape.library.check import check_library

        report = check_library(self.store, repair=repair)
        if repair:
            self._indexes.clear()  # a repaired index is reloaded on next use
        return report

    # -- search ----------------------------------------------------------------------

    def index(self, model: str | None = None, backend: str | None = None,
              uri: str | None = None):  # fmt: skip
        """The model's vector index (default: the library's default model), in sync, in
        ``backend`` (``faiss``/``milvus``; default: the library's ``index.backend``);
        ``uri`` overrides ``index.uri`` (Milvus)."""
        from songscape.search.backends import configured_backend, open_index

        spec = get_spec(model or self.default_model)
        key = (spec.name, configured_backend(self.store, backend), uri or "")
        cached = self._indexes.get(key)
        if cached is None:
            cached = self._indexes[key] = open_index(self.store, spec.name, key[1], uri)
        else:  # another process (an ingest) may have committed since: one SELECT if not
            cached.sync()
        return cached

    def similar(
        self,
        ref: str | None = None,
        *,
        file: str | os.PathLike | None = None,
        k: int = 10,
        model: str | None = None,
        filters: Iterable[str] = (),
        other_artists: bool = False,
        half_double: bool = False,
        backend: str | None = None,
        by: str | None = None,
    ) -> dict:
        """Tracks that sound like a library track (``ref``) or an outside audio ``file``.

        Parameters
        ----------
        ref : str, optional
            Track id, id prefix or path of a library track.
        file : path-like, optional
            An audio file to analyse (not added to the library) and search with.
        k : int
            Results wanted.
        model : str, optional
            Embedding model; default: the library's default.
        filters : iterable of str
            ``name=value`` filters (see :mod:`songscape.search.similar`).
        other_artists : bool
            Leave out the query's artist.
        half_double : bool
            Tempo filters and closeness also accept half and double tempo.
        backend : str, optional
            Vector index backend (``faiss``, ``milvus``); default: ``index.backend``.
        by : {"track", "segment"}, optional
            Compare whole-track vectors, or window vectors (10 s segments; a track query
            uses each of its windows). Default: segments for a ``file`` that is not
            identified by fingerprint, whole tracks otherwise (issue 20). A ``file``
            longer than one window is compared by each of its own windows
            (:func:`~songscape.library.segments.clip_query_windows`).

        Returns
        -------
        dict
            ``{"query": {...}, "model", "filters", "matched_by", "results": [...]}``;
            each result has ``id, path, title, artist, album, tempo_bpm, key,
            duration_s, score`` and an ``explanation`` (shared tags, tempo, key, same
            artist/album); ``matched_by`` is ``"segment"`` when windows were compared,
            and then each result also has ``window`` (``start_s``, ``end_s``, ``score``)
            and ``track_score`` (see :meth:`similar_segments`).
        """
        from songscape.search.similar import (
            explained_results,
            parse_filters,
            query_facts,
            similar_to_vector,
        )

        if (ref is None) == (file is None):
            raise ValueError("give either a track or a file to search with")
        by = check_by(by)
        spec = get_spec(model or self.default_model)
        parsed = parse_filters(list(filters), half_double=half_double, other_artists=other_artists)
        index = self.index(spec.name, backend)
        exclude: set[str] = set()
        starts = None  # window starts of a query of several windows
        if ref is not None:
            row = self.store.get_track(ref)
            stored = self.store.embedding(row["id"], spec.name)
            if stored is None or stored[1] != spec.version:
                raise NoVectorError(
                    f"track {row['id']} has no {spec.name} vector yet: run "
                    f"`songscape ingest --model {spec.name}` on its folder"
                )
            vector = stored[0]
            query = query_facts(self.store, row["id"])
            exclude.add(row["id"])
            if by == "segment":  # each of the track's windows is a query (issue 20)
                starts, vector = self.track_window_vectors(row["id"], spec.name, spec.version)
            elif not filters and not other_artists and backend is None:  # serve.redis lists
                hits = self.precomputed_similar(row["id"], k, spec.name)
                if hits is not None:
                    return {"query": {key: query.get(key) for key in _QUERY_KEYS},
                            "model": spec.name, "filters": [], "source": "redis",
                            "matched_by": "track",
                            "results": explained_results(self.store, hits, query,
                                                         half_double)}  # fmt: skip
        else:
            analysis = analyze_file(file, model=spec.name, windows=True,
                                    skip=QUERY_SKIPS_STAGES)  # fmt: skip
            vector = np.asarray(analysis["embedding"], dtype=np.float32)
            query = _file_facts(analysis, spec.name)
            identified = self.identify_for_similar(file)  # issue 20: fingerprint look-up
        results = None
        if by == "segment" or (by is None and file is not None and identified is None):
            if file is not None:  # a clip longer than one window: its own windows (issue 20)
                starts, query_vectors = clip_query_windows(analysis, vector)
            results = self.similar_segments(
                vector if file is None else query_vectors, query, spec.name, k, parsed,
                exclude, backend, None if starts is None else [float(t) for t in starts],
                track_vector=vector if file is not None else None,
            )  # fmt: skip
            if results is None and by == "segment":
                raise NoVectorError(f"the library has no {spec.name} window vectors yet: run "
                                    f"`songscape ingest --model {spec.name}` on its folders")
        matched_by = "track" if results is None else "segment"
        if results is None:
            results = similar_to_vector(self.store, index, vector, query, k, parsed, exclude)
        return {
            "query": {key: query.get(key) for key in _QUERY_KEYS},
            "model": spec.name,
            "filters": list(filters),
            "matched_by": matched_by,
            "results": results,
        } | ({"identified": identified} if file is not None else {})

    def search(self, text: str, k: int = 10) -> dict:
        """Tracks matching a text query ("calm piano music", "play IU songs").

        Returns ``{"query", "intent": {...}, "results": [...]}``; see
        :mod:`songscape.search.text_query` for how queries are understood.
        """
        from songscape.search.text_query import TextQueryEngine

        if self._text_engine is None:
            self._text_engine = TextQueryEngine(self.store)
        found = self._text_engine.search(text, k=k)
        results = []
        for hit in found.results:
            row = self.store.get_track(hit["track_id"])
            summary = _summary({**dict(row), **dict(self.store.descriptors(row["id"]) or {})})
            results.append(
                {key: summary[key] for key in _RESULT_KEYS}
                | {"score": round(float(hit["score"]), 4), "explanation": hit["explanation"]}
            )
        return {"query": text, "intent": found.intent.to_json(), "results": results}

    def path(self, start: str, end: str, steps: int = 8, model: str | None = None,
             backend: str | None = None) -> dict:  # fmt: skip
        """A smooth sequence of tracks from ``start`` to ``end`` (see
        :func:`songscape.search.similar.path_between`; a Milvus ``backend`` answers each
        waypoint, :func:`songscape.search.backends.path_through_index`)."""
        from songscape.search.backends import configured_backend, path_through_index
        from songscape.search.similar import path_between

        spec = get_spec(model or self.default_model)
        a, b = self.store.get_track(start)["id"], self.store.get_track(end)["id"]
        data = self.embeddings(spec.name)
        if not data["ids"]:
            raise NoVectorError(f"the library has no {spec.name} vectors yet")
        vectors = dict(zip(data["ids"], unit_rows(data["vectors"]), strict=True))
        for track in (a, b):
            if track not in vectors:
                raise NoVectorError(f"track {track} has no {spec.name} vector yet")
        if configured_backend(self.store, backend) == "faiss":
            hops = path_between(vectors, a, b, steps)
        else:
            order = path_through_index(self.index(spec.name, backend), vectors, a, b, steps)
            hops = [(a, 1.0)] + [(cur, float(vectors[prev] @ vectors[cur]))
                                 for prev, cur in zip(order[:-1], order[1:], strict=True)]
        out = []
        for track_id, sim in hops:
            row = self.store.get_track(track_id)
            summary = _summary({**dict(row), **dict(self.store.descriptors(track_id) or {})})
            out.append({key: summary[key] for key in _RESULT_KEYS} | {"similarity": round(sim, 4)})
        return {"model": spec.name, "from": a, "to": b, "steps": steps, "path": out}


#: Stages whose fields a ``similar --file`` query does not use (the clip's fingerprint is
#: looked up on its own, by :meth:`identify_for_similar`).
QUERY_SKIPS_STAGES = ("emotion", "fingerprint", "structure", "highlight")
_QUERY_KEYS = ("id", "path", "title", "artist", "album", "tempo_bpm", "key", "top_tags")
_RESULT_KEYS = ("id", "path", "title", "artist", "album", "tempo_bpm", "key", "duration_s")


def _file_facts(analysis: dict, model: str) -> dict:
    """Query facts of an analysed outside file, shaped like a library track's."""
    from songscape.search.similar import top_tags

    return {
        "id": None,
        "path": analysis["path"],
        "title": analysis.get("title"),
        "artist": analysis.get("artist"),
        "album": analysis.get("album"),
        "tempo_bpm": analysis.get("tempo_bpm"),
        "key": analysis.get("key"),
        "duration_s": analysis.get("duration_s"),
        "top_tags": top_tags({model: analysis.get("tags", {})}),
    }


def analyze_file(
    path: str | os.PathLike,
    max_duration_s: float | None = None,
    min_duration_s: float = 1.0,
    model: str | None = DEFAULT_MODEL,
    rhythm: str = DEFAULT_RHYTHM_BACKEND,
    windows: bool = False,
    skip: tuple[str, ...] = (),
) -> dict:
    """Run every registered stage, and ``model``'s embed and tag stages, on one file.

    ``skip`` names stages not to run (``similar --file`` skips those whose fields a
    query does not use: :data:`QUERY_SKIPS_STAGES`).

    ``windows=True`` also returns the model's 10 s window vectors (``window_starts_s``,
    ``window_vectors``; issue 20), which ``similar --file`` compares for a long clip.

    ``rhythm`` names the beat tracker (:data:`~songscape.models.rhythm.RHYTHM_BACKENDS`;
    ``"madmom"`` is opt-in: its weights are non-commercial).

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
    stages = pipeline_stages(extra)
    for stage in stages if model else without_model_stages(stages):
        if stage.name in skip:
            continue
        if stage.name == DescriptorsStage.name and rhythm != DEFAULT_RHYTHM_BACKEND:
            stage = DescriptorsStage(rhythm)
        payload = stage.run(ctx)
        if hasattr(payload, "json_fields"):
            out.update(payload.json_fields())
            if windows and hasattr(payload, "vector_fields"):
                out.update(payload.vector_fields())
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
