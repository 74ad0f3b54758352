"""The motion as every writer takes it: the preset's bones, rest offsets, per-frame local rotations and translations.

numpy only, so the Blender child process (which may be Blender's bundled Python) can read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# A one-person file's armature: Unreal's importer drops a root node of this name, keeping the bones.
ARMATURE_NAME = "Armature"
# The line the exporter sends a Blender started with --wait once the motion files are written.
GO_AHEAD = "go"
# A leaf bone (nothing to point to) continues its parent's direction for this share of its own offset.
LEAF_SHARE = 0.5
# The shortest bone drawn (Blender drops zero-length bones), metres.
MIN_LENGTH = 0.01


@dataclass
class ExportMotion:
    """One track ready to write: frame k is at time (start_frame + k) / fps; metres, Y up, facing +Z."""

    names: tuple[str, ...]
    parents: tuple[int, ...]
    # (J, 3) rest offset of each joint from its parent; the hierarchy root's entry is its rest position.
    offsets: np.ndarray
    rotations: np.ndarray  # (N, J, 3, 3) rotation of each joint relative to its parent
    translations: (
        np.ndarray
    )  # (N, J, 3) position of each joint relative to its parent (its offset unless it moves)
    fps: float
    moving: tuple[int, ...] = (0,)  # joints whose translation is keyed (the root; UE's pelvis under `root`)
    aims: tuple[
        int, ...
    ] = ()  # the joint each bone points to, -1 for a leaf (continues its parent's direction)
    smpl_joints: tuple[int, ...] = ()  # index in `names` of each SMPL joint, in SMPL's order
    start_frame: int = 0  # the first frame's number on the video's timeline at fps

    @property
    def frame_count(self) -> int:
        return int(self.rotations.shape[0])

    @property
    def joint_count(self) -> int:
        return len(self.names)

    @property
    def root(self) -> int:
        return self.parents.index(-1)

    @property
    def root_positions(self) -> np.ndarray:
        """(N, 3) position of the hierarchy root per frame."""
        return self.translations[:, self.root]

    @property
    def times(self) -> np.ndarray:
        """(N,) seconds on the video's timeline of each frame."""
        return (self.start_frame + np.arange(self.frame_count)) / self.fps

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions in the rest pose (every rest rotation is the identity)."""
        positions = np.zeros((self.joint_count, 3))
        for joint, parent in enumerate(self.parents):
            positions[joint] = (positions[parent] if parent >= 0 else 0.0) + self.offsets[joint]
        return positions

    def bone_tails(self) -> np.ndarray:
        """(J, 3) rest tail of each bone: at the joint it aims at, else along its own offset (leaves)."""
        heads = self.rest_positions()
        tails = np.empty_like(heads)
        for joint, aim in enumerate(self.aims or (-1,) * self.joint_count):
            if aim >= 0 and np.linalg.norm(heads[aim] - heads[joint]) >= MIN_LENGTH:
                tails[joint] = heads[aim]
                continue
            offset = self.offsets[joint] if self.parents[joint] >= 0 else np.zeros(3)
            length = float(np.linalg.norm(offset))
            direction = offset / length if length > 1e-9 else np.array([0.0, 1.0, 0.0])
            tails[joint] = heads[joint] + direction * max(length * LEAF_SHARE, MIN_LENGTH)
        return tails

    def world_transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, J, 3, 3) global rotations and (N, J, 3) world positions of every joint."""
        rotations = np.empty_like(self.rotations)
        positions = np.empty_like(self.translations)
        for joint, parent in enumerate(self.parents):
            if parent < 0:
                rotations[:, joint] = self.rotations[:, joint]
                positions[:, joint] = self.translations[:, joint]
            else:
                rotations[:, joint] = rotations[:, parent] @ self.rotations[:, joint]
                positions[:, joint] = positions[:, parent] + np.einsum(
                    "nij,nj->ni", rotations[:, parent], self.translations[:, joint]
                )
        return rotations, positions


def save(motion: ExportMotion, path: Path) -> None:
    """Write the motion as an NPZ for the Blender child process."""
    np.savez(
        path,
        names=np.array(motion.names),
        parents=np.array(motion.parents, dtype=np.int64),
        offsets=motion.offsets.astype(np.float64),
        rotations=motion.rotations.astype(np.float64),
        translations=motion.translations.astype(np.float64),
        fps=np.float64(motion.fps),
        moving=np.array(motion.moving, dtype=np.int64),
        aims=np.array(motion.aims, dtype=np.int64),
        smpl_joints=np.array(motion.smpl_joints, dtype=np.int64),
        start_frame=np.int64(motion.start_frame),
    )


def load(path: Path) -> ExportMotion:
    """Read a motion written by `save`."""
    with np.load(path, allow_pickle=False) as data:
        return ExportMotion(
            names=tuple(str(name) for name in data["names"]),
            parents=tuple(int(parent) for parent in data["parents"]),
            offsets=np.asarray(data["offsets"]),
            rotations=np.asarray(data["rotations"]),
            translations=np.asarray(data["translations"]),
            fps=float(data["fps"]),
            moving=tuple(int(joint) for joint in data["moving"]),
            aims=tuple(int(joint) for joint in data["aims"]),
            smpl_joints=tuple(int(joint) for joint in data["smpl_joints"]),
            start_frame=int(data["start_frame"]),
        )
