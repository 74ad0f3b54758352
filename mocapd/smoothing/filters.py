"""Temporal filters over (frames, channels) signals: our default and the alternatives the benchmark compares.

The default is a penalised least-squares smoother (Whittaker-Henderson): it minimises
sum_t w_t (x_t - y_t)^2 + lambda * sum_t (D^d x)_t^2, which is the Rauch-Tung-Striebel (forward-backward
Kalman) solution for a state whose d-th derivative is white noise. It is zero-phase, handles the clip's
ends without padding, and per-frame weights let low-confidence frames lean on their neighbours.
"""

from __future__ import annotations

from math import comb

import numpy as np
from scipy.linalg import solveh_banded

# Smallest weight a frame gets: a frame with confidence 0 still anchors the solution a little.
MIN_WEIGHT = 0.02


def whittaker_lambda(cutoff: float, order: int) -> float:
    """The penalty whose gain is 1/2 at `cutoff` (a fraction of the Nyquist frequency, 0..1)."""
    cutoff = float(np.clip(cutoff, 1e-4, 1.0))
    return float((2.0 * np.sin(np.pi * cutoff / 2.0)) ** (-2 * order))


def difference_penalty_bands(frames: int, order: int, row_weights: np.ndarray | None = None) -> np.ndarray:
    """D^T V D for the order-`order` difference operator D and V = diag(`row_weights`, one per row of D,
    default 1), in solveh_banded's upper form (order + 1, frames)."""
    rows = frames - order
    row_weights = np.ones(rows) if row_weights is None else row_weights
    # Row i of D holds the binomial coefficients (-1)^(order-k) C(order, k) at frames i + k.
    coefficients = np.array([(-1.0) ** (order - k) * comb(order, k) for k in range(order + 1)])
    bands = np.zeros((order + 1, frames))
    for offset in range(order + 1):
        for k in range(order + 1 - offset):
            bands[order - offset, offset + k : offset + k + rows] += (
                coefficients[k] * coefficients[k + offset] * row_weights
            )
    return bands


def whittaker(
    values: np.ndarray,
    weights: np.ndarray | None,
    cutoff: float,
    order: int = 3,
    penalty_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Zero-phase smoothing of (N, C) `values`; `weights` (N,) or (N, C) in 0..1 (None: all 1);
    `penalty_weights` (N - order,) scale the penalty locally (below 1: follow the data more there)."""
    frames = values.shape[0]
    if frames <= order or cutoff >= 1.0:
        return values.copy()
    flat = values.reshape(frames, -1).astype(np.float64)
    if weights is None:
        weights = np.ones(frames)
    penalty = difference_penalty_bands(frames, order, penalty_weights) * whittaker_lambda(cutoff, order)
    if weights.size == frames:  # one weight per frame: one solve for every channel
        weight = np.clip(weights.reshape(frames), MIN_WEIGHT, None)
        penalty[order] += weight
        solved = solveh_banded(penalty, weight[:, None] * flat, check_finite=False)
        return solved.reshape(values.shape)
    weight_matrix = np.broadcast_to(weights.reshape(frames, -1), (frames, flat.shape[1]))
    result = np.empty_like(flat)
    # Channels that share a weight column (the 4 or 6 numbers of one joint) share one solve.
    columns, groups = np.unique(weight_matrix.T, axis=0, return_inverse=True)
    for group, column in enumerate(columns):
        members = np.flatnonzero(groups.ravel() == group)
        weight = np.clip(column, MIN_WEIGHT, None)
        bands = penalty.copy()
        bands[order] += weight
        result[:, members] = solveh_banded(bands, weight[:, None] * flat[:, members], check_finite=False)
    return result.reshape(values.shape)


def butterworth(values: np.ndarray, cutoff: float, order: int = 2) -> np.ndarray:
    """Zero-phase (forward-backward) Butterworth low-pass; `cutoff` is a fraction of Nyquist."""
    if cutoff >= 1.0:
        return values.copy()
    # Imported here: scipy.signal takes ~1 s to import and the smoothing step's default needs none of it.
    from scipy import signal

    numerator, denominator = signal.butter(order, cutoff)
    padding = min(values.shape[0] - 1, 3 * max(len(numerator), len(denominator)))
    return signal.filtfilt(numerator, denominator, values, axis=0, padlen=padding, padtype="odd")


def savitzky_golay(values: np.ndarray, window: int, polynomial: int = 3) -> np.ndarray:
    """Savitzky-Golay smoothing (zero-phase local polynomial fit) over `window` frames (made odd)."""
    window = min(window | 1, values.shape[0] - (1 - values.shape[0] % 2))
    if window <= polynomial:
        return values.copy()
    from scipy import signal  # imported here, as in butterworth

    return signal.savgol_filter(values, window, polynomial, axis=0, mode="interp")


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over `window` frames, edges repeated (the old wrapper's silent fallback)."""
    half = window // 2
    padded = np.pad(values, [(half, window - 1 - half)] + [(0, 0)] * (values.ndim - 1), mode="edge")
    cumulative = np.cumsum(np.concatenate([np.zeros((1,) + values.shape[1:]), padded]), axis=0)
    return (cumulative[window:] - cumulative[:-window]) / window


def one_euro(values: np.ndarray, rate: float, min_cutoff: float = 1.0, beta: float = 0.05) -> np.ndarray:
    """One-Euro filter (Casiez et al. 2012): causal, speed-adaptive; cutoffs in Hz at `rate` frames/s."""

    def smoothing_factor(cutoff: np.ndarray | float) -> np.ndarray:
        tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff))
        return 1.0 / (1.0 + tau * rate)

    result = np.empty_like(values, dtype=np.float64)
    result[0] = values[0]
    derivative = np.zeros_like(values[0], dtype=np.float64)
    derivative_factor = smoothing_factor(1.0)
    for frame in range(1, values.shape[0]):
        raw_derivative = (values[frame] - result[frame - 1]) * rate
        derivative = derivative + derivative_factor * (raw_derivative - derivative)
        factor = smoothing_factor(min_cutoff + beta * np.abs(derivative))
        result[frame] = result[frame - 1] + factor * (values[frame] - result[frame - 1])
    return result
