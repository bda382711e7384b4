"""The library's singing as training data, and trained vocal encoders kept up to date.

* :func:`vocal_training_set` — ``songscape train --source vocals``: each track's sung
  regions (recorded by the ``vocals`` stage) cut from the vocal-dominant signal or the
  mix, concatenated, written once as a WAV file under the cache folder, and returned as
  an unlabelled :class:`~songscape.datasets.LabelSet` (one group per track, so a track
  never sits on both sides of the train/validation split). Its ``source``,
  ``library-vocals:<signal>:<library>``, is recorded with the trained model: that is
  what makes it a vocal model (:func:`songscape.models.vocal_timbre.vocal_models`).
* :func:`refresh_vocal_embeddings` — the vectors of every registered vocal model for
  every track with sung regions whose stored vector is missing or was made by another
  version of the model (a retrained model has a new version), from the stored regions.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from songscape.analysis.descriptors import ANALYSIS_SAMPLE_RATE
from songscape.analysis.vocals import sung_audio
from songscape.audio.decode import load_audio
from songscape.catalog import vocals as vocals_catalog
from songscape.catalog.schema import bump_catalog_version
from songscape.datasets import LabelSet
from songscape.errors import AudioError, DatasetError
from songscape.models.registry import get_spec
from songscape.models.spleeter import melody_signal, melody_signal_name
from songscape.models.vocal_timbre import (
    VOCAL_SIGNALS,
    VOCAL_TRAINING_SOURCE,
    trained_vocal_embedding,
    vocal_kind,
    vocal_models,
)

#: Most seconds of singing exported per track (regions spread over the song are kept).
MAX_SUNG_S_PER_TRACK = 90.0
#: Tracks with less singing than this are left out of a training set (as the ``vocals``
#: stage gives no range below it).
MIN_SUNG_S = 2.0


def spread_regions(regions: np.ndarray, max_s: float) -> np.ndarray:
    """At most ``max_s`` seconds of ``regions``: every k-th region, k as small as fits.

    Parameters
    ----------
    regions : np.ndarray, shape (n, 2)
        Seconds, in time order.
    max_s : float

    Returns
    -------
    np.ndarray, shape (m, 2)
        A subset spread over the whole song (the last one cut to fit).
    """
    r = np.asarray(regions, dtype=np.float64).reshape(-1, 2)
    lengths = r[:, 1] - r[:, 0]
    if lengths.sum() <= max_s:
        return r
    step = int(np.ceil(lengths.sum() / max_s))
    kept = r[::step].copy()
    total = np.cumsum(kept[:, 1] - kept[:, 0])
    kept = kept[np.concatenate([[True], total[:-1] < max_s])]
    excess = (kept[:, 1] - kept[:, 0]).sum() - max_s
    if excess > 0:
        kept[-1, 1] -= excess
    return kept


class _NoProgress:
    def phase(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


def _signal(path: str, signal: str) -> np.ndarray:
    y, _ = load_audio(path, sr=ANALYSIS_SAMPLE_RATE, mono=True)
    return melody_signal(y, ANALYSIS_SAMPLE_RATE) if signal == "dominant" else y


def vocal_training_set(
    conn: sqlite3.Connection,
    folder: str | os.PathLike[str],
    signal: str = "mix",
    library: str = "",
    progress: Any = None,
) -> LabelSet:
    """Write each track's sung audio to ``folder`` (once) and list the files.

    Parameters
    ----------
    conn : sqlite3.Connection
        The library's catalog.
    folder : path
        Where the WAV files go (``<track id>-<digest>.wav``, the digest of the regions,
        the signal and the path: an existing file is reused).
    signal : str
        ``mix`` or ``dominant`` (HPSS + REPET-SIM, as the ``vocals`` stage).
    library : str
        The library's folder, for the record.
    progress : object or None
        ``phase(name, total)`` / ``advance(n)`` callbacks.

    Raises
    ------
    DatasetError
        An unknown signal, or fewer than two tracks with :data:`MIN_SUNG_S` of singing
        (run ``songscape vocals`` first).
    """
    if signal not in VOCAL_SIGNALS:
        raise DatasetError(f"unknown vocal signal {signal!r}; choose from "
                           f"{', '.join(VOCAL_SIGNALS)}")  # fmt: skip
    rows = vocals_catalog.sung_regions(conn)
    todo = []
    for row in rows:
        regions = spread_regions(vocals_catalog.regions_from_blob(row["regions"]),
                                 MAX_SUNG_S_PER_TRACK)  # fmt: skip
        if (regions[:, 1] - regions[:, 0]).sum() >= MIN_SUNG_S and row["path"]:
            todo.append((row["id"], row["path"], regions))
    if len(todo) < 2:
        raise DatasetError(
            f"{len(todo)} track(s) of the library have {MIN_SUNG_S:.0f} s of recorded singing: "
            "training needs at least 2 (run `songscape vocals` first)"
        )
    return write_vocal_segments(todo, folder, signal, f"{VOCAL_TRAINING_SOURCE}:{signal}:{library}",
                                progress)  # fmt: skip


def write_vocal_segments(
    items: list[tuple[str, str, np.ndarray]],
    folder: str | os.PathLike[str],
    signal: str,
    source: str,
    progress: Any = None,
) -> LabelSet:
    """Write the sung audio of ``items`` (track id, audio path, regions) to ``folder``.

    One WAV file per track (22050 Hz, 16 bit) named ``<track id>-<digest>.wav``, the
    digest of the regions, the signal and the path (an existing file is reused). Returns
    the unlabelled :class:`LabelSet` of the files (group: the track), ``source`` recorded.

    Raises
    ------
    DatasetError
        Fewer than two tracks could be read.
    """
    out = Path(folder).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or _NoProgress()
    progress.phase("vocal segments", len(items))
    paths, groups, skipped = [], [], 0
    for track_id, path, regions in items:
        # the separation is part of the name: a segment cut from another one is not reused
        how = melody_signal_name() if signal == "dominant" else signal
        digest = hashlib.sha1(np.asarray(regions, np.float32).tobytes()
                              + f"{how}|{path}".encode()).hexdigest()[:12]  # fmt: skip
        target = out / f"{track_id}-{digest}.wav"
        if not target.is_file():
            try:
                y = sung_audio(_signal(path, signal), ANALYSIS_SAMPLE_RATE, regions)
            except (AudioError, OSError):
                skipped += 1  # a file gone or unreadable since it was analysed
                progress.advance()
                continue
            tmp = target.with_suffix(".tmp.wav")
            sf.write(tmp, y, ANALYSIS_SAMPLE_RATE, subtype="PCM_16")
            os.replace(tmp, target)
        paths.append(target.resolve())
        groups.append(track_id)
        progress.advance()
    if len(paths) < 2:
        raise DatasetError("fewer than 2 tracks' singing could be read: nothing to train on")
    return LabelSet(paths=paths, labels=[()] * len(paths), groups=np.array(groups), classes=(),
                    source=source, group_source="track",
                    skipped={"unreadable": skipped} if skipped else {})  # fmt: skip


def stale_vocal_embeddings(conn: sqlite3.Connection) -> dict[str, list[sqlite3.Row]]:
    """``{vocal model: [tracks (id, path, regions) whose vector is missing or stale]}``."""
    rows = vocals_catalog.sung_regions(conn)
    out = {}
    for model in vocal_models():
        version = get_spec(model).version
        have = vocals_catalog.vocal_embedding_versions(conn, vocal_kind(model))
        stale = [r for r in rows if have.get(r["id"]) != version]
        if stale:
            out[model] = stale
    return out


def refresh_vocal_embeddings(
    conn: sqlite3.Connection,
    transaction: Callable[[], AbstractContextManager[sqlite3.Connection]],
    progress: Any = None,
) -> dict[str, int]:
    """Bring every track's vectors of the registered vocal models up to date.

    Parameters
    ----------
    conn : sqlite3.Connection
        For reading.
    transaction : callable
        A write transaction (``Store.transaction``); one per track.
    progress : object or None
        ``phase(name, total)`` / ``advance(n)`` callbacks.

    Returns
    -------
    dict
        ``{model: tracks updated}``; a track whose file cannot be read is left as it is.
    """
    stale = stale_vocal_embeddings(conn)
    signals = vocal_models()
    by_track: dict[str, tuple[sqlite3.Row, list[str]]] = {}
    for model, rows in stale.items():
        for r in rows:
            by_track.setdefault(r["id"], (r, []))[1].append(model)
    progress = progress or _NoProgress()
    progress.phase("vocal embeddings", len(by_track))
    done = {model: 0 for model in stale}
    for track_id, (row, models) in by_track.items():
        regions = vocals_catalog.regions_from_blob(row["regions"])
        vectors, cache = {}, {}
        try:
            for model in models:
                signal = signals[model]
                if signal not in cache:
                    cache[signal] = _signal(row["path"], signal)
                vectors[vocal_kind(model)] = trained_vocal_embedding(
                    model, cache[signal], ANALYSIS_SAMPLE_RATE, regions)  # fmt: skip
        except (AudioError, OSError):
            progress.advance()
            continue
        with transaction() as tx:
            vocals_catalog.put_vocal_embeddings(tx, track_id, vectors)
            bump_catalog_version(tx)
        for model in models:
            done[model] += 1
        progress.advance()
    return done
