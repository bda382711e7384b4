"""Import listening events and playlists into a library, linking items to its tracks.

Formats
    Events (``import_events``):

    * ``hetrec``: Last.fm HetRec 2011 ``user_artists.dat`` (``userID artistID weight``,
      tab-separated, with that header); the weight is the play count;
    * ``csv`` / ``tsv``: a header naming ``user`` and ``item`` and optionally ``count``
      (> 0, default 1), ``timestamp`` (a number, e.g. Unix seconds), ``artist``, ``title``;
    * ``jsonl``: one object per line with the same keys.

    Playlists (``import_playlists``): ``csv`` / ``tsv`` / ``jsonl`` rows of ``playlist``,
    ``item`` and optionally ``position`` (an integer; default: the row order within the
    playlist), ``title`` (the playlist's), ``tags`` (the playlist's, separated by ``|`` or
    ``,``), ``artist``, ``track_title`` (of the item, for linking).

Linking
    An item is linked to a library track (``track_id``) by, in order: the track id, the
    file path (as given, then resolved), or the normalised "artist - title" (see
    :func:`songscape.text.normalize_text`) against the tracks' metadata: from the row's
    ``artist`` and ``title`` (``track_title`` for playlists) when given, else from an item written
    ``"Artist - Title"``. Unmatched items are kept with ``track_id`` NULL: collaborative
    filtering needs no audio.

Display names
    Both importers record the names of the items they see in the ``items`` table (item,
    artist, title, source), so results that are not library tracks can show a name: the
    ``artist`` / ``title`` columns of events, the ``artist`` / ``track_title`` columns of
    playlists, and for ``hetrec`` the artist names of ``artists.dat`` in the same folder
    as ``user_artists.dat`` (when it is there; odd rows are skipped). Names are upserted:
    a later non-null value replaces an earlier one, a null never erases one.

Errors and idempotence
    A malformed row raises :class:`ImportFormatError` naming the file and line, and
    nothing is imported (one transaction); with ``skip_bad=True`` bad rows are skipped and
    counted instead (the first few messages are reported). Rows remember their source
    file (its absolute path): re-importing a file first deletes what that file imported
    before, so importing twice never duplicates, and an edited file replaces its rows.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from songscape.catalog import listening
from songscape.catalog.store import LibraryStore
from songscape.errors import ImportFormatError
from songscape.recommend.data import read_hetrec_artists
from songscape.text import normalize_text

EVENT_FORMATS = ("hetrec", "csv", "tsv", "jsonl")
PLAYLIST_FORMATS = ("csv", "tsv", "jsonl")
MAX_REPORTED_ERRORS = 10

def artist_title_key(artist: str | None, title: str | None) -> str | None:
    """The matching key of an (artist, title) pair, or None when either is empty."""
    a, t = normalize_text(artist, True), normalize_text(title, True)
    return f"{a}\t{t}" if a and t else None


class TrackLinker:
    """Links item strings to the library's track ids (see the module docstring).

    Parameters
    ----------
    store : LibraryStore
        The library whose ``tracks`` table is matched against (missing tracks too, but
        healthy ones win a tie).
    """

    def __init__(self, store: LibraryStore):
        self.by_id: dict[str, str] = {}
        self.by_path: dict[str, str] = {}
        self.by_key: dict[str, str] = {}
        for r in listening.link_candidates(store.conn):
            self.by_id[r["id"]] = r["id"]
            self.by_path.setdefault(r["path"], r["id"])
            key = artist_title_key(r["artist"], r["title"])
            if key:
                self.by_key.setdefault(key, r["id"])

    def link(
        self, item: str, artist: str | None = None, title: str | None = None
    ) -> tuple[str | None, str | None]:
        """``(track_id, how)`` with how in ``id``, ``path``, ``artist-title``; else (None, None)."""
        if item in self.by_id:
            return item, "id"
        if item in self.by_path:
            return self.by_path[item], "path"
        if "/" in item or "\\" in item:
            try:
                resolved = str(Path(item).expanduser().resolve())
            except (OSError, RuntimeError):
                resolved = None
            if resolved in self.by_path:
                return self.by_path[resolved], "path"
        key = artist_title_key(artist, title)
        if key is None and " - " in item:
            a, t = item.split(" - ", 1)
            key = artist_title_key(a, t)
        if key is not None and key in self.by_key:
            return self.by_key[key], "artist-title"
        return None, None


@dataclass
class _Row:
    line: int
    values: dict


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _iter_table(path: Path, fmt: str) -> Iterator[tuple[int, dict | str]]:
    """``(line, {column: text})`` per data row, or ``(line, error message)``."""
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as err:
                    yield lineno, f"invalid JSON: {err.msg}"
                    continue
                if not isinstance(obj, dict):
                    yield lineno, "expected a JSON object"
                    continue
                yield (
                    lineno,
                    {str(k).lower(): (None if v is None else str(v)) for k, v in obj.items()},
                )
        return
    with open(path, encoding="utf-8", newline="") as f:
        if fmt == "hetrec":
            delimiter = "\t"
        elif fmt == "tsv":
            delimiter = "\t"
        else:
            delimiter = ","
        reader = csv.reader(f, delimiter=delimiter)
        header = [h.strip().lower() for h in next(reader, [])]
        if fmt == "hetrec":
            if header[:3] != ["userid", "artistid", "weight"]:
                raise ImportFormatError(
                    f"{path}:1: expected header 'userID<TAB>artistID<TAB>weight', got {header!r}"
                )
            header = ["user", "item", "count"]
        yield 1, {"__header__": ",".join(header)}
        for row in reader:
            lineno = reader.line_num
            if not row or all(not x.strip() for x in row):
                continue
            if len(row) != len(header):
                yield lineno, f"expected {len(header)} fields, got {len(row)}"
                continue
            yield lineno, {h: v.strip() for h, v in zip(header, row, strict=True)}


def _number(values: dict, key: str, default: float | None) -> float | None:
    text = values.get(key)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{key} is not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{key} is not finite: {text!r}")
    return value


def _parse(path: Path, fmt: str, required: tuple[str, ...], check) -> tuple[list[_Row], list[str]]:
    rows: list[_Row] = []
    errors: list[str] = []
    for lineno, values in _iter_table(path, fmt):
        if isinstance(values, dict) and "__header__" in values:
            header = values["__header__"].split(",")
            missing = [c for c in required if c not in header]
            if missing:
                raise ImportFormatError(
                    f"{path}:1: the header must name {', '.join(required)} "
                    f"(missing {', '.join(missing)}), got {header}"
                )
            continue
        if isinstance(values, str):
            errors.append(f"{path}:{lineno}: {values}")
            continue
        try:
            for c in required:
                if not (values.get(c) or "").strip():
                    raise ValueError(f"empty {c}")
            rows.append(_Row(lineno, check(values)))
        except ValueError as err:
            errors.append(f"{path}:{lineno}: {err}")
    return rows, errors


def _check_event(values: dict) -> dict:
    count = _number(values, "count", 1.0)
    if count <= 0:
        raise ValueError(f"count must be > 0, got {values.get('count')!r}")
    return {
        "user": values["user"].strip(),
        "item": values["item"].strip(),
        "count": count,
        "timestamp": _number(values, "timestamp", None),
        "artist": values.get("artist"),
        "title": values.get("title"),
    }


def _check_playlist_row(values: dict) -> dict:
    pos = _number(values, "position", None)
    if pos is not None and (pos != int(pos) or pos < 0):
        raise ValueError(f"position must be a non-negative integer, got {values['position']!r}")
    return {
        "playlist": values["playlist"].strip(),
        "item": values["item"].strip(),
        "position": None if pos is None else int(pos),
        "title": values.get("title") or None,
        "tags": values.get("tags") or None,
        "artist": values.get("artist"),
        "track_title": values.get("track_title"),
    }


def _prepare(path: str | Path, fmt: str, formats: tuple[str, ...]) -> Path:
    if fmt not in formats:
        raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(formats)})")
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return path


def _fail_or_report(errors: list[str], skip_bad: bool) -> dict:
    if errors and not skip_bad:
        more = f" (and {len(errors) - 1} more bad rows)" if len(errors) > 1 else ""
        raise ImportFormatError(
            f"{errors[0]}{more}; nothing was imported (use --skip-bad to skip bad rows)"
        )
    return {"skipped": len(errors), "errors": errors[:MAX_REPORTED_ERRORS]}


def _name(text: str | None) -> str | None:
    text = (text or "").strip()
    return text or None


def _add_name(names: dict[str, tuple[str | None, str | None]], item: str,
              artist: str | None, title: str | None) -> None:  # fmt: skip
    """Record ``item``'s name; a later non-null part replaces, a null keeps the earlier."""
    artist, title = _name(artist), _name(title)
    if artist is None and title is None:
        return
    old_artist, old_title = names.get(item, (None, None))
    names[item] = (artist or old_artist, title or old_title)


