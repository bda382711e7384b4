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
