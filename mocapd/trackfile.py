"""The per-track motion file (NPZ): its keys, its version, and checked reading and writing.

Version 1 keys (N frames):
    version      ()          int, FORMAT_VERSION
    tid          ()          int, the track id in the tracklets file
    fps          ()          float, frames per second of the motion (the source video's, unless resampled)
    frame_idx    (N,)        int, 0-based index of each frame in the source video
    time         (N,)        float, seconds from the clip's start (real timestamps, VFR-safe)
    R_root       (N, 3, 3)   root (pelvis) rotation in the world frame
    R_body       (N, 23, 3, 3) rotations of joints 1..23 relative to their parent (SMPL order)
    camera       (N, 3)      root translation in the camera frame as the backend gave it (OpenCV axes)
    betas        (N, 10)     SMPL shape per frame (zeros where the backend has none)
    trans        (N, 3)      root (pelvis) position in the world frame, metres
    offsets      (24, 3)     the actor's rest skeleton: offset of each joint from its parent, metres
    confidence   (N, 24)     per-joint confidence 0..1 (0 = not seen, inferred)
    world_from_camera (4, 4) optional: the camera's pose in the world (p_world = R p_camera + t, OpenCV
                             camera axes); the report's preview projects the motion back through it

World frame: metres, Y up, the floor at y = 0; one per clip (every person of a clip in the same one),
the main actor facing +Z at their first frame (mocapd.motion.worldframe).
The seed's tools read R_root, R_body, camera, frame_idx, betas and fps; the rest is ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocapd.errors import JobError
from mocapd.skeleton import NUM_JOINTS, positions_from_local

FORMAT_VERSION = 1
# Keys a version 1 file may lack (written by an older mocapd).
OPTIONAL_KEYS = ("world_from_camera",)


@dataclass
class TrackMotion:
    """One person's motion over a clip, in the world frame."""

    tid: int
    fps: float
    frame_idx: np.ndarray
    time: np.ndarray
    R_root: np.ndarray
    R_body: np.ndarray
    camera: np.ndarray
    betas: np.ndarray
    trans: np.ndarray
    offsets: np.ndarray
    confidence: np.ndarray
    world_from_camera: np.ndarray | None = None

    @property
    def frame_count(self) -> int:
        return int(self.frame_idx.shape[0])

    def local_rotations(self) -> np.ndarray:
        """All 24 joint rotations relative to their parent, (N, 24, 3, 3)."""
        return np.concatenate([self.R_root[:, None], self.R_body], axis=1)

    def joint_positions(self) -> np.ndarray:
        """World positions (N, 24, 3) of every joint, metres."""
        return positions_from_local(self.local_rotations(), self.offsets, self.trans)

    def validate(self) -> None:
        """Raise JobError naming the first key whose shape or values are wrong."""
        n = self.frame_count
        if n == 0:
            raise JobError(f"track {self.tid}: the motion has no frames")
        expected = {
            "time": (n,),
            "R_root": (n, 3, 3),
            "R_body": (n, NUM_JOINTS - 1, 3, 3),
            "camera": (n, 3),
            "betas": (n, 10),
            "trans": (n, 3),
            "offsets": (NUM_JOINTS, 3),
            "confidence": (n, NUM_JOINTS),
        }
        for key, shape in expected.items():
            value = getattr(self, key)
            if value.shape != shape:
                raise JobError(f"track {self.tid}: '{key}' has shape {value.shape}, expected {shape}")
            if not np.all(np.isfinite(value)):
                raise JobError(f"track {self.tid}: '{key}' contains NaN or infinite values")
        if self.world_from_camera is not None and self.world_from_camera.shape != (4, 4):
            raise JobError(f"track {self.tid}: 'world_from_camera' has shape {self.world_from_camera.shape}")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise JobError(f"track {self.tid}: fps must be a positive number, got {self.fps}")


REQUIRED_KEYS = tuple(key for key in TrackMotion.__dataclass_fields__ if key not in OPTIONAL_KEYS)


def save(motion: TrackMotion, path: Path) -> None:
    """Validate and write the motion; written under a temporary name and renamed into place."""
    motion.validate()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".partial.npz")
    optional = {} if motion.world_from_camera is None else {"world_from_camera": motion.world_from_camera}
    np.savez(
        staging,
        version=np.int64(FORMAT_VERSION),
        tid=np.int64(motion.tid),
        fps=np.float64(motion.fps),
        frame_idx=motion.frame_idx.astype(np.int64),
        time=motion.time.astype(np.float64),
        R_root=motion.R_root.astype(np.float64),
        R_body=motion.R_body.astype(np.float64),
        camera=motion.camera.astype(np.float64),
        betas=motion.betas.astype(np.float64),
        trans=motion.trans.astype(np.float64),
        offsets=motion.offsets.astype(np.float64),
        confidence=motion.confidence.astype(np.float64),
        **{key: value.astype(np.float64) for key, value in optional.items()},
    )
    staging.replace(path)


def load(path: Path) -> TrackMotion:
    """Read and validate a track file; a file from another version or with missing keys is an error."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise JobError(f"cannot read track file {path.name}: {error}") from error
    with data:
        version = int(data["version"]) if "version" in data else None
        if version != FORMAT_VERSION:
            raise JobError(f"{path.name}: track file version {version}, this mocapd reads {FORMAT_VERSION}")
        missing = [key for key in REQUIRED_KEYS if key not in data]
        if missing:
            raise JobError(f"{path.name}: missing keys {', '.join(missing)}")
        motion = TrackMotion(
            tid=int(data["tid"]),
            fps=float(data["fps"]),
            **{
                key: np.asarray(data[key])
                for key in TrackMotion.__dataclass_fields__
                if key not in ("tid", "fps") and key in data
            },
        )
    motion.validate()
    return motion