def hetrec_artist_names(directory: str | Path) -> dict[str, str]:
    """``{artistID: name}`` from ``artists.dat`` in ``directory``; empty when it is missing
    or unreadable."""
    try:
        return read_hetrec_artists(directory)
    except (OSError, csv.Error):
        return {}


def _matched_by(items: dict[str, str | None]) -> dict[str, int]:
    """``{how: distinct items linked that way}`` of ``{item: how or None}``."""
    by: dict[str, int] = {}
    for how in items.values():
        if how:
            by[how] = by.get(how, 0) + 1
    return by


def import_events(store: LibraryStore, path: str | Path, fmt: str, skip_bad: bool = False) -> dict:
    """Import a listening-events file into ``store`` (users, events), replacing that file's
    previous import.

    Parameters
    ----------
    store : LibraryStore
        A writable library.
    path : path-like
        The events file.
    fmt : str
        ``hetrec``, ``csv``, ``tsv`` or ``jsonl`` (see the module docstring).
    skip_bad : bool
        Skip malformed rows (counted in the report) instead of importing nothing.

    Returns
    -------
    dict
        ``source``, ``rows``, ``users``, ``items``, ``matched`` / ``unmatched`` (distinct
        items), ``matched_by`` (``{id, path, artist-title: n}``), ``named`` (distinct items
        with a display name from this file), ``replaced`` (rows of a previous import of the
        same file), ``skipped`` and ``errors``.

    Raises
    ------
    ImportFormatError
        A malformed row (without ``skip_bad``) or header; nothing is written.
    """
    path = _prepare(path, fmt, EVENT_FORMATS)
    rows, errors = _parse(path, fmt, ("user", "item"), _check_event)
    report = _fail_or_report(errors, skip_bad)
    source = str(path.resolve())
    digest = _sha256(path)
    linker = TrackLinker(store)
    links: dict[tuple[str, str | None, str | None], tuple[str | None, str | None]] = {}
    out = []
    names: dict[str, tuple[str | None, str | None]] = {}
    for r in rows:
        v = r.values
        key = (v["item"], v["artist"], v["title"])
        if key not in links:
            links[key] = linker.link(*key)
        out.append((v["user"], v["item"], links[key][0], v["count"], v["timestamp"], source))
        _add_name(names, v["item"], v["artist"], v["title"])
    items = {}
    for (item, _, _), (_track_id, how) in links.items():
        if items.get(item) is None:
            items[item] = how
    if fmt == "hetrec":
        artists = hetrec_artist_names(path.parent)
        for item in items:
            if item in artists:
                _add_name(names, item, artists[item], None)
    users = sorted({o[0] for o in out})
    by = _matched_by(items)
    matched = sum(by.values())
    now = time.time()

    def write(conn: sqlite3.Connection) -> int:
        replaced = listening.replace_events(conn, source, users, out, now)
        listening.upsert_item_names(conn, names, source)
        listening.record_import(conn, source, "events", digest, len(out), matched, now)
        return replaced

    replaced = listening.in_transaction(store, write, f"importing events from {path}")
    return {
        "source": source,
        "format": fmt,
        "rows": len(out),
        "users": len(users),
        "items": len(items),
        "matched": matched,
        "unmatched": len(items) - matched,
        "matched_by": by,
        "named": len(names),
        "replaced": replaced,
        **report,
    }


