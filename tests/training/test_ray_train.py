"""``train --engine ray``: the trainer data-parallel on a real local Ray cluster
(``ray start --head`` on free loopback ports, the session's: ``ray_address`` in
tests/conftest.py).

"Close to the local engine" is made exact by the choice of network: ``musicnn-head`` with
``dropout=0`` has no batch normalisation and no randomness in its forward pass, and 6
training files × 4 chunks make 3 full batches of 8 (no short batch to skip). Both workers
then draw the local run's batches, each computes half of every batch, and DDP averages
the weighted gradients into the whole batch's gradient, so the 2-worker run takes the same
AdamW steps as the local one: its losses and weights equal the local ones up to
floating-point summation order (compared at 1e-4). Networks with batch normalisation
(the waveform CNNs) differ by more, because each worker normalises its own half of the
batch (see docs/training.md); the sharding and weighting themselves are checked exactly
against a full batch below, without Ray.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from songscape.datasets import read_labels
from songscape.errors import UsageError
from tests.helpers import tiny_csv

torch = pytest.importorskip("torch")


def _config(**kw):
    from songscape.training.trainer import TrainConfig

    base = dict(arch="musicnn-head", epochs=2, batch_size=8, lr=3e-3, seed=3,
                chunks_per_track=4, valid_chunks=2, valid_fraction=0.25, num_threads=1,
                patience=5, dropout=0.0)  # fmt: skip
    return TrainConfig(**(base | kw))


def test_shards_weighted_like_the_whole_batch() -> None:
    """The mean of the workers' weighted shard gradients (what DDP applies) is the
    gradient of the whole batch's mean loss, for shares of unequal size too."""
    from songscape.training.loop import shard_positions
    from songscape.training.ray_train import shard_count

    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 3)
    x, y = torch.randn(7, 5), torch.randint(0, 3, (7,))
    lin.zero_grad()
    torch.nn.functional.cross_entropy(lin(x), y).backward()
    whole = lin.weight.grad.clone()
    world = 3
    summed = torch.zeros_like(whole)
    for rank in range(world):
        keep, weight = shard_positions(7, rank, world)
        assert len(keep) >= 2
        lin.zero_grad()
        (torch.nn.functional.cross_entropy(lin(x[keep]), y[keep]) * weight).backward()
        summed += lin.weight.grad / world
    torch.testing.assert_close(summed, whole, rtol=1e-5, atol=1e-7)
    assert len(shard_positions(5, 0, 3)[0]) == 0  # < 2 per worker: skipped by all
    # 26 inputs in batches of 8: 8, 8, 8 shared, the last 2 skipped
    assert [shard_count(26, 8, r, 2) for r in (0, 1)] == [12, 12]


def test_moco_and_tiny_batches_are_refused_before_anything_is_written(tmp_path) -> None:
    from songscape.training.trainer import train

    data = read_labels(tiny_csv(tmp_path), label_column="genre")
    with pytest.raises(UsageError, match="moco"):
        train(_config(task="moco", arch="shortchunk-cnn"), data, "m", tmp_path / "models",
              engine="ray", workers=2)  # fmt: skip
    with pytest.raises(UsageError, match="batch-size"):
        train(_config(batch_size=2), data, "m", tmp_path / "models", engine="ray", workers=2)
    assert not (tmp_path / "models" / "m").exists()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, ray_address):
    """The same job trained locally and on 2 Ray workers, in a private models dir."""
    from songscape.models import trained
    from songscape.training.trainer import train

    root = tmp_path_factory.mktemp("raytrain")
    mp = pytest.MonkeyPatch()
    mp.setenv("SONGSCAPE_MODELS", str(root / "models"))
    mp.setenv("SONGSCAPE_CACHE", str(root / "cache"))
    torch.set_num_threads(1)
    data = read_labels(tiny_csv(root), label_column="genre")
    local = train(_config(), data, "head-local")
    ray = train(_config(), data, "head-ray", engine="ray", workers=2, ray_address=ray_address)
    yield {"data": data, "local": local, "ray": ray}
    mp.undo()
    trained.refresh()


def test_two_ray_workers_train_what_the_local_engine_trains(two_runs) -> None:
    local, ray = two_runs["local"], two_runs["ray"]
    lm, rm = local.metadata, ray.metadata
    assert set(rm) == set(lm)  # the same checkpoint format
    assert rm["split"] == lm["split"] and rm["labels"] == lm["labels"]
    assert [h["epoch"] for h in rm["history"]] == [1, 2]
    for h_ray, h_local in zip(rm["history"], lm["history"], strict=True):
        for key in ("train_loss", "valid_loss"):
            assert math.isfinite(h_ray[key])
            assert h_ray[key] == pytest.approx(h_local[key], rel=1e-4), key
    assert rm["history"][-1]["train_loss"] < rm["history"][0]["train_loss"]
    w_local = torch.load(local.folder / "model.pt", map_location="cpu", weights_only=False)
    w_ray = torch.load(ray.folder / "model.pt", map_location="cpu", weights_only=False)
    for key, value in w_local["net_state"].items():
        torch.testing.assert_close(w_ray["net_state"][key], value, rtol=1e-4, atol=1e-5)
    log = (ray.folder / "metrics.jsonl").read_text().splitlines()
    assert len(log) == 2 and (ray.folder / "last.pt").is_file()


def test_the_ray_model_is_registered_and_embeds(two_runs) -> None:
    from songscape.audio.decode import load_audio
    from songscape.models.registry import get_spec, list_models, load_model

    assert "head-ray" in [s.name for s in list_models()]
    spec = get_spec("head-ray")
    assert spec.labels == ("blues", "classical")
    y, _ = load_audio(two_runs["data"].paths[0], sr=spec.sample_rate)
    out = load_model("head-ray").run(y)
    assert out.embedding.shape == (spec.embedding_dim,)
    assert np.all(np.isfinite(out.embedding))
    reference = load_model("head-local").run(y)
    np.testing.assert_allclose(out.embedding, reference.embedding, rtol=1e-3, atol=1e-4)


def test_cli_refuses_what_ray_cannot_train(tmp_path, capsys) -> None:
    from songscape.cli import main

    csv = str(tiny_csv(tmp_path))
    base = ["train", "--arch", "shortchunk-cnn", "--labels", csv, "--name", "x"]
    assert main([*base, "--task", "moco", "--engine", "ray"]) == 2
    assert "moco" in capsys.readouterr().err
    assert main([*base, "--ray-address", "127.0.0.1:1"]) == 2
    assert "--engine ray" in capsys.readouterr().err
