"""Forearm depth flips: where the pose model put a wrist behind its elbow's hinge, the mirror in depth.

The image fixes a wrist's ray, not its depth: with the elbow placed and the forearm's length known,
the wrist lies at one of two points on that ray (the sphere about the elbow meets it twice), mirror
images in depth. The model's world landmarks sometimes take the one that folds the forearm back, and
the pose fit's hinge can only hold it at the limit (SinglePerson cam02: the right forearm turned a
quarter turn about the upper arm for 7 frames). Each frame of each arm has two hypotheses, as placed
and mirrored; the chosen sequence (Viterbi) is the one whose elbows bend closest to about their
hinge axis, at a cost for every mirrored frame and for the wrist's jump where the hypothesis
changes, so that a stretch turns over only where its ends meet (the ray passes near the elbow).
The elbow's depth is as open: with the shoulder placed and the upper arm's length known it lies at
one of two points on its ray, the mirror about the shoulder (tests: a run's upper arm turned over for
17 frames). So each frame of each arm has four
hypotheses (HYPOTHESES), as for the legs (legs.py): the elbow kept or mirrored about the shoulder, the
wrist kept, mirrored about the kept elbow, or at either point of its ray about the mirrored one. The
upper arm behind the torso's plane further than a shoulder reaches (SHOULDER_REACH_DEG) costs too,
and every part moved off the model's guess (the 3D prior) FLIP_COST (ELBOW_FLIP_COST). Seen in
profile, an elbow's mirror differs only sideways: it cannot take an arm from behind the back (MultiPerson
cam03 person 2: both lie 57-61 degrees behind).
The solver asks twice: of the model's landmarks as placed, and of the pose fit's first pass.
"""

from __future__ import annotations

import numpy as np

from mocapd.motion.ik import unit
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.solver import depthflip, posefit

# A hinge bends about its axis: a hypothesis is charged its misalignment (depthflip.misalignments) per this
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
# Hypotheses: (elbow mirrored about the shoulder, which wrist): None as placed, "mirrored" about the
# kept elbow, or 0/1 the nearer/farther point of its ray about the mirrored elbow.
HYPOTHESES = ((False, None), (False, "mirrored"), (True, 0), (True, 1))
# How far an upper arm reaches behind the torso's plane (degrees), by how high it points (degrees above
# the shoulders' level): at or above that level a shoulder takes it 30-45 behind, lower down further
# (the real motions in tests/data: 72 behind, a backflip's swing, pointing 10+ degrees down).
SHOULDER_REACH_DEG = ((-90.0, 90.0), (-20.0, 80.0), (0.0, 45.0), (90.0, 45.0))
# The sine beyond that reach that costs one unit: a shoulder past it is implausible, not a bent hinge.
SHOULDER_SCALE = 0.03
# Cost of an elbow mirrored about its shoulder, in those units: the model misjudges an upper arm's
# depth more rarely than a forearm's, and where the upper arm lies near the image's plane its mirror
# nearly meets it (a run's arms seen from the side): there nothing is to be gained by moving it.
ELBOW_FLIP_COST = 3.0
# How far the wrist's ray may miss its forearm's sphere about a mirrored elbow that costs one unit (m).
MISS_SCALE_M = 0.05


def mirrored_wrists(positions: np.ndarray, elbow: int, wrist: int) -> np.ndarray:
    """(N, 3) each wrist mirrored in depth about its elbow along its own ray from the camera."""
    return depthflip.mirrored_on_ray(positions[:, wrist], positions[:, elbow])


