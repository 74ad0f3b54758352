"""The SMPL skeleton: joint names, hierarchy, standard rest offsets and naming presets.

This is the one place for the joint list; every other module indexes joints through it.
Coordinates follow SMPL's canonical frame: metres, Y up, the actor facing +Z, +X to the actor's left.
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX = {name: index for index, name in enumerate(JOINT_NAMES)}

# Parent of each joint (-1 for the root), in SMPL's order.
PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

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

# Names of the SMPL joints per naming preset, in JOINT_NAMES order, so a file retargets without renaming by
# hand; the bones a preset's rig has beyond these are in mocapd.export.rig.
PRESETS: dict[str, tuple[str, ...]] = {
    "smpl": JOINT_NAMES,
    "mixamo": tuple(
        "mixamorig:" + name
        for name in (
            "Hips",
            "LeftUpLeg",
            "RightUpLeg",
            "Spine",
            "LeftLeg",
            "RightLeg",
            "Spine1",
            "LeftFoot",
            "RightFoot",
            "Spine2",
            "LeftToeBase",
            "RightToeBase",
            "Neck",
            "LeftShoulder",
            "RightShoulder",
            "Head",
            "LeftArm",
            "RightArm",
            "LeftForeArm",
            "RightForeArm",
            "LeftHand",
            "RightHand",
            "LeftHandMiddle1",
            "RightHandMiddle1",
        )
    ),
    "unreal": (
        "pelvis",
        "thigh_l",
        "thigh_r",
        "spine_01",
        "calf_l",
        "calf_r",
        "spine_02",
        "foot_l",
        "foot_r",
        "spine_03",
        "ball_l",
        "ball_r",
        "neck_01",
        "clavicle_l",
        "clavicle_r",
        "head",
        "upperarm_l",
        "upperarm_r",
        "lowerarm_l",
        "lowerarm_r",
        "hand_l",
        "hand_r",
        "middle_01_l",
        "middle_01_r",
    ),
}
# UE5's mannequin: five spine and two neck bones; SMPL's three spine joints carry spine_01, 03 and 05
# (mocapd.export.rig adds spine_02, spine_04 and neck_02 between them, static).
# Same names as UE4 but for the spine, so it is derived from "unreal" rather than listed twice.
_UE5_SPINE = {"spine_02": "spine_03", "spine_03": "spine_05"}
PRESETS["unreal5"] = tuple(_UE5_SPINE.get(name, name) for name in PRESETS["unreal"])


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
