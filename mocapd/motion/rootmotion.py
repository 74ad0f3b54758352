"""Root translation from one view: where a person's metric 3D landmarks must sit to match their 2D ones.

Pinhole camera, OpenCV axes (x right, y down, z forward). Per frame we fit the translation t that
minimises the (linearised) reprojection error of world landmarks + t, weighted by confidence: the
ratio of the landmarks' metric extent to their pixel extent fixes the depth.
"""

from __future__ import annotations

import math

import numpy as np

# Without a focal length in the video's metadata we assume this field of view across the frame's
# longest side: phone main cameras and webcams film at 55-70 degrees; 60 sits in the middle.
DEFAULT_FIELD_OF_VIEW_DEGREES = 60.0
# Landmarks below this confidence do not take part in the fit.
MIN_CONFIDENCE = 0.5
# A fit needs at least this many confident landmarks (2 equations each, 3 unknowns).
MIN_LANDMARKS = 4


def default_focal_length(width: int, height: int) -> float:
    """Focal length in pixels for DEFAULT_FIELD_OF_VIEW_DEGREES across the longest side."""
    return max(width, height) / 2.0 / math.tan(math.radians(DEFAULT_FIELD_OF_VIEW_DEGREES) / 2.0)


def focal_length(width: int, height: int, metadata_focal_px: float | None) -> float:
    """The video's focal length in pixels when its metadata has one, else the documented default."""
    if metadata_focal_px is not None and math.isfinite(metadata_focal_px) and metadata_focal_px > 0:
        return float(metadata_focal_px)
    return default_focal_length(width, height)


def fit_translation(
    world: np.ndarray,
    image: np.ndarray,
    confidence: np.ndarray,
    focal: float,
    principal_point: tuple[float, float],
) -> np.ndarray:
    """(N, 3) translations t so that world (N, L, 3) + t projects onto image (N, L, 2); NaN where unfit.

    Each confident landmark gives two equations linear in t: f (X + tx) - (u - cx)(Z + tz) = 0 and the
    same for y; weighted least squares per frame.
    """
    frames = world.shape[0]
    result = np.full((frames, 3), np.nan)
    centre_x, centre_y = principal_point
    for index in range(frames):
        weights = np.where(np.isfinite(confidence[index]), confidence[index], 0.0)
        usable = (weights >= MIN_CONFIDENCE) & np.all(np.isfinite(world[index]), axis=1)
        usable &= np.all(np.isfinite(image[index]), axis=1)
        if np.count_nonzero(usable) < MIN_LANDMARKS:
            continue
        points = world[index][usable]
        du = image[index][usable, 0] - centre_x
        dv = image[index][usable, 1] - centre_y
        count = points.shape[0]
        matrix = np.zeros((2 * count, 3))
        target = np.empty(2 * count)
        matrix[:count, 0] = focal
        matrix[:count, 2] = -du
        target[:count] = du * points[:, 2] - focal * points[:, 0]
        matrix[count:, 1] = focal
        matrix[count:, 2] = -dv
        target[count:] = dv * points[:, 2] - focal * points[:, 1]
        row_weights = np.sqrt(np.concatenate([weights[usable], weights[usable]]))
        solution, *_ = np.linalg.lstsq(matrix * row_weights[:, None], target * row_weights, rcond=None)
        if solution[2] > 0:  # a person behind the camera is a failed fit, not a position
            result[index] = solution
    return result


def project(points: np.ndarray, focal: float, principal_point: tuple[float, float]) -> np.ndarray:
    """(..., 2) pixel positions of camera-frame points (..., 3)."""
    return points[..., :2] / points[..., 2:3] * focal + np.asarray(principal_point)
