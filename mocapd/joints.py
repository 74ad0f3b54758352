"""The SMPL joint list, its hierarchy and the naming presets: plain data, no numpy.

The one place for these facts; mocapd.skeleton re-exports them beside the offsets and the forward
kinematics. Kept apart so that option checking (mocapd.options), and with it every command's start,
does not import numpy.
"""

from __future__ import annotations

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
