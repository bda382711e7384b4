"""Choose the tag values of a track and write them into its file, safely and only when
asked.

Values (from what ingest measured; nothing is guessed):

- ``bpm``: the descriptors' tempo;
- ``key``: the descriptors' key, as ``TKEY`` writes it (``Am``, ``F#``);
- ``replaygain``: track gain from the integrated loudness (EBU R128, -18 LUFS reference)
  and the sample peak of the decoded file (native rate, all channels);
- ``mood`` and ``genre``: the most probable tag of that category (vocabulary categories,
  passed in as ``categories``) of the library's tagging model, when its probability
  reaches :data:`MIN_TAG_PROBABILITY`.

After a write the catalog records the file's new content hash, size and time, so the next
``songscape ingest`` sees an unchanged track rather than an edited one; a genre written
into a file with none becomes the catalog's genre too. A file that cannot be written is
reported and skipped, and the others go on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from songscape.audio.decode import load_audio
from songscape.audio.tag_write import TagValues, short_key, write_tags
from songscape.catalog import tag_writes, tracks
from songscape.catalog.store import STATUS_OK, LibraryStore
from songscape.errors import AudioError, TagWriteError, UsageError

#: The fields ``songscape tags write --fields`` knows.
FIELDS = ("bpm", "key", "replaygain", "mood", "genre")
#: A mood or genre tag below this probability is not written.
MIN_TAG_PROBABILITY = 0.1


def check_fields(fields: Iterable[str] | None) -> tuple[str, ...]:
    """The fields asked for (all of :data:`FIELDS` when None), validated."""
    chosen = tuple(FIELDS if fields is None else dict.fromkeys(f.strip() for f in fields if f))
    unknown = [f for f in chosen if f not in FIELDS]
    if unknown or not chosen:
        raise UsageError(f"unknown field(s) {', '.join(unknown) or '(none)'}: "
                         f"choose from {', '.join(FIELDS)}")  # fmt: skip
    return chosen


def sample_peak(path: str) -> float:
    """The largest absolute sample of the decoded file (native rate, every channel)."""
    y, _ = load_audio(path, sr=None, mono=False)
    return float(np.max(np.abs(y))) if y.size else 0.0


def top_of_category(tags: Mapping[str, float], categories: Mapping[str, str],
                    category: str) -> str | None:  # fmt: skip
    """The most probable tag of ``category`` (``{tag: probability}``), if probable enough."""
    best = max(
        ((p, t) for t, p in tags.items() if categories.get(t) == category), default=None
    )  # fmt: skip
    return best[1] if best and best[0] >= MIN_TAG_PROBABILITY else None


def choose_values(
    track: Mapping, descriptors: Mapping | None, tags: Mapping[str, float],
    categories: Mapping[str, str], fields: tuple[str, ...], peak: Callable[[str], float],
) -> TagValues:  # fmt: skip
    """The :class:`TagValues` of one track for the ``fields`` asked (None where unknown)."""
    d = descriptors or {}
    loudness = d.get("loudness_lufs") if "replaygain" in fields else None
    return TagValues(
        bpm=d.get("tempo_bpm") if "bpm" in fields else None,
        initial_key=short_key(d["key"]) if "key" in fields and d.get("key") else None,
        loudness_lufs=loudness,
        peak=peak(track["path"]) if loudness is not None else None,
        mood=top_of_category(tags, categories, "mood") if "mood" in fields else None,
        genre=top_of_category(tags, categories, "genre") if "genre" in fields else None,
    )  # fmt: skip


def write_back(
    store: LibraryStore, refs: Iterable[str] | None, fields: Iterable[str] | None,
    categories: Mapping[str, str], tag_model: str | None, content_hash: Callable[[str], str],
    dry_run: bool = False, overwrite: bool = False,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> dict:  # fmt: skip
    """Write tags into the files of ``refs`` (track ids, prefixes or paths; None = every
    healthy track). ``content_hash`` is the fingerprint ingest compares files by
    (:func:`songscape.ingest.scan.content_hash`), recorded after each write.

    Returns
    -------
    dict
        ``{"dry_run", "fields", "written": [{id, path, fields: {name: text}}],
        "unchanged": [ids with nothing to write], "failed": [{id, path, error}]}``.
    """
    chosen = check_fields(fields)
    rows = (
        [r for r in tracks.list_tracks(store.conn, STATUS_OK)] if refs is None
        else [tracks.find_track(store.conn, ref) for ref in refs]
    )  # fmt: skip
    out: dict = {"dry_run": dry_run, "fields": list(chosen), "written": [], "unchanged": [],
                 "failed": []}  # fmt: skip
    for row in progress(rows) if progress else rows:
        track_id, path = row["id"], row["path"]
        try:
            if row["status"] != STATUS_OK or not os.path.isfile(path):
                raise TagWriteError(f"{path}: the file is missing or the track is not healthy")
            desc = store.descriptors(track_id)
            tags = store.track_tags(track_id).get(tag_model, {}) if tag_model else {}
            values = choose_values(row, dict(desc) if desc else None, tags, categories,
                                   chosen, sample_peak)  # fmt: skip
            written = {} if values.empty() else write_tags(path, values, overwrite, dry_run)
        except (TagWriteError, AudioError, OSError) as err:
            out["failed"].append({"id": track_id, "path": path, "error": str(err)})
            continue
        if not written:
            out["unchanged"].append(track_id)
            continue
        if not dry_run:
            _record_own_write(store, track_id, path, written.get("genre"), row["genre"],
                              content_hash)  # fmt: skip
        out["written"].append({"id": track_id, "path": path, "fields": written})
    return out


def _record_own_write(
    store: LibraryStore, track_id: str, path: str, genre: str | None, old_genre: str | None,
    content_hash: Callable[[str], str],
) -> None:  # fmt: skip
    """Tell the catalog the file's new bytes are songscape's own write (not a user edit)."""
    st = os.stat(path)
    digest = content_hash(path)
    with store.transaction() as conn:
        tag_writes.record_rewrite(
            conn, track_id, digest, st.st_size, st.st_mtime, time.time(),
            genre=genre if genre and not old_genre else None,
        )  # fmt: skip
