"""The PyTorch musicnn/VGG port against the original TensorFlow outputs.

The oracle is ``../shared/reference/musicnn`` (see its README): outputs of the
unmodified musicnn 0.1.0 code (TF 2.15, librosa 0.11, numpy 1.26) on 9 real clips.
Fed the stored ``input_batch``, our logits must match to 1e-4 and the features to
1e-3 absolute; our preprocessing from the clip audio must match the stored log-mel.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from songscape.audio.decode import load_audio
from songscape.audio.features import frame_patches, musicnn_log_mel
from songscape.models.registry import load_model
from tests.helpers import SHARED_DATA

REFERENCE = SHARED_DATA.parent / "reference" / "musicnn"
MODELS = {  # registry name -> reference file prefix
    "musicnn-msd": "MSD_musicnn",
    "musicnn-mtt": "MTT_musicnn",
    "vgg-msd": "MSD_vgg",
    "vgg-mtt": "MTT_vgg",
}
LOGIT_ATOL = 1e-4
FEATURE_ATOL = 1e-3

pytestmark = pytest.mark.skipif(
    not REFERENCE.is_dir(), reason="../shared/reference/musicnn not present"
)


@cache
def _clips() -> list[str]:
    return sorted(json.loads((REFERENCE / "manifest.json").read_text())["clips"])


def _reference(model: str, clip: str) -> np.lib.npyio.NpzFile:
    return np.load(REFERENCE / "outputs" / f"{MODELS[model]}__{clip}.npz")


def _input_batch(clip: str) -> np.ndarray:
    # Stored once, in the MSD_musicnn file: every model got the identical input.
    return np.load(REFERENCE / "outputs" / f"MSD_musicnn__{clip}.npz")["input_batch"]


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def _forward(net: torch.nn.Module, batch: np.ndarray, chunk: int = 2) -> dict[str, np.ndarray]:
    # Small chunks: the frame-level maps of a whole clip at once would need ~0.5 GB.
    parts: dict[str, list[np.ndarray]] = {}
    with torch.inference_mode():
        for start in range(0, len(batch), chunk):
            x = torch.from_numpy(batch[start : start + chunk])
            for name, value in net(x, frames=True).items():
                parts.setdefault(name, []).append(value.numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


@pytest.mark.parametrize("model", list(MODELS))
def test_network_matches_tensorflow(model):
    tagger = load_model(model)
    torch.set_num_threads(1)
    worst: dict[str, float] = {}
    for clip in _clips():
        ref = _reference(model, clip)
        batch = _input_batch(clip)
        n = batch.shape[0]
        out = _forward(tagger.net, batch)
        pairs = {"logits": (out["logits"], ref["logits"])}
        taggram = 1 / (1 + np.exp(-out["logits"].astype(np.float64)))
        pairs["taggram"] = (taggram, ref["taggram"])
        if model.startswith("musicnn"):
            pairs["fixed_penultimate"] = (out["penultimate"], ref["fixed_penultimate"])
            pairs["max_pool"] = (out["max_pool"], ref["max_pool"])
            pairs["mean_pool"] = (out["mean_pool"], ref["mean_pool"])
            for layer in ("cnn1", "cnn2", "cnn3"):
                pairs[f"fixed_{layer}"] = (out[layer].reshape(-1, 64), ref[f"fixed_{layer}"])
            for layer in ("timbral", "temporal"):
                if layer in ref:  # kept for three short clips only
                    width = ref[layer].shape[1]
                    pairs[layer] = (out[layer].reshape(-1, width), ref[layer])
        else:
            pairs["pool5"] = (out["pool5"], ref["pool5"].reshape(n, -1))
            for layer in ("pool3", "pool4"):
                if layer in ref:
                    mine = out[layer]
                    pairs[layer] = (mine.reshape(-1, *mine.shape[2:]), ref[layer])
        for name, (mine, theirs) in pairs.items():
            worst[name] = max(worst.get(name, 0.0), _max_diff(mine, theirs))
    for name, diff in worst.items():
        tol = LOGIT_ATOL if name in ("logits", "taggram") else FEATURE_ATOL
        assert diff <= tol, f"{model} {name}: max |diff| {diff:.2e} > {tol}"
    # The comparison covered every feature the reference stores.
    expected = {"logits", "taggram"} | (
        {"fixed_penultimate", "max_pool", "mean_pool", "fixed_cnn1", "fixed_cnn2",
         "fixed_cnn3", "timbral", "temporal"}
        if model.startswith("musicnn") else {"pool3", "pool4", "pool5"}
    )  # fmt: skip
    assert set(worst) == expected


def test_labels_come_from_the_wheel_in_reference_order():
    for model in MODELS:
        ref = _reference(model, "solo_trumpet")
        assert load_model(model).spec.labels == tuple(str(t) for t in ref["tags"])


def test_preprocessing_matches_stored_log_mel():
    for clip in _clips():
        inputs = np.load(REFERENCE / "inputs" / f"{clip}.npz")
        log_mel = musicnn_log_mel(inputs["audio_16k"])
        assert log_mel.dtype == np.float32
        assert log_mel.shape == inputs["log_mel"].shape
        diff = np.abs(log_mel - inputs["log_mel"])
        # float32 FFT differences between library builds move at most a handful of mel
        # values across a float16 rounding boundary (the original quantises to float16),
        # which changes their log by <= 2.5e-4; everything else agrees to float32 ulps.
        assert diff.max() <= 5e-4, (clip, diff.max())
        assert (diff > 1e-5).sum() <= 5, (clip, int((diff > 1e-5).sum()))
        patches, starts = frame_patches(log_mel)
        assert np.array_equal(starts, inputs["patch_start_frame"])
        assert np.allclose(patches, _input_batch(clip), atol=5e-4)


def test_decoding_matches_librosa_load():
    # The reference resampled with librosa.load (soxr HQ, length ceil(n * 16000 / sr)).
    for clip in ("solo_trumpet", "hungarian_dance_5"):
        inputs = np.load(REFERENCE / "inputs" / f"{clip}.npz")
        path = SHARED_DATA / "librosa_data" / "audio" / Path(str(inputs["clip_file"])).name
        y, _ = load_audio(path, sr=16000)
        np.testing.assert_array_equal(y, inputs["audio_16k"])


@pytest.mark.parametrize("model", ["musicnn-msd", "musicnn-mtt"])
def test_end_to_end_tags_match_reference_taggram(model):
    """From the audio file to track-level tags, as the original extractor."""
    clip = "choice_drum_bass"
    inputs = np.load(REFERENCE / "inputs" / f"{clip}.npz")
    path = SHARED_DATA / "librosa_data" / "audio" / Path(str(inputs["clip_file"])).name
    y, _ = load_audio(path, sr=16000)
    out = load_model(model).run(y)
    ref = _reference(model, clip)
    assert out.taggram.shape == ref["taggram"].shape
    assert np.abs(out.taggram - ref["taggram"]).max() < 1e-3
    np.testing.assert_allclose(out.patch_times_s, ref["patch_start_frame"] * 256 / 16000)
    top = list(out.tags())[:3]
    assert top == [str(t) for t in ref["tags"][np.argsort(-ref["taggram"].mean(0))[:3]]]


def test_short_input_is_repeat_padded_to_one_patch():
    log_mel = np.arange(50 * 96, dtype=np.float32).reshape(50, 96)
    patches, starts = frame_patches(log_mel)
    assert patches.shape == (1, 187, 96) and list(starts) == [0]
    np.testing.assert_array_equal(patches[0, 50:100], log_mel)


def test_overlapping_patches():
    log_mel = np.zeros((400, 96), dtype=np.float32)
    patches, starts = frame_patches(log_mel, 187, 93)
    assert list(starts) == [0, 93, 186] and patches.shape == (3, 187, 96)
    with pytest.raises(ValueError):
        frame_patches(np.zeros((0, 96), dtype=np.float32))
    with pytest.raises(ValueError):
        musicnn_log_mel(np.zeros((2, 1000), dtype=np.float32))
