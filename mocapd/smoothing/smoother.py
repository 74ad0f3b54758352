"""Our default smoother: confidence-weighted, zero-phase smoothing of joint rotations (as hemisphere-
continuous quaternions) and of the root path on its own, with a lower cutoff.

Planted feet: smoothing alone cuts their sliding 4-5 fold (bench/bench_smoothing.py); the
exporter's foot locking (mocapd/export/footlock.py) then pins them. Pinning here as well was measured
and dropped: it moved the feet no less and the joints further from the truth.

Strength 0 returns the motion untouched; strength s sets the joints' cutoff (gain 1/2) to
MAX_CUTOFF_HZ * (full / MAX_CUTOFF_HZ)^s with full = WINDOW_HZ / window: 5.7 Hz for the defaults
(s 0.5, window 9), 2 Hz at s 1. Cutoffs are in Hz so a move is treated alike at any frame rate.

Fast moves: a second pass relaxes the penalty where the first pass's residual (raw - smoothed) is
locally biased far beyond the joint's own noise level. Jitter is white, so its local mean shrinks with
the span averaged; a move the filter cut short leaves residuals of one sign over several frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import convolve1d

from mocapd.rotations import continuous_quaternions, matrix_to_quaternion, quaternion_to_matrix
from mocapd.smoothing.filters import MIN_WEIGHT, whittaker
from mocapd.trackfile import TrackMotion

# Above 16 Hz human motion has next to no content: a filter there would only pass noise.
MAX_CUTOFF_HZ = 16.0
# Full strength with a window of W frames keeps motion below WINDOW_HZ / W (window 9: 2 Hz).
WINDOW_HZ = 18.0
# Difference order of the penalty: 3 (white jerk) keeps fast moves better than 2 at the same noise
# reduction (bench/bench_smoothing.py).
DEFAULT_ORDER = 3
# Fast-move test: the residual's confidence-weighted mean over FAST_MOVE_SPAN frames, in standard errors
# of that mean under white noise; beyond FAST_MOVE_THRESHOLD (a 3-sigma test, not tuned) the penalty
# falls with the square of the excess. The tuning clips (walk, run) barely change either way.
FAST_MOVE_SPAN = 3
FAST_MOVE_THRESHOLD = 3.0
# At most this much less penalty (order 3: the local cutoff at most 16^(1/6) = 1.6 times higher, 5.7 ->
# 9 Hz at the defaults), so low-confidence frames inside a fast move still lean on their neighbours.
# The held-out figures are the same for any cap from 8 to 256 (bench/bench_smoothing.py).
MAX_RELAXATION = 16.0
# Median length of a 3-axis white-noise vector in units of its per-axis sigma (chi, 3 degrees of freedom).
CHI3_MEDIAN = 1.538
# Frames at or above this weight estimate a joint's noise level (outliers have low confidence).
TRUSTED_WEIGHT = 0.5
# The root path from a single camera is noisier than the joint angles: its cutoff is this much lower.
ROOT_CUTOFF_FACTOR = 0.6

# How the job report names this smoother.
METHOD = "confidence-weighted zero-phase smoother"
# Replaces the joints' filter, e.g. a SmoothNet: (N, 24, 3, 3) local rotations -> smoothed ones.
RotationSmoother = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SmoothingParameters:
    """What the job options and the command line set."""

    strength: float = 0.5
    window: int = 9
    order: int = DEFAULT_ORDER
    # Relax the smoothing where the motion itself moves faster than the filter passes (module docstring).
    keep_fast_moves: bool = True
    # When set, the root path is smoothed like a forward-backward exponential moving average of this
    # gain (1 = untouched) instead of by the strength's cutoff.
    root_ema: float | None = None


def rotation_cutoff(strength: float, window: int, fps: float) -> float:
    """The joints' cutoff as a fraction of the Nyquist frequency (1: nothing removed)."""
    full = min(MAX_CUTOFF_HZ, WINDOW_HZ / max(window, 1))
    cutoff_hz = MAX_CUTOFF_HZ * (full / MAX_CUTOFF_HZ) ** float(np.clip(strength, 0.0, 1.0))
    return float(min(1.0, cutoff_hz / (fps / 2.0)))


def confidence_weights(confidence: np.ndarray) -> np.ndarray:
    """Per-frame weights 0..1: confidence relative to the track's median, so typical frames weigh 1."""
    median = max(float(np.median(confidence)), 1e-3)
    return np.clip(confidence / median, MIN_WEIGHT, 1.0)


