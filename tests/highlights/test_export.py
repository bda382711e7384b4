"""Exported highlight clips: length, fades, file names."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from songscape.highlights.export import apply_fades, clip_filename, export_clip


def test_fades_start_and_end_at_zero():
    y = np.ones((1000, 2), np.float32)
    out = apply_fades(y, 1000, fade_s=0.1)
    assert out[0].tolist() == [0, 0] and out[-1].tolist() == [0, 0]
    assert np.all(out[100:900] == 1) and y[0, 0] == 1  # the input is untouched


def test_export_clip(tmp_path):
    sr = 8000
    y = np.sin(np.arange(10 * sr) / sr * 2 * np.pi * 440).astype(np.float32) * 0.5
    src = tmp_path / "song.wav"
    sf.write(src, y, sr)
    out = export_clip(src, 2.0, 5.0, tmp_path / "out" / clip_filename("A/B: song?", 2.0))
    clip, rate = sf.read(out)
    assert rate == sr and len(clip) == 3 * sr
    assert abs(clip[0]) < 1e-3 and abs(clip[-1]) < 1e-3
    assert out.name == "A_B_song_2s.wav"
