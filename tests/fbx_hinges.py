"""Test and bench helper: each knee's and elbow's bend about its own hinge, read from an FBX file's bones.

The hinge's axis is fixed in the upper bone's node (thigh, upper arm: it turns with that bone's twist),
square to the bone and to the body's forward in the file's rest pose (its static node transforms). The
bend is the lower bone's turn from the upper bone's line about that axis: positive the way the joint
flexes (an elbow brings the forearm to the front of the body, a knee the shank to the back), negative
bent backwards past straight. Reads node transforms only, nothing of mocapd's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np


class Hinge(NamedTuple):
    """A hinge's upper, middle and lower joints, and +1 if it flexes towards the front (-1: the back)."""

    upper: str
    middle: str
    lower: str
    flexes: float


HINGES = {
    f"{side}_{middle}": Hinge(f"{side}_{upper}", f"{side}_{middle}", f"{side}_{lower}", flexes)
    for side in ("left", "right")
    for upper, middle, lower, flexes in (("hip", "knee", "ankle", -1.0), ("shoulder", "elbow", "wrist", 1.0))
}
# The rest pose's body: its left-right line and its up line, from which its forward is read.
LATERAL = ("left_hip", "right_hip")
UP = ("pelvis", "neck")


def unit(vectors: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(length > 1e-12, length, 1.0)


def matrix(transform: Any) -> np.ndarray:
    """(4, 4) homogeneous matrix of a ufbx Matrix (columns c0..c3)."""
    result = np.eye(4)
    for column in range(4):
        result[:3, column] = list(getattr(transform, f"c{column}"))
    return result


def rest_forward(rest_world: dict[str, np.ndarray]) -> np.ndarray:
    """(3,) the rest pose's forward: square to its left-right line and its up line (left x up)."""
    lateral = rest_world[LATERAL[0]][:3, 3] - rest_world[LATERAL[1]][:3, 3]
    up = rest_world[UP[1]][:3, 3] - rest_world[UP[0]][:3, 3]
    return unit(np.cross(lateral, up))


def hinge_frame(hinge: Hinge, rest_world: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(along, flexion) unit vectors in the upper bone's node axes: the upper bone's line and the way a
    flexing lower bone leaves it (square to it, in the plane of the bone and the rest pose's forward)."""
    upper = rest_world[hinge.upper]
    bone = rest_world[hinge.middle][:3, 3] - upper[:3, 3]
    along = unit(upper[:3, :3].T @ bone)
    towards = upper[:3, :3].T @ (hinge.flexes * rest_forward(rest_world))
    return along, unit(towards - (towards @ along) * along)


def bends(
    rest_world: dict[str, np.ndarray], local: dict[str, np.ndarray], hinges: Sequence[str] = tuple(HINGES)
) -> dict[str, np.ndarray]:
    """{hinge: (F,) degrees} from the rest pose's world matrices (4, 4) and each frame's node-to-parent
    matrices (F, 4, 4) of the hinges' middle and lower joints: 0 straight, positive flexed, negative
    bent backwards; the lower bone's part along the hinge's axis (a sideways bend) is left out."""
    result = {}
    for name in hinges:
        hinge = HINGES[name]
        along, flexion = hinge_frame(hinge, rest_world)
        # The lower bone in the upper bone's axes: the middle node's local rotation turns the lower
        # joint's offset from it (its own translation in the middle node's axes).
        bone = np.einsum("fij,fj->fi", local[hinge.middle][:, :3, :3], local[hinge.lower][:, :3, 3])
        result[name] = np.degrees(np.arctan2(bone @ flexion, bone @ along))
    return result


# ufbx objects (lists, stacks, evaluated scenes) do not keep what they point into alive, and freeing
# them in a collection cycle crashes (tests/ufbx_scenes.py): every one is kept until the process ends.
KEPT: list[Any] = []


def sample(scene: Any, times: Sequence[float], names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(F, N, 4, 4) node-to-world and node-to-parent matrices of the nodes `names` at `times` (seconds
    on the first animation stack's clock)."""
    import ufbx

    stacks = list(scene.anim_stacks)
    KEPT.append(stacks)
    world = np.empty((len(times), len(names), 4, 4))
    local = np.empty_like(world)
    for frame, time in enumerate(times):
        evaluated = ufbx.evaluate_scene(scene, stacks[0].anim, time)
        nodes = list(evaluated.nodes)
        KEPT.extend((evaluated, nodes))
        by_name = {node.name: node for node in nodes}
        for index, name in enumerate(names):
            world[frame, index] = matrix(by_name[name].node_to_world)
            local[frame, index] = matrix(by_name[name].node_to_parent)
    return world, local


def rest(scene: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
    """{name: (4, 4)} the rest pose's node-to-world matrices: the file's static node transforms."""
    nodes = list(scene.nodes)
    KEPT.append(nodes)
    return {node.name: matrix(node.node_to_world) for node in nodes if node.name in names}
