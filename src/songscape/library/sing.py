"""The ``Library`` methods of ``sing`` (issue 14): a mixin the facade inherits."""

from __future__ import annotations

import os

import numpy as np

from songscape.catalog import structure as structure_catalog
from songscape.catalog import vocals as vocals_catalog
from songscape.errors import LibraryError
from songscape.ingest.pipeline import IngestOptions, IngestReport, Progress, ingest
from songscape.ingest.stages import get_stage
from songscape.ingest.vocals_stage import VOCALS_STAGE, vocals_stage_name
from songscape.models.pitch import DEFAULT_PITCH_TRACKER
from songscape.sing.match import parse_weights
from songscape.sing.preview import PREVIEW_S, PREVIEW_SAMPLE_RATE, check_preview, key_preview
from songscape.sing.service import (
    NO_VOCALS_MESSAGE,
    library_vocal_models,
    load_song_vocals,
    sing_report,
)
from songscape.sing.vocal_training import (
    refresh_vocal_embeddings,
    stale_vocal_embeddings,
    vocal_training_set,
)
from songscape.sing.voice import MAX_VOICE_S, analyze_voice, load_voice


class SingMixin:
    """``analyze_vocals``, ``voice`` and ``sing`` (needs ``self.store``)."""

    def tracks_without_vocals(self, tracker: str = DEFAULT_PITCH_TRACKER) -> list[str]:
        """Ids of healthy tracks that have no vocal analysis yet, or one made by another
        version of the ``vocals`` stage (older ones recorded no sung regions)."""
        return [r["id"] for r in self._vocals_todo(tracker)]

    def _vocals_todo(self, tracker: str) -> list:
        # an analysis by another tracker is kept; one by an older stage version is redone
        stage = get_stage(vocals_stage_name(tracker))
        conn = self.store.conn
        return (vocals_catalog.tracks_without_vocals(conn)
                + vocals_catalog.tracks_with_stale_vocals(conn, f"{VOCALS_STAGE}:", stage.version))

    def vocal_embeddings_to_update(self) -> dict[str, int]:
        """``{vocal model: tracks whose vector of it is missing or stale}``."""
        return {m: len(rows) for m, rows in stale_vocal_embeddings(self.store.conn).items()}

    def update_vocal_embeddings(self, progress: Progress | None = None) -> dict[str, int]:
        """Compute the vectors of the trained vocal models (``songscape train --source
        vocals``) that tracks lack or hold from another version of the model.

        Returns ``{model: tracks updated}``.
        """
        return refresh_vocal_embeddings(self.store.conn, self.store.transaction, progress)

    def vocal_training_set(
        self,
        signal: str = "mix",
        folder: str | os.PathLike | None = None,
        progress: Progress | None = None,
    ):
        """The library's sung regions as unlabelled training files (``train --source
        vocals``): a :class:`songscape.datasets.LabelSet`, one file and group per track.

        ``signal``: ``mix`` (the default: it measured better, docs/sing.md) or
        ``dominant`` (the vocal-dominant separation); ``folder``:
        where the files go (default ``<cache dir>/vocal-segments/<signal>``).
        """
        from songscape.config import default_cache_dir

        target = folder if folder is not None else default_cache_dir() / "vocal-segments" / signal
        return vocal_training_set(self.store.conn, target, signal, str(self.root), progress)

    def analyze_vocals(
        self,
        progress: Progress | None = None,
        workers: int | None = None,
        tracker: str = DEFAULT_PITCH_TRACKER,
        update_embeddings: bool = True,
    ) -> IngestReport | None:
        """Run the ``vocals`` stage on every healthy track that lacks it (or has it from
        an older version), then (``update_embeddings``) :meth:`update_vocal_embeddings`.

        Returns the ingest report, or None when every track already has one.
        """
        rows = self._vocals_todo(tracker)
        paths = [r["path"] for r in rows if r["path"] and os.path.exists(r["path"])]
        if not paths:
            if update_embeddings:
                self.update_vocal_embeddings(progress)
            return None
        # Only the vocals stage (and any always-on stage that is stale): no model stages.
        options = IngestOptions(embed_models=(), tag_models=(),
                                extra_stages=(vocals_stage_name(tracker),))  # fmt: skip
        if workers is not None:
            options.workers = workers
        report = ingest(self.store, paths, options, progress)
        if update_embeddings:
            self.update_vocal_embeddings(progress)
        return report

    def vocal_encoders(self) -> list[str]:
        """The trained vocal models a voice is embedded with: those whose vectors the
        library holds (``sing`` uses them; the server too)."""
        return library_vocal_models(self.store.conn)

    def preview_start_s(self, ref: str) -> float:
        """Where "hear it in my key" starts: the track's highlight, else its beginning."""
        row = self.store.get_track(ref)
        highlight = structure_catalog.default_highlight(self.store.conn, row["id"])
        return float(highlight["start_s"]) if highlight else 0.0

    def key_preview(
        self, ref: str, transpose_semitones: int, duration_s: float = PREVIEW_S
    ) -> tuple[np.ndarray, int]:
        """"Hear it in my key": ``duration_s`` of the track from its highlight, moved by
        ``transpose_semitones`` at its own tempo (Rubber Band when installed).

        Returns ``(samples (2, n) float32, sample rate)``. Raises ``UsageError`` for a
        transposition beyond ±12 or a length beyond 30 s, ``LibraryError`` for a track
        without a playable file, ``DecodeError`` for a file that cannot be read.
        """
        check_preview(transpose_semitones, duration_s)
        row = self.store.get_track(ref)
        if row["status"] != "ok" or not row["path"] or not os.path.isfile(row["path"]):
            raise LibraryError(f"track {row['id']} has no playable file")
        start = self.preview_start_s(row["id"])
        samples = key_preview(row["path"], start, transpose_semitones, duration_s)
        return samples, PREVIEW_SAMPLE_RATE

    def voice(
        self,
        voice: str | os.PathLike | np.ndarray,
        sr: int | None = None,
        tracker: str = DEFAULT_PITCH_TRACKER,
        max_duration_s: float = MAX_VOICE_S,
        encoders: list[str] | None = None,
    ):
        """Check and measure a recording of a voice (a path, or mono samples with ``sr``).

        ``encoders``: trained vocal models to embed it with (default: those whose vectors
        the library holds). Returns a :class:`songscape.sing.voice.VoiceAnalysis`;
        raises :class:`songscape.errors.VoiceCheckError` for an unusable recording.
        """
        if encoders is None:
            encoders = self.vocal_encoders()
        if isinstance(voice, np.ndarray):
            if sr is None:
                raise ValueError("give the sample rate of the samples")
            y, rate = voice, sr
        else:
            y, rate = load_voice(voice, max_duration_s=max_duration_s)
        return analyze_voice(y, rate, tracker=tracker, encoders=encoders)

    def sing(
        self,
        voice: str | os.PathLike | np.ndarray,
        k: int = 10,
        weights: str | dict[str, float] | None = None,
        sr: int | None = None,
        tracker: str = DEFAULT_PITCH_TRACKER,
        max_duration_s: float = MAX_VOICE_S,
    ) -> dict:
        """The library's songs that suit a voice, best first (``songscape sing``).

        Parameters
        ----------
        voice : path or np.ndarray
            A recording (any format the decoder reads), or mono samples with ``sr``.
        k : int
            Results to return.
        weights : str or dict, optional
            Fusion weights, e.g. ``"range=0.5,musicnn=0.3,mfcc=0.2"``
            (:data:`songscape.sing.match.DEFAULT_WEIGHTS`).

        Returns
        -------
        dict
            ``voice`` (``range_midi``, ``comfortable_midi``, ``tessitura_midi``,
            ``voiced_s``, …) and ``results``: ``id``, ``score``, ``range_fit``,
            ``transpose_semitones``, ``timbre_similarity``, ``explanation``, …
            Only tracks with a vocal analysis are considered (:meth:`analyze_vocals`).
        """
        parsed = parse_weights(weights) if not isinstance(weights, dict) else weights
        if not vocals_catalog.has_vocals(self.store.conn):  # say so before the analysis
            raise LibraryError(NO_VOCALS_MESSAGE)
        analysis = self.voice(voice, sr=sr, tracker=tracker, max_duration_s=max_duration_s)
        return self.sing_analysis(analysis, k=k, weights=parsed)

    def sing_analysis(
        self, analysis, k: int = 10, weights: str | dict[str, float] | None = None
    ) -> dict:
        """:meth:`sing` for a voice already measured (a ``VoiceAnalysis``)."""
        songs, missing = self._song_vocals()
        return sing_report(analysis, songs, k=k, weights=weights, missing=missing)

    def _song_vocals(self):
        # The songs' vocal analysis, read once per catalog version (every write that
        # changes it bumps the version, in this process or another): a running server
        # answers a voice without re-reading 10,000 rows.
        version = self.store.catalog_version
        cached = getattr(self, "_song_vocals_cache", None)
        if cached is None or cached[0] != version:
            songs = load_song_vocals(self.store.conn)
            missing = len(vocals_catalog.tracks_without_vocals(self.store.conn))
            cached = self._song_vocals_cache = (version, songs, missing)
        return cached[1], cached[2]