def fast_move_penalty(residual: np.ndarray, weights: np.ndarray, order: int) -> np.ndarray:
    """Penalty weights (N - order, J) in 0..1 from (N, J, 4) residuals: below 1 where a move was cut short."""
    frames, joints = weights.shape
    length = np.linalg.norm(residual, axis=-1)
    trusted = weights >= TRUSTED_WEIGHT
    sigma = np.empty(joints)
    for joint in range(joints):
        sample = length[trusted[:, joint], joint]
        sigma[joint] = np.median(sample if sample.size > order else length[:, joint]) / CHI3_MEDIAN
    kernel = np.ones(FAST_MOVE_SPAN)
    weighted_sum = convolve1d(weights[..., None] * residual, kernel, axis=0, mode="constant")
    weight_sum = convolve1d(weights, kernel, axis=0, mode="constant")
    count = convolve1d(np.ones(frames), kernel, mode="constant")[:, None]
    bias = np.linalg.norm(weighted_sum, axis=-1) / np.maximum(weight_sum, 1e-12)
    score = bias / np.maximum(sigma, 1e-12) * np.sqrt(count)
    relaxation = np.clip((score / FAST_MOVE_THRESHOLD) ** 2, 1.0, MAX_RELAXATION)
    # A difference row spans order + 1 frames: the most relaxed of them sets its penalty.
    spans = np.lib.stride_tricks.sliding_window_view(relaxation, order + 1, axis=0)
    return 1.0 / spans.max(axis=-1)


def smooth_rotations(
    local: np.ndarray, weights: np.ndarray, cutoff: float, order: int, keep_fast_moves: bool = True
) -> np.ndarray:
    """(N, J, 3, 3) rotations smoothed as continuous quaternions, renormalised; weights (N, J)."""
    frames, joints = local.shape[:2]
    quaternions = continuous_quaternions(matrix_to_quaternion(local))
    channel_weights = np.repeat(weights, 4, axis=1)
    smoothed = whittaker(quaternions.reshape(frames, joints * 4), channel_weights, cutoff, order)
    smoothed = smoothed.reshape(frames, joints, 4)
    if keep_fast_moves and frames > order and cutoff < 1.0:
        penalty = fast_move_penalty(quaternions - smoothed, weights, order)
        for joint in np.flatnonzero((penalty < 1.0).any(axis=0)):
            smoothed[:, joint] = whittaker(
                quaternions[:, joint], weights[:, joint], cutoff, order, penalty[:, joint]
            )
    smoothed /= np.linalg.norm(smoothed, axis=-1, keepdims=True)
    return quaternion_to_matrix(smoothed)


def ema_cutoff(gain: float) -> float:
    """The order-1 cutoff matching a forward-backward EMA of `gain`: lambda = (1 - gain) / gain^2."""
    gain = float(np.clip(gain, 1e-3, 1.0))
    penalty = (1.0 - gain) / gain**2
    if penalty <= 0.0:
        return 1.0
    return float(2.0 / np.pi * np.arcsin(min(1.0, 0.5 / np.sqrt(penalty))))


def smooth_path(
    path: np.ndarray, weights: np.ndarray, cutoff: float, parameters: SmoothingParameters
) -> np.ndarray:
    """A (N, 3) root path smoothed by the EMA override or by `cutoff`."""
    if parameters.root_ema is not None:
        return whittaker(path, weights, ema_cutoff(parameters.root_ema), order=1)
    return whittaker(path, weights, cutoff, parameters.order)


def smooth_motion(
    motion: TrackMotion, parameters: SmoothingParameters, rotation_smoother: RotationSmoother | None = None
) -> TrackMotion:
    """The motion smoothed (joints by `rotation_smoother` when given); the input is not changed."""
    if parameters.strength <= 0.0:
        return replace(motion)
    cutoff = rotation_cutoff(parameters.strength, parameters.window, motion.fps)
    weights = confidence_weights(motion.confidence)
    if rotation_smoother is not None:
        local = rotation_smoother(motion.local_rotations())
    else:
        local = smooth_rotations(
            motion.local_rotations(), weights, cutoff, parameters.order, parameters.keep_fast_moves
        )
    root_cutoff = cutoff * ROOT_CUTOFF_FACTOR
    root_weights = weights[:, 0]
    trans = smooth_path(motion.trans, root_weights, root_cutoff, parameters)
    camera = smooth_path(motion.camera, root_weights, root_cutoff, parameters)
    return replace(motion, R_root=local[:, 0], R_body=local[:, 1:], trans=trans, camera=camera)
