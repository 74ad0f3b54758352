"""From the OpenCV camera frame of the trackers to mocapd's world frame.

Camera frame (PHALP, OpenCV): x right, y down, z forward from the camera, metres. `camera` is the
translation of the SMPL model origin; SMPL rotates the body about its pelvis joint, so the pelvis
sits at `camera + PELVIS_IN_SMPL_MODEL` whatever the orientation.
World frame: metres, Y up, the floor at y = 0. One camera films everyone, so one World serves every
person of a clip: the camera levelled once, the heading turned so that the main actor faces +Z at
their first frame, the origin on the floor under the main actor's pelvis at that frame. A tilted
camera is levelled first, given the direction of up in its axes (mocapd.motion.gravity estimates
it); without one it is taken as level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mocapd.motion.gravity import leveling_rotation
from mocapd.rotations import rotation_y
from mocapd.skeleton import positions_from_local, sole_points

# OpenCV camera axes -> Y-up axes: y and z flip. Applied on the left of global rotations and to positions.
OPENCV_TO_WORLD = np.diag([1.0, -1.0, -1.0])
# The SMPL neutral template's pelvis joint (J0) in model coordinates, metres.
PELVIS_IN_SMPL_MODEL = np.array([0.0018, -0.2233, 0.0282])
# PHALP renders with a focal length of 5000 px for a 256 px crop, scaled to the full image's longest side.
PHALP_FOCAL_PER_PIXEL = 5000.0 / 256.0
# Without a solved floor, the floor is the lowest sole over the clip, taken at a low percentile so
# that a few frames with a foot pushed through the floor by noise do not lift the whole clip.
FLOOR_PERCENTILE = 2.0
FORWARD = np.array([0.0, 0.0, 1.0])


def phalp_focal_length(height: float, width: float) -> float:
    """The focal length in pixels PHALP used for an image of this size."""
    return PHALP_FOCAL_PER_PIXEL * max(height, width)


def pelvis_in_camera(
    camera: np.ndarray, pelvis_offset: np.ndarray = PELVIS_IN_SMPL_MODEL, depth_scale: float = 1.0
) -> np.ndarray:
    """Pelvis positions (N, 3) in the camera frame from PHALP's model translations.

    `depth_scale` = true focal length / the focal length the tracker assumed: the same image
    with a longer lens puts the body proportionally farther away, at the same lateral position.
    """
    pelvis = np.asarray(camera, dtype=np.float64) + pelvis_offset
    pelvis[..., 2] *= depth_scale
    return pelvis


def view_ray_rotation(positions: np.ndarray) -> np.ndarray:
    """(N, 3, 3) the smallest rotation turning the optical axis (+z) onto the ray to each position.

    A crop-based model (HMR 2.0) gives orientation as seen along the ray to the person, as if the
    person were centred; with a real lens, an off-centre person is seen from the side by the ray's
    angle, and this rotation puts the orientation back into the camera's axes.
    """
    directions = positions / np.linalg.norm(positions, axis=-1, keepdims=True)
    axis = np.cross(FORWARD, directions)  # (N, 3): sin(angle) * rotation axis
    cosine = directions[..., 2]
    skew = np.zeros(directions.shape[:-1] + (3, 3))
    skew[..., 0, 1], skew[..., 0, 2] = -axis[..., 2], axis[..., 1]
    skew[..., 1, 0], skew[..., 1, 2] = axis[..., 2], -axis[..., 0]
    skew[..., 2, 0], skew[..., 2, 1] = -axis[..., 1], axis[..., 0]
    return np.eye(3) + skew + skew @ skew / (1.0 + cosine)[..., None, None]


def heading_rotation(root_rotation: np.ndarray) -> np.ndarray:
    """The rotation about Y that turns this root orientation's forward axis (on the ground) to +Z."""
    forward = root_rotation @ FORWARD
    angle = np.arctan2(forward[0], forward[2])
    if np.hypot(forward[0], forward[2]) < 1e-6:  # lying flat, facing up or down: keep the heading
        angle = 0.0
    return rotation_y(-angle)


def floor_height(
    root_rotations: np.ndarray, body_rotations: np.ndarray, offsets: np.ndarray, trans: np.ndarray
) -> float:
    """The height of the floor under the actor: the clip's lowest sole (skeleton.sole_points), robustly."""
    local = np.concatenate([root_rotations[:, None], body_rotations], axis=1)
    positions = positions_from_local(local, offsets, trans)
    lowest_per_frame = sole_points(positions, offsets)[..., 1].min(axis=(1, 2))
    return float(np.percentile(lowest_per_frame, FLOOR_PERCENTILE))


@dataclass(frozen=True)
class World:
    """One clip's world frame: camera axes to world axes (levelled, turned) and the origin in them."""

    axes: np.ndarray  # (3, 3) OpenCV camera axes -> world axes
    origin: np.ndarray  # (3,) the world origin in world axes before the shift (floor height in y)

    def place(self, camera_rotations: np.ndarray, pelvis_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Root rotations (N, 3, 3) and pelvis positions (N, 3) in this world."""
        return self.axes @ camera_rotations, pelvis_camera @ self.axes.T - self.origin

    def to_dict(self) -> dict[str, Any]:
        """Where the camera stands in this world and how it is turned, for a job's data."""
        camera_position = -self.origin
        yaw = np.degrees(np.arctan2(self.axes[0, 2], self.axes[2, 2]))  # where the optical axis points
        return {
            "camera_position_m": [round(float(value), 3) for value in camera_position],
            "camera_yaw_deg": round(float(yaw), 1),
        }


def clip_world(
    camera_rotations: np.ndarray,
    body_rotations: np.ndarray,
    pelvis_camera: np.ndarray,
    offsets: np.ndarray,
    up_camera: np.ndarray | None = None,
    floor_point: np.ndarray | None = None,
) -> World:
    """The world anchored on one person (the clip's main actor): facing +Z at their first row, the
    origin on the floor under their first pelvis position, the floor under their feet over the clip:
    through `floor_point` (camera frame) where the solver found it, else their lowest soles."""
    axes = OPENCV_TO_WORLD if up_camera is None else OPENCV_TO_WORLD @ leveling_rotation(up_camera)
    axes = heading_rotation(axes @ camera_rotations[0]) @ axes
    rotations, positions = axes @ camera_rotations, pelvis_camera @ axes.T
    if floor_point is not None:
        floor = float((axes @ floor_point)[1])
    else:
        floor = floor_height(rotations, body_rotations, offsets, positions)
    return World(axes, np.array([positions[0, 0], floor, positions[0, 2]]))


def to_world(
    camera_rotations: np.ndarray,
    body_rotations: np.ndarray,
    pelvis_camera: np.ndarray,
    offsets: np.ndarray,
    up_camera: np.ndarray | None = None,
    world: World | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Root rotations (N, 3, 3) and pelvis positions (N, 3) in the world frame.

    camera_rotations: the root's global rotation in the OpenCV camera frame; body_rotations: the 23
    joints' rotations relative to their parent (unchanged by a change of world frame); up_camera:
    the direction of up in the camera's axes (None: the camera is level); world: the clip's world
    (None: anchored on this person, see clip_world).
    """
    if world is None:
        world = clip_world(camera_rotations, body_rotations, pelvis_camera, offsets, up_camera)
    return world.place(camera_rotations, pelvis_camera)
