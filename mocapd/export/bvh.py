"""BVH writer: the skeleton in the preset's names, offsets and positions in centimetres, ZXY Euler rotations.

Centimetres are what MotionBuilder, Maya and most BVH readers expect. Frame Time is 1 / fps. BVH has no
start time: its first frame is the person's first, and the manifest says when that is in the video.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from mocapd.export.motion import ExportMotion

CENTIMETRES_PER_METRE = 100.0
# Channel order: BVH applies the listed rotations left to right, so R = Rz @ Rx @ Ry.
ROTATION_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")
EULER_ORDER = "ZXY"
# An end site continues a leaf joint's bone by this share of the bone's own length.
END_SITE_SHARE = 0.5


def euler_angles(rotations: np.ndarray) -> np.ndarray:
    """(N, J, 3, 3) -> (N, J, 3) ZXY angles in degrees, unwrapped over time so curves do not jump by 360."""
    frames, joints = rotations.shape[:2]
    angles = Rotation.from_matrix(rotations.reshape(-1, 3, 3)).as_euler(EULER_ORDER, degrees=True)
    return np.unwrap(angles.reshape(frames, joints, 3), period=360.0, axis=0)


def hierarchy_lines(motion: ExportMotion) -> list[str]:
    """The HIERARCHY section."""
    children: dict[int, list[int]] = {joint: [] for joint in range(motion.joint_count)}
    for joint, parent in enumerate(motion.parents):
        if parent >= 0:
            children[parent].append(joint)
    lines = ["HIERARCHY"]

    def write(joint: int, depth: int) -> None:
        indent = "\t" * depth
        parent = motion.parents[joint]
        # A moving joint's (the root's; UE's pelvis) position is carried by its position channels, so its
        # OFFSET is zero: readers that add the channels to the offset and readers that replace it agree.
        moving = joint in motion.moving
        offset = np.zeros(3) if moving else motion.offsets[joint] * CENTIMETRES_PER_METRE
        lines.append(f"{indent}{'ROOT' if parent < 0 else 'JOINT'} {motion.names[joint]}")
        lines.append(f"{indent}{{")
        lines.append(f"{indent}\tOFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}")
        if moving:
            lines.append(f"{indent}\tCHANNELS 6 Xposition Yposition Zposition {' '.join(ROTATION_CHANNELS)}")
        else:
            lines.append(f"{indent}\tCHANNELS 3 {' '.join(ROTATION_CHANNELS)}")
        for child in children[joint]:
            write(child, depth + 1)
        if not children[joint]:
            end = motion.offsets[joint] * CENTIMETRES_PER_METRE * END_SITE_SHARE
            lines.append(f"{indent}\tEnd Site")
            lines.append(f"{indent}\t{{")
            lines.append(f"{indent}\t\tOFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}")
            lines.append(f"{indent}\t}}")
        lines.append(f"{indent}}}")

    write(motion.parents.index(-1), 0)
    return lines


def depth_first_order(parents: tuple[int, ...]) -> list[int]:
    """Joint indices in the order the HIERARCHY lists them (children in index order)."""
    order: list[int] = []

    def visit(joint: int) -> None:
        order.append(joint)
        for child, parent in enumerate(parents):
            if parent == joint:
                visit(child)

    visit(parents.index(-1))
    return order


def write_bvh(motion: ExportMotion, path: Path) -> None:
    """Write the motion as a BVH file (written under a temporary name and renamed into place)."""
    angles = euler_angles(motion.rotations)
    order = depth_first_order(motion.parents)
    positions = motion.translations * CENTIMETRES_PER_METRE
    lines = hierarchy_lines(motion)
    lines += ["MOTION", f"Frames: {motion.frame_count}", f"Frame Time: {1.0 / motion.fps!r}"]
    for frame in range(motion.frame_count):
        values = []
        for joint in order:
            if joint in motion.moving:
                values.append(positions[frame, joint])
            values.append(angles[frame, joint])
        lines.append(" ".join(f"{value:.6f}" for value in np.concatenate(values)))
    staging = path.with_name(path.name + ".partial")
    staging.write_text("\n".join(lines) + "\n", encoding="utf-8")
    staging.replace(path)
