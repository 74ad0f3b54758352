"""Motion quality measures: jitter, acceleration error, MPJPE, angular speed, lag."""

from __future__ import annotations

import numpy as np
import pytest

from mocapd.rotations import axis_angle_to_matrix
from mocapd.smoothing.metrics import acceleration_error, angular_speed, jitter, mpjpe, peak_lag


def test_jitter_is_zero_for_steady_motion_and_in_millimetres() -> None:
    steady = np.linspace(0.0, 1.0, 30)[:, None, None] * np.ones((1, 2, 3))
    assert jitter(steady) == pytest.approx(0.0, abs=1e-9)
    shaken = np.zeros((5, 1, 3))
    shaken[2, 0, 0] = 0.001  # 1 mm bump: second differences 1, -2, 1 mm
    assert jitter(shaken) == pytest.approx(4.0 / 3.0)
    assert jitter(shaken[:2]) == 0.0


def test_errors_against_the_truth() -> None:
    truth = np.zeros((10, 24, 3))
    assert mpjpe(truth + [0.0, 0.0, 0.01], truth) == pytest.approx(10.0)
    assert acceleration_error(truth + 0.5, truth) == pytest.approx(0.0)


def test_angular_speed_in_degrees_per_second() -> None:
    angles = np.radians(np.arange(5) * 2.0)
    rotations = axis_angle_to_matrix(np.stack([angles, 0 * angles, 0 * angles], axis=-1))[:, None]
    assert np.allclose(angular_speed(rotations, 30.0), 60.0)


def test_peak_lag_finds_a_delay() -> None:
    frames = np.arange(200.0)
    reference = np.sin(frames / 10.0) + 0.5 * np.sin(frames / 3.0)
    delayed = np.sin((frames - 3) / 10.0) + 0.5 * np.sin((frames - 3) / 3.0)
    assert peak_lag(delayed, reference, 6) == 3
    assert peak_lag(reference, delayed, 6) == -3
    assert peak_lag(reference, reference, 6) == 0
