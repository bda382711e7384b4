"""Voice range, held notes and the recording checks, on contours and signals with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.analysis.voice import (
    check_level,
    check_singing,
    clipped_share,
    fold_octave_runs,
    hz_to_midi,
    near_median,
    running_median,
    sung_line,
    sustained_share,
    voice_range,
    voiced_runs,
)
from songscape.audio.voice_synth import frame_truth, note_contour
from songscape.errors import VoiceCheckError

HOP = 0.02


def melody(notes, note_s=0.5, sr=1000):
    _, midi = frame_truth(note_contour(notes, note_s, sr), sr, HOP)
    return midi


def test_hz_to_midi():
    assert np.allclose(hz_to_midi(np.array([440.0, 261.6256])), [69.0, 60.0], atol=1e-3)
    assert np.isnan(hz_to_midi(np.array([0.0, np.nan]))).all()


def test_range_of_a_scale_is_within_a_semitone_of_the_truth():
    notes = list(range(48, 68))  # C3 .. G4, every semitone
    midi = melody(notes)
    r = voice_range(midi, HOP)
    assert abs(r.range_midi[0] - 48) <= 1 and abs(r.range_midi[1] - 67) <= 1
    assert 48 < r.comfortable_midi[0] < r.tessitura_midi < r.comfortable_midi[1] < 67
    assert abs(r.tessitura_midi - 57.5) <= 1
    assert r.voiced_s == pytest.approx(np.isfinite(midi).sum() * HOP)


def test_range_ignores_a_few_octave_errors():
    midi = melody([60, 62, 64, 65, 67] * 4)
    clean = voice_range(midi, HOP)
    broken = midi.copy()
    idx = np.flatnonzero(np.isfinite(broken))[::60]  # ~1.7 % of the frames an octave off
    broken[idx] += 12
    noisy = voice_range(broken, HOP)
    assert abs(noisy.range_midi[1] - clean.range_midi[1]) < 0.5
    assert noisy.comfortable_midi == pytest.approx(clean.comfortable_midi, abs=0.3)


def test_transposing_the_contour_moves_the_range_by_the_same_amount():
    midi = melody([57, 60, 62, 64, 65, 64, 62, 60])
    for k in (-4, 3):
        a, b = voice_range(midi, HOP), voice_range(midi + k, HOP)
        assert np.allclose(np.subtract(b.range_midi, a.range_midi), k, atol=1e-6)
        assert b.tessitura_midi - a.tessitura_midi == pytest.approx(k)


def test_held_notes_tell_singing_from_gliding_speech():
    sung = melody([60, 62, 64, 65, 67, 65, 64, 62])
    assert sustained_share(sung, HOP) > 0.7
    # speech-like: short syllables whose pitch falls continuously by 3-5 semitones
    rng = np.random.default_rng(0)
    speech = []
    for _ in range(40):
        n = int(rng.integers(5, 12))
        speech += list(np.linspace(55 + rng.normal(0, 2), 50 + rng.normal(0, 2), n))
        speech += [np.nan] * int(rng.integers(2, 6))
    assert sustained_share(np.array(speech), HOP) < 0.3
    assert sustained_share(np.full(10, np.nan), HOP) == 0.0


def test_check_singing_messages():
    short = voice_range(melody([60, 62, 64, 65]), HOP)  # ~2 s
    with pytest.raises(VoiceCheckError, match="at least 5 s"):
        check_singing(short)
    with pytest.raises(VoiceCheckError, match="no sung pitch"):
        voice_range(np.full(100, np.nan), HOP)


def test_level_checks():
    rng = np.random.default_rng(1)
    y = (0.3 * np.sin(np.linspace(0, 2000, 22050))).astype(np.float32)
    check_level(y)
    with pytest.raises(VoiceCheckError, match="silent"):
        check_level(np.zeros(22050, dtype=np.float32))
    clipped = np.clip(4 * y, -1, 1)
    assert clipped_share(clipped) > 0.3
    with pytest.raises(VoiceCheckError, match="clipped"):
        check_level(clipped)
    # one full-scale peak of a normalised file is not clipping
    peaky = y + 0.01 * rng.standard_normal(len(y)).astype(np.float32)
    peaky /= np.abs(peaky).max()
    assert clipped_share(peaky) < 0.001


def test_near_median_drops_the_bass_under_a_vocal_line():
    line = melody([60, 62, 64, 65, 67, 65, 64, 62])
    mixed = line.copy()
    mixed[::7] = 36.0  # a bass note every 7th frame
    kept = near_median(mixed)
    assert np.nanmin(kept) >= 59 and np.isfinite(kept).sum() >= np.isfinite(line).sum() * 0.8
    assert np.isnan(near_median(np.full(5, np.nan))).all()


def test_voiced_runs_break_at_gaps_and_jumps():
    midi = np.array([60, 60.2, np.nan, 62, 62.1, 74, 74.2, 62, np.nan, np.nan, 55])
    runs = voiced_runs(midi)
    assert runs.tolist() == [[0, 2], [3, 5], [5, 7], [7, 8], [10, 11]]
    assert voiced_runs(np.full(4, np.nan)).shape == (0, 2)


def test_running_median_ignores_unvoiced_frames():
    midi = np.array([60, np.nan, 62, 70, np.nan, np.nan, np.nan, np.nan, 50])
    out = running_median(midi, 3)
    expected = [60, 61, 66, 66, 70, np.nan, np.nan, 50, 50]
    assert np.allclose(out, expected, equal_nan=True)
    assert np.allclose(running_median(midi, 3, at=np.array([2, 8])), [66, 50])


def with_octave_errors(midi, seed=0):
    """The contour with 35 runs of 1-10 frames read an octave up and 5 an octave down."""
    rng = np.random.default_rng(seed)
    broken = midi.copy()
    voiced = np.flatnonzero(np.isfinite(midi))
    starts = rng.choice(voiced[:-12], 40, replace=False)
    for i, start in enumerate(starts):
        stop = start + rng.integers(1, 11)
        broken[start:stop] = midi[start:stop] + (12.0 if i < 35 else -12.0)
    return broken


def test_octave_error_runs_are_folded_back():
    # a tune within a fifth of its median: the errors, a minority, sit an octave from it
    clean = melody([60, 62, 64, 65, 67, 65, 64, 62, 60, 59, 57, 59] * 3)
    broken = with_octave_errors(clean)
    off = np.abs(broken - clean)
    assert np.nanmax(off) == pytest.approx(12) and (off > 11).mean() > 0.15  # the errors are there
    fixed = fold_octave_runs(broken, HOP)
    assert np.allclose(fixed, clean, equal_nan=True)
    # the comfortable range of the broken contour is off; once folded it is the clean one's
    clean_range = voice_range(clean, HOP).comfortable_midi
    assert voice_range(broken, HOP).comfortable_midi[1] > clean_range[1] + 3
    assert voice_range(fixed, HOP).comfortable_midi == pytest.approx(clean_range)


def test_folding_follows_a_transposition():
    broken = with_octave_errors(melody([60, 62, 64, 65, 67, 65, 64, 62] * 3), seed=1)
    for k in (-4, 2, 7):
        assert np.allclose(fold_octave_runs(broken + k, HOP), fold_octave_runs(broken, HOP) + k,
                           equal_nan=True)  # fmt: skip


def test_a_contour_without_octave_errors_is_left_alone():
    # leaps up to a sixth (9 semitones) between notes, a span of a tenth
    notes = [55, 60, 64, 67, 64, 60, 55, 64, 59, 62, 67, 71, 67, 62, 59, 55] * 2
    clean = melody(notes)
    assert np.array_equal(fold_octave_runs(clean, HOP), clean, equal_nan=True)
    assert np.isnan(fold_octave_runs(np.full(10, np.nan), HOP)).all()


def test_a_sustained_octave_leap_is_kept():
    # a verse, then the same tune an octave up for 6 s (longer than half the 5 s window)
    low = melody([57, 59, 60, 62, 64, 62, 60, 59] * 2)
    line = np.concatenate([low, low + 12.0, low])
    out = fold_octave_runs(line, HOP)
    assert np.array_equal(out, line, equal_nan=True)
    # ... while the same leap held for only 0.3 s is taken for an octave error
    blip = np.concatenate([low, low[:15] + 12.0, low])
    assert np.nanmax(fold_octave_runs(blip, HOP)) <= np.nanmax(low)


def test_sung_line_drops_the_bass_and_folds_octave_errors():
    clean = melody([60, 62, 64, 65, 67, 65, 64, 62] * 3)
    mixed = with_octave_errors(clean, seed=2)
    mixed[::9] = 30.0  # bass frames far below the voice are dropped, never folded in
    out = sung_line(mixed, HOP)
    assert np.nanmin(out) >= 59 and np.nanmax(out) <= 68.5
    assert np.isfinite(out).sum() >= np.isfinite(clean).sum() * 0.8
