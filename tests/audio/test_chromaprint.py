"""Chromaprint through libchromaprint: the same words as the reference ``fpcalc`` tool."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from songscape.audio.chromaprint import (
    CHROMAPRINT_SAMPLE_RATE,
    ITEM_HOP_S,
    MIN_AUDIO_S,
    chromaprint_words,
    shifted_chromaprints,
)
from songscape.audio.decode import load_audio
from tests.helpers import shared_data


@pytest.fixture(scope="module")
def excerpt() -> np.ndarray:
    path = shared_data("jamendolyrics_subset10", "audio", "Confession_-_Quesabe.ogg")
    y, _ = load_audio(path, sr=CHROMAPRINT_SAMPLE_RATE)
    return y[30 * CHROMAPRINT_SAMPLE_RATE : 50 * CHROMAPRINT_SAMPLE_RATE]


def test_words_match_fpcalc(excerpt, tmp_path):
    if shutil.which("fpcalc") is None:
        pytest.skip("fpcalc (Debian libchromaprint-tools, installed by setup) is missing")
    wav = tmp_path / "x.wav"
    sf.write(wav, excerpt, CHROMAPRINT_SAMPLE_RATE, subtype="PCM_16")
    # fpcalc 1.5.1 built with FFmpeg 5 exits 3 ("Error decoding audio frame (End of file)")
    # after printing the whole fingerprint: read stdout whatever the exit status.
    out = subprocess.run(["fpcalc", "-raw", "-json", "-length", "0", str(wav)],
                         capture_output=True)  # fmt: skip
    reference = np.array(json.loads(out.stdout)["fingerprint"], dtype=np.uint32)
    assert json.loads(out.stdout)["duration"] == pytest.approx(20.0, abs=0.01)
    words = chromaprint_words(sf.read(wav, dtype="float32")[0], CHROMAPRINT_SAMPLE_RATE)
    assert words.dtype == np.uint32
    np.testing.assert_array_equal(words, reference)
    # One word per hop after the first window.
    expected = (len(excerpt) / CHROMAPRINT_SAMPLE_RATE - MIN_AUDIO_S) / ITEM_HOP_S + 1
    assert abs(len(words) - expected) <= 2


def test_other_rates_are_resampled(excerpt):
    import soxr

    y22 = soxr.resample(excerpt, CHROMAPRINT_SAMPLE_RATE, 22050)
    a = chromaprint_words(excerpt, CHROMAPRINT_SAMPLE_RATE)
    b = chromaprint_words(y22, 22050)
    n = min(len(a), len(b))
    assert abs(len(a) - len(b)) <= 1
    bit_errors = np.bitwise_count(a[:n] ^ b[:n]).sum() / (32 * n)
    assert bit_errors < 0.05


def test_short_and_shifted(excerpt):
    assert len(chromaprint_words(excerpt[: int(1.0 * CHROMAPRINT_SAMPLE_RATE)], 11025)) == 0
    with pytest.raises(ValueError, match="mono"):
        chromaprint_words(np.zeros((2, 100), dtype=np.float32), 11025)
    shifted = shifted_chromaprints(excerpt[: 5 * CHROMAPRINT_SAMPLE_RATE], 11025, shifts=4)
    starts = [s for s, _ in shifted]
    assert len(shifted) == 4 and starts[0] == 0.0
    assert np.allclose(np.diff(starts), ITEM_HOP_S / 4, atol=1e-3)
    assert all(len(w) > 15 for _, w in shifted)
