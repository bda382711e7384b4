"""`songscape train` / `models` / `evaluate` / `ingest --model <trained>` through the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from songscape.cli import main
from tests.helpers import TINY, tiny_csv

torch = pytest.importorskip("torch")


def run_json(capsys, *argv: str):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else captured.err)


def test_train_models_evaluate_and_ingest(models_env: Path, capsys) -> None:
    labels = str(tiny_csv(models_env))
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

    code, models = run_json(capsys, "--library", str(models_env / "nolib"), "models", "--json")
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
    plot = models_env / "cm.png"
    code, mfcc = run_json(capsys, "evaluate", "--model", "mfcc", "--labels", labels,
                          "--folds", "2", "--plot", str(plot), "--json")  # fmt: skip
    assert code == 0 and mfcc["dim"] == 80 and "train_overlap" not in mfcc
    assert (models_env / "cm.png").stat().st_size > 1000
    assert (models_env / "cm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert mfcc["plot"] == str(models_env / "cm.png")

    # a library of 4 tagged copies: blues 0, 5 by artist A, classical 0, 5 by B (no genre)
    import mutagen

    rows = Path(labels).read_text().splitlines()[1:]
    clips = [Path(rows[i].split(",")[0]) for i in (0, 2, 4, 6)]
    music = models_env / "music"
    music.mkdir()
    for i, clip in enumerate(clips):
        copy = music / clip.name
        copy.write_bytes(clip.read_bytes())
        tags = mutagen.File(copy, easy=True)
        tags["artist"], tags["album"] = f"Artist {'AB'[i // 2]}", f"Album {i}"
        tags.save()
    lib = str(models_env / "lib")
    code, report = run_json(capsys, "--library", lib, "ingest", str(music), "--model", "cli-sc",
                            "--workers", "1", "--json")  # fmt: skip
    assert code == 0 and report["added"] == 4 and report["failed"] == 0
    code, models = run_json(capsys, "--library", lib, "models", "--json")
    assert next(m for m in models if m["name"] == "cli-sc")["library_vectors"] == 4

    # similar with the trained model: the other 3 tracks (library track, then outside file)
    query = str(music / clips[0].name)
    code, sim = run_json(capsys, "--library", lib, "similar", query, "--model", "cli-sc",
                         "--json")  # fmt: skip
    assert code == 0, sim
    assert sim["model"] == "cli-sc" and sim["query"]["path"] == query
    assert sorted(r["path"] for r in sim["results"]) == sorted(
        str(music / c.name) for c in clips[1:]
    )
    assert all(math.isfinite(r["score"]) for r in sim["results"])
    code, sim = run_json(capsys, "--library", lib, "similar", "--file", str(clips[0]),
                         "--model", "cli-sc", "--k", "2", "--json")  # fmt: skip
    assert code == 0, sim
    assert len(sim["results"]) == 2 and sim["results"][0]["path"] == query  # its own copy

    # evaluate on the library's own artist tags (grouped by album)
    code, ev = run_json(capsys, "--library", lib, "evaluate", "--model", "mfcc",
                        "--library-labels", "artist", "--folds", "2", "--json")  # fmt: skip
    assert code == 0, ev
    assert ev["n"] == 4 and ev["label_column"] == "artist" and ev["grouping"] == "column:album"
    assert ev["class_names"] == ["Artist A", "Artist B"] and 0 <= ev["probe_acc"] <= 1
    assert ev["labels_source"] == f"library:{lib}"
    code, err = run_json(capsys, "--library", lib, "evaluate", "--model", "mfcc",
                         "--library-labels", "genre", "--json")  # fmt: skip
    assert code == 2 and "fewer than 2 genre values" in err
    code, err = run_json(capsys, "--library", lib, "train", "--arch", "shortchunk-cnn",
                         "--library-labels", "genre", "--name", "x", "--json")  # fmt: skip
    assert code == 2 and "fewer than 2 genre values" in err
    code, err = run_json(capsys, "--library", str(models_env / "nolib"), "evaluate",
                         "--model", "mfcc", "--library-labels", "artist")  # fmt: skip
    assert code == 1 and "no library" in err and "Traceback" not in err
    assert not (models_env / "nolib").exists()


def tags_csv(folder: Path) -> Path:
    """A multi-label CSV of 8 real clips (4 genres x 2 GTZAN blocks), tags from the genre."""
    from tests.helpers import shared_data

    root = shared_data("gtzan_subset100", "audio")
    tags = {"blues": "guitar;sad", "classical": "calm;strings", "disco": "dance;loud",
            "jazz": "calm;guitar"}  # fmt: skip
    lines = ["path,tags"] + [f"{root / g / f'{g}.{i:05d}.ogg'},{t}"
                             for g, t in tags.items() for i in (0, 5)]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tags.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


TAGS = ["calm", "dance", "guitar", "loud", "sad", "strings"]


def test_train_and_evaluate_multilabel_tags(models_env: Path, capsys) -> None:
    import numpy as np

    from songscape.audio.decode import load_audio
    from songscape.models.registry import get_spec, load_model

    labels = str(tags_csv(models_env))
    code, result = run_json(
        capsys, "train", "--arch", "shortchunk-cnn", "--task", "tags", "--labels", labels,
        "--epochs", "1", "--chunks", "1", "--valid-chunks", "1", "--batch-size", "4",
        "--threads", "1", "--encoder", json.dumps(TINY), "--name", "cli-tags", "--json",
    )  # fmt: skip
    assert code == 0, result
    assert result["task"] == "tags" and result["labels"] == TAGS and result["epochs_run"] == 1
    assert {"valid_loss", "valid_roc_auc", "valid_pr_auc"} <= set(result["valid_metrics"])
    assert math.isfinite(result["valid_metrics"]["valid_loss"])
    spec = get_spec("cli-tags")
    assert spec.labels == tuple(TAGS) and spec.tag_source == "cli-tags"
    clip = Path(labels).read_text().splitlines()[1].split(",")[0]
    y, _ = load_audio(clip, sr=spec.sample_rate)
    out = load_model("cli-tags").run(y)
    assert out.labels == tuple(TAGS) and out.taggram.shape == (int(np.ceil(len(y) / 59049)), 6)
    assert np.all((out.taggram >= 0) & (out.taggram <= 1))
    assert not np.allclose(out.taggram.sum(axis=1), 1.0)  # sigmoids, not a softmax

    for model in ("mfcc", "cli-tags"):
        code, ev = run_json(capsys, "evaluate", "--model", model, "--labels", labels,
                            "--task", "tags", "--folds", "2", "--json")  # fmt: skip
        assert code == 0, ev
        assert ev["n"] == 8 and ev["probe_acc"] is None and ev["n_tags_scored"] == 6
        for key in ("probe_roc_auc", "probe_pr_auc", "knn_p10"):
            assert 0.0 <= ev[key] <= 1.0, (model, key, ev[key])
    assert ev["train_overlap"] > 0 and ev["trained"]["task"] == "tags"
    code, err = run_json(capsys, "evaluate", "--model", "mfcc", "--labels", labels,
                         "--task", "tags", "--plot", str(models_env / "t.png"))  # fmt: skip
    assert code == 2 and "single-label" in err and not (models_env / "t.png").exists()


def test_train_errors_exit_codes(models_env: Path, capsys) -> None:
    labels = str(tiny_csv(models_env))
    base = ["train", "--labels", labels, "--name", "x", "--json"]
    code, err = run_json(capsys, *base, "--arch", "nope")
    assert code == 2 and "unknown architecture" in err
    code, err = run_json(capsys, "train", "--arch", "crnn", "--labels", str(models_env / "no.csv"),
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
