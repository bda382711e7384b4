"""Rendering: the two tracks' beats coincide through a beat-matched transition, the
loudness is matched, nothing clips, and an interrupted render leaves no file."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from songscape.audio.limiter import true_peak_db
from songscape.audio.stretch import rubberband_available
from songscape.evaluation.mix_quality import short_term_loudness, transition_loudness
from songscape.mix.plan import MixOptions, plan_mix
from songscape.mix.render import render_mix
from tests.mix.tracks import click_song


def click_times(y: np.ndarray, sr: int, hz: float) -> np.ndarray:
    """Onsets of the ``hz`` tone bursts: a band-pass around it, then envelope peaks."""
    sos = scipy.signal.butter(4, [hz * 0.85, hz * 1.15], btype="band", fs=sr, output="sos")
    env = np.abs(scipy.signal.sosfiltfilt(sos, y.mean(axis=0)))
    env = scipy.ndimage.maximum_filter1d(env, int(0.004 * sr))
    peaks, _ = scipy.signal.find_peaks(env, height=0.25 * env.max(), distance=int(0.25 * sr))
    return peaks / sr


@pytest.mark.parametrize("warp", ["varispeed", "rubberband"])
def test_beats_of_both_tracks_coincide_in_the_overlap(tmp_path, warp):
    if warp == "rubberband" and not rubberband_available():
        pytest.skip("rubberband-cli is not installed")
    a = click_song(tmp_path, "a", 120.0, 1000, bars=12, seed=1)
    b = click_song(tmp_path, "b", 125.0, 3000, bars=12, seed=2)
    plan = plan_mix(
        [a, b], MixOptions(segments="full", bars=4, reorder=False, warp=warp, style="crossfade")
    )
    t = plan.transitions[0]
    assert t.kind == "beatmatched"
    out = tmp_path / "mix.flac"
    report = render_mix(plan, out)
    y, sr = sf.read(out, always_2d=True)
    y = y.T
    assert abs(y.shape[1] / sr - plan.duration_s) < 0.01 * plan.duration_s
    assert report.frames == y.shape[1]
    assert true_peak_db(y) <= -1.0 + 0.05 and np.abs(y).max() < 1.0
    lo, hi = int((t.mix_start_s + 0.3) * sr), int((t.mix_end_s - 0.3) * sr)
    clicks_a = click_times(y[:, lo:hi], sr, 1000)
    clicks_b = click_times(y[:, lo:hi], sr, 3000)
    assert len(clicks_a) >= 12 and len(clicks_b) >= 12
    # each track's clicks fade below the detector at one end of the crossfade
    both = clicks_b[(clicks_b > clicks_a.min() - 0.1) & (clicks_b < clicks_a.max() + 0.1)]
    assert len(both) >= 8
    gaps = np.abs(both[:, None] - clicks_a[None, :]).min(axis=1)
    # The source grids jitter by ±4 ms; the warp puts each beat on the master grid.
    assert np.median(gaps) < 0.006 and gaps.max() < 0.02
    # one steady pulse through the transition
    ioi = np.diff(clicks_a)
    assert ioi.std() / ioi.mean() < 0.02


def test_loudness_is_matched_across_the_transition(tmp_path):
    quiet = click_song(tmp_path, "quiet", 120.0, 1000, bars=12, seed=1)
    loud = click_song(tmp_path, "loud", 121.0, 3000, bars=12, seed=2)
    data, sr = sf.read(quiet.path)
    sf.write(quiet.path, data * 0.25, sr)  # 12 dB quieter
    # A target both reach without limiting (click tracks have a high crest factor).
    options = MixOptions(
        segments="full", bars=4, reorder=False, warp="varispeed", target_lufs=-26.0
    )
    plan = plan_mix([quiet, loud], options)
    out = tmp_path / "mix.wav"
    report = render_mix(plan, out)
    assert report.segment_gains_db[0] - report.segment_gains_db[1] > 10
    for lufs, gain in zip(report.segment_lufs, report.segment_gains_db, strict=True):
        assert lufs + gain == pytest.approx(options.target_lufs, abs=0.01)
    y, sr = sf.read(out, always_2d=True)
    times, lufs = short_term_loudness(y.T, sr)
    t = plan.transitions[0]
    check = transition_loudness(times, lufs, t.mix_start_s, t.mix_end_s)
    assert check["step_lu"] < 2.0
    assert abs(check["before_lufs"] - plan.options.target_lufs) < 2.5


def test_an_interrupted_render_leaves_no_file(tmp_path):
    a = click_song(tmp_path, "a", 120.0, 1000, bars=12, seed=1)
    b = click_song(tmp_path, "b", 121.0, 3000, bars=12, seed=2)
    plan = plan_mix([a, b], MixOptions(segments="full", reorder=False, warp="varispeed"))
    out = tmp_path / "out" / "mix.ogg"
    out.parent.mkdir()

    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_mix(plan, out, progress=stop)
    assert list(out.parent.iterdir()) == []
