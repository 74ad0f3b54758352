"""PHALP-layout tracklets built in code, following the documented format (FACTS.md, architecture.md).

Frames are keyed like PHALP's: image paths `<out>/_DEMO/<name>/img/000001.jpg`, or (video, pts)
tuples; per-person lists are aligned with `tid` and appended in the order the test gives.
A Person's `global_orient` is the true orientation in the real camera's axes (a lens of `real_focal`
pixels); the file holds what HMR 2.0 reports: the orientation seen along the ray to the person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mocapd.motion.rootmotion import default_focal_length
from mocapd.motion.worldframe import (
    OPENCV_TO_WORLD,
    PELVIS_IN_SMPL_MODEL,
    phalp_focal_length,
    view_ray_rotation,
)
from mocapd.rotations import rotation_x

UPRIGHT_FACING_CAMERA = rotation_x(np.pi)  # PHALP's global_orient for an upright person facing the camera
IMAGE_SIZE = (1080, 1920)  # height, width


def camera_from_world(pelvis_camera_yup: np.ndarray) -> np.ndarray:
    """PHALP's `camera` (model origin, OpenCV axes) for a pelvis given in Y-up camera axes."""
    return OPENCV_TO_WORLD @ np.asarray(pelvis_camera_yup, dtype=np.float64) - PELVIS_IN_SMPL_MODEL


@dataclass
class Person:
    """One person's entry in one frame."""

    tid: int
    tracked_time: int = 0
    global_orient: np.ndarray = field(default_factory=lambda: UPRIGHT_FACING_CAMERA.copy())
    body_pose: np.ndarray = field(default_factory=lambda: np.tile(np.eye(3), (23, 1, 1)))
    betas: np.ndarray = field(default_factory=lambda: np.zeros(10))
    camera: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.2, 8.0]))
    bbox: tuple[float, float, float, float] = (800.0, 200.0, 300.0, 700.0)
    extra: dict[str, Any] = field(default_factory=dict)


class LayoutBuilder:
    """Accumulates frames; `people(frame)` entries are appended in call order, as PHALP does."""

    def __init__(
        self,
        frame_count: int,
        name: str = "clip",
        tuple_keys: bool = False,
        real_focal: float | None = None,
        pelvis_offset: np.ndarray = PELVIS_IN_SMPL_MODEL,
    ) -> None:
        """real_focal: the lens of the filmed scene (default: mocapd's default lens); pelvis_offset:
        the pelvis in SMPL model coordinates of the actor filmed (their shape's)."""
        self.name = name
        height, width = IMAGE_SIZE
        focal = real_focal if real_focal is not None else default_focal_length(width, height)
        self.depth_scale = focal / phalp_focal_length(height, width)
        self.pelvis_offset = pelvis_offset
        self.frames: dict[Any, dict[str, Any]] = {}
        self.keys: list[Any] = []
        for index in range(frame_count):
            key: Any = (
                (f"{name}.mp4", index * 512)
                if tuple_keys
                else f"outputs/_DEMO/{name}/img/{index + 1:06d}.jpg"
            )
            self.keys.append(key)
            self.frames[key] = {
                "time": index,
                "shot": 0,
                "frame_path": key if not tuple_keys else f"{name}.mp4",
                "tid": [],
                "bbox": [],
                "tracked_time": [],
                "tracked_ids": [],
                "tracked_bbox": [],
                "smpl": [],
                "camera": [],
                "camera_bbox": [],
                "3d_joints": [],
                "2d_joints": [],
                "center": [],
                "scale": [],
                "size": [],
                "conf": [],
                "class_name": [],
                "img_path": [],
                "img_name": [],
            }

    def add(self, index: int, person: Person) -> None:
        frame = self.frames[self.keys[index]]
        frame["tid"].append(person.tid)
        frame["bbox"].append(np.array(person.bbox, dtype=np.float32))
        frame["tracked_time"].append(person.tracked_time)
        if person.tracked_time == 0:
            frame["tracked_ids"].append(person.tid)
            frame["tracked_bbox"].append(np.array(person.bbox, dtype=np.float32))
        pelvis = (np.asarray(person.camera, dtype=np.float64) + self.pelvis_offset) * [
            1.0,
            1.0,
            self.depth_scale,
        ]
        seen = view_ray_rotation(pelvis[None])[0].T @ person.global_orient
        frame["smpl"].append(
            {
                "global_orient": seen.reshape(1, 3, 3).astype(np.float32),
                "body_pose": person.body_pose.astype(np.float32),
                "betas": person.betas.astype(np.float32),
            }
        )
        frame["camera"].append(np.asarray(person.camera, dtype=np.float32))
        frame["camera_bbox"].append(np.zeros(3, dtype=np.float32))
        frame["3d_joints"].append(np.zeros((45, 3), dtype=np.float32))
        frame["2d_joints"].append(np.zeros(90, dtype=np.float32))
        x0, y0, width, height = person.bbox
        frame["center"].append(np.array([x0 + width / 2, y0 + height / 2]))
        frame["scale"].append(np.array([width, height]))
        frame["size"].append(list(IMAGE_SIZE))
        frame["conf"].append(0.99)
        frame["class_name"].append(0)
        frame["img_path"].append(str(self.keys[index]))
        frame["img_name"].append(f"{index + 1:06d}.jpg")
        for key, value in person.extra.items():
            frame.setdefault(key, []).append(value)

    def build(self) -> dict[Any, dict[str, Any]]:
        return self.frames
