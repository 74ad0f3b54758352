"""Knees and elbows as hinges: none bent backwards past a small anatomical allowance, nor folded past its range.

A hinge's bend is the angle of its lower bone from the upper bone's direction in its flexion plane,
the plane across the hinge's axis; a part of the lower bone along the axis (a sideways bend) is left
as it is. Each hinge is read about its own axis, carried by the upper bone (the rig's: the axis the
rest pose flexes about, which turns with the thigh's or upper arm's twist), and a knee also about the
hip line (left - right hip, as the pose fit and the bench read it), since a thigh twisted half a turn
bends its shank backwards however its own axis reads. An elbow is not read about the shoulder line:
the upper arm twists too far for that (the real punch in tests/data bends 38 degrees "backwards" about
it). Where a bend goes backwards past HYPEREXTENSION_DEG, or (about its own axis) folds past
MAX_FLEXION_DEG, the lower bone turns about the axis, through the joint, to the nearer end of the allowed
range round the circle (a forearm folded 177 degrees over the back of its upper arm is taken to the most
folded bend, not half a turn forwards). The bone below it (ankle, wrist)
keeps its orientation in the world, so a foot stays flat on the floor. numpy only (the exporter runs it).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mocapd import skeleton

JOINT = skeleton.JOINT_INDEX
# How far past straight a knee or an elbow may go (degrees): knees extend 0-5 degrees past straight,
# elbows 0-10; kept under the 5 degrees the bench counts as bent backwards.
HYPEREXTENSION_DEG = 3.0
# How far a knee and an elbow fold (degrees, about their own axis): a deep squat folds a knee 150-160,
# an elbow stops at 140-150 (the real motions in tests/data reach 154 and 143).
MAX_FLEXION_DEG = {"knee": 160.0, "elbow": 150.0}
# Passes over a knee's two readings (alternating projections onto both allowed sets).
ROUNDS = 2
# The rest pose faces +Z: an elbow flexes its forearm forwards, a knee its shank backwards.
FORWARD = np.array([0.0, 0.0, 1.0])


class Hinge(NamedTuple):
    """One hinge: its upper, middle and lower joints; the joints whose difference is the body's side
    line it is also read about (None: only its own axis); the sign of a bend about that line."""

    upper: str
    middle: str
    lower: str
    side_line: tuple[str, str] | None
    sign: float


HINGES = tuple(
    Hinge(f"{side}_{upper}", f"{side}_{middle}", f"{side}_{lower}", line, sign)
    for upper, middle, lower, line, sign in (
        ("hip", "knee", "ankle", ("left_hip", "right_hip"), 1.0),
        ("shoulder", "elbow", "wrist", None, -1.0),
    )
    for side in ("left", "right")
)


def _unit(vectors: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(length > 1e-12, length, 1.0)


def _axis_rotations(axes: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations by `angles` (N,) radians about unit `axes` (N, 3) (Rodrigues)."""
    cross = np.zeros(axes.shape[:-1] + (3, 3))
    cross[..., 0, 1], cross[..., 0, 2] = -axes[..., 2], axes[..., 1]
    cross[..., 1, 0], cross[..., 1, 2] = axes[..., 2], -axes[..., 0]
    cross[..., 2, 0], cross[..., 2, 1] = -axes[..., 1], axes[..., 0]
    sine, cosine = np.sin(angles)[..., None, None], np.cos(angles)[..., None, None]
    return np.eye(3) + sine * cross + (1.0 - cosine) * (cross @ cross)


def rest_axis(hinge: Hinge, offsets: np.ndarray) -> np.ndarray:
    """(3,) the hinge's own axis in its upper joint's frame: square to the upper bone and to the rest
    pose's forward, the way a positive turn about it bends the joint."""
    along = _unit(offsets[JOINT[hinge.middle]])
    return _unit(np.cross(along, FORWARD) if hinge.sign < 0 else np.cross(FORWARD, along))