def _split_tags(text: str | None) -> str | None:
    if not text:
        return None
    sep = "|" if "|" in text else ","
    tags = [t.strip() for t in text.split(sep) if t.strip()]
    return "|".join(tags) or None


def import_playlists(
    store: LibraryStore, path: str | Path, fmt: str = "csv", skip_bad: bool = False
) -> dict:
    """Import a playlists file (``playlists``, ``playlist_items``), replacing that file's
    previous import; a playlist id already imported from another file is replaced too.

    Parameters
    ----------
    store : LibraryStore
        A writable library.
    path : path-like
        The playlists file.
    fmt : str
        ``csv``, ``tsv`` or ``jsonl`` (see the module docstring).
    skip_bad : bool
        Skip malformed rows (counted in the report) instead of importing nothing.

    Returns
    -------
    dict
        ``source``, ``playlists``, ``rows``, ``items``, ``matched``, ``unmatched``,
        ``matched_by``, ``named``, ``replaced`` (playlists), ``skipped``, ``errors``.
    """
    path = _prepare(path, fmt, PLAYLIST_FORMATS)
    rows, errors = _parse(path, fmt, ("playlist", "item"), _check_playlist_row)
    # positions must be unique within a playlist
    seen: dict[tuple[str, int], int] = {}
    for r in list(rows):
        pos = r.values["position"]
        if pos is None:
            continue
        key = (r.values["playlist"], pos)
        if key in seen:
            errors.append(
                f"{path}:{r.line}: position {pos} of playlist {key[0]!r} repeats line {seen[key]}"
            )
            rows.remove(r)
        else:
            seen[key] = r.line
    report = _fail_or_report(errors, skip_bad)
    source = str(path.resolve())
    digest = _sha256(path)
    linker = TrackLinker(store)
    playlists: dict[str, dict] = {}
    for r in rows:
        v = r.values
        pl = playlists.setdefault(v["playlist"], {"title": None, "tags": None, "items": []})
        pl["title"] = pl["title"] or v["title"]
        pl["tags"] = pl["tags"] or _split_tags(v["tags"])
        pl["items"].append(v)
    items: dict[str, str | None] = {}
    names: dict[str, tuple[str | None, str | None]] = {}
    inserts = []
    for pid, pl in playlists.items():
        # explicit positions first (in order), then the rows without one, in file order
        explicit = sorted((v for v in pl["items"] if v["position"] is not None),
                          key=lambda v: v["position"])  # fmt: skip
        implicit = [v for v in pl["items"] if v["position"] is None]
        next_pos = (explicit[-1]["position"] + 1) if explicit else 0
        for v in implicit:
            v["position"] = next_pos
            next_pos += 1
        for v in explicit + implicit:
            track_id, how = linker.link(v["item"], v["artist"], v["track_title"])
            if items.get(v["item"]) is None:
                items[v["item"]] = how
            inserts.append((pid, v["position"], v["item"], track_id))
            _add_name(names, v["item"], v["artist"], v["track_title"])
    by = _matched_by(items)
    matched = sum(by.values())
    heads = [(p, pl["title"], pl["tags"]) for p, pl in playlists.items()]
    now = time.time()

    def write(conn: sqlite3.Connection) -> int:
        replaced = listening.replace_playlists(conn, source, heads, inserts)
        listening.upsert_item_names(conn, names, source)
        listening.record_import(conn, source, "playlists", digest, len(inserts), matched, now)
        return replaced

    replaced = listening.in_transaction(store, write, f"importing playlists from {path}")
    return {
        "source": source,
        "format": fmt,
        "playlists": len(playlists),
        "rows": len(inserts),
        "items": len(items),
        "matched": matched,
        "unmatched": len(items) - matched,
        "matched_by": by,
        "named": len(names),
        "replaced": replaced,
        **report,
    }
