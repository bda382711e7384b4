"""Tag write-back in the Python API (issue 17): ``Library.write_tags``. The choice of
values is in :mod:`songscape.writeback.service`, the formats in
:mod:`songscape.audio.tag_write`."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from songscape.catalog import web
from songscape.catalog.store import LibraryStore
from songscape.errors import UnknownModelError
from songscape.ingest.scan import content_hash
from songscape.models.registry import get_spec
from songscape.search.vocabulary import TAG_TABLE
from songscape.writeback import service


class TagWritingMixin:
    """The tag write-back method of :class:`~songscape.library.library.Library`."""

    store: LibraryStore
    default_model: str

    def tag_model(self) -> tuple[str | None, dict[str, str]]:
        """``(model, {tag: category})``: the tagging model whose tags give mood and genre
        (the default model if it tags, else the one that tagged the most tracks)."""
        candidates = web.tag_models_by_coverage(self.store.conn)
        try:
            if get_spec(self.default_model).labels and self.default_model in candidates:
                candidates.insert(0, self.default_model)
        except UnknownModelError:
            pass
        for name in candidates:
            try:
                source = get_spec(name).tag_source
            except UnknownModelError:
                continue
            table = TAG_TABLE.get(source or "", {})
            return name, {tag: cat for tag, (cat, _) in table.items()}
        return None, {}

    def write_tags(
        self, tracks: Iterable[str] | None = None, fields: Iterable[str] | None = None,
        dry_run: bool = False, overwrite: bool = False,
        progress: Callable[[Iterable], Iterable] | None = None,
    ) -> dict:  # fmt: skip
        """Write BPM, key, ReplayGain, mood and genre (or ``fields``) into the files of
        ``tracks`` (ids, prefixes or paths; None: every healthy track). Values already in a
        file are kept unless ``overwrite``; ``dry_run`` writes nothing. See
        :func:`songscape.writeback.service.write_back` for the result."""
        model, categories = self.tag_model()
        return service.write_back(
            self.store, None if tracks is None else list(tracks), fields, categories, model,
            content_hash, dry_run=dry_run, overwrite=overwrite, progress=progress,
        )  # fmt: skip
