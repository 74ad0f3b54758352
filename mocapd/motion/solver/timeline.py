"""A track's real time: its rows skip the frames where the person was not seen.

Every temporal term works from the time between rows, not from one frame step: a person hidden
behind another for a second is a second away from where they were, not 1/30 s.
"""

from __future__ import annotations

import numpy as np

# Rows closer in time than this (a duplicate timestamp) count as this far apart.
MIN_STEP_S = 1e-3
DEFAULT_FPS = 30.0


def rate(times: np.ndarray) -> float:
    """Rows per second where the person is seen throughout: the median step's rate."""
    steps = np.diff(np.asarray(times, dtype=np.float64))
    if steps.size == 0 or not np.median(steps) > 0:
        return DEFAULT_FPS
    return float(1.0 / np.median(steps))


def steps(times: np.ndarray) -> np.ndarray:
    """(M - 1,) seconds between consecutive rows."""
    return np.maximum(np.diff(np.asarray(times, dtype=np.float64)), MIN_STEP_S)


def second_difference(times: np.ndarray) -> np.ndarray:
    """(M - 2, 3) weights (1/s^2) of rows i-1, i, i+1 whose sum is the acceleration at row i,
    for unequal steps; (1, -2, 1) * fps^2 where the rows are one frame apart."""
    step = steps(times)
    if step.size < 2:
        return np.zeros((0, 3))
    before, after = step[:-1], step[1:]
    span = before + after
    return np.stack([2.0 / (before * span), -2.0 / (before * after), 2.0 / (after * span)], axis=1)


def adjacent(times: np.ndarray) -> np.ndarray:
    """(M - 1,) True where two consecutive rows are neighbouring frames (no frame missed between them):
    a foot still on both sides of a gap may have stepped while the person was not seen."""
    return steps(times) < 1.5 / rate(times)
