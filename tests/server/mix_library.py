"""A small real library to mix, shared by the mix API and web tests (issue 13).

Three GTZAN clips (about 18 s each, three genres) ingested without the models
(descriptors, beats and downbeats, sections and highlights: what a mix plans with), plus
a seeded random embedding per track of the default model standing in for musicnn's
(skipping the model halves the build; paths and the map need some vector, the mix's
timbre cost only compares them). Built once per test session (a file lock keeps two
xdist workers from building it twice) and copied per module, so that each module's
``mixes/`` folder and catalog edits stay its own. The music files are shared, read only.
"""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import gtzan_clips

#: One clip each; with these, a mix has a beat-matched transition and a fade (pop's grid
#: is too short to ride).
GENRES = ("disco", "hiphop", "pop")


def _build(folder: Path) -> Path:
    from songscape.catalog import model_outputs
    from songscape.ingest.pipeline import IngestOptions
    from songscape.library.library import Library
    from songscape.models.registry import get_spec

    music = folder / "music"
    music.mkdir(parents=True)
    for clip in gtzan_clips(len(GENRES), GENRES):
        shutil.copy(clip, music / clip.name)
    root = folder / "lib"
    with Library(root, create=True) as lib:
        report = lib.ingest([music], IngestOptions(workers=2, embed_models=(), tag_models=()))
        assert report.added == len(GENRES) and not report.failed, report
        spec = get_spec(lib.default_model)
        ids = [r["id"] for r in lib.store.conn.execute("SELECT id FROM tracks ORDER BY id")]
        rng = np.random.default_rng(13)
        with lib.store.transaction() as conn:
            for track_id in ids:
                vector = rng.standard_normal(spec.embedding_dim).astype(np.float32)
                model_outputs.put_embedding(conn, track_id, spec.name, spec.version, vector)
    (folder / "ready").write_text("ok")
    return root


def mix_library(tmp_path_factory: pytest.TempPathFactory, worker_id: str, dest: Path) -> Path:
    """A fresh copy at ``dest`` of the session's mix library (built on first use)."""
    base = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        base = base.parent  # shared by the xdist workers of this run
    folder = base / "mix-library"
    with open(str(folder) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (folder / "ready").exists():
            shutil.rmtree(folder, ignore_errors=True)
            _build(folder)
    shutil.copytree(folder / "lib", dest)
    return dest
