"""Shared pytest fixtures (helper functions live in tests/helpers.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import gtzan_clips


@pytest.fixture(scope="session", autouse=True)
def _analysis_warmed_up():
    """Parallel test workers must not compile numba's on-disk cache concurrently."""
    from songscape.ingest.warmup import warm_up

    warm_up()


@pytest.fixture(scope="session", autouse=True)
def _private_models_dir(tmp_path_factory):
    """Trained models in the user's models directory must not show up in the tests."""
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("songscape-models")
    mp.setenv("SONGSCAPE_MODELS", str(root / "models"))
    mp.setenv("SONGSCAPE_CACHE", str(root / "cache"))
    from songscape.models import trained

    trained.refresh()
    yield
    mp.undo()


@pytest.fixture
def models_env(tmp_path: Path, monkeypatch):
    """A private models dir and cache for one test; the registry re-scanned before and after."""
    import torch

    from songscape.models import trained

    monkeypatch.setenv("SONGSCAPE_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("SONGSCAPE_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    trained.refresh()
    yield tmp_path
    monkeypatch.undo()
    trained.refresh()


@pytest.fixture
def music_folder(tmp_path: Path) -> Path:
    """A private copy of 4 real clips (tests may move, edit and delete them)."""
    folder = tmp_path / "music"
    for clip in gtzan_clips(4):
        dest = folder / clip.parent.name / clip.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(clip, dest)
    return folder


@pytest.fixture(scope="session")
def ray_address(tmp_path_factory):
    """One Ray cluster (``ray start --head`` on free loopback ports) shared by every Ray
    test of the session, stopped at the end; its address. Under xdist a session is one
    worker: `make test` runs ``--dist loadgroup`` and the Ray tests (``test_ray_*.py``)
    form one group (:func:`pytest_xdist_make_scheduler`), so they share one cluster."""
    from tests.engines import ray_cluster

    with ray_cluster(tmp_path_factory.mktemp("ray")) as address:
        yield address


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with the tests of every ``test_ray_*.py`` file in one group
    (one worker, one Ray cluster), the others spread one by one as with ``load``. Grouping
    by file name here because xdist 3.8's ``xdist_group`` mark does not take effect under
    pytest 9 (it rewrites ``item._nodeid``, which pytest 9 no longer reads)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class RayTestsTogether(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.split("::", 1)[0].rsplit("/", 1)[-1].startswith("test_ray_"):
                return "ray"
            return super()._split_scope(nodeid)

    return RayTestsTogether(config, log)
