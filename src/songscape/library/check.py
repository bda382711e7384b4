"""``songscape check``: is a library consistent, and what can be fixed?

:func:`check_library` runs every check on an open
:class:`~songscape.catalog.store.LibraryStore` and returns a :class:`CheckReport`. The
SQL lives in :mod:`songscape.catalog.integrity`; this module decides what is a problem
and what a repair does.

Two kinds of finding:

``error``
    The catalog contradicts itself: SQLite integrity, rows pointing at nothing, an array
    whose bytes do not fit its recorded shape, a vector of the wrong length, a stage
    recorded as done without its data, a healthy track without a content hash, a copy
    recorded as a duplicate of a broken track, a vector index whose rows disagree with
    the catalog at the same catalog version. ``check`` exits 1 while one remains.
``warning``
    The catalog is behind the disk: files of healthy or failed tracks and duplicates that
    are gone (for instance moved or deleted outside the folders last ingested), a vector
    index file that cannot be used. The library still works; ``--repair`` brings it up to
    date, and so does the next ingest of the folders concerned.

Repairs never delete a healthy track or its data: damaged data loses its stage record
so that the next ingest recomputes it, and a track whose file is gone is marked
``missing`` (it keeps its data and comes back when its content reappears).

Besides findings the report lists ``pending`` work that the next ingest or search does
anyway (stages never run on a track, a vector index behind the catalog).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from songscape.catalog import integrity, tracks
from songscape.catalog import windows as window_rows
from songscape.catalog.store import LibraryStore
from songscape.catalog.vectors import read_vectors
from songscape.catalog.window_reads import read_window_vectors
from songscape.errors import UnknownModelError
from songscape.ingest.scan import content_hash
from songscape.ingest.stages import registered_stages
from songscape.models.registry import get_spec
from songscape.search.index import VectorIndex
from songscape.search.index_files import INDEX_DIR, IndexFolder, index_dir
from songscape.search.window_index import WINDOW_INDEX_DIR, WindowIndex, window_index_dir

#: Findings listed per check in full; past this many, one more line gives the count.
MAX_LISTED = 20

ERROR, WARNING = "error", "warning"


@dataclass
class Finding:
    """One problem found by a check.

    Attributes
    ----------
    check : str
        Which check found it (``sqlite``, ``foreign-keys``, ``arrays``, ``vectors``, ``windows``,
        ``stages``, ``tracks``, ``duplicates``, ``files``, ``vector-index``).
    severity : str
        ``"error"`` (inconsistent) or ``"warning"`` (out of date with the disk).
    message : str
        What is wrong, naming the track, path or table.
    repair : str or None
        What ``--repair`` does about it (None: nothing can be done automatically).
    repaired : bool
        Whether this run repaired it.
    """

    check: str
    severity: str
    message: str
    repair: str | None = None
    repaired: bool = False


@dataclass
class CheckReport:
    """What :func:`check_library` found and did.

    Attributes
    ----------
    library : str
        The library directory.
    checks : list of str
        The checks that ran, in order.
    findings : list of Finding
    pending : dict
        ``{what: count}`` of work the next ingest or search does by itself.
    repair : bool
        Whether repairs were asked for.
    elapsed_s : float
        Wall-clock seconds.
    """

    library: str
    checks: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    pending: dict[str, int] = field(default_factory=dict)
    repair: bool = False
    elapsed_s: float = 0.0

    def remaining(self, severity: str | None = None) -> list[Finding]:
        """Findings not repaired (of one severity, or all)."""
        return [
            f for f in self.findings
            if not f.repaired and (severity is None or f.severity == severity)
        ]  # fmt: skip

    @property
    def ok(self) -> bool:
        """True when no error remains (warnings allowed)."""
        return not self.remaining(ERROR)

    def to_json(self) -> dict[str, Any]:
        return {
            "library": self.library,
            "ok": self.ok,
            "errors": len(self.remaining(ERROR)),
            "warnings": len(self.remaining(WARNING)),
            "repaired": sum(f.repaired for f in self.findings),
            "repair": self.repair,
            "checks": self.checks,
            "findings": [asdict(f) for f in self.findings],
            "pending": self.pending,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def check_library(store: LibraryStore, repair: bool = False) -> CheckReport:
    """Check a library's catalog, data and vector indexes; optionally repair.

    Parameters
    ----------
    store : LibraryStore
        The library, opened writable. With ``repair`` its writer lock is taken for the
        run (so no ingest runs meanwhile).
    repair : bool
        Fix what can be fixed (each finding says what was done).

    Returns
    -------
    CheckReport

    Raises
    ------
    LibraryError
        With ``repair``, when another process holds the writer lock.
    """
    started = time.perf_counter()
    report = CheckReport(str(store.root), repair=repair)
    if repair:
        store.acquire_write_lock()
    try:
        for name, run in CHECKS:
            report.checks.append(name)
            run(store, report, repair)
    finally:
        if repair:
            store.release_write_lock()
        report.elapsed_s = time.perf_counter() - started
    return report


# -- the checks ---------------------------------------------------------------------------


def _add(
    report: CheckReport, check: str, severity: str, messages: list[str], repair: str | None
) -> list[Finding]:
    """Record one finding per message (the first :data:`MAX_LISTED`, then a count)."""
    added = [Finding(check, severity, m, repair) for m in messages[:MAX_LISTED]]
    if len(messages) > MAX_LISTED:
        more = f"... and {len(messages) - MAX_LISTED} more like these"
        added.append(Finding(check, severity, more, repair))
    report.findings.extend(added)
    return added


def _mark_repaired(findings: list[Finding]) -> None:
    for f in findings:
        f.repaired = True


@contextmanager
def _repairing(store: LibraryStore, findings: list[Finding]) -> Iterator[sqlite3.Connection]:
    """One repair transaction: the catalog version moves on (readers reload), and the
    findings are marked repaired once it commits."""
    with store.transaction() as conn:
        yield conn
        store.bump_catalog_version(conn)
    _mark_repaired(findings)


def check_sqlite(store: LibraryStore, report: CheckReport, repair: bool) -> None:
    """SQLite's integrity check; the repair rebuilds the indexes (REINDEX)."""
    errors = integrity.integrity_errors(store.conn)
    if not errors:
        return
    found = _add(
        report, "sqlite", ERROR, [f"catalog file: {e}" for e in errors],
        "rebuild the catalog's indexes (REINDEX); if that is not enough, restore a backup "
        "or run `sqlite3 catalog.sqlite .recover`",
    )  # fmt: skip
    if repair:
        with store.transaction() as conn:
            integrity.reindex(conn)
        if not integrity.integrity_errors(store.conn):
            _mark_repaired(found)


