"""Atomic streaming writes: the file appears complete or not at all."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from songscape.audio.writer import AtomicAudioWriter, output_format


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_blocks_become_one_file(tmp_path, suffix):
    path = tmp_path / f"mix{suffix}"
    block = (0.1 * np.random.default_rng(0).standard_normal((2, 22050))).astype(np.float32)
    with AtomicAudioWriter(path, 44100) as w:
        for _ in range(3):
            w.write(block)
    info = sf.info(str(path))
    assert info.channels == 2 and info.samplerate == 44100
    assert abs(info.frames - 3 * 22050) < 2000  # lossy codecs pad a little
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_an_interruption_leaves_nothing(tmp_path):
    path = tmp_path / "mix.flac"
    with pytest.raises(KeyboardInterrupt):
        with AtomicAudioWriter(path, 44100) as w:
            w.write(np.zeros((2, 1000), np.float32))
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_unknown_suffix():
    with pytest.raises(ValueError, match="cannot write .m4a"):
        output_format("x.m4a")
