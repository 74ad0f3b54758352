"""From the OpenCV camera frame of the trackers to mocapd's world frame.

Camera frame (PHALP, OpenCV): x right, y down, z forward from the camera, metres. `camera` is the
translation of the SMPL model origin; SMPL rotates the body about its pelvis joint, so the pelvis
sits at `camera + PELVIS_IN_SMPL_MODEL` whatever the orientation.
World frame: metres, Y up, the floor at y = 0, the actor facing +Z at the first frame, the origin on
the floor under the actor's pelvis at the first frame. A tilted camera is levelled first, given
the direction of up in its axes (mocapd.motion.gravity estimates it); without one it is taken as level.
"""

from __future__ import annotations

import numpy as np

from mocapd.motion.gravity import leveling_rotation
from mocapd.rotations import rotation_y
from mocapd.skeleton import JOINT_INDEX, positions_from_local

# OpenCV camera axes -> Y-up axes: y and z flip. Applied on the left of global rotations and to positions.
OPENCV_TO_WORLD = np.diag([1.0, -1.0, -1.0])
# The SMPL neutral template's pelvis joint (J0) in model coordinates, metres.
PELVIS_IN_SMPL_MODEL = np.array([0.0018, -0.2233, 0.0282])
# PHALP renders with a focal length of 5000 px for a 256 px crop, scaled to the full image's longest side.
PHALP_FOCAL_PER_PIXEL = 5000.0 / 256.0
FOOT_JOINTS = tuple(JOINT_INDEX[name] for name in ("left_ankle", "right_ankle", "left_foot", "right_foot"))
# The floor is the lowest foot position over the clip, taken at a low percentile so that a few
# frames with a foot pushed through the floor by noise do not lift the whole clip.
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


def camera_to_world_axes(
    rotations: np.ndarray, positions: np.ndarray, up_camera: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Global rotations (N, 3, 3) and positions (N, 3) from OpenCV axes to Y-up axes, levelled so
    that `up_camera` (up in the camera's OpenCV axes; None: a level camera) becomes +Y."""
    axes = OPENCV_TO_WORLD if up_camera is None else OPENCV_TO_WORLD @ leveling_rotation(up_camera)
    return axes @ rotations, positions @ axes.T


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
    """The height of the floor under the actor: the clip's lowest foot joint, robustly."""
    local = np.concatenate([root_rotations[:, None], body_rotations], axis=1)
    positions = positions_from_local(local, offsets, trans)
    lowest_per_frame = positions[:, FOOT_JOINTS, 1].min(axis=1)
    return float(np.percentile(lowest_per_frame, FLOOR_PERCENTILE))


def to_world(
    camera_rotations: np.ndarray,
    body_rotations: np.ndarray,
    pelvis_camera: np.ndarray,
    offsets: np.ndarray,
    up_camera: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Root rotations (N, 3, 3) and pelvis positions (N, 3) in the world frame.

    camera_rotations: the root's global rotation in the OpenCV camera frame; body_rotations: the 23
    joints' rotations relative to their parent (unchanged by a change of world frame); up_camera:
    the direction of up in the camera's axes (None: the camera is level).
    """
    rotations, positions = camera_to_world_axes(camera_rotations, pelvis_camera, up_camera)
    heading = heading_rotation(rotations[0])
    rotations = heading @ rotations
    positions = positions @ heading.T
    positions = positions - np.array([positions[0, 0], 0.0, positions[0, 2]])
    positions[:, 1] -= floor_height(rotations, body_rotations, offsets, positions)
    return rotations, positions
