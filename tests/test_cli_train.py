"""`songscape train` / `models` / `evaluate` / `ingest --model <trained>` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from songscape.cli import main
from tests.models.test_training import TINY, tiny_csv

torch = pytest.importorskip("torch")


def run_json(capsys, *argv: str):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else captured.err)


@pytest.fixture
def env(tmp_path: Path, monkeypatch):
    from songscape.models import trained

    monkeypatch.setenv("SONGSCAPE_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("SONGSCAPE_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    trained.refresh()
    yield tmp_path
    monkeypatch.undo()
    trained.refresh()


def test_train_models_evaluate_and_ingest(env: Path, capsys) -> None:
    labels = str(tiny_csv(env))
    code, result = run_json(
        capsys, "train", "--arch", "shortchunk-cnn", "--task", "genre", "--labels", labels,
        "--label-column", "genre", "--epochs", "1", "--chunks", "1", "--valid-chunks", "1",
        "--batch-size", "4", "--threads", "1", "--encoder", json.dumps(TINY),
        "--name", "cli-sc", "--json",
    )  # fmt: skip
    assert code == 0, result
    assert {"name", "arch", "task", "epochs_run", "best_epoch", "train_s", "valid_metrics",
            "n_train", "n_valid", "checkpoint", "device", "hardware"} <= set(result)  # fmt: skip
    assert result["epochs_run"] == 1 and result["n_train"] + result["n_valid"] == 8
    assert Path(result["checkpoint"]).is_file()

    code, models = run_json(capsys, "--library", str(env / "nolib"), "models", "--json")
    spec = next(m for m in models if m["name"] == "cli-sc")
    assert spec["embedding_dim"] == 16 and spec["n_tags"] == 2

    code, again = run_json(capsys, "train", "--arch", "shortchunk-cnn", "--labels", labels,
                           "--name", "cli-sc", "--json")  # fmt: skip
    assert code == 1 and "--overwrite" in again

    code, ev = run_json(capsys, "evaluate", "--model", "cli-sc", "--labels", labels,
                        "--label-column", "genre", "--folds", "2", "--json")  # fmt: skip
    assert code == 0, ev
    assert {"probe_acc", "probe_ci95", "knn_p10", "knn_ci95", "n", "model", "layer", "dim",
            "folds", "train_overlap", "trained"} <= set(ev)  # fmt: skip
    assert ev["n"] == 8 and ev["dim"] == 16 and ev["train_overlap"] == 0.75
    assert "optimistic" in ev["warning"]
    code, mfcc = run_json(capsys, "evaluate", "--model", "mfcc", "--labels", labels,
                          "--folds", "2", "--plot", str(env / "cm.png"), "--json")  # fmt: skip
    assert code == 0 and mfcc["dim"] == 80 and "train_overlap" not in mfcc
    assert (env / "cm.png").stat().st_size > 1000

    clips = [line.split(",")[0] for line in Path(labels).read_text().splitlines()[1:3]]
    music = env / "music"
    music.mkdir()
    for clip in clips:
        (music / Path(clip).name).write_bytes(Path(clip).read_bytes())
    lib = str(env / "lib")
    code, report = run_json(capsys, "--library", lib, "ingest", str(music), "--model", "cli-sc",
                            "--workers", "1", "--json")  # fmt: skip
    assert code == 0 and report["added"] == 2 and report["failed"] == 0
    code, models = run_json(capsys, "--library", lib, "models", "--json")
    assert next(m for m in models if m["name"] == "cli-sc")["library_vectors"] == 2


def test_train_errors_exit_codes(env: Path, capsys) -> None:
    labels = str(tiny_csv(env))
    base = ["train", "--labels", labels, "--name", "x", "--json"]
    code, err = run_json(capsys, *base, "--arch", "nope")
    assert code == 2 and "unknown architecture" in err
    code, err = run_json(capsys, "train", "--arch", "crnn", "--labels", str(env / "no.csv"),
                         "--name", "x")  # fmt: skip
    assert code == 2 and "no such labels file" in err
    code, err = run_json(capsys, *base, "--arch", "crnn", "--label-column", "mood")
    assert code == 2 and "mood" in err
    code, err = run_json(capsys, *base[:-2], "musicnn-msd", "--arch", "crnn")
    assert code == 1 and "built-in" in err
    if not torch.cuda.is_available():
        code, err = run_json(capsys, *base, "--arch", "crnn", "--device", "cuda")
        assert code == 1 and "CUDA" in err
    code, err = run_json(capsys, "evaluate", "--model", "nope", "--labels", labels)
    assert code == 2 and "unknown model" in err
