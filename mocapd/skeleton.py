"""The SMPL skeleton: standard rest offsets and forward kinematics over the joint list of mocapd.joints.

The joint names, parents and naming presets are re-exported here, so modules index joints through it.
Coordinates follow SMPL's canonical frame: metres, Y up, the actor facing +Z, +X to the actor's left.
"""

from __future__ import annotations

import numpy as np

from mocapd.joints import JOINT_INDEX as JOINT_INDEX
from mocapd.joints import JOINT_NAMES as JOINT_NAMES
from mocapd.joints import NUM_JOINTS as NUM_JOINTS
from mocapd.joints import PARENTS as PARENTS
from mocapd.joints import PRESETS as PRESETS

# Offset of each joint from its parent in the rest (T) pose, metres. Close to the SMPL neutral
# template's joints; used when no actor-specific lengths are known. The root's entry is its
# height above the floor in the rest pose.
STANDARD_OFFSETS = np.array(
    [
        [0.0, 0.93, 0.0],
        [0.07, -0.09, 0.0],
        [-0.07, -0.09, 0.0],
        [0.0, 0.11, -0.02],
        [0.035, -0.385, 0.005],
        [-0.035, -0.385, 0.005],
        [0.0, 0.135, 0.0],
        [-0.01, -0.40, -0.04],
        [0.01, -0.40, -0.04],
        [0.0, 0.055, 0.025],
        [0.02, -0.055, 0.12],
        [-0.02, -0.055, 0.12],
        [0.0, 0.215, -0.035],
        [0.075, 0.12, -0.01],
        [-0.075, 0.12, -0.01],
        [0.0, 0.09, 0.05],
        [0.12, 0.045, -0.015],
        [-0.12, 0.045, -0.015],
        [0.26, -0.015, -0.02],
        [-0.26, -0.015, -0.02],
        [0.25, 0.01, 0.0],
        [-0.25, 0.01, 0.0],
        [0.085, -0.01, -0.015],
        [-0.085, -0.01, -0.015],
    ],
    dtype=np.float64,
)


def children(joint: int) -> list[int]:
    """Indices of the joints whose parent is `joint`."""
    return [index for index, parent in enumerate(PARENTS) if parent == joint]


def forward_kinematics(global_rotations: np.ndarray, offsets: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Joint positions (..., 24, 3) from global joint rotations (..., 24, 3, 3), offsets and root positions."""
    positions = np.zeros(global_rotations.shape[:-2] + (3,), dtype=np.float64)
    positions[..., 0, :] = root
    for joint in range(1, NUM_JOINTS):
        parent = PARENTS[joint]
        positions[..., joint, :] = positions[..., parent, :] + np.einsum(
            "...ij,j->...i", global_rotations[..., parent, :, :], offsets[joint]
        )
    return positions


def positions_from_local(local_rotations: np.ndarray, offsets: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Joint positions (..., 24, 3) from rotations relative to each joint's parent, offsets and root positions."""
    return forward_kinematics(local_to_global(local_rotations), offsets, root)


def local_to_global(local_rotations: np.ndarray) -> np.ndarray:
    """Global rotations (..., 24, 3, 3) from rotations relative to each joint's parent."""
    result = np.empty_like(local_rotations)
    result[..., 0, :, :] = local_rotations[..., 0, :, :]
    for joint in range(1, NUM_JOINTS):
        result[..., joint, :, :] = result[..., PARENTS[joint], :, :] @ local_rotations[..., joint, :, :]
    return result


def global_to_local(global_rotations: np.ndarray) -> np.ndarray:
    """Rotations relative to each joint's parent from global rotations (..., 24, 3, 3)."""
    result = np.empty_like(global_rotations)
    result[..., 0, :, :] = global_rotations[..., 0, :, :]
    for joint in range(1, NUM_JOINTS):
        parent = global_rotations[..., PARENTS[joint], :, :]
        result[..., joint, :, :] = np.swapaxes(parent, -1, -2) @ global_rotations[..., joint, :, :]
    return result


# Each foot rests on its heel end (ankle joint) and toe end (foot joint): (left, right) x (heel, toe).
SOLE_JOINTS = np.array(
    [[JOINT_INDEX[f"{side}_{name}"] for name in ("ankle", "foot")] for side in ("left", "right")]
)


def sole_rest_heights(offsets: np.ndarray) -> np.ndarray:
    """(2,) height of the ankle and foot joints above the sole (the lower of the two) in the rest pose."""
    identity = np.broadcast_to(np.eye(3), (NUM_JOINTS, 3, 3))
    rest = forward_kinematics(identity, offsets, np.zeros(3))
    heights = rest[SOLE_JOINTS[0], 1]
    return heights - heights.min()


def sole_points(positions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(N, 2, 2, 3) under each foot's heel and toe end, on its sole: the joints (Y up) lowered by their
    rest height above it. What the floor, the foot locking and the solver's contacts all measure."""
    points = positions[:, SOLE_JOINTS].copy()
    points[..., 1] -= sole_rest_heights(offsets)
    return points
