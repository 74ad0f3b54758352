"""The motion as every writer takes it: bone names, parents, rest offsets, per-frame local rotations and root.

numpy only, so the Blender child process (which may be Blender's bundled Python) can read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class ExportMotion:
    """One track ready to write: frame k is shown at time k / fps; coordinates are metres, Y up, facing +Z."""

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: (
        np.ndarray
    )  # (J, 3) rest offset of each joint from its parent; the root's entry is its rest position
    rotations: np.ndarray  # (N, J, 3, 3) rotation of each joint relative to its parent
    root_positions: np.ndarray  # (N, 3) root joint position per frame
    fps: float

    @property
    def frame_count(self) -> int:
        return int(self.rotations.shape[0])

    @property
    def joint_count(self) -> int:
        return len(self.names)


def save(motion: ExportMotion, path: Path) -> None:
    """Write the motion as an NPZ for the Blender child process."""
    np.savez(
        path,
        names=np.array(motion.names),
        parents=np.array(motion.parents, dtype=np.int64),
        offsets=motion.offsets.astype(np.float64),
        rotations=motion.rotations.astype(np.float64),
        root_positions=motion.root_positions.astype(np.float64),
        fps=np.float64(motion.fps),
    )


def load(path: Path) -> ExportMotion:
    """Read a motion written by `save`."""
    with np.load(path, allow_pickle=False) as data:
        return ExportMotion(
            names=tuple(str(name) for name in data["names"]),
            parents=tuple(int(parent) for parent in data["parents"]),
            offsets=np.asarray(data["offsets"]),
            rotations=np.asarray(data["rotations"]),
            root_positions=np.asarray(data["root_positions"]),
            fps=float(data["fps"]),
        )
