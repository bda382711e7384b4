"""BeatNet's network as re-declared here, against BeatNet's reference implementation."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from songscape.errors import PretrainedWeightsError
from songscape.models import beatnet

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CLIPS = [DATA / "gtzan_subset100/audio/jazz/jazz.00002.ogg",
         DATA / "gtzan_subset100/audio/reggae/reggae.00005.ogg"]  # fmt: skip


@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.stem)
def test_activations_match_the_reference_implementation(clip):
    from songscape.models.rhythm import madmom_import_context

    with madmom_import_context():
        from BeatNet.log_spect import LOG_SPECT
        from BeatNet.model import BDA
    y, sr = sf.read(clip, dtype="float32")
    y = y[: 10 * sr]
    # BeatNet's offline path (BeatNet.activation_extractor_online), with a fresh model:
    # its BDA keeps the LSTM state between calls.
    reference_net = BDA(272, 150, 2, "cpu")
    reference_net.load_state_dict(torch.load(beatnet.weights_path(), weights_only=True))
    reference_net.eval()
    feats = LOG_SPECT(sample_rate=sr, win_length=1411, hop_size=441, n_bands=[24],
                      mode="offline").process_audio(y).T  # fmt: skip
    with torch.no_grad():
        out = reference_net.final_pred(reference_net(torch.from_numpy(feats)[None])[0])
    reference = out.numpy()[:2].T
    ours = beatnet.beat_activations(y, sr)
    assert ours.shape == reference.shape == (int(np.ceil(len(y) / 441)), 2)
    np.testing.assert_allclose(ours, reference, atol=1e-4)
    assert ours.sum(axis=1).max() <= 1.0 + 1e-5


def test_every_published_weight_set_loads():
    for name in beatnet.WEIGHT_SETS:
        net = beatnet.load_network(name)
        assert sum(p.numel() for p in net.parameters()) > 400_000


def test_unknown_weights_and_wrong_rate_are_clear_errors():
    with pytest.raises(PretrainedWeightsError, match="unknown BeatNet weights"):
        beatnet.weights_path("nope")
    with pytest.raises(ValueError, match="22050 Hz"):
        beatnet.network_features(np.zeros(44100, np.float32), 44100)


def test_missing_wheel_is_reported(monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    assert not beatnet.is_available()
    with pytest.raises(PretrainedWeightsError, match="not installed"):
        beatnet.weights_path()
