"""Trainable encoders: every architecture builds, runs forward and backward, and rebuilds."""

from __future__ import annotations

import json

import librosa
import numpy as np
import pytest
import torch

from songscape.models.architectures import ARCHITECTURES, DEFAULT_CONFIGS, build_encoder
from songscape.models.frontends import HarmonicFilterbank, LogMelFrontend, SampleLevelFrontend

# Parameter counts of the default configurations (pinned so a change is deliberate).
DEFAULT_PARAMETERS = {
    "shortchunk-cnn": 230_370,
    "shortchunk-resnet": 758_658,
    "harmonic-cnn": 231_949,
    "crnn": 147_330,
    "self-attention": 140_834,
    "sample-cnn": 116_992,
    "tjae": 265_152,
}


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def waveform() -> torch.Tensor:
    return torch.randn(2, 59049, generator=torch.Generator().manual_seed(1)) * 0.1


def test_architecture_names_and_defaults():
    assert set(ARCHITECTURES) == set(DEFAULT_CONFIGS)
    assert len(ARCHITECTURES) == 7


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_forward_backward_and_rebuild(arch, waveform):
    enc = build_encoder(arch)
    assert enc.arch == arch and enc.sample_rate == 16000 and enc.chunk_samples == 59049
    assert enc.n_parameters() == DEFAULT_PARAMETERS[arch]
    out = enc(waveform)
    assert out["embedding"].shape == (2, enc.embedding_dim)
    assert all(torch.isfinite(v).all() for v in out.values())
    loss = out["loss"] if "loss" in out else out["embedding"].square().mean()
    loss.backward()
    grads = [p.grad for p in enc.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    # the JSON-able config rebuilds the same shapes, and the weights load into it
    config = json.loads(json.dumps(enc.config))
    rebuilt = build_encoder(arch, **config)
    assert rebuilt.config == enc.config
    rebuilt.load_state_dict(enc.state_dict())
    enc.eval(), rebuilt.eval()
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(waveform)["embedding"], enc(waveform)["embedding"])


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_other_input_lengths(arch):
    enc = build_encoder(arch).eval()
    with torch.no_grad():
        for n in (20000, 90000):
            assert enc(torch.randn(2, n) * 0.1)["embedding"].shape == (2, enc.embedding_dim)


def test_self_attention_outputs(waveform):
    enc = build_encoder("self-attention", n_layers=3).eval()  # no dropout on the weights
    with torch.no_grad():
        out = enc(waveform)
    n_frames = out["attention"].shape[1]
    assert out["attention"].shape == (2, n_frames)
    assert n_frames == 58  # 231 mel frames halved twice, rounding up
    torch.testing.assert_close(out["attention"].sum(dim=1), torch.ones(2))
    assert (out["attention"] >= 0).all()
    assert out["attention_maps"].shape == (2, 3, 4, n_frames + 1, n_frames + 1)
    torch.testing.assert_close(out["attention_maps"].sum(-1), torch.ones(2, 3, 4, n_frames + 1))
    assert out["frames"].shape == (2, n_frames, 64)


def test_crnn_and_tjae_outputs(waveform):
    crnn = build_encoder("crnn", pooling="mean", rnn_hidden=16)
    out = crnn(waveform)
    assert out["frames"].shape == (2, 15, 16)  # 231 frames / 2^4, rounding up
    tjae = build_encoder("tjae", embedding_dim=16, n_layers=3)
    out = tjae(waveform)
    assert out["reconstruction"].shape == out["target"].shape == (2, 128, 231)
    assert out["frames"].shape == (2, 231, 16) and out["loss"].ndim == 0
    mse = torch.mean((out["reconstruction"] - out["target"]) ** 2)
    torch.testing.assert_close(out["loss"], mse)
    assert not out["target"].requires_grad and out["target"].min() >= 0  # log10(1 + C mel)


def test_build_errors():
    with pytest.raises(ValueError, match="shortchunk-cnn, shortchunk-resnet.*tjae"):
        build_encoder("vgg")
    with pytest.raises(ValueError, match="unknown config key.*n_heads"):
        build_encoder("shortchunk-cnn", n_heads=4)
    with pytest.raises(ValueError, match="embedding_dim"):
        build_encoder("crnn", embedding_dim=0)
    with pytest.raises(ValueError, match="n_harmonics"):
        build_encoder("harmonic-cnn", n_harmonics=7)


def test_config_overrides_change_shapes():
    enc = build_encoder("shortchunk-cnn", channels=(8, 8, 8, 8), embedding_dim=20, n_mels=64)
    assert enc.config["channels"] == [8, 8, 8, 8] and enc.embedding_dim == 20
    assert enc(torch.randn(2, 8000))["embedding"].shape == (2, 20)
    assert enc.frontend.n_mels == 64 and enc.frontend.config["f_max"] == 8000.0


def test_log_mel_matches_librosa():
    y = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    frontend = LogMelFrontend(n_mels=64)
    ours = frontend(torch.from_numpy(y)[None])[0, 0].numpy()
    mel = librosa.feature.melspectrogram(
        y=y, sr=16000, n_fft=512, hop_length=256, n_mels=64, fmax=8000, pad_mode="constant"
    )
    assert ours.shape == mel.shape == (64, frontend.n_frames(16000))
    np.testing.assert_allclose(ours, librosa.power_to_db(mel, top_db=None), atol=1e-3)
    assert LogMelFrontend(**frontend.config).config == frontend.config


def test_harmonic_filterbank_learns_and_tracks_harmonics():
    fb = HarmonicFilterbank()
    assert isinstance(fb.center_midi, torch.nn.Parameter) and fb.center_midi.requires_grad
    assert isinstance(fb.q, torch.nn.Parameter)
    centres = fb.center_frequencies().detach().numpy()
    assert centres[0] == pytest.approx(librosa.midi_to_hz(24), rel=1e-5)  # C1, half-semitone grid
    # Won et al.'s grid: int((88.19 - 24) * 2) = 128 bands from C1 to the MIDI note of 16000 / 12 Hz
    assert fb.n_bands == 128 and fb.config["high_midi"] == pytest.approx(88.19, abs=0.01)
    np.testing.assert_allclose(np.diff(librosa.hz_to_midi(centres)), 64.19 / 128, atol=1e-3)
    t = torch.arange(16000) / 16000
    out = fb(torch.sin(2 * torch.pi * 440.0 * t)[None])
    assert out.shape == (1, 6, 128, 63)
    profile = out[0, :, :, 5:-5].mean(dim=-1)  # (harmonic, band) in dB
    for h in range(1, 7):  # harmonic h of the band centred at 440 / h Hz sees the sine
        expected = int(np.argmin(np.abs(centres - 440.0 / h)))
        assert abs(int(profile[h - 1].argmax()) - expected) <= 1
    out.mean().backward()
    assert fb.center_midi.grad is not None and fb.center_midi.grad.abs().sum() > 0
    assert fb.q.grad is not None and fb.q.grad.abs() > 0
    frozen = HarmonicFilterbank(learn_center=False, learn_q=False)
    assert not frozen.center_midi.requires_grad and not frozen.q.requires_grad


def test_sample_level_frontend_shape():
    frontend = SampleLevelFrontend(channels=8)
    assert frontend(torch.randn(2, 59049)).shape == (2, 8, 1, 19683)
