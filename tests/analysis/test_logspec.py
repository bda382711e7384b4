"""The log-filtered spectrogram against madmom's own processors (the reference)."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songscape.analysis.logspec import (
    frame_signal,
    log_band_frequencies,
    log_filterbank,
    log_filtered_spectrogram,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CLIPS = [DATA / "gtzan_subset100/audio/disco/disco.00003.ogg",
         DATA / "beat_fullclips/audio/ballroom_Waltz_Media-105901.ogg"]  # fmt: skip


def test_frames_are_centred_and_zero_padded():
    y = np.arange(10, dtype=np.float32) + 1
    frames = frame_signal(y, frame_length=4, hop_length=3)
    assert frames.shape == (4, 4)  # ceil(10 / 3)
    np.testing.assert_array_equal(frames[0], [0, 0, 1, 2])  # centred on sample 0
    np.testing.assert_array_equal(frames[1], [2, 3, 4, 5])
    np.testing.assert_array_equal(frames[3], [8, 9, 10, 0])


def test_band_frequencies_are_log_spaced_within_range():
    f = log_band_frequencies(12, 30.0, 17000.0)
    assert f[0] >= 30.0 and f[-1] <= 17000.0
    np.testing.assert_allclose(f[1:] / f[:-1], 2 ** (1 / 12))
    assert np.isclose(f, 440.0).any()


def test_filters_have_unit_area_and_merge_low_bands():
    bins = np.fft.fftfreq(1410, 1 / 22050)[:705]
    bank = log_filterbank(bins, 24, 30.0, 17000.0)
    np.testing.assert_allclose(bank.sum(axis=0), 1.0)
    # 24 bands per octave from 30 Hz to Nyquist would be ~200; coarse low bins merge.
    assert bank.shape == (705, 136)


def test_too_few_bins_is_an_error():
    with pytest.raises(ValueError, match="too few"):
        log_filterbank(np.array([0.0, 10.0, 20.0]), 24, 30.0, 40.0)


@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.stem)
def test_matches_madmom_feature_pipeline(clip):
    from songscape.models.rhythm import madmom_import_context

    with madmom_import_context():
        from BeatNet.log_spect import LOG_SPECT  # BeatNet's own madmom pipeline
    y, sr = sf.read(clip, dtype="float32")
    y = y[: 12 * sr]
    reference = LOG_SPECT(sample_rate=sr, win_length=1411, hop_size=441, n_bands=[24],
                          mode="offline").process_audio(y).T  # fmt: skip
    ours = log_filtered_spectrogram(y, sr, 1411, 441, bands_per_octave=24)
    assert ours.shape == reference.shape == (int(np.ceil(len(y) / 441)), 272)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
