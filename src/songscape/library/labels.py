"""Sidecar labels in the Python API (issue 17): ``Library.import_labels`` reads a
``labels.csv``-style file (a ``path`` column and a ``genre`` or ``label`` column, paths
relative to the file) and gives its genres to the library's tracks at those paths; the map
shows them where the files' own tags have no genre."""

from __future__ import annotations

import os

from songscape.catalog import track_labels, tracks
from songscape.catalog.schema import bump_catalog_version
from songscape.catalog.store import LibraryStore
from songscape.datasets.labels import read_labels
from songscape.errors import TrackNotFoundError


class LabelsMixin:
    """The sidecar-label method of :class:`~songscape.library.library.Library`."""

    store: LibraryStore

    def import_labels(self, csv_path: str | os.PathLike, label_column: str | None = None) -> dict:
        """Store the genres of a labels file for the tracks it lists.

        Returns ``{"source", "rows", "matched", "unknown"}`` (``unknown``: rows whose file
        is not a library track). Raises :class:`~songscape.errors.DatasetError` for a file
        without a ``path`` and a label column.
        """
        labelled = read_labels(csv_path, "genre", label_column=label_column, check_files=False)
        matched: list[tuple[str, str]] = []
        unknown = 0
        for path, labs in zip(labelled.paths, labelled.labels, strict=True):
            if not labs:
                continue
            try:
                track_id = tracks.find_track(self.store.conn, str(path))["id"]
            except TrackNotFoundError:
                unknown += 1
                continue
            matched.append((track_id, labs[0]))
        with self.store.transaction() as conn:
            track_labels.put_labels(conn, "genre", matched, labelled.source)
            bump_catalog_version(conn)
        return {"source": labelled.source, "rows": len(labelled), "matched": len(matched),
                "unknown": unknown}  # fmt: skip
