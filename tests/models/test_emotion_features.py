"""Emotion feature blocks from the taggers' outputs, and heads that read them."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.errors import TrainedModelError
from songscape.models.emotion import (
    BLOCK_SIZES,
    BLOCKS,
    EmotionHead,
    LinearModel,
    blocks_need_second_model,
    estimate_emotion,
    features_from_output,
    split_flat,
)
from songscape.models.registry import get_spec
from songscape.models.spec import ModelOutput

DESCRIPTORS = {
    "tempo_bpm": 120.0, "loudness_lufs": -14.0, "key": "A minor", "key_confidence": 0.5,
    "spectral_centroid_hz": 2000.0, "onset_rate_hz": 3.0,
}  # fmt: skip


def output(model: str, n_patches: int = 4, seed: int = 0) -> ModelOutput:
    rng = np.random.default_rng(seed)
    gram = rng.uniform(0, 1, size=(n_patches, 50)).astype(np.float32)
    patches = rng.normal(size=(n_patches, 200)).astype(np.float32)
    return ModelOutput(model=model, version="v", labels=tuple(get_spec(model).labels),
                       taggram=gram, patch_times_s=np.arange(n_patches) * 3.0,
                       patch_duration_s=3.0, embeddings={"penultimate": patches.mean(axis=0)},
                       embedding_layer="penultimate", patch_embeddings=patches)  # fmt: skip


def test_blocks_from_both_taggers_and_their_patch_spread():
    msd, mtt = output("musicnn-msd"), output("musicnn-mtt", seed=1)
    f = features_from_output(msd, DESCRIPTORS, mtt)
    np.testing.assert_allclose(f.block("tags_std"), msd.taggram.std(axis=0), rtol=1e-6)
    np.testing.assert_allclose(f.block("embedding_std"), msd.patch_embeddings.std(axis=0),
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(f.block("mtt_tags"), mtt.taggram.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(f.block("mtt_tags_std"), mtt.taggram.std(axis=0), rtol=1e-6)
    flat = f.flat()
    assert flat.shape == (sum(BLOCK_SIZES.values()),)
    back = split_flat(flat)
    for b in BLOCKS:
        np.testing.assert_allclose(back[b], f.block(b))
    # Without musicnn-mtt's pass its blocks are unknown (NaN), the others are there.
    alone = features_from_output(msd, DESCRIPTORS)
    assert np.isnan(alone.block("mtt_embedding")).all()
    assert np.isfinite(alone.block("tags_std")).all()
    with pytest.raises(ValueError, match="musicnn-mtt"):
        features_from_output(msd, DESCRIPTORS, output("musicnn-msd"))


def head_on(blocks: tuple[str, ...]) -> EmotionHead:
    width = sum(BLOCK_SIZES[b] for b in blocks)
    coef = np.zeros(width)
    coef[-1] = 1.0  # the last column of the last block
    model = LinearModel(blocks, np.zeros(width), np.ones(width), coef, 0.0, binary=True)
    return EmotionHead("h", {"arousal": model})


def test_a_head_on_musicnn_mtt_blocks_reads_them_and_asks_for_the_pass():
    head = head_on(("tags", "mtt_tags"))
    assert blocks_need_second_model([head]) and not blocks_need_second_model([head_on(("tags",))])
    msd = output("musicnn-msd")
    low, high = output("musicnn-mtt", seed=1), output("musicnn-mtt", seed=1)
    low.taggram[:, -1], high.taggram[:, -1] = 0.0, 1.0
    a = estimate_emotion(features_from_output(msd, DESCRIPTORS, low), [head]).arousal
    b = estimate_emotion(features_from_output(msd, DESCRIPTORS, high), [head]).arousal
    assert b > a
    # Without the pass the unknown block takes the training mean: a finite estimate.
    assert np.isfinite(estimate_emotion(features_from_output(msd, DESCRIPTORS), [head]).arousal)


def test_head_files_name_only_known_blocks_and_version_one_still_loads():
    d = head_on(("tags", "mtt_tags")).to_json()
    assert EmotionHead.from_json(d).audio["arousal"].blocks == ("tags", "mtt_tags")
    EmotionHead.from_json({**d, "format_version": 1})
    d["audio"]["arousal"]["blocks"] = ["tags", "vggish"]
    with pytest.raises(TrainedModelError, match="unknown feature blocks"):
        EmotionHead.from_json(d)
