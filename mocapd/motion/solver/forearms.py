"""Forearm depth flips: where the pose model put a wrist behind its elbow's hinge, the mirror in depth.

The image fixes a wrist's ray, not its depth: with the elbow placed and the forearm's length known,
the wrist lies at one of two points on that ray (the sphere about the elbow meets it twice), mirror
images in depth. The model's world landmarks sometimes take the one that folds the forearm back, and
the pose fit's hinge can only hold it at the limit (SinglePerson cam02: the right forearm turned a
quarter turn about the upper arm for 7 frames). Each frame of each arm has two hypotheses, as placed
and mirrored; the chosen sequence (Viterbi) is the one whose elbows bend closest to about their
hinge axis, at a cost for every mirrored frame and for the wrist's jump where the hypothesis
changes, so that a stretch turns over only where its ends meet (the ray passes near the elbow).
The solver asks twice: of the model's landmarks as placed, and of the pose fit's first pass.
"""

from __future__ import annotations

import numpy as np

from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.solver import posefit

# A hinge bends about its axis: a hypothesis is charged its misalignment (misalignments) per this
# (the chord of about 12 degrees).
MISALIGNMENT_SCALE = 0.2
# Cost of a mirrored frame, in those units: a frame is mirrored where that brings its bend closer to
# the hinge's axis by more than FLIP_COST * MISALIGNMENT_SCALE, a stretch where its ends' jumps are
# paid too.
FLIP_COST = 1.0
# The wrist's jump between neighbouring rows that costs one unit (metres): a flip inside a stretch,
# where the mirror lies 10-30 cm away, costs tens of units; at a stretch's end, where it nearly
# meets the fitted wrist, almost nothing.
JUMP_SCALE_M = 0.05
# The landmarks that move with the wrist (the hand), per side.
HAND_PARTS = ("wrist", "pinky", "index", "thumb")


def mirrored_wrists(positions: np.ndarray, elbow: int, wrist: int) -> np.ndarray:
    """(N, 3) each wrist mirrored in depth about its elbow along its own ray from the camera."""
    point = positions[:, wrist]
    ray = point / np.maximum(np.linalg.norm(point, axis=-1, keepdims=True), 1e-9)
    # On the ray, the elbow's sphere is met at t and at 2 (ray . elbow) - t.
    along = np.sum(ray * point, axis=-1)
    return ray * (2.0 * np.sum(ray * positions[:, elbow], axis=-1) - along)[:, None]


def misalignments(positions: np.ndarray, arm: tuple[int, ...], wrists: np.ndarray) -> np.ndarray:
    """(N,) how far the elbow bends off its hinge with the wrists at `wrists` (N, 3): |v| - v . h, where
    v = upper x lower (unit vectors; its length the sine of the flexion) and h the forward hinge axis
    (posefit's). 0 for a straight arm or one bent forwards about the axis; 2 sin(flexion) bent backwards."""
    left, right = (posefit.FITTED[index] for index in posefit.SHOULDERS)
    axis = positions[:, right] - positions[:, left]  # forwards for an elbow (posefit.HINGES' sign)
    axis /= np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-9)
    shoulder, elbow, _ = (posefit.FITTED[index] for index in arm)
    upper = positions[:, elbow] - positions[:, shoulder]
    lower = wrists - positions[:, elbow]
    scale = np.maximum(np.linalg.norm(upper, axis=-1) * np.linalg.norm(lower, axis=-1), 1e-9)
    bend = np.cross(upper, lower) / scale[:, None]
    return np.linalg.norm(bend, axis=-1) - np.sum(bend * axis, axis=-1)


def choose(
    kept: np.ndarray, mirrored: np.ndarray, forearm_kept: np.ndarray, forearm_mirrored: np.ndarray
) -> np.ndarray:
    """(N,) True where the mirrored hypothesis is taken: misalignments (N,) of each, forearm vectors (N, 3) of each."""
    frames = kept.shape[0]
    unary = np.nan_to_num(np.stack([kept, mirrored], axis=1)) / MISALIGNMENT_SCALE
    unary[:, 1] += FLIP_COST
    forearms = np.stack([forearm_kept, forearm_mirrored], axis=1)  # (N, 2, 3)
    total = unary[0].copy()
    back = np.zeros((frames, 2), dtype=np.int64)
    for frame in range(1, frames):
        jump = np.nan_to_num(np.linalg.norm(forearms[frame][None, :] - forearms[frame - 1][:, None], axis=-1))
        candidates = total[:, None] + (jump / JUMP_SCALE_M) ** 2  # (from, to)
        back[frame] = np.argmin(candidates, axis=0)
        total = candidates[back[frame], [0, 1]] + unary[frame]
    chosen = np.zeros(frames, dtype=np.int64)
    chosen[-1] = int(np.argmin(total))
    for frame in range(frames - 1, 0, -1):
        chosen[frame - 1] = back[frame, chosen[frame]]
    return chosen.astype(bool)


def repair(positions: np.ndarray, world: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(positions, world, frames mirrored): fitted landmarks (N, 33, 3) and the model's world landmarks
    (N, 33, 3, the depth prior in the camera's axes) with each chosen stretch's hand mirrored in depth."""
    positions, world = positions.copy(), world.copy()
    mirrored_frames = np.zeros(positions.shape[0], dtype=bool)
    for side, arm in zip(("left", "right"), posefit.ARMS, strict=True):
        elbow, wrist = (MEDIAPIPE_INDEX[f"{side}_{name}"] for name in ("elbow", "wrist"))
        if positions.shape[0] < 2:
            continue
        # Where a landmark is missing the mirror is the wrist itself: nothing to choose there.
        wrists = mirrored_wrists(positions, elbow, wrist)
        wrists = np.where(np.isfinite(wrists).all(axis=1, keepdims=True), wrists, positions[:, wrist])
        flip = choose(
            misalignments(positions, arm, positions[:, wrist]),
            misalignments(positions, arm, wrists),
            positions[:, wrist] - positions[:, elbow],
            wrists - positions[:, elbow],
        )
        if not flip.any():
            continue
        shift = (wrists - positions[:, wrist])[flip]
        hand = np.array([MEDIAPIPE_INDEX[f"{side}_{part}"] for part in HAND_PARTS])
        positions[np.ix_(flip, hand)] += shift[:, None]
        world[np.ix_(flip, hand)] += shift[:, None]
        mirrored_frames |= flip
    return positions, world, int(np.count_nonzero(mirrored_frames))
