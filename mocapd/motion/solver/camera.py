"""The camera the clip was filmed with: a pinhole, OpenCV axes (x right, y down, z forward), pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocapd.motion import rootmotion


@dataclass(frozen=True)
class Pinhole:
    """Focal length and principal point in pixels; no distortion (phone and webcam video is rectified)."""

    focal: float
    centre_x: float
    centre_y: float

    @classmethod
    def for_image(cls, height: int, width: int, metadata_focal_px: float | None = None) -> Pinhole:
        """The video's focal length where its metadata gives one, else rootmotion's default field of view."""
        focal = rootmotion.focal_length(int(width), int(height), metadata_focal_px)
        return cls(focal, width / 2.0, height / 2.0)

    @property
    def centre(self) -> np.ndarray:
        return np.array([self.centre_x, self.centre_y])

    def project(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) pixels of camera-frame points (..., 3)."""
        depth = np.maximum(points[..., 2:3], 1e-6)
        return points[..., :2] / depth * self.focal + self.centre

    def metres_per_pixel(self, depth: np.ndarray) -> np.ndarray:
        """The size of one pixel at `depth` (metres), for turning image motion into metric motion."""
        return np.asarray(depth) / self.focal
