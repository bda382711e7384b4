"""Recognising recordings in the Python API: ``Library.identify``, ``Library.duplicates``,
``Library.move_duplicates`` (issue 20; the logic is in :mod:`songscape.recordings`)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from songscape.audio.chromaprint import CHROMAPRINT_SAMPLE_RATE, chromaprint_available
from songscape.audio.decode import load_audio
from songscape.catalog import fingerprints as fp_catalog
from songscape.catalog import tracks as track_rows
from songscape.catalog.store import LibraryStore
from songscape.errors import FingerprintError, UsageError
from songscape.ingest.fingerprint_stage import FINGERPRINT_ALGORITHM
from songscape.recordings.duplicates import apply_move, duplicate_report, plan_moves
from songscape.recordings.identify import MIN_CLIP_S, Identification, identify_clip
from songscape.recordings.index import FingerprintIndex
from songscape.recordings.index_cache import cached_fingerprint_index
from songscape.recordings.links import update_links

#: Longest stretch of a query file (seconds, from its start) that identification reads.
MAX_IDENTIFY_S = 60.0


class RecordingsMixin:
    """The recording methods of :class:`~songscape.library.library.Library`."""

    store: LibraryStore
    _fingerprint_index: tuple[tuple[int, int], FingerprintIndex] | None = None

    def fingerprint_index(self) -> FingerprintIndex:
        """The index over every live track's fingerprint, rebuilt when any changed (kept
        in memory and in ``<library>/fingerprints/index.npz``:
        :mod:`songscape.recordings.index_cache`).

        Raises
        ------
        FingerprintError
            The library has no fingerprints (run ``songscape ingest`` on its folders).
        """
        state = fp_catalog.fingerprint_state(self.store.conn)
        cached = self._fingerprint_index
        if cached is not None and cached[0] == state:
            return cached[1]
        if state[0] == 0:
            if not chromaprint_available():
                raise FingerprintError(
                    "Chromaprint is not installed (apt-get install libchromaprint-tools); "
                    "then run `songscape ingest` again to fingerprint the library"
                )
            raise FingerprintError(
                "the library has no fingerprints yet: run `songscape ingest` on its folders"
            )
        # Saved in the library and reused while the fingerprints stay the same (issue 20).
        index = cached_fingerprint_index(self.store.conn, self.store.root, FINGERPRINT_ALGORITHM)
        self._fingerprint_index = (state, index)
        return index

    def identify_audio(self, y: np.ndarray, sr: int) -> Identification | None:
        """Identify a mono clip (float array at ``sr`` Hz); None when it is not in the library.

        Raises ``AudioTooShortError`` under 3 s, ``SilentAudioError`` for silence.
        """
        return identify_clip(y, sr, self.fingerprint_index())

    def identify(self, file: str | os.PathLike) -> dict | None:
        """Which library recording an audio file (a clip of 3 s or more) comes from.

        Returns
        -------
        dict or None
            ``{"id", "offset_s", "matched_s", "ber", "path", "title", "artist"}``: the
            track, where the clip starts in it and how many of its seconds matched; None
            when nothing in the library matches (then search by similarity instead).

        Raises
        ------
        AudioError
            The file cannot be decoded, is shorter than 3 s, or is silent.
        FingerprintError
            Chromaprint is missing, or the library has no fingerprints yet.
        """
        y, _ = load_audio(
            Path(file).expanduser(), sr=CHROMAPRINT_SAMPLE_RATE, mono=True,
            max_duration_s=None,
        )  # fmt: skip
        y = y[: int(MAX_IDENTIFY_S * CHROMAPRINT_SAMPLE_RATE)]
        found = self.identify_audio(y, CHROMAPRINT_SAMPLE_RATE)
        if found is None:
            return None
        row = self.store.get_track(found.track_id)
        return found.to_json() | {"path": row["path"], "title": row["title"],
                                  "artist": row["artist"]}  # fmt: skip

    def identify_for_similar(self, file: str | os.PathLike) -> dict | None:
        """``similar --file``'s ``identified``: ``{"id", "offset_s", "matched_s"}`` or None.

        The similar tracks are listed as before (the identified track usually comes first).
        A library without fingerprints (made before the fingerprint stage and not
        re-ingested) identifies nothing; similarity still answers.
        """
        try:
            found = self.identify(file)
        except FingerprintError:
            return None
        if found is None:
            return None
        return {key: found[key] for key in ("id", "offset_s", "matched_s")}

    def link_recordings(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Compare tracks whose fingerprint is new or changed with the library and store
        their links (same recording / related); returns how many were compared."""
        if fp_catalog.fingerprint_state(self.store.conn)[0] == 0:
            return 0
        if not fp_catalog.unchecked_tracks(self.store.conn):
            return 0
        index = self.fingerprint_index()
        self.store.acquire_write_lock()
        try:
            return update_links(self.store.conn, index, self.store.transaction, progress)
        finally:
            self.store.release_write_lock()

    def duplicates(self, progress: Callable[[int, int], None] | None = None) -> dict:
        """Copies of one recording in several files, and partly overlapping tracks.

        Brings the recording links up to date first (only new or changed tracks are
        compared). Returns ``{"groups": [{"best", "copies": [...]}], "related": [...],
        "tracks_fingerprinted"}``; see :func:`songscape.recordings.duplicates.duplicate_report`.
        """
        self.link_recordings(progress)
        links = fp_catalog.recording_links(self.store.conn)
        ids = {link["track_a"] for link in links} | {link["track_b"] for link in links}
        facts = fp_catalog.fingerprint_facts(self.store.conn, sorted(ids))
        report = duplicate_report(links, facts)
        report["tracks_fingerprinted"] = fp_catalog.fingerprint_state(self.store.conn)[0]
        return report

    def move_duplicates(
        self, dest: str | os.PathLike, keep: str = "best", apply: bool = False
    ) -> dict:
        """Move every copy but the best of each duplicate group to ``dest``.

        With ``apply=False`` (the default) nothing changes: the planned moves are returned.
        With ``apply=True`` each file is moved (never overwriting) and its track is marked
        ``missing`` at the new path: it keeps its id and data, and comes back if that file
        is ingested again. A move that fails is reported and the rest go on.

        Returns ``{"dry_run", "dest", "moves": [{"id", "from", "to", "best", "status"}]}``.
        """
        if keep != "best":
            raise UsageError(f"--keep {keep!r}: only 'best' is supported")
        dest_path = Path(dest).expanduser().absolute()
        if dest_path.exists() and not dest_path.is_dir():
            raise UsageError(f"{dest_path} is not a folder")
        moves = plan_moves(self.duplicates(), dest_path)
        if not apply:
            return {"dry_run": True, "dest": str(dest_path),
                    "moves": [m | {"status": "planned"} for m in moves]}  # fmt: skip
        self.store.acquire_write_lock()
        try:
            for move in moves:
                try:
                    size, mtime = apply_move(move)
                except OSError as err:
                    move["status"] = f"failed: {err}"
                    continue
                now = time.time()
                with self.store.transaction() as conn:
                    track_rows.move_track(conn, move["id"], move["to"], size, mtime, now)
                    track_rows.mark_missing(conn, move["id"], now)
                move["status"] = "moved"
        finally:
            self.store.release_write_lock()
        return {"dry_run": False, "dest": str(dest_path), "moves": moves}


__all__ = ["MIN_CLIP_S", "RecordingsMixin"]