def axes(
    hinge: Hinge, global_rotations: np.ndarray, positions: np.ndarray, offsets: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(upper bone direction, axis)], each (N, 3), one per reading of the hinge: its own axis and, for
    a knee, the side line made square to the upper bone; a positive turn about an axis bends it."""
    along = _unit(positions[:, JOINT[hinge.middle]] - positions[:, JOINT[hinge.upper]])
    result = [(along, global_rotations[:, JOINT[hinge.upper]] @ rest_axis(hinge, offsets))]
    if hinge.side_line is not None:
        line = positions[:, JOINT[hinge.side_line[0]]] - positions[:, JOINT[hinge.side_line[1]]]
        line = _unit(line - np.sum(line * along, axis=-1, keepdims=True) * along)
        result.append((along, hinge.sign * line))
    return result


def bend_about(bone: np.ndarray, along: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """(N,) degrees the lower bone (N, 3) turns from `along` about `axis` in the plane across it."""
    forward = np.cross(axis, along)
    return np.degrees(np.arctan2(np.sum(bone * forward, axis=-1), np.sum(bone * along, axis=-1)))


def bends(local_rotations: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(N, 4, 2) each hinge's bend (degrees, HINGES' order) about its own axis and about the side line
    (NaN for elbows): 0 straight, positive bent the way it bends, negative backwards, +-180 folded."""
    global_rotations = skeleton.local_to_global(local_rotations)
    positions = skeleton.forward_kinematics(
        global_rotations, offsets, np.zeros((local_rotations.shape[0], 3))
    )
    result = np.full((local_rotations.shape[0], len(HINGES), 2), np.nan)
    for index, hinge in enumerate(HINGES):
        bone = positions[:, JOINT[hinge.lower]] - positions[:, JOINT[hinge.middle]]
        for reading, (along, axis) in enumerate(axes(hinge, global_rotations, positions, offsets)):
            result[:, index, reading] = bend_about(bone, along, axis)
    return result


def corrections(
    bend: np.ndarray, limit: float = HYPEREXTENSION_DEG, maximum: float | None = None
) -> np.ndarray:
    """(N,) the turn (degrees, positive further forward) that brings each bend (N,) within the allowed
    range [-limit, maximum] to whichever of its ends is nearer round the circle (maximum None: no upper
    end, up to -limit); 0 where it is inside."""
    up = np.mod(-limit - bend, 360.0)  # forwards to the limit
    if maximum is None:
        return np.where(bend < -limit, up, 0.0)
    down = np.mod(bend - maximum, 360.0)  # backwards to the most folded bend
    outside = (bend < -limit) | (bend > maximum)
    return np.where(outside, np.where(up <= down, up, -down), 0.0)


def limit(
    local_rotations: np.ndarray, offsets: np.ndarray, hyperextension_deg: float = HYPEREXTENSION_DEG
) -> np.ndarray:
    """(N, 24, 3, 3) local rotations with every knee and elbow within the allowance (module docstring);
    rows already within it are returned unchanged."""
    local = np.array(local_rotations, dtype=np.float64, copy=True)
    # The pose is worked out again only after a reading turned some rows (most motions need none).
    posed: tuple[np.ndarray, np.ndarray] | None = None
    for hinge in HINGES:
        middle, lower = JOINT[hinge.middle], JOINT[hinge.lower]
        # Each reading in turn, on the bone the previous one left, twice over: the two axes are near
        # each other unless the thigh is twisted far, where both hold only near straight (the side
        # line's turn to its limit leaves the other reading at most that far the other way).
        readings = 1 if hinge.side_line is None else 2
        for reading in [index % readings for index in range(readings * ROUNDS)]:
            if posed is None:
                global_rotations = skeleton.local_to_global(local)
                posed = (
                    global_rotations,
                    skeleton.forward_kinematics(global_rotations, offsets, np.zeros((local.shape[0], 3))),
                )
            global_rotations, positions = posed
            along, axis = axes(hinge, global_rotations, positions, offsets)[reading]
            bone = positions[:, lower] - positions[:, middle]
            # About the side line a bend is only ever brought up to the limit: a bend folded past the
            # maximum about it is the hinge's own axis turned over (a thigh twisted half a turn).
            maximum = MAX_FLEXION_DEG[hinge.middle.split("_")[1]] if reading == 0 else None
            turn = corrections(bend_about(bone, along, axis), hyperextension_deg, maximum)
            rows = np.flatnonzero(turn != 0.0)
            if not rows.size:
                continue
            rotation = _axis_rotations(axis[rows], np.radians(turn[rows]))
            middle_global = rotation @ global_rotations[rows, middle]
            parent = global_rotations[rows, skeleton.PARENTS[middle]]
            local[rows, middle] = np.swapaxes(parent, -1, -2) @ middle_global
            # The bone below keeps its orientation in the world (the foot flat, the hand where it pointed).
            local[rows, lower] = np.swapaxes(middle_global, -1, -2) @ global_rotations[rows, lower]
            posed = None
    return local