def check_foreign_keys(store: LibraryStore, report: CheckReport, repair: bool) -> None:
    """Rows that refer to a track (or user, playlist...) that does not exist."""
    violations = integrity.foreign_key_violations(store.conn)
    if not violations:
        return
    by_table: dict[tuple[str, str], int] = {}
    for v in violations:
        by_table[(v.table, v.parent)] = by_table.get((v.table, v.parent), 0) + 1
    found = _add(
        report, "foreign-keys", ERROR,
        [f"{n} row(s) of {t} refer to a missing row of {p}" for (t, p), n in by_table.items()],
        "apply the constraint's ON DELETE action (delete the row, or clear its reference)",
    )  # fmt: skip
    if repair:
        with _repairing(store, found) as conn:
            for v in violations:
                integrity.repair_foreign_key(conn, v)


def check_arrays(store: LibraryStore, report: CheckReport, repair: bool) -> None:
    """Arrays whose bytes do not match their recorded dtype and shape."""
    bad = integrity.bad_arrays(store.conn)
    if not bad:
        return
    found = _add(
        report, "arrays", ERROR,
        [f"track {tid}: array {name!r}: {problem}" for tid, name, problem in bad],
        "delete the array and the track's stage records (the next ingest recomputes them)",
    )  # fmt: skip
    if repair:
        with _repairing(store, found) as conn:
            for tid, name, _ in bad:
                integrity.delete_array(conn, tid, name)
                integrity.delete_stage_runs(conn, tid)


def check_vectors(store: LibraryStore, report: CheckReport, repair: bool) -> None:
    """Embeddings whose byte length is not their dimension in float32s."""
    bad = integrity.bad_vectors(store.conn)
    if not bad:
        return
    found = _add(
        report, "vectors", ERROR,
        [f"track {tid}: {model} vector: {problem}" for tid, model, problem in bad],
        "delete the vector and its stage record (the next ingest recomputes it)",
    )  # fmt: skip
    if repair:
        with _repairing(store, found) as conn:
            for tid, model, _ in bad:
                integrity.delete_embedding(conn, tid, model)
                integrity.delete_stage_run(conn, tid, f"embed:{model}")


