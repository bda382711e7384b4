"""Test data built once per test run and shared by the xdist workers.

An ingested library of real music takes seconds to minutes to build; a copy of it
(``shutil.copytree``) takes milliseconds. :func:`built_once` builds a folder the first
time any worker asks for it (a file lock keeps two workers from building it twice; the
second one waits and then reuses it), so that tests which only read a library, or which
mutate a private copy of it, need not ingest the same music again.

The music files a shared library was ingested from stay where they were ingested (the
catalog records their paths): tests may read them but must not move, edit or delete
them; a test that changes music files builds its own library.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def built_once(
    tmp_path_factory: pytest.TempPathFactory,
    worker_id: str,
    name: str,
    build: Callable[[Path], None],
) -> Path:
    """The folder ``name`` of this test run, filled by ``build(folder)`` on first use.

    Parameters
    ----------
    tmp_path_factory, worker_id : pytest fixtures
        Of the calling (session- or module-scoped) fixture.
    name : str
        The folder's name; one folder per name and test run.
    build : callable
        Fills the (new, empty) folder. Should it fail, the next caller builds again.

    Returns
    -------
    Path
        The built folder. Treat it as read-only: copy what a test changes.
    """
    base = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        base = base.parent  # shared by the xdist workers of this run
    folder = base / f"built-{name}"
    with open(str(folder) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (folder / ".ready").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            (folder / ".ready").write_text("ok")
    return folder


def copy_library(built: Path, dest: Path) -> Path:
    """A private copy at ``dest`` of the library folder ``built`` (its catalog, vector
    index, maps and caches); the music it was ingested from is shared, not copied."""
    shutil.copytree(built, dest)
    return dest


def _ingest_four_clips(folder: Path) -> None:
    from songscape.ingest.pipeline import IngestOptions
    from songscape.library.library import Library
    from tests.helpers import gtzan_clips

    music = folder / "music"
    for clip in gtzan_clips(4):  # as the music_folder fixture lays them out
        dest = music / clip.parent.name / clip.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(clip, dest)
    with Library(folder / "lib", create=True) as lib:
        report = lib.ingest([music], IngestOptions(workers=1))
        assert (report.added, report.failed) == (4, 0), report


def four_clips_ingested(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The 4 real clips of ``music_folder`` (in ``music/``) ingested with the default
    options, inline (``lib/``): the models' vectors and tags, descriptors, every stage."""
    return built_once(tmp_path_factory, worker_id, "four-clips", _ingest_four_clips)
