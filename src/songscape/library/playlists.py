"""Saved playlists in the Python API (issue 17): ``Library.save_playlist``,
``Library.playlists``, ``Library.playlist``, ``Library.export_playlist``,
``Library.import_playlist``, ``Library.delete_playlist``. The logic is in
:mod:`songscape.playlists.service`."""

from __future__ import annotations

import os
from collections.abc import Iterable

from songscape.catalog.store import LibraryStore
from songscape.playlists import service


class PlaylistsMixin:
    """The playlist methods of :class:`~songscape.library.library.Library`."""

    store: LibraryStore

    def save_playlist(self, name: str, tracks: Iterable[str], source: str | None = None) -> dict:
        """Save tracks (ids, id prefixes or paths, in play order) as playlist ``name``
        (replacing one of that name); ``source`` says what produced the list (e.g.
        ``"similar:<id>"``). Returns the playlist with its tracks."""
        return service.save(self.store, name, tracks, source)

    def playlists(self) -> list[dict]:
        """The saved playlists: name, source, number of tracks, total duration (s)."""
        return service.list_all(self.store)

    def playlist(self, name: str) -> dict:
        """One saved playlist with its tracks in order."""
        return service.show(self.store, name)

    def export_playlist(
        self, name: str, dest: str | os.PathLike, fmt: str | None = None,
        absolute: bool = False,
    ) -> dict:  # fmt: skip
        """Write a playlist as M3U8 or XSPF (by ``fmt`` or ``dest``'s extension), with
        paths relative to the playlist file unless ``absolute``."""
        return service.export(self.store, name, dest, fmt, absolute)

    def import_playlist(self, path: str | os.PathLike, name: str | None = None) -> dict:
        """Import an M3U/M3U8/XSPF file; entries not in the library are reported in
        ``unknown``."""
        return service.import_file(self.store, path, name)

    def delete_playlist(self, name: str) -> None:
        """Delete a saved playlist (its tracks stay in the library)."""
        service.delete(self.store, name)