def hypotheses(positions: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """((N, H, 3) elbows, (N, H, 3) wrists, (N, H) how far a wrist's ray misses its forearm's length (m))."""
    shoulder, elbow, wrist = (
        positions[:, MEDIAPIPE_INDEX[f"{side}_{name}"]] for name in ("shoulder", "elbow", "wrist")
    )
    return depthflip.limb_hypotheses(shoulder, elbow, wrist)


def behind_shoulder(positions: np.ndarray, side: str, elbows: np.ndarray) -> np.ndarray:
    """(N, H) how far each hypothesis' upper arm reaches behind the torso's plane past a shoulder's
    reach (SHOULDER_REACH_DEG, the sine of the angle beyond it; 0 within it)."""
    shoulders = positions[:, [MEDIAPIPE_INDEX[f"{name}_shoulder"] for name in ("left", "right")]]
    hips = positions[:, [MEDIAPIPE_INDEX[f"{name}_hip"] for name in ("left", "right")]]
    lateral = unit(shoulders[:, 0] - shoulders[:, 1])
    forward = unit(np.cross(lateral, shoulders.mean(axis=1) - hips.mean(axis=1)))
    up = np.cross(forward, lateral)
    arm = unit(elbows - positions[:, None, MEDIAPIPE_INDEX[f"{side}_shoulder"]])
    behind = -np.sum(arm * forward[:, None], axis=-1)
    raised = np.degrees(np.arcsin(np.clip(np.sum(arm * up[:, None], axis=-1), -1.0, 1.0)))
    heights, reaches = np.array(SHOULDER_REACH_DEG).T
    reach = np.sin(np.radians(np.interp(raised, heights, reaches)))
    return np.maximum(behind - reach, 0.0)


def unary_costs(positions: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """((N, H) costs before the jumps, elbows, wrists): each hypothesis' elbow off its hinge
    (MISALIGNMENT_SCALE), its upper arm past the shoulder's reach (SHOULDER_SCALE), its wrist's ray off
    the forearm's sphere (MISS_SCALE_M, squared) and FLIP_COST (ELBOW_FLIP_COST) per part moved off the model's guess."""
    elbows, wrists, misses = hypotheses(positions, side)
    left, right = (posefit.FITTED[index] for index in posefit.SHOULDERS)
    axis = positions[:, right] - positions[:, left]
    shoulder = positions[:, MEDIAPIPE_INDEX[f"{side}_shoulder"]]
    costs = np.zeros(elbows.shape[:2])
    for index, (elbow_moved, wrist) in enumerate(HYPOTHESES):
        hinge = depthflip.misalignments(shoulder, elbows[:, index], wrists[:, index], axis)
        costs[:, index] = np.nan_to_num(hinge) / MISALIGNMENT_SCALE
        costs[:, index] += ELBOW_FLIP_COST * int(elbow_moved) + FLIP_COST * int(wrist is not None)
    costs += np.nan_to_num(behind_shoulder(positions, side, elbows)) / SHOULDER_SCALE
    costs += np.nan_to_num(misses / MISS_SCALE_M) ** 2
    return costs, elbows, wrists


def choose(unary: np.ndarray, upper_arms: np.ndarray, forearms: np.ndarray) -> np.ndarray:
    """(N,) the hypothesis taken per frame: unary costs (N, H), each hypothesis' upper arm and forearm
    vectors (N, H, 3); the jumps of both between neighbouring rows are charged per JUMP_SCALE_M, the
    upper arm's only beyond the as-placed path's step."""
    steps = [
        np.nan_to_num(np.linalg.norm(v[1:, None, :] - v[:-1, :, None], axis=-1))
        for v in (upper_arms, forearms)
    ]
    upper, forearm = ((step / JUMP_SCALE_M) ** 2 for step in steps)
    # A mirrored elbow is never taken for being steadier than the model's noise in its depth
    # (MultiPerson cam02: single rows whose elbow the model put 10-12 cm off its neighbours).
    upper = np.maximum(upper - upper[:, :1, :1], 0.0)
    return depthflip.viterbi(unary, upper + forearm)


def repair(positions: np.ndarray, world: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(positions, world, frames mirrored): fitted landmarks (N, 33, 3) and the model's world landmarks
    (N, 33, 3, the depth prior in the camera's axes) with each chosen stretch's elbow and hand moved."""
    positions, world = positions.copy(), world.copy()
    mirrored_frames = np.zeros(positions.shape[0], dtype=bool)
    if positions.shape[0] < 2:
        return positions, world, 0
    for side in ("left", "right"):
        shoulder, elbow, wrist = (
            MEDIAPIPE_INDEX[f"{side}_{name}"] for name in ("shoulder", "elbow", "wrist")
        )
        unary, elbows, wrists = unary_costs(positions, side)
        chosen = choose(unary, elbows - positions[:, None, shoulder], wrists - elbows)
        hand = np.array([MEDIAPIPE_INDEX[f"{side}_{part}"] for part in HAND_PARTS])
        mirrored_frames |= depthflip.move_limb(positions, world, chosen, (elbows, wrists), elbow, wrist, hand)
    return positions, world, int(np.count_nonzero(mirrored_frames))
