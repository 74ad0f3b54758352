"""The temporal filters: zero phase, the promised gain at the cutoff, weights, short clips."""

from __future__ import annotations

import numpy as np
import pytest

from mocapd.smoothing.filters import butterworth, moving_average, one_euro, savitzky_golay, whittaker


def sine(frequency: float, frames: int = 400) -> np.ndarray:
    """A sine at `frequency` (a fraction of Nyquist) as an (N, 1) signal."""
    return np.sin(np.pi * frequency * np.arange(frames))[:, None]


def amplitude(values: np.ndarray) -> float:
    return float(np.abs(values[100:-100]).max())


@pytest.mark.parametrize("order", [1, 2, 3])
def test_whittaker_halves_a_sine_at_the_cutoff_without_shifting_it(order: int) -> None:
    signal = sine(0.2)
    smoothed = whittaker(signal, None, cutoff=0.2, order=order)
    assert amplitude(smoothed) / amplitude(signal) == pytest.approx(0.5, abs=0.02)
    # Zero phase: the output is the input scaled, not delayed.
    assert np.allclose(smoothed[100:-100], 0.5 * signal[100:-100], atol=0.02)
    assert amplitude(whittaker(sine(0.02), None, cutoff=0.2, order=order)) > 0.98


def test_whittaker_lets_low_weight_frames_follow_their_neighbours() -> None:
    values = np.zeros((50, 2))
    values[25] = 10.0
    weights = np.ones((50, 2))
    weights[25, 1] = 0.0
    smoothed = whittaker(values, weights, cutoff=0.3, order=2)
    assert smoothed[25, 1] < 0.1 * smoothed[25, 0]


def test_whittaker_keeps_short_clips_and_full_cutoff_unchanged() -> None:
    values = np.arange(6.0).reshape(3, 2)
    assert np.array_equal(whittaker(values, None, cutoff=0.3, order=3), values)
    assert np.array_equal(whittaker(sine(0.5), None, cutoff=1.0), sine(0.5))


def test_whittaker_passes_a_straight_line() -> None:
    line = np.linspace(0.0, 5.0, 40)[:, None]
    assert np.allclose(whittaker(line, None, cutoff=0.05, order=2), line, atol=1e-8)


def test_alternatives_smooth_a_noisy_ramp() -> None:
    ramp = np.linspace(0.0, 1.0, 120)[:, None]
    noisy = ramp + np.random.default_rng(0).normal(scale=0.05, size=ramp.shape)
    for smoothed in (
        butterworth(noisy, 0.2),
        savitzky_golay(noisy, 15),
        moving_average(noisy, 9),
        one_euro(noisy, 30.0),
        whittaker(noisy, None, 0.2),
    ):
        assert smoothed.shape == noisy.shape
        assert np.abs(smoothed - ramp)[10:-10].mean() < np.abs(noisy - ramp)[10:-10].mean()


def test_one_euro_lags_and_whittaker_does_not() -> None:
    step = np.zeros((60, 1))
    step[30:] = 1.0
    assert one_euro(step, 30.0)[31, 0] < 0.5
    assert whittaker(step, None, 0.3)[29:31, 0].mean() == pytest.approx(0.5, abs=0.05)


def test_whittaker_follows_the_data_where_the_penalty_is_relaxed() -> None:
    step = np.repeat([0.0, 1.0], 30)[:, None]
    relaxed = np.ones(60 - 3)
    relaxed[24:33] = 1e-6  # the difference rows around the step
    sharp = whittaker(step, None, 0.1, order=3, penalty_weights=relaxed)
    smooth = whittaker(step, None, 0.1, order=3)
    assert np.abs(sharp - step).max() < 0.05 < np.abs(smooth - step).max()
    assert np.array_equal(whittaker(step, None, 0.1, 3, np.ones(57)), smooth)