def check_windows(store: LibraryStore, report: CheckReport, repair: bool) -> None:
    """Window vectors (issue 20) that disagree with their track's vector of the model."""
    bad = window_rows.mismatched_windows(store.conn)
    if not bad:
        return
    found = _add(
        report, "windows", ERROR,
        [f"track {tid}: {model}: {problem}" for tid, model, problem in bad],
        "delete the window vectors and their stage record (the next ingest recomputes them)",
    )  # fmt: skip
    if repair:
        with _repairing(store, found) as conn:
            window_rows.delete_window_rows(conn, [(tid, model) for tid, model, _ in bad])
            for tid, model, _ in bad:
                integrity.delete_stage_run(conn, tid, f"windows:{model}")


def check_stages(store: LibraryStore, report: CheckReport, repair: bool) -> None:
    """Stages recorded as done whose data is absent; stages never run (pending)."""
    conn = store.conn
    incomplete = integrity.done_stages_without_data(conn)
    if incomplete:
        found = _add(
            report, "stages", ERROR,
            [f"track {tid}: stage {stage!r} is recorded as done but its data is absent"
             for tid, stage in incomplete],
            "forget the stage record (the next ingest runs the stage again)",
        )  # fmt: skip
        if repair:
            with store.transaction() as c:
                for tid, stage in incomplete:
                    integrity.delete_stage_run(c, tid, stage)
            _mark_repaired(found)
    for stage in registered_stages():
        lacking = integrity.tracks_lacking_stage(conn, stage.name)
        if lacking:
            report.pending[f"stage {stage.name} to run (next ingest)"] = len(lacking)


def check_tracks(store: LibraryStore, report: CheckReport, repair: bool) -> None:
    """Healthy tracks without a content hash; duplicates recorded for broken tracks."""
    conn = store.conn
    no_hash = integrity.healthy_tracks_without_hash(conn)
    if no_hash:
        found = _add(
            report, "tracks", ERROR,
            [f"track {tid} is healthy but has no content hash" for tid in no_hash],
            "fingerprint the file again and forget the track's stage records (the next "
            "ingest re-analyses it)",
        )  # fmt: skip
        if repair:
            fixed = 0
            with store.transaction() as c:
                for tid in no_hash:
                    fixed += _rehash(c, tid)
            if fixed == len(no_hash):
                _mark_repaired(found)
    dups = integrity.duplicates_of_unhealthy(conn)
    if dups:
        found = _add(
            report, "duplicates", ERROR,
            [f"{path} is recorded as a copy of {status} track {tid}" for path, tid, status in dups],
            "forget the duplicate record (the next ingest examines the file on its own)",
        )  # fmt: skip
        if repair:
            with store.transaction() as c:
                for path, _, _ in dups:
                    tracks.delete_duplicate(c, path)
            _mark_repaired(found)


def _rehash(conn: sqlite3.Connection, track_id: str) -> bool:
    """Give a healthy track without a content hash the hash of its file and forget its
    stage records; when the file cannot be read or its content belongs to another track,
    forget its size and time instead (the next ingest sorts it out). True if rehashed."""
    row = tracks.track_by_id(conn, track_id)
    try:
        digest = content_hash(row["path"])
    except OSError:
        digest = None
    if digest is None or tracks.track_by_hash(conn, digest) is not None:
        integrity.forget_file_stat(conn, track_id)
        return False
    integrity.set_content_hash(conn, track_id, digest)
    integrity.delete_stage_runs(conn, track_id)
    return True


def check_files(store: LibraryStore, report: CheckReport, repair: bool) -> None:
    """Files of tracks and duplicates that no longer exist (anywhere, not just under the
    folders last ingested); files changed since they were read (pending)."""
    gone = [r for r in integrity.file_rows(store.conn) if not os.path.lexists(r["path"])]
    changed = 0
    if gone:
        messages = []
        for r in gone:
            what = {"ok": "track", "failed": "failed file", "duplicate": "duplicate of"}[
                r["status"]
            ]
            messages.append(f"{r['path']}: gone ({what} {r['id']})")
        found = _add(
            report, "files", WARNING, messages,
            "mark healthy tracks missing (their data is kept), forget failed files and "
            "duplicates",
        )  # fmt: skip
        if repair:
            now = time.time()
            with _repairing(store, found) as conn:
                for r in gone:
                    if r["kind"] == "duplicate":
                        tracks.delete_duplicate(conn, r["path"])
                    elif r["status"] == "ok":
                        tracks.mark_missing(conn, r["id"], now)
                    else:
                        tracks.delete_track(conn, r["id"])
    for row in tracks.healthy_tracks(store.conn):
        try:
            st = os.stat(row["path"])
        except OSError:
            continue
        if (st.st_size, st.st_mtime) != (row["size_bytes"], row["mtime"]):
            changed += 1
    if changed:
        report.pending["changed files to re-read (next ingest)"] = changed


