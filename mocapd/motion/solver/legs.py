"""Leg depth flips: where the pose model put a knee or an ankle at the mirror of its depth.

As for the forearms (forearms.py), the image fixes the knee's and the ankle's rays, not their depths:
with the hip placed and the thigh's length known the knee lies at one of two points on its ray, and
with the knee placed and the shank's length known, so does the ankle. Each frame of each leg has four
hypotheses: as placed, the ankle mirrored about the knee, and the knee mirrored about the hip with
the ankle at either point of its ray about it (the foot moves with the ankle). The chosen sequence
(Viterbi) is the one whose knees bend closest to about their hinge axis and whose thighs do not reach
further behind the hips than a hip extends, at a cost for every part moved off the model's guess
(the 3D prior) and for the knee's and ankle's acceleration (a flip's jumps at its ends).
The solver asks twice: of the model's landmarks as placed, and of the pose fit's first pass.
"""

from __future__ import annotations

import numpy as np

from mocapd.motion.ik import unit
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.solver import contacts, depthflip, forearms

# The hinge's and the hip's costs per this (the chord of about 12 degrees), as for the forearms.
MISALIGNMENT_SCALE = forearms.MISALIGNMENT_SCALE
# Cost of each part (knee, ankle) moved off the model's guess, in those units.
FLIP_COST = forearms.FLIP_COST
# The knee's and ankle's acceleration (m per row squared, relative to the hip) that costs one unit:
# above the model's noise in it (its 2 cm a landmark make 5-10 cm), far below a flip's jumps (20-50 cm).
ACCELERATION_SCALE_M = 0.1
# How far the ankle's ray may miss its shank's sphere about a mirrored knee that costs one unit (m).
MISS_SCALE_M = 0.05
# A hip extends to about this (the sine of the thigh's angle behind the torso's line): further back
# is charged like a backwards knee.
HIP_EXTENSION_SINE = np.sin(np.radians(30.0))
# Where the floor is known: a resting foot's lower sole point lies on it and no foot below it, to
# about this (m); a hypothesis' foot that does not is charged per it squared.
FLOOR_SCALE_M = 0.05
# The landmarks that move with the ankle (the foot), per side.
FOOT_PARTS = ("ankle", "heel", "foot_index")
# Hypotheses: (knee mirrored, which ankle): ankle None as placed, "mirrored" about the kept knee, or
# 0/1 the nearer/farther point of its ray about the mirrored knee.
HYPOTHESES = ((False, None), (False, "mirrored"), (True, 0), (True, 1))


def _landmark(side: str, name: str) -> int:
    return MEDIAPIPE_INDEX[f"{side}_{name}"]


def hypotheses(positions: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """((N, H, 3) knees, (N, H, 3) ankles, (N, H) how far an ankle misses its shank's length (m))."""
    hip, knee, ankle = (positions[:, _landmark(side, name)] for name in ("hip", "knee", "ankle"))
    return depthflip.limb_hypotheses(hip, knee, ankle)


def unary_costs(positions: np.ndarray, side: str, knees: np.ndarray, ankles: np.ndarray) -> np.ndarray:
    """(N, H) each hypothesis' cost before the jumps: its knee off the hinge, its thigh behind the hip's
    reach (both per MISALIGNMENT_SCALE) and FLIP_COST per part moved."""
    hips = positions[:, [_landmark(name, "hip") for name in ("left", "right")]]
    shoulders = positions[:, [_landmark(name, "shoulder") for name in ("left", "right")]]
    up = unit(shoulders.mean(axis=1) - hips.mean(axis=1))
    lateral = hips[:, 0] - hips[:, 1]  # the knees' forward hinge axis (posefit.HINGES' sign)
    forward = unit(np.cross(lateral, up))
    hip = positions[:, _landmark(side, "hip")]
    costs = np.zeros(knees.shape[:2])
    for index, (knee_moved, ankle) in enumerate(HYPOTHESES):
        knee = knees[:, index]
        hinge = depthflip.misalignments(hip, knee, ankles[:, index], lateral)
        behind = np.maximum(-np.sum(unit(knee - hip) * forward, axis=-1) - HIP_EXTENSION_SINE, 0.0)
        costs[:, index] = (hinge + behind) / MISALIGNMENT_SCALE
        costs[:, index] += FLIP_COST * (int(knee_moved) + int(ankle is not None))
    return np.nan_to_num(costs)


def floor_costs(
    positions: np.ndarray, side: str, ankles: np.ndarray, ground: contacts.Contacts, up: np.ndarray
) -> np.ndarray:
    """(N, H) each hypothesis' foot off the floor: its lower sole point's height where the foot rests,
    its depth below the floor where it does not."""
    sole = positions[:, contacts.SOLE_LANDMARKS[contacts.SIDES.index(side)]]  # (N, 2, 3) heel, toe
    shift = ankles - positions[:, None, _landmark(side, "ankle")]  # (N, H, 3)
    heights = np.min((sole[:, None] + shift[:, :, None]) @ up, axis=2) - float(ground.floor or 0.0)
    resting = ground.resting[:, contacts.SIDES.index(side), None]
    off = np.where(resting, np.abs(heights), np.maximum(-heights, 0.0))
    return np.nan_to_num((off / FLOOR_SCALE_M) ** 2)


def choose(
    positions: np.ndarray, side: str, ground: contacts.Contacts | None = None, up: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """((N,) hypothesis index per frame, (N, H, 3) knees, (N, H, 3) ankles) of one leg; ground and up:
    the resting feet and the floor, where known."""
    knees, ankles, misses = hypotheses(positions, side)
    unary = unary_costs(positions, side, knees, ankles) + np.nan_to_num(misses / MISS_SCALE_M) ** 2
    if ground is not None and ground.floor is not None and up is not None:
        unary += floor_costs(positions, side, ankles, ground, up)
    # Continuity is judged on the knee's and ankle's acceleration (relative to the hip), not their
    # steps: a leg swings fast, and the mirror of a swing can have the shorter steps (MultiPerson
    # cam04: a straight leg's mirror chosen for 8 frames for being steadier than the model's noise).
    parts = np.stack([knees, ankles], axis=2) - positions[:, _landmark(side, "hip"), None, None]
    chosen = depthflip.steady_viterbi(unary, parts, ACCELERATION_SCALE_M)
    return chosen, knees, ankles


def repair(
    positions: np.ndarray,
    world: np.ndarray,
    ground: contacts.Contacts | None = None,
    up: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(positions, world, frames mirrored): fitted landmarks (N, 33, 3) and the model's world landmarks
    (N, 33, 3, the depth prior in the camera's axes) with each chosen stretch's knee and foot moved;
    ground and up: the resting feet and floor, where known (choose)."""
    positions, world = positions.copy(), world.copy()
    moved = np.zeros(positions.shape[0], dtype=bool)
    if positions.shape[0] < 2:
        return positions, world, 0
    for side in ("left", "right"):
        chosen, knees, ankles = choose(positions, side, ground, up)
        knee, ankle = _landmark(side, "knee"), _landmark(side, "ankle")
        foot = np.array([_landmark(side, part) for part in FOOT_PARTS])
        moved |= depthflip.move_limb(positions, world, chosen, (knees, ankles), knee, ankle, foot)
    return positions, world, int(np.count_nonzero(moved))
