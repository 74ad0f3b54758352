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
from mocapd.motion.solver import depthflip, posefit

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
    return depthflip.mirrored_on_ray(positions[:, wrist], positions[:, elbow])


def misalignments(positions: np.ndarray, arm: tuple[int, ...], wrists: np.ndarray) -> np.ndarray:
    """(N,) how far the elbow bends off its hinge with the wrists at `wrists` (N, 3) (depthflip.misalignments,
    about posefit's forward axis of an elbow: right - left shoulder, posefit.HINGES' sign)."""
    left, right = (posefit.FITTED[index] for index in posefit.SHOULDERS)
    shoulder, elbow, _ = (posefit.FITTED[index] for index in arm)
    axis = positions[:, right] - positions[:, left]
    return depthflip.misalignments(positions[:, shoulder], positions[:, elbow], wrists, axis)


def choose(
    kept: np.ndarray, mirrored: np.ndarray, forearm_kept: np.ndarray, forearm_mirrored: np.ndarray
) -> np.ndarray:
    """(N,) True where the mirrored hypothesis is taken: misalignments (N,) of each, forearm vectors (N, 3) of each."""
    unary = np.nan_to_num(np.stack([kept, mirrored], axis=1)) / MISALIGNMENT_SCALE
    unary[:, 1] += FLIP_COST
    forearms = np.stack([forearm_kept, forearm_mirrored], axis=1)  # (N, 2, 3)
    jump = np.nan_to_num(np.linalg.norm(forearms[1:, None, :] - forearms[:-1, :, None], axis=-1))
    return depthflip.viterbi(unary, (jump / JUMP_SCALE_M) ** 2).astype(bool)


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