def check_vector_indexes(store: LibraryStore, report: CheckReport, repair: bool) -> None:
    """Each vector index on disk against the catalog's vectors of its model."""
    base = store.root / INDEX_DIR
    if not base.is_dir():
        return
    models = sorted(p.name for p in base.iterdir() if p.is_dir() and p.name != WINDOW_INDEX_DIR)
    windows = base / WINDOW_INDEX_DIR  # the window indexes (issue 20), one folder per model
    models += [f"{WINDOW_INDEX_DIR}/{p.name}" for p in sorted(windows.iterdir())
               if p.is_dir()] if windows.is_dir() else []  # fmt: skip
    for model in models:
        in_windows, _, model = model.rpartition("/")
        try:
            spec = get_spec(model)
        except UnknownModelError:
            report.pending[f"index of unregistered model {model} (not checked)"] = 1
            continue
        if index_dir(store, spec.name).name != model:
            continue
        _check_one_index(store, report, repair, spec.name, spec.version, spec.embedding_dim,
                         windows=bool(in_windows))  # fmt: skip


def _check_one_index(
    store: LibraryStore, report: CheckReport, repair: bool, model: str, version: str, dim: int,
    windows: bool = False,
) -> None:
    folder_of, read, index_class = (
        (window_index_dir, read_window_vectors, WindowIndex) if windows
        else (index_dir, read_vectors, VectorIndex)
    )  # fmt: skip
    folder = IndexFolder(folder_of(store, model), model, version, persist=False)
    model_name, model = model, f"{model} windows" if windows else model
    loaded = folder.load(dim, None)
    found: list[Finding] = []
    if isinstance(loaded, str):
        if loaded != "no index on disk":
            found = _add(
                report, "vector-index", WARNING,
                [f"{model}: the index on disk cannot be used ({loaded}); searches rebuild it"],
                "rebuild the index from the catalog",
            )  # fmt: skip
    else:
        snap = read(store, model_name, version, dim)
        catalog = dict(zip(snap.ids, snap.sums.tolist(), strict=True))
        table = loaded.table
        missing = sum(1 for tid in catalog if tid not in table.label_of)
        extra = sum(1 for tid in table.label_of if tid not in catalog)
        stale = sum(
            1 for tid, label in table.label_of.items()
            if tid in catalog and catalog[tid] != int(table.row_sums[label])
        )  # fmt: skip
        if missing or extra or stale:
            text = (
                f"{model}: index has {extra} track(s) not in the catalog, lacks {missing}, "
                f"{stale} changed"
            )
            if loaded.catalog_version < snap.catalog_version:
                report.pending[f"vector index {model} to sync (next search)"] = (
                    missing + extra + stale
                )
                if not repair:
                    return
                found = _add(report, "vector-index", WARNING, [text + " (behind the catalog)"],
                             "sync the index with the catalog")  # fmt: skip
            else:
                found = _add(report, "vector-index", ERROR,
                             [text + f" at the same catalog version {snap.catalog_version}"],
                             "rebuild the index from the catalog")  # fmt: skip
    if repair and found:
        index = index_class.open(store, model_name)
        result = index.rebuild()
        if result["persisted"]:
            _mark_repaired(found)
            report.pending.pop(f"vector index {model} to sync (next search)", None)


#: The checks, in the order they run (cheap and fundamental first).
CHECKS = (
    ("sqlite", check_sqlite),
    ("foreign-keys", check_foreign_keys),
    ("arrays", check_arrays),
    ("vectors", check_vectors),
    ("windows", check_windows),
    ("stages", check_stages),
    ("tracks", check_tracks),
    ("files", check_files),
    ("vector-index", check_vector_indexes),
)
