"""SIGKILL at random moments of ``songscape train`` (issue 16).

A tiny genre model (8 real clips, a 16-d encoder) is trained with ``--resume`` over and
over, each round asking for one more epoch than is saved, killed at one random moment of each slice
of a timed run (:func:`tests.killing.kill_times`), then killed the moment the writer of
``last.pt`` or of ``model.pt`` has its temporary file, and between the ``model.pt`` and
``model.json`` writes. After every kill:

- the registry (``model.json`` files) registers the model only when its ``model.pt`` is
  whole, the one it describes (same SHA-1) and loadable; no warnings;
- ``last.pt`` is whole and ``metrics.jsonl`` never runs ahead of it;

and the next ``--resume`` continues from the last finished epoch: at the end the
model's history is exactly that of a run never killed (the seeds and both RNG states
are in ``last.pt``), the last run trained only the epochs not yet saved, and no
temporary file is left. A run killed in its first epoch, before any ``last.pt``, is
started afresh by ``--resume``.

The kills run in children of :mod:`tests.training.train_forks` (torch imported once).
``SONGSCAPE_KILL_POINTS`` sets the random kills (default 5; the issue's 20:
``SONGSCAPE_KILL_POINTS=20 pytest tests/training/test_train_kill_points.py``).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import pytest

from tests.helpers import TINY, tiny_csv
from tests.killing import kill_times

torch = pytest.importorskip("torch")

from songscape.models import trained  # noqa: E402
from tests.training.train_forks import TrainForks, TrainRun  # noqa: E402

KILL_POINTS = int(os.environ.get("SONGSCAPE_KILL_POINTS", "5"))
NAME = "killed"
FIRST_EPOCHS = 3


def _argv(csv: Path, name: str, epochs: int) -> list[str]:
    return ["train", "--arch", "shortchunk-cnn", "--labels", str(csv), "--label-column",
            "genre", "--name", name, "--epochs", str(epochs), "--batch-size", "4",
            "--chunks", "2", "--valid-chunks", "2", "--threads", "1", "--patience", "100",
            "--lr", "3e-3", "--seed", "1", "--encoder", json.dumps(TINY), "--resume"]  # fmt: skip


def _epochs_printed(run: TrainRun) -> list[int]:
    return [int(m) for m in re.findall(r"^epoch (\d+)  train loss", run.output, re.M)]


def _history(folder: Path) -> list[dict]:
    return json.loads((folder / trained.METADATA).read_text())["history"]


def _check_consistent(root: Path, name: str) -> bool:
    """The invariants after a kill (module docstring); returns whether ``name`` is registered."""
    folder = root / name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = trained.register_trained_models(root)
    assert [str(w.message) for w in caught] == []
    if name in names:
        meta = trained.read_metadata(folder)
        assert trained.sha1_file(folder / trained.CHECKPOINT) == meta["checkpoint_sha1"]
        model = trained.TrainedModel.from_folder(folder)  # whole and loadable
        assert model.meta["history"] == meta["history"]
    else:
        assert not (folder / trained.METADATA).exists()
    log = folder / trained.METRICS
    logged = [json.loads(line)["epoch"] for line in log.read_text().splitlines()] if (
        log.exists()) else []  # fmt: skip
    assert logged == list(range(1, len(logged) + 1))
    if (folder / trained.LAST).exists():
        last = torch.load(folder / trained.LAST, weights_only=True)
        assert last["epoch"] - len(logged) in (0, 1)  # the log is never ahead of last.pt
    else:
        assert logged == [] and name not in names
    return name in names


def _temp_file(folder: Path, stem: str):
    def writing() -> bool:
        try:
            return any(n.startswith(f".{stem}.") and n.endswith(".tmp")
                       for n in os.listdir(folder))  # fmt: skip
        except OSError:
            return False

    return writing


def _between_model_writes(folder: Path):
    """True while ``model.pt`` is there without ``model.json`` (the save's middle)."""

    def between() -> bool:
        return (folder / trained.CHECKPOINT).exists() and not (folder / trained.METADATA).exists()

    return between


@pytest.fixture
def forks(tmp_path):
    env = {"SONGSCAPE_MODELS": str(tmp_path / "models"), "SONGSCAPE_CACHE": str(tmp_path / "cache")}
    server = TrainForks(env)
    yield server
    server.close()
    trained.refresh()  # the registry of the default models directory again


def test_kill_training_then_resume(tmp_path, forks):
    csv = tiny_csv(tmp_path / "data")
    root = tmp_path / "models"
    folder = root / NAME
    log = tmp_path / "child.log"

    def complete(name: str, epochs: int) -> TrainRun:
        run = forks.run(_argv(csv, name, epochs), log)
        assert not run.killed and run.exit_code == 0, run.output[-3000:]
        assert "Traceback" not in run.output
        return run

    # --resume with nothing to resume starts afresh; then one more epoch, timed
    complete(NAME, FIRST_EPOCHS)
    assert _check_consistent(root, NAME)
    epochs = FIRST_EPOCHS + 1
    total = complete(NAME, epochs).seconds

    moments = [(d, None) for d in kill_times(total, KILL_POINTS, seed=16)]
    moments += [(None, _temp_file(folder, trained.LAST)),
                (None, _temp_file(folder, trained.CHECKPOINT)),
                (None, _between_model_writes(folder))]  # fmt: skip
    runs = []
    for delay, when in moments:
        if torch.load(folder / trained.LAST, weights_only=True)["epoch"] == epochs:
            epochs += 1  # all asked for is done: one more epoch, so that there is work
        run = forks.run(_argv(csv, NAME, epochs), log, kill_after_s=delay, kill_when=when)
        assert run.killed or run.exit_code == 0, run.output[-3000:]
        assert "Traceback" not in run.output, run.output[-3000:]
        runs.append(run)
        _check_consistent(root, NAME)
    timed, in_write = runs[:KILL_POINTS], runs[KILL_POINTS:]
    summary = {"command": "train", "run_s": round(total, 3), "timed": len(timed),
               "timed_killed": sum(r.killed for r in timed), "in_write": len(in_write),
               "in_write_killed": sum(r.killed for r in in_write)}  # fmt: skip
    print(f"KILL-ROUNDS {json.dumps(summary)}")  # read by bench/reliability.py
    assert sum(r.killed for r in timed) >= max(1, KILL_POINTS // 2)

    # the next run resumes: only the epochs not saved yet are trained
    saved = torch.load(folder / trained.LAST, weights_only=True)["epoch"]
    final = complete(NAME, epochs)
    assert _epochs_printed(final) == list(range(saved + 1, epochs + 1))
    assert _check_consistent(root, NAME)
    history = _history(folder)
    assert [h["epoch"] for h in history] == list(range(1, epochs + 1))
    leftovers = [p.name for p in root.iterdir() if p.name.startswith(".")]
    leftovers += [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert leftovers == []

    # killed in its first epoch (no last.pt yet): --resume starts afresh, and a run never
    # killed gives the same history as the killed and resumed one
    fresh = root / "unkilled"
    run = forks.run(_argv(csv, "unkilled", epochs), log, kill_after_s=120,
                    kill_when=lambda: fresh.is_dir())  # fmt: skip
    assert run.killed and not (fresh / trained.LAST).exists()
    assert _epochs_printed(complete("unkilled", epochs)) == list(range(1, epochs + 1))
    unkilled = _history(fresh)
    for mine, theirs in zip(history, unkilled, strict=True):
        for key in ("train_loss", "valid_loss", "valid_accuracy"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-6, abs=1e-9), (mine, theirs)
