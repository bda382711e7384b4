"""Training your own models: the loop, resuming, checkpoints and the registry."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from songscape.datasets import read_labels
from tests.helpers import TINY, shared_data, tiny_csv

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


# ---- training end to end ------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_env(tmp_path_factory):
    """A tiny genre model trained on 8 real clips (3 epochs), in a private models dir."""
    from songscape.models import trained
    from songscape.training.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("train")
    mp = pytest.MonkeyPatch()
    mp.setenv("SONGSCAPE_MODELS", str(root / "models"))
    mp.setenv("SONGSCAPE_CACHE", str(root / "cache"))
    torch.set_num_threads(1)
    data = read_labels(tiny_csv(root), label_column="genre")
    config = TrainConfig(arch="shortchunk-cnn", epochs=2, batch_size=4, lr=3e-3, seed=1,
                         chunks_per_track=3, valid_chunks=2, valid_fraction=0.25,
                         num_threads=1, patience=5, encoder=TINY)  # fmt: skip
    first = train(config, data, "tiny-genre")
    config.epochs = 4
    resumed = train(config, data, "tiny-genre", resume=True)
    yield {"root": root, "data": data, "config": config, "first": first, "resumed": resumed}
    mp.undo()
    trained.refresh()


def test_training_lowers_the_loss_and_resume_continues(trained_env) -> None:
    first, resumed = trained_env["first"], trained_env["resumed"]
    assert first.metadata["epochs_run"] == 2
    history = resumed.metadata["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[0]["train_loss"] == first.metadata["history"][0]["train_loss"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    log = (resumed.folder / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in log] == [1, 2, 3, 4]
    split = resumed.metadata["split"]
    assert len(split["train"]) == 6 and len(split["valid"]) == 2
    assert "valid_accuracy" in history[-1]


def test_trained_model_is_registered_and_runs_on_audio(trained_env) -> None:
    from songscape.audio.decode import load_audio
    from songscape.models.registry import get_spec, list_models, load_model

    assert "tiny-genre" in [s.name for s in list_models()]
    spec = get_spec("tiny-genre")
    assert spec.embedding_dim == 16 and spec.labels == ("blues", "classical")
    assert spec.version == trained_env["resumed"].to_json()["version"]
    y, _ = load_audio(trained_env["data"].paths[0], sr=spec.sample_rate)
    out = load_model("tiny-genre").run(y)
    n_chunks = int(np.ceil(len(y) / 59049))
    assert out.embedding.shape == (16,) and out.taggram.shape == (n_chunks, 2)
    np.testing.assert_allclose(out.taggram.sum(axis=1), 1.0, rtol=1e-5)


def test_name_rules_overwrite_and_broken_checkpoints(trained_env) -> None:
    from songscape.models import trained
    from songscape.models.registry import model_names
    from songscape.training.trainer import TrainConfig, TrainingError, train

    data, config = trained_env["data"], trained_env["config"]
    with pytest.raises(TrainingError, match="already exists"):
        train(config, data, "tiny-genre")
    with pytest.raises(TrainingError, match="built-in"):
        train(config, data, "musicnn-msd")
    with pytest.raises(TrainingError, match="unknown architecture"):
        train(TrainConfig(arch="nope"), data, "x")
    if not torch.cuda.is_available():
        with pytest.raises(TrainingError, match="CUDA"):
            train(TrainConfig(arch="shortchunk-cnn", device="cuda"), data, "x")
    broken = trained_env["root"] / "models" / "broken"
    broken.mkdir()
    (broken / "model.json").write_text("{not json")
    (broken / "model.pt").write_bytes(b"junk")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = trained.refresh()
    assert "broken" not in names and "tiny-genre" in names
    assert any("broken" in str(w.message) for w in caught)
    assert "musicnn-msd" in model_names() and "tiny-genre" in model_names()


def test_resume_refuses_other_settings_and_an_unreadable_state(trained_env) -> None:
    import dataclasses

    from songscape.training.trainer import TrainingError, train

    data, config = trained_env["data"], trained_env["config"]
    with pytest.raises(TrainingError, match="differ from the interrupted run"):
        train(dataclasses.replace(config, lr=1e-2), data, "tiny-genre", resume=True)
    folder = trained_env["root"] / "models" / "junk-state"
    folder.mkdir()
    (folder / "last.pt").write_bytes(b"junk")
    with pytest.raises(TrainingError, match="cannot read .*last.pt"):
        train(config, data, "junk-state", resume=True)


def test_musicnn_finetune_starts_from_the_pretrained_backend() -> None:
    from songscape.audio.decode import load_audio
    from songscape.models.heads import MusicnnBackend, musicnn_patch_features
    from songscape.models.pretrained import PretrainedWeightsError

    y, _ = load_audio(shared_data("gtzan_subset100", "audio", "jazz", "jazz.00001.ogg"), sr=16000)
    try:
        pooled, starts = musicnn_patch_features(y[: 16000 * 7], layer="pooled")
    except PretrainedWeightsError:
        pytest.skip("musicnn weights not installed")
    penultimate, _ = musicnn_patch_features(y[: 16000 * 7])
    assert pooled.shape == (2, 1506) and penultimate.shape == (2, 200)
    backend = MusicnnBackend()
    backend.load_pretrained()
    backend.eval()
    with torch.no_grad():
        embedding = backend(torch.from_numpy(pooled))["embedding"].numpy()
    np.testing.assert_allclose(embedding, penultimate, atol=1e-4)


def test_a_refresh_of_another_folder_is_not_undone_by_the_first_lookup(
    trained_env, tmp_path, monkeypatch
) -> None:
    import shutil

    from songscape.models import trained
    from songscape.models.registry import get_spec

    other = tmp_path / "elsewhere"
    shutil.copytree(trained_env["root"] / "models" / "tiny-genre", other / "tiny-genre")
    monkeypatch.setenv("SONGSCAPE_MODELS", str(tmp_path / "empty"))
    monkeypatch.setattr(trained, "_SCANNED", False)  # a process that has not looked yet
    try:
        assert trained.refresh(other) == ["tiny-genre"]
        assert get_spec("tiny-genre").name == "tiny-genre"  # no re-scan of the empty default
    finally:
        monkeypatch.undo()
        trained.refresh()
