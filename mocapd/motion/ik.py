"""Inverse kinematics: named 3D keypoints -> the 24 SMPL joint rotations, twist included.

Each joint's global frame is built from its bone direction (to its child) and a twist reference
(the hip or shoulder line for the trunk, the limb's bending plane for arms and legs, heel->toe for
the feet, index/pinky for the hands, ears/nose for the head), and is taken relative to the same frame
built from the rest offsets. A bone's direction is therefore matched exactly, and the twist follows a
reference that moves continuously, so rotations do not flip between frames.

The keypoints may be in any right-handed metric frame (MediaPipe's camera-aligned world landmarks,
a .trc file's lab frame); the global rotations map the rest skeleton (Y up, facing +Z) into it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mocapd import skeleton
from mocapd.motion import fitting, landmarks

JOINT = skeleton.JOINT_INDEX
KEY = landmarks.KEYPOINT_INDEX

# Without a neck marker the neck is this fraction of the hip->shoulder distance above the shoulders
# (the SMPL neck joint sits about 5 cm above the shoulder line of a 0.55 m trunk).
NECK_ABOVE_SHOULDERS = 0.09
# Without ears the head's centre is this fraction of the way from the neck to the top of the head.
HEAD_CENTRE_FRACTION = 0.4
# A limb's bending plane sets its twist once the joint bends more than this (sine of the angle);
# below it the twist blends towards a reference that needs no bend (foot or chest direction).
BEND_BLEND = (0.15, 0.5)
# Cosine between the bending-plane normal and the straight-limb reference over which its sign fades in.
SIGN_BLEND = 0.3
# A straight leg's twist follows its foot while the foot's hinge axis lies within this cosine of the hip
# line's (60 degrees: feet turn out 0-30), and the hip line beyond (knee_fallback).
FOOT_TWIST_COSINE = 0.5
# Cost of turning a fully bent limb's hinge axis over between two frames, in frames of full disagreement
# with the straight-limb reference (bend_reference): it turns over only for long, clear disagreement.
HINGE_SWITCH_COST = 20.0
# Where the landmarks the skeleton has no joint for lie in the rest pose, from a nearby joint (metres).
REST_EXTRAS: dict[str, tuple[str, tuple[float, float, float]]] = {
    "left_heel": ("left_ankle", (0.0, -0.06, -0.05)),
    "right_heel": ("right_ankle", (0.0, -0.06, -0.05)),
    "left_index": ("left_hand", (0.0, 0.0, 0.035)),
    "right_index": ("right_hand", (0.0, 0.0, 0.035)),
    "left_pinky": ("left_hand", (0.0, 0.0, -0.035)),
    "right_pinky": ("right_hand", (0.0, 0.0, -0.035)),
    "nose": ("head", (0.0, 0.0, 0.10)),
    "left_ear": ("head", (0.075, 0.0, 0.0)),
    "right_ear": ("head", (-0.075, 0.0, 0.0)),
}
# Keypoints each joint's position is measured from: a bone's length counts only frames where all
# of them are confident.
JOINT_SOURCES: dict[str, tuple[str, ...]] = {
    "left_knee": ("left_knee",),
    "right_knee": ("right_knee",),
    "left_ankle": ("left_ankle",),
    "right_ankle": ("right_ankle",),
    "left_foot": ("left_toe",),
    "right_foot": ("right_toe",),
    "left_shoulder": ("left_shoulder",),
    "right_shoulder": ("right_shoulder",),
    "left_elbow": ("left_elbow",),
    "right_elbow": ("right_elbow",),
    "left_wrist": ("left_wrist",),
    "right_wrist": ("right_wrist",),
    "left_hand": ("left_index", "left_pinky"),
    "right_hand": ("right_index", "right_pinky"),
    "head": ("left_ear", "right_ear", "head_top", "neck"),
    "neck": ("left_shoulder", "right_shoulder", "neck", "left_hip", "right_hip"),
    "left_collar": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    "right_collar": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
}
TRUNK_JOINTS = ("spine1", "spine2", "spine3", "left_collar", "right_collar")
SIDES = ("left", "right")
# How hard the position fit pulls each joint to its target: the pelvis, spine and collars are placed
# from other keypoints, not measured, so a softer pull lets them give a little. Balancing_for_IK.trc,
# mean error of the measured / placed joints: 0.3 -> 9.8 / 10.4 mm; 0.5 -> 10.1 / 6.6 mm; 1.0 ->
# 10.4 / 3.3 mm; 0 -> 9.4 / 23 mm with the collars turned up to 53 degrees.
PLACED_JOINT_WEIGHT = 0.3
TARGET_WEIGHTS = np.array(
    [PLACED_JOINT_WEIGHT if name in TRUNK_JOINTS + ("pelvis",) else 1.0 for name in skeleton.JOINT_NAMES]
)


class Solution(NamedTuple):
    """One track's solved motion in the keypoints' frame."""

    global_rotations: np.ndarray  # (N, 24, 3, 3)
    local_rotations: np.ndarray  # (N, 24, 3, 3), relative to each joint's parent
    root: np.ndarray  # (N, 3) the pelvis joint


def unit(vectors: np.ndarray) -> np.ndarray:
    """Vectors scaled to length 1 along the last axis (zero vectors stay zero)."""
    length = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(length > 1e-12, length, 1.0)


def frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal frames (..., 3, 3) whose first column is `primary`, second in the primary/secondary plane."""
    primary, secondary = np.broadcast_arrays(primary, secondary)
    first = unit(primary)
    second = secondary - np.sum(secondary * first, axis=-1, keepdims=True) * first
    # A secondary parallel to the primary leaves the twist undefined: any perpendicular will do.
    degenerate = np.linalg.norm(second, axis=-1, keepdims=True) < 1e-9
    helper = np.where(np.abs(first[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    second = np.where(degenerate, np.cross(first, helper), second)
    second = unit(second)
    return np.stack([first, second, np.cross(first, second)], axis=-1)


def aligning_rotation(
    primary: np.ndarray, secondary: np.ndarray, rest_primary: np.ndarray, rest_secondary: np.ndarray
) -> np.ndarray:
    """The rotation taking the rest frame (rest_primary, rest_secondary) onto the posed one."""
    posed = frame(primary, secondary)
    rest = frame(rest_primary, rest_secondary)
    return posed @ np.swapaxes(rest, -1, -2)


def available(keypoints: np.ndarray) -> np.ndarray:
    """(K,) which keypoints the source measures at all (not NaN in every frame)."""
    return ~np.all(np.isnan(keypoints), axis=tuple(range(keypoints.ndim - 2)) + (-1,))


def rest_keypoints(offsets: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(1, K, 3) where each keypoint lies on the rest skeleton; NaN where the source lacks it."""
    identity = np.broadcast_to(np.eye(3), (skeleton.NUM_JOINTS, 3, 3))
    joints = skeleton.forward_kinematics(identity, offsets, offsets[0])
    points = np.full((landmarks.NUM_KEYPOINTS, 3), np.nan)
    for side in SIDES:
        for name in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
            points[KEY[f"{side}_{name}"]] = joints[JOINT[f"{side}_{name}"]]
        points[KEY[f"{side}_toe"]] = joints[JOINT[f"{side}_foot"]]
    for name, (joint, offset) in REST_EXTRAS.items():
        points[KEY[name]] = joints[JOINT[joint]] + np.array(offset)
    points[KEY["neck"]] = joints[JOINT["neck"]]
    points[KEY["head_top"]] = joints[JOINT["neck"]] + (joints[JOINT["head"]] - joints[JOINT["neck"]]) / (
        HEAD_CENTRE_FRACTION
    )
    points[~present] = np.nan
    return points[None]


def point(keypoints: np.ndarray, name: str) -> np.ndarray:
    """(N, 3) one keypoint over time."""
    return keypoints[:, KEY[name]]


def neck_position(keypoints: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(N, 3) the neck joint: the neck marker, else derived from shoulders and hips."""
    if present[KEY["neck"]]:
        return point(keypoints, "neck")
    shoulders = (point(keypoints, "left_shoulder") + point(keypoints, "right_shoulder")) / 2.0
    hips = (point(keypoints, "left_hip") + point(keypoints, "right_hip")) / 2.0
    return shoulders + NECK_ABOVE_SHOULDERS * (shoulders - hips)


def head_position(keypoints: np.ndarray, present: np.ndarray, neck: np.ndarray) -> np.ndarray | None:
    """(N, 3) the head joint (centre of the head), or None when nothing measures it."""
    if present[KEY["left_ear"]] and present[KEY["right_ear"]]:
        return (point(keypoints, "left_ear") + point(keypoints, "right_ear")) / 2.0
    if present[KEY["head_top"]]:
        return neck + HEAD_CENTRE_FRACTION * (point(keypoints, "head_top") - neck)
    return None


def bend_reference(
    upper: np.ndarray, lower: np.ndarray, fallback: np.ndarray, side: np.ndarray | None = None
) -> np.ndarray:
    """The twist reference of a limb: its bending plane's normal, or `fallback` while nearly straight.
    side: the direction a forward bend's normal takes (default the fallback's)."""
    normal = np.cross(unit(upper), unit(lower))
    sine = np.linalg.norm(normal, axis=-1, keepdims=True)
    low, high = BEND_BLEND
    weight = np.clip((sine - low) / (high - low), 0.0, 1.0)
    # Elbows and knees bend one way: a normal against `side` is an overstretched joint (or
    # noise), read as a bend about the same axis. Over a clip the side is chosen per bent stretch
    # (hinge_signs), so that a bent limb whose normal turns across it keeps its twist.
    side = fallback if side is None else side
    agreement = np.sum(unit(normal) * unit(side), axis=-1, keepdims=True)
    if normal.ndim == 2 and normal.shape[0] > 1:
        signed = unit(normal) * hinge_signs(agreement[:, 0], weight[:, 0])[:, None]
    else:
        signed = unit(normal) * np.clip(agreement / SIGN_BLEND, -1.0, 1.0)
    return weight * signed + (1.0 - weight) * unit(fallback)


def hinge_signs(agreement: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(N,) +1 or -1 per frame: which side of its bending plane a limb's hinge axis lies on.

    Each frame prefers the side agreeing with the straight-limb reference (cost (1 - s a) / 2);
    changing side costs HINGE_SWITCH_COST times the bend weight, so the axis turns over only where
    the limb is (nearly) straight. Turning it while bent spun the upper arm or thigh half a turn in
    one frame (SinglePerson cam02/cam04: 170-180 degrees, which the smoother spread into the wrists)."""
    frames = agreement.shape[0]
    signs = np.array([1.0, -1.0])
    unary = (1.0 - np.nan_to_num(agreement)[:, None] * signs) / 2.0  # (N, 2)
    switch = HINGE_SWITCH_COST * np.nan_to_num(np.maximum(weight[1:], weight[:-1]))  # (N-1,)
    total = unary[0].copy()
    back = np.zeros((frames, 2), dtype=np.int64)
    for index in range(1, frames):
        stay, change = total, total[::-1] + switch[index - 1]
        back[index] = np.where(stay <= change, [0, 1], [1, 0])
        total = np.minimum(stay, change) + unary[index]
    chosen = np.zeros(frames, dtype=np.int64)
    chosen[-1] = int(np.argmin(total))
    for index in range(frames - 1, 0, -1):
        chosen[index - 1] = back[index, chosen[index]]
    return signs[chosen]


def pose(keypoints: np.ndarray, offsets: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(global rotations (N, 24, 3, 3), joint positions (N, 24, 3)) for keypoints already in (N, K, 3)."""
    frames = keypoints.shape[0]
    rotations = np.broadcast_to(np.eye(3), (frames, skeleton.NUM_JOINTS, 3, 3)).copy()
    positions = np.full((frames, skeleton.NUM_JOINTS, 3), np.nan)
    rest = rest_keypoints(offsets, present)
    rest_neck = neck_position(rest, present)[0]

    def place(joint: str, rotation: np.ndarray) -> None:
        rotations[:, JOINT[joint]] = rotation

    def child_position(joint: str) -> np.ndarray:
        """A joint's position from its parent's placed position and rotation (forward kinematics)."""
        parent = skeleton.PARENTS[JOINT[joint]]
        return positions[:, parent] + np.einsum("nij,j->ni", rotations[:, parent], offsets[JOINT[joint]])

    # Pelvis: hip line and trunk direction; the pelvis sits where the rest hip offsets put it.
    left_hip, right_hip = point(keypoints, "left_hip"), point(keypoints, "right_hip")
    hip_centre = (left_hip + right_hip) / 2.0
    neck = neck_position(keypoints, present)
    rest_hip_centre = (rest[0, KEY["left_hip"]] + rest[0, KEY["right_hip"]]) / 2.0
    place(
        "pelvis",
        aligning_rotation(
            left_hip - right_hip,
            neck - hip_centre,
            offsets[JOINT["left_hip"]] - offsets[JOINT["right_hip"]],
            rest_neck - rest_hip_centre,
        ),
    )
    hip_mean_offset = (offsets[JOINT["left_hip"]] + offsets[JOINT["right_hip"]]) / 2.0
    positions[:, 0] = hip_centre - np.einsum("nij,j->ni", rotations[:, 0], hip_mean_offset)
    positions[:, JOINT["left_hip"]] = left_hip
    positions[:, JOINT["right_hip"]] = right_hip

    # Spine: spine1 hangs off the pelvis; spine2 and spine3 lie on the line from spine1 to the neck.
    # The twist turns from the hip line to the shoulder line on the way up.
    hip_line = unit(left_hip - right_hip)
    shoulder_line = unit(point(keypoints, "left_shoulder") - point(keypoints, "right_shoulder"))
    rest_hip_line = unit(rest[0, KEY["left_hip"]] - rest[0, KEY["right_hip"]])
    rest_shoulder_line = unit(rest[0, KEY["left_shoulder"]] - rest[0, KEY["right_shoulder"]])
    positions[:, JOINT["spine1"]] = child_position("spine1")
    direction = unit(neck - positions[:, JOINT["spine1"]])
    positions[:, JOINT["spine2"]] = positions[:, JOINT["spine1"]] + direction * np.linalg.norm(
        offsets[JOINT["spine2"]]
    )
    positions[:, JOINT["spine3"]] = positions[:, JOINT["spine2"]] + direction * np.linalg.norm(
        offsets[JOINT["spine3"]]
    )
    positions[:, JOINT["neck"]] = neck
    for joint, child, blend in (
        ("spine1", "spine2", 1 / 3),
        ("spine2", "spine3", 2 / 3),
        ("spine3", "neck", 1),
    ):
        place(
            joint,
            aligning_rotation(
                positions[:, JOINT[child]] - positions[:, JOINT[joint]],
                (1 - blend) * hip_line + blend * shoulder_line,
                offsets[JOINT[child]],
                (1 - blend) * rest_hip_line + blend * rest_shoulder_line,
            ),
        )

    # Collars hang off spine3; each turns towards its shoulder, twisted by the chest's up axis.
    for side in SIDES:
        collar, shoulder = f"{side}_collar", f"{side}_shoulder"
        positions[:, JOINT[collar]] = child_position(collar)
        positions[:, JOINT[shoulder]] = point(keypoints, shoulder)
        place(
            collar,
            aligning_rotation(
                positions[:, JOINT[shoulder]] - positions[:, JOINT[collar]],
                rotations[:, JOINT["spine3"], :, 1],
                offsets[JOINT[shoulder]],
                np.array([0.0, 1.0, 0.0]),
            ),
        )

    # Neck and head: ears give the head's lateral axis; without ears the top of the head gives its up.
    head = head_position(keypoints, present, neck)
    if head is not None:
        rest_head = head_position(rest, present, rest_neck[None])
        assert rest_head is not None
        positions[:, JOINT["head"]] = head
        ears = present[KEY["left_ear"]] and present[KEY["right_ear"]]
        lateral = point(keypoints, "left_ear") - point(keypoints, "right_ear") if ears else shoulder_line
        rest_lateral = rest[0, KEY["left_ear"]] - rest[0, KEY["right_ear"]] if ears else rest_shoulder_line
        place("neck", aligning_rotation(head - neck, lateral, offsets[JOINT["head"]], rest_lateral))
        if present[KEY["nose"]]:
            nose, rest_nose = point(keypoints, "nose"), rest[0, KEY["nose"]]
            if ears:
                secondary, rest_secondary = lateral, rest_lateral
            else:
                secondary, rest_secondary = head - neck, rest_head[0] - rest_neck
            place("head", aligning_rotation(nose - head, secondary, rest_nose - rest_head[0], rest_secondary))
        else:
            place("head", rotations[:, JOINT["neck"]])
    else:
        place("neck", rotations[:, JOINT["spine3"]])
        place("head", rotations[:, JOINT["neck"]])
        positions[:, JOINT["head"]] = child_position("head")

    for side in SIDES:
        solve_arm(side, keypoints, rest, offsets, present, rotations, positions)
        solve_leg(side, keypoints, rest, offsets, present, rotations, positions)
    return rotations, positions


def solve_arm(
    side: str,
    keypoints: np.ndarray,
    rest: np.ndarray,
    offsets: np.ndarray,
    present: np.ndarray,
    rotations: np.ndarray,
    positions: np.ndarray,
) -> None:
    """Shoulder, elbow, wrist and hand rotations of one arm, in place."""
    shoulder, elbow, wrist = (point(keypoints, f"{side}_{name}") for name in ("shoulder", "elbow", "wrist"))
    chest_forward = rotations[:, JOINT["spine3"], :, 2]
    upper, lower = elbow - shoulder, wrist - elbow
    reference = bend_reference(upper, lower, np.cross(unit(upper), chest_forward))
    rest_upper, rest_lower = offsets[JOINT[f"{side}_elbow"]], offsets[JOINT[f"{side}_wrist"]]
    rest_reference = bend_reference(rest_upper, rest_lower, np.cross(unit(rest_upper), [0.0, 0.0, 1.0]))
    rotations[:, JOINT[f"{side}_shoulder"]] = aligning_rotation(upper, reference, rest_upper, rest_reference)
    rotations[:, JOINT[f"{side}_elbow"]] = aligning_rotation(lower, reference, rest_lower, rest_reference)
    positions[:, JOINT[f"{side}_elbow"]] = elbow
    positions[:, JOINT[f"{side}_wrist"]] = wrist
    hand_joint = JOINT[f"{side}_hand"]
    if present[KEY[f"{side}_index"]] and present[KEY[f"{side}_pinky"]]:
        index, pinky = point(keypoints, f"{side}_index"), point(keypoints, f"{side}_pinky")
        rest_palm = rest[0, KEY[f"{side}_index"]] - rest[0, KEY[f"{side}_pinky"]]
        hand = (index + pinky) / 2.0
        rotations[:, JOINT[f"{side}_wrist"]] = aligning_rotation(
            hand - wrist, index - pinky, offsets[hand_joint], rest_palm
        )
        positions[:, hand_joint] = hand
    else:
        rotations[:, JOINT[f"{side}_wrist"]] = rotations[:, JOINT[f"{side}_elbow"]]
        positions[:, hand_joint] = wrist + np.einsum(
            "nij,j->ni", rotations[:, JOINT[f"{side}_wrist"]], offsets[hand_joint]
        )
    rotations[:, hand_joint] = rotations[:, JOINT[f"{side}_wrist"]]


def knee_fallback(foot_forward: np.ndarray, upper: np.ndarray, hip_line: np.ndarray) -> np.ndarray:
    """(N, 3) a straight leg's twist reference: the foot's (foot x thigh) while it lies within
    FOOT_TWIST_COSINE of the hip line, blending into the hip line as the foot turns further (a foot
    turned more than a quarter turn from the hips is a misread foot, or one the knee turns away from)."""
    thigh = unit(upper)
    foot = unit(np.cross(unit(foot_forward), thigh))
    hips = unit(hip_line - np.sum(hip_line * thigh, axis=-1, keepdims=True) * thigh)
    weight = np.clip(np.sum(foot * hips, axis=-1, keepdims=True) / FOOT_TWIST_COSINE, 0.0, 1.0)
    return unit(weight * foot + (1.0 - weight) * hips)


def solve_leg(
    side: str,
    keypoints: np.ndarray,
    rest: np.ndarray,
    offsets: np.ndarray,
    present: np.ndarray,
    rotations: np.ndarray,
    positions: np.ndarray,
) -> None:
    """Hip, knee, ankle and foot rotations of one leg, in place."""
    hip, knee, ankle = (point(keypoints, f"{side}_{name}") for name in ("hip", "knee", "ankle"))
    rest_ankle = rest[0, KEY[f"{side}_ankle"]]
    has_toe, has_heel = present[KEY[f"{side}_toe"]], present[KEY[f"{side}_heel"]]
    if has_toe and has_heel:
        toe, heel = point(keypoints, f"{side}_toe"), point(keypoints, f"{side}_heel")
        foot_forward = toe - heel
        rest_foot_forward = rest[0, KEY[f"{side}_toe"]] - rest[0, KEY[f"{side}_heel"]]
    else:
        foot_forward = rotations[:, JOINT["pelvis"], :, 2]
        rest_foot_forward = np.array([0.0, 0.0, 1.0])
    upper, lower = knee - hip, ankle - knee
    # A knee bends forwards about the hip line: its side is read against that, not the foot (MultiPerson
    # cam02 person 2's knee was read bent 70 degrees backwards with the thigh twisted half a turn, where
    # about the hips it bent 59 degrees forwards).
    hip_line = point(keypoints, "left_hip") - point(keypoints, "right_hip")
    reference = bend_reference(upper, lower, knee_fallback(foot_forward, upper, hip_line), hip_line)
    rest_upper, rest_lower = offsets[JOINT[f"{side}_knee"]], offsets[JOINT[f"{side}_ankle"]]
    rest_reference = bend_reference(
        rest_upper, rest_lower, np.cross(unit(rest_foot_forward), unit(rest_upper))
    )
    rotations[:, JOINT[f"{side}_hip"]] = aligning_rotation(upper, reference, rest_upper, rest_reference)
    rotations[:, JOINT[f"{side}_knee"]] = aligning_rotation(lower, reference, rest_lower, rest_reference)
    positions[:, JOINT[f"{side}_knee"]] = knee
    positions[:, JOINT[f"{side}_ankle"]] = ankle
    foot_joint = JOINT[f"{side}_foot"]
    if has_toe:
        toe = point(keypoints, f"{side}_toe")
        rest_toe = rest[0, KEY[f"{side}_toe"]]
        # The ankle's twist follows the leg's hinge axis: the heel lies too close to the ankle (3-5 cm)
        # for the heel-ankle direction to be steady; heel->toe already turns the straight leg.
        rotations[:, JOINT[f"{side}_ankle"]] = aligning_rotation(
            toe - ankle, reference, rest_toe - rest_ankle, rest_reference
        )
        positions[:, foot_joint] = toe
    else:
        rotations[:, JOINT[f"{side}_ankle"]] = rotations[:, JOINT[f"{side}_knee"]]
        positions[:, foot_joint] = ankle + np.einsum(
            "nij,j->ni", rotations[:, JOINT[f"{side}_ankle"]], offsets[foot_joint]
        )
    rotations[:, foot_joint] = rotations[:, JOINT[f"{side}_ankle"]]


def solve(
    keypoints: np.ndarray,
    offsets: np.ndarray,
    confidence: np.ndarray | None = None,
    iterations: int = fitting.ITERATIONS,
) -> Solution:
    """Rotations and pelvis positions from keypoints (N, K, 3) named per landmarks.py.

    The analytic pose matches bone directions; the position fit then brings the joints onto their
    targets, each pulled by TARGET_WEIGHTS times its keypoints' `confidence` (N, K) when given.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    rotations, targets = pose(keypoints, offsets, available(keypoints))
    local, root = fitting.fit(
        skeleton.global_to_local(rotations),
        offsets,
        targets[:, 0],
        targets,
        target_weights(keypoints, confidence),
        iterations,
    )
    return Solution(skeleton.local_to_global(local), local, root)


def target_weights(keypoints: np.ndarray, confidence: np.ndarray | None) -> np.ndarray:
    """(N, 24) each joint's pull in the position fit: its weight times its least confident source keypoint."""
    weights = np.broadcast_to(TARGET_WEIGHTS, keypoints.shape[:1] + TARGET_WEIGHTS.shape).copy()
    if confidence is None:
        return weights
    present = available(keypoints)
    for index, name in enumerate(skeleton.JOINT_NAMES):
        sources = [
            KEY[key] for key in JOINT_SOURCES.get(name, ("left_hip", "right_hip")) if present[KEY[key]]
        ]
        if sources:
            weights[:, index] *= np.min(confidence[:, sources], axis=1)
    return weights


def estimate_offsets(
    keypoints: np.ndarray, confidence: np.ndarray | None = None, threshold: float = 0.5
) -> np.ndarray:
    """(24, 3) the actor's rest offsets: median bone lengths over confident frames, along the standard directions.

    `confidence` is (N, K) per keypoint (None: all measured keypoints count).
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    present = available(keypoints)
    if confidence is None:
        confident = ~np.any(np.isnan(keypoints), axis=-1)
    else:
        confident = (np.asarray(confidence) >= threshold) & ~np.any(np.isnan(keypoints), axis=-1)
    standard = skeleton.STANDARD_OFFSETS
    offsets = standard.copy()

    def frames_with(names: tuple[str, ...]) -> np.ndarray:
        used = [KEY[name] for name in names if present[KEY[name]]]
        return np.all(confident[:, used], axis=1) if used else np.zeros(len(keypoints), dtype=bool)

    def median_length(vectors: np.ndarray, mask: np.ndarray) -> float | None:
        lengths = np.linalg.norm(vectors[mask], axis=-1)
        lengths = lengths[np.isfinite(lengths)]
        return float(np.median(lengths)) if lengths.size else None

    # Hips from the hip width; the trunk (spine, collars) scaled by the hip-to-neck distance.
    hips = frames_with(("left_hip", "right_hip"))
    hip_width = median_length(point(keypoints, "left_hip") - point(keypoints, "right_hip"), hips)
    if hip_width is not None:
        for joint in ("left_hip", "right_hip"):
            offsets[JOINT[joint]] = (
                standard[JOINT[joint]] * (hip_width / 2.0) / abs(standard[JOINT[joint], 0])
            )
    hip_centre = (point(keypoints, "left_hip") + point(keypoints, "right_hip")) / 2.0
    trunk = median_length(neck_position(keypoints, present) - hip_centre, frames_with(JOINT_SOURCES["neck"]))
    rest = rest_keypoints(standard, present)
    rest_trunk = float(
        np.linalg.norm(
            neck_position(rest, present)[0] - (rest[0, KEY["left_hip"]] + rest[0, KEY["right_hip"]]) / 2
        )
    )
    trunk_scale = trunk / rest_trunk if trunk is not None else 1.0
    for joint in TRUNK_JOINTS + ("neck",):
        offsets[JOINT[joint]] = standard[JOINT[joint]] * trunk_scale

    # Every measured bone: the median distance between the placed joint and its parent.
    _, positions = pose(keypoints, offsets, present)
    for joint, sources in JOINT_SOURCES.items():
        if joint in TRUNK_JOINTS:
            continue
        if joint == "head":
            # The head is measured from the ears or from the top of the head, whichever the source has.
            if head_position(keypoints, present, positions[:, JOINT["neck"]]) is None:
                continue
        elif not all(present[KEY[name]] for name in sources if name != "neck"):
            continue
        index = JOINT[joint]
        parent = skeleton.PARENTS[index]
        parent_name = skeleton.JOINT_NAMES[parent]
        mask = frames_with(sources + JOINT_SOURCES.get(parent_name, ("left_hip", "right_hip")))
        length = median_length(positions[:, index] - positions[:, parent], mask)
        if length is not None:
            offsets[index] = standard[index] / np.linalg.norm(standard[index]) * length
    legs = [JOINT[name] for name in ("left_knee", "left_ankle", "right_knee", "right_ankle")]
    leg_scale = np.linalg.norm(offsets[legs], axis=-1).sum() / np.linalg.norm(standard[legs], axis=-1).sum()
    offsets[0] = standard[0] * leg_scale
    return offsets
