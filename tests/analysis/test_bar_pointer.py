"""The bar-pointer DBN: exact on clean activations, equal to madmom's decoder."""

import numpy as np
import pytest

from songscape.analysis.bar_pointer import (
    bar_state_space,
    beat_intervals,
    decode_bar_pointer,
    tempo_transition_log,
)

FPS = 50.0


def synthetic_activations(bpm: float, meter: int, seconds: float = 20.0, noise: float = 0.02,
                          seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Peaky (beat, downbeat) activations on a known grid, plus that grid (s)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    act = np.clip(rng.normal(noise, noise / 2, size=(n, 2)), 0.001, None)
    beats = np.arange(0.5, seconds - 0.5, 60.0 / bpm)
    for i, t in enumerate(beats):
        frame = int(round(t * FPS))
        act[frame, 1 if i % meter == 0 else 0] = 0.9
    return act, beats, beats[::meter]


@pytest.mark.parametrize(("bpm", "meter"), [(90.0, 3), (120.0, 4), (150.0, 4), (75.0, 3)])
def test_recovers_a_clean_grid_and_its_meter(bpm, meter):
    act, beats, downbeats = synthetic_activations(bpm, meter)
    grid = decode_bar_pointer(act, FPS)
    assert grid.beats_per_bar == meter
    assert len(grid.beat_times) == len(beats)
    np.testing.assert_allclose(grid.beat_times, beats, atol=0.011)
    np.testing.assert_allclose(grid.downbeat_times, downbeats, atol=0.011)


def test_no_activation_above_threshold_gives_an_empty_grid():
    grid = decode_bar_pointer(np.full((500, 2), 0.01), FPS)
    assert len(grid.beat_times) == 0 and grid.beats_per_bar is None


def test_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="n_frames, 2"):
        decode_bar_pointer(np.zeros((10, 3)), FPS)


def test_state_space_layout():
    intervals = beat_intervals(FPS, 55.0, 215.0, 60)
    assert intervals[0] == 14 and intervals[-1] == 55
    assert np.all(np.diff(intervals) > 0)
    space = bar_state_space((3, 4), intervals)
    assert space.n_states == 7 * int(intervals.sum())
    start = space.block_start[(4, 2)]
    assert space.position_of[start] == 0 and space.interval_of[start] == intervals[2]
    log_t = tempo_transition_log(intervals, 100.0)
    np.testing.assert_allclose(np.exp(log_t).sum(axis=1), 1.0)
    assert np.all(np.argmax(log_t, axis=1) == np.arange(len(intervals)))  # keep tempo


@pytest.mark.parametrize("seed", [1, 2])
def test_equals_madmom_decoder(seed):
    from songscape.models.rhythm import madmom_import_context

    with madmom_import_context():
        from madmom.features.downbeats import DBNDownBeatTrackingProcessor
    # Noisy, drifting activations, so the decoders have decisions to make.
    act, _, _ = synthetic_activations(104.0 + 20 * seed, 3 + seed % 2, noise=0.08, seed=seed)
    act = np.clip(act + np.random.default_rng(seed).uniform(0, 0.15, act.shape), 0, 0.49)
    reference = DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=FPS)(act)
    grid = decode_bar_pointer(act, FPS, meters=(3, 4))
    np.testing.assert_allclose(grid.beat_times, reference[:, 0])
    np.testing.assert_array_equal(grid.beat_numbers, reference[:, 1].astype(int))
