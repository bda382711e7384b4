"""Training your own models: data, splits, cache, the loop, checkpoints and the registry."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from songscape.datasets import (
    AudioCache,
    DatasetError,
    grouped_folds,
    read_labels,
    train_valid_split,
)
from songscape.evaluation.metrics import multilabel_auc
from tests.helpers import TINY, shared_data, tiny_csv

torch = pytest.importorskip("torch")


def gtzan_csv() -> Path:
    return shared_data("gtzan_subset100", "labels.csv")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


# ---- labels and splits --------------------------------------------------------------------


def test_gtzan_labels_drop_excluded_rows_and_use_blocks() -> None:
    data = read_labels(gtzan_csv(), label_column="genre")
    assert len(data) == 93 and data.skipped["excluded"] == 7
    assert len(data.classes) == 10 and data.group_source == "gtzan-blocks"
    assert all(p.is_absolute() and p.is_file() for p in data.paths)


def test_grouped_split_never_puts_a_group_on_both_sides() -> None:
    data = read_labels(gtzan_csv(), label_column="genre")
    train, valid = train_valid_split(data, 0.2, seed=3)
    assert len(train) + len(valid) == 93 and len(valid) > 0
    assert not set(data.groups[train]) & set(data.groups[valid])
    assert np.array_equal(train, train_valid_split(data, 0.2, seed=3)[0])  # seeded
    for tr, te in grouped_folds(data, 3, seed=0):
        assert not set(data.groups[tr]) & set(data.groups[te])


def test_validation_split_never_takes_a_class_out_of_training() -> None:
    # Inside a cross-training fold most genres keep 1-2 groups: a class whose only
    # training group went to validation would be unlearnable (and stop training at once).
    data = read_labels(gtzan_csv(), label_column="genre")
    for tr, _ in grouped_folds(data, 3, seed=0):
        part = data.subset(tr)
        for seed in range(4):
            train, valid = train_valid_split(part, 0.2, seed=seed)
            labels = part.single_labels()
            assert set(labels[valid]) <= set(labels[train])
            assert set(labels[train]) == set(labels)
            assert not set(part.groups[train]) & set(part.groups[valid])
            assert 0.1 * len(part) <= len(valid) <= 0.3 * len(part)
    # one group per class: nothing can move, so no validation part
    labels = data.single_labels()
    first = {c: data.groups[np.flatnonzero(labels == c)[0]] for c in data.classes}
    single = data.subset(np.flatnonzero(np.isin(data.groups, list(first.values()))))
    assert len(np.unique(single.groups)) == len(single.classes) == 10
    assert len(train_valid_split(single, 0.2)[1]) == 0


def test_labels_csv_errors_are_clear(tmp_path: Path) -> None:
    audio = tmp_path / "a.ogg"
    audio.write_bytes(b"x")
    bad = tmp_path / "bad.csv"
    bad.write_text("file,genre\na.ogg,rock\n")
    with pytest.raises(DatasetError, match="'path' column"):
        read_labels(bad)
    bad.write_text("path,genre\na.ogg,rock\nb.ogg,jazz\n")
    with pytest.raises(DatasetError, match="missing audio"):
        read_labels(bad)
    with pytest.raises(DatasetError, match="no column 'mood'"):
        read_labels(bad, label_column="mood", check_files=False)
    bad.write_text("path,genre\na.ogg,rock\n")
    with pytest.raises(DatasetError, match="at least 2 classes"):
        read_labels(bad)
    with pytest.raises(DatasetError, match="no such labels file"):
        read_labels(tmp_path / "nope.csv")


def test_multilabel_csv_semicolons_and_one_hot(tmp_path: Path) -> None:
    for name in ("a.ogg", "b.ogg"):
        (tmp_path / name).write_bytes(b"x")
    csv = tmp_path / "tags.csv"
    csv.write_text("path,tags,artist\na.ogg,rock;loud,A\nb.ogg,calm,B\n")
    data = read_labels(csv, task="tags")
    assert data.multilabel and data.classes == ("calm", "loud", "rock")
    assert data.multi_hot().tolist() == [[0, 1, 1], [1, 0, 0]]
    assert data.group_source == "column:artist"
    csv.write_text("path,rock,calm,split\na.ogg,1,0,train\nb.ogg,0,1,train\n")
    data = read_labels(csv, task="tags")
    assert data.classes == ("calm", "rock") and data.label_column == "one-hot"


# ---- evaluation ---------------------------------------------------------------------------


def test_multilabel_auc_matches_hand_computation() -> None:
    truth = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    scores = np.array([[0.9, 0.2, 0.5], [0.8, 0.7, 0.5], [0.3, 0.6, 0.5], [0.1, 0.1, 0.5]])
    result = multilabel_auc(truth, scores)
    # tag 0: positives 0.9, 0.3 vs negatives 0.8, 0.1 -> 3 of 4 pairs; AP (1 + 2/3) / 2
    # tag 1: positives above all negatives -> 1 and 1; tag 2 has no positive: skipped
    assert result["per_tag_roc_auc"] == [pytest.approx(0.75), pytest.approx(1.0), None]
    assert result["per_tag_pr_auc"][0] == pytest.approx(5 / 6)
    assert result["roc_auc"] == pytest.approx(0.875)
    assert result["pr_auc"] == pytest.approx((5 / 6 + 1) / 2)
    assert result["skipped"] == [2] and result["n_tags"] == 2
    assert multilabel_auc([[1], [0]], [[0.5], [0.5]])["roc_auc"] == 0.5  # ties count half
    with pytest.raises(ValueError, match="only 0 and 1"):
        multilabel_auc([[2], [0]], [[0.1], [0.2]])
    with pytest.raises(ValueError, match="differ in shape"):
        multilabel_auc(truth, scores[:, :2])
    with pytest.raises(ValueError, match="undefined"):
        multilabel_auc([[0], [0]], [[0.1], [0.2]])
    with pytest.raises(ValueError, match="NaN"):
        multilabel_auc([[1], [0]], [[np.nan], [0.2]])


# ---- cache --------------------------------------------------------------------------------


def test_audio_cache_decodes_each_file_once(tmp_path: Path, monkeypatch) -> None:
    import songscape.audio.decode as decode

    data = read_labels(tiny_csv(tmp_path), label_column="genre")
    calls = []
    real = decode.load_audio
    monkeypatch.setattr(decode, "load_audio", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    cache = AudioCache(tmp_path / "cache", 8000)
    keys = cache.ensure(data.paths[:2])
    assert len(calls) == 2
    y = cache.get(keys[0])
    assert y.dtype == np.float16 and 8000 * 10 < len(y) < 8000 * 40
    again = AudioCache(tmp_path / "cache", 8000)  # a new process: the index on disk
    assert again.ensure(data.paths[:2]) == keys and len(calls) == 2
    np.testing.assert_array_equal(again.get(keys[1]), cache.get(keys[1]))


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


def test_musicnn_finetune_starts_from_the_pretrained_backend() -> None:
    from songscape.audio.decode import load_audio
    from songscape.models.pretrained import PretrainedWeightsError
    from songscape.training.trainer import MusicnnBackend, musicnn_patch_features

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
