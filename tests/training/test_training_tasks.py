"""Self-supervised training end to end: ``moco`` and ``tjae`` through the Python API."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from songscape.datasets import read_labels, scan_audio
from tests.helpers import tiny_csv

torch = pytest.importorskip("torch")

#: Small enough for seconds on one core: 1 s chunks (16384 samples), 64 mel bands.
TINY_SHORTCHUNK = {"channels": [8, 8, 8, 16, 16], "embedding_dim": 16, "chunk_samples": 16384,
                   "n_mels": 64}  # fmt: skip
TINY_TJAE = {"channels": 8, "skip_channels": 8, "n_layers": 3, "embedding_dim": 8,
             "chunk_samples": 16384, "n_mels": 32}  # fmt: skip


def _check_unlabelled_model(result, name: str, dim: int, epochs: int, clip: Path) -> None:
    from songscape.audio.decode import load_audio
    from songscape.models.registry import get_spec, list_models, load_model

    history = result.metadata["history"]
    assert [h["epoch"] for h in history] == list(range(1, epochs + 1))
    for h in history:
        assert math.isfinite(h["train_loss"]) and math.isfinite(h["valid_loss"]), h
        assert "valid_accuracy" not in h and "valid_roc_auc" not in h
    log = (result.folder / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in log] == list(range(1, epochs + 1))
    assert (result.folder / "model.pt").is_file() and (result.folder / "last.pt").is_file()
    meta = result.metadata
    assert meta["labels"] == [] and meta["head"] is False and meta["embedding_dim"] == dim
    assert len(meta["split"]["train"]) + len(meta["split"]["valid"]) == 6
    assert meta["split"]["valid"] and not set(meta["split"]["train"]) & set(meta["split"]["valid"])

    assert name in [s.name for s in list_models()]
    spec = get_spec(name)
    assert spec.labels == () and spec.tag_source is None and spec.embedding_dim == dim
    y, _ = load_audio(clip, sr=spec.sample_rate)
    out = load_model(name).run(y)
    n_chunks = int(np.ceil(len(y) / 16384))
    assert out.embedding.shape == (dim,) and np.all(np.isfinite(out.embedding))
    assert out.taggram.shape == (n_chunks, 0) and out.labels == ()
    assert len(out.patch_times_s) == n_chunks


def test_moco_trains_registers_and_embeds(models_env: Path) -> None:
    from songscape.training.trainer import TrainConfig, train

    data = read_labels(tiny_csv(models_env, ids=(0, 1, 5)), task="moco")
    assert len(data) == 6
    config = TrainConfig(arch="shortchunk-cnn", task="moco", epochs=2, batch_size=4, seed=0,
                         chunks_per_track=1, valid_chunks=1, valid_fraction=0.25,
                         num_threads=1, encoder=TINY_SHORTCHUNK, moco_queue=16,
                         moco_momentum=0.9,
                         augment="pitch_shift=negative,time_stretch=positive")  # fmt: skip
    result = train(config, data, "tiny-moco")
    assert result.metadata["task"] == "moco" and result.metadata["epochs_run"] == 2
    assert result.metadata["train_config"]["augment"] == config.augment
    _check_unlabelled_model(result, "tiny-moco", 16, 2, data.paths[0])


def test_tjae_trains_from_an_unlabelled_folder(models_env: Path) -> None:
    from songscape.training.trainer import TrainConfig, TrainingError, train

    clips = [line.split(",")[0] for line in tiny_csv(models_env).read_text().splitlines()[1:]]
    folder = models_env / "audio"
    folder.mkdir()
    for clip in clips[:3] + clips[4:7]:  # blues 0, 1, 5 and classical 0, 1, 5
        (folder / Path(clip).name).symlink_to(clip)
    data = scan_audio(folder)
    assert len(data) == 6 and not data.labelled and data.group_source == "gtzan-blocks"
    config = TrainConfig(arch="tjae", task="tjae", epochs=2, batch_size=4, seed=0,
                         chunks_per_track=1, valid_chunks=1, valid_fraction=0.25,
                         num_threads=1, encoder=TINY_TJAE)  # fmt: skip
    result = train(config, data, "tiny-tjae")
    assert result.metadata["task"] == "tjae" and result.metadata["arch"] == "tjae"
    _check_unlabelled_model(result, "tiny-tjae", 8, 2, data.paths[0])
    with pytest.raises(TrainingError, match="needs labels"):
        train(TrainConfig(arch="shortchunk-cnn", task="genre"), data, "nolabels")
    with pytest.raises(TrainingError, match="--arch tjae"):
        train(TrainConfig(arch="shortchunk-cnn", task="tjae"), data, "wrongarch")
