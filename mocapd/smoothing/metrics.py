"""Measures of motion quality: jitter, acceleration error, MPJPE, joint angular speed and lag.

Units: positions in millimetres, acceleration in millimetres per frame squared (SmoothNet's "accel"
measure, the mean length of each joint's second difference), angular speed in degrees per second.
"""

from __future__ import annotations

import numpy as np

from mocapd.rotations import angle_between

JITTER_UNITS = "mm/frame^2"


def jitter(positions: np.ndarray) -> float:
    """Mean joint acceleration (mm/frame^2) of (N, J, 3) positions in metres; 0 under three frames."""
    if positions.shape[0] < 3:
        return 0.0
    second = positions[2:] - 2.0 * positions[1:-1] + positions[:-2]
    return float(np.mean(np.linalg.norm(second, axis=-1)) * 1000.0)


def acceleration_error(positions: np.ndarray, truth: np.ndarray) -> float:
    """Mean length (mm/frame^2) of the difference between the two motions' joint accelerations."""
    return jitter(positions - truth)


def mpjpe(positions: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-joint position error, millimetres."""
    return float(np.mean(np.linalg.norm(positions - truth, axis=-1)) * 1000.0)


def angular_speed(local_rotations: np.ndarray, fps: float) -> np.ndarray:
    """(N-1, J) speed of each joint's rotation relative to its parent, degrees per second."""
    return np.degrees(angle_between(local_rotations[:-1], local_rotations[1:])) * fps


def joint_angle(local_rotations: np.ndarray) -> np.ndarray:
    """(N, J) angle of each joint's rotation from its rest pose, degrees."""
    return np.degrees(angle_between(np.eye(3), local_rotations))


def peak_lag(signal: np.ndarray, reference: np.ndarray, max_lag: int) -> int:
    """The shift in frames (-max_lag..max_lag) at which `signal` best matches `reference`; >0: it lags."""
    signal = signal - signal.mean()
    reference = reference - reference.mean()
    frames = signal.shape[0]
    scores = []
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            scores.append(np.dot(signal[lag:], reference[: frames - lag]) / (frames - lag))
        else:
            scores.append(np.dot(signal[: frames + lag], reference[-lag:]) / (frames + lag))
    return int(np.argmax(scores)) - max_lag
