"""The root trajectory: the whole clip's pelvis path, solved so that planted feet stay still and on the floor.

The body's pose is fixed (the pose fit and the IK); what is solved is one translation per frame,
added to the whole body, in one sparse linear least-squares problem over the clip:
- reprojection of the fitted landmarks, linear in the translation (rootmotion's equations, in pixels);
- a resting foot's contact point does not move along the floor between two resting frames, and lies
  on the floor (its rest height above it);
- the pelvis accelerates smoothly, so that depth (the image's weakest axis) does not jitter.
Any backend with 2D observations and joints in the camera frame can use it (4D-Humans: its 2D joints).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from mocapd.motion.solver import contacts as contact_module
from mocapd.motion.solver import timeline
from mocapd.motion.solver.camera import Pinhole

IMAGE_SIGMA_PX = 6.0
# A planted foot moves less than this along the floor per frame; its sole is this close to the floor.
SLIDE_SIGMA_M = 0.002
FLOOR_SIGMA_M = 0.01
# The pelvis's acceleration in normal motion (m/s^2): walking stays near 3, jumping lands near 20.
ACCELERATION_M_S2 = 6.0
MIN_CONFIDENCE = 0.3


def floor_axes(up: np.ndarray) -> np.ndarray:
    """(2, 3) two unit vectors spanning the floor (perpendicular to `up`)."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    first = np.cross(up, helper)
    first /= np.linalg.norm(first)
    return np.stack([first, np.cross(up, first)])


def solve(
    points: np.ndarray,
    image: np.ndarray,
    confidence: np.ndarray,
    joints: np.ndarray,
    found: contact_module.Contacts,
    up: np.ndarray,
    rest: np.ndarray,
    camera: Pinhole,
    times: np.ndarray,
    below: np.ndarray | None = None,
    support: bool = False,
) -> np.ndarray:
    """(N, 3) translation to add to each frame's body; `below` (N, 2, 2): sole points to lift onto the floor;
    `support`: frames with no resting foot have their lowest sole drawn to the floor (contacts.SUPPORT_SIGMA_M).

    points (N, L, 3) camera-frame landmarks with their image positions (N, L, 2) and confidences (N, L);
    joints (N, 24, 3) the skeleton; rest (2,) the sole points' heights above the floor."""
    frames = points.shape[0]
    blocks: list[scipy.sparse.coo_matrix] = []
    targets: list[np.ndarray] = []
    count = 0

    def add(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, target: np.ndarray) -> None:
        nonlocal count
        blocks.append((np.ravel(rows) + count, np.ravel(cols), np.ravel(vals)))  # type: ignore[arg-type]
        targets.append(np.ravel(target))
        count += target.size

    # Reprojection: f (X + dx) - (u - cx)(Z + dz) = 0, divided by Z (pixels), per axis.
    weight = np.sqrt(np.clip(np.nan_to_num(confidence), 0.0, 1.0)) / IMAGE_SIGMA_PX
    weight = np.where(np.nan_to_num(confidence) >= MIN_CONFIDENCE, weight, 0.0)
    depth = np.maximum(points[..., 2], 0.1)
    frame = np.broadcast_to(np.arange(frames)[:, None], depth.shape)
    for axis in (0, 1):
        offset = np.nan_to_num(image[..., axis]) - camera.centre[axis]
        rows = np.arange(depth.size).reshape(depth.shape)
        scale = weight / depth
        add(
            np.concatenate([rows, rows]),
            np.concatenate([3 * frame + axis, 3 * frame + 2]),
            np.concatenate([scale * camera.focal, -scale * offset]),
            -scale * (camera.focal * points[..., axis] - offset * points[..., 2]),
        )

    # Planted feet: still along the floor between resting frames, on the floor while resting.
    axes = floor_axes(up)
    sole = joints[:, contact_module.SOLE_JOINTS]  # (N, 2, 2, 3)
    adjacent = timeline.adjacent(times)
    if found.floor is not None:
        for side in range(2):
            resting = np.flatnonzero(found.resting[:, side])
            if resting.size:
                chosen = sole[resting, side, found.point[resting, side]]
                height = chosen @ up - rest[found.point[resting, side]] - found.floor
                rows = np.arange(resting.size)[:, None]
                add(
                    np.broadcast_to(rows, (resting.size, 3)),
                    3 * resting[:, None] + np.arange(3),
                    np.broadcast_to(up / FLOOR_SIGMA_M, (resting.size, 3)),
                    -height / FLOOR_SIGMA_M,
                )
            # Neighbouring frames only: across a gap the foot may have stepped unseen.
            pairs = np.flatnonzero(found.resting[:-1, side] & found.resting[1:, side] & adjacent)
            if pairs.size:
                contact = found.point[pairs, side]
                step = sole[pairs + 1, side, contact] - sole[pairs, side, contact]  # the pose's own motion
                for axis_vector in axes:
                    rows = np.arange(pairs.size)[:, None]
                    add(
                        np.concatenate([np.broadcast_to(rows, (pairs.size, 3))] * 2, axis=1),
                        np.concatenate(
                            [3 * (pairs + 1)[:, None] + np.arange(3), 3 * pairs[:, None] + np.arange(3)],
                            axis=1,
                        ),
                        np.concatenate(
                            [
                                np.broadcast_to(axis_vector, (pairs.size, 3)),
                                np.broadcast_to(-axis_vector, (pairs.size, 3)),
                            ],
                            axis=1,
                        )
                        / SLIDE_SIGMA_M,
                        -(step @ axis_vector) / SLIDE_SIGMA_M,
                    )

    # No sole below the floor (an inequality: only the points found below it in the last solve).
    if found.floor is not None and below is not None:
        frames_below, sides, points_below = np.nonzero(below)
        if frames_below.size:
            chosen = sole[frames_below, sides, points_below]
            height = chosen @ up - rest[points_below] - found.floor
            add(
                np.broadcast_to(np.arange(frames_below.size)[:, None], (frames_below.size, 3)),
                3 * frames_below[:, None] + np.arange(3),
                np.broadcast_to(up / FLOOR_SIGMA_M, (frames_below.size, 3)),
                -height / FLOOR_SIGMA_M,
            )

    # Frames with no resting foot: the lowest sole point, where above the floor, drawn towards it.
    # Not for 4D-Humans (bench_fourdhumans_root, up estimated: its highest lowest sole 19 -> 8 cm but
    # root error 0.158-0.172 -> 0.163-0.208 m, 3 seeds of 5 worse: it pulls onto a tilted up's floor).
    if support and found.floor is not None and contact_module.SUPPORT_SIGMA_M > 0:
        heights = sole @ up - rest[None, None, :] - found.floor  # (N, 2, 2)
        free, choice = contact_module.unsupported(heights, found.resting)
        if free.size:
            add(
                np.broadcast_to(np.arange(free.size)[:, None], (free.size, 3)),
                3 * free[:, None] + np.arange(3),
                np.broadcast_to(up / contact_module.SUPPORT_SIGMA_M, (free.size, 3)),
                -heights.reshape(frames, 4)[free, choice] / contact_module.SUPPORT_SIGMA_M,
            )

    # Smooth pelvis: second differences of (pelvis + translation).
    if frames >= 3:
        weights = timeline.second_difference(times) / ACCELERATION_M_S2  # (inner, 3), real time steps
        pelvis = joints[:, 0]
        inner = frames - 2
        acceleration = sum(weights[:, k, None] * pelvis[k : k + inner] for k in range(3))
        rows = np.arange(inner * 3).reshape(inner, 3)
        cols = 3 * np.arange(inner)[:, None] + np.arange(3)
        add(
            np.concatenate([rows, rows, rows], axis=1),
            np.concatenate([cols, cols + 3, cols + 6], axis=1),
            np.concatenate([np.repeat(weights[:, k, None], 3, axis=1) for k in range(3)], axis=1),
            -np.asarray(acceleration),
        )
    # A weak pull to no change keeps frames without any evidence defined.
    add(np.arange(3 * frames), np.arange(3 * frames), np.full(3 * frames, 1e-3), np.zeros(3 * frames))
    rows = np.concatenate([block[0] for block in blocks])
    cols = np.concatenate([block[1] for block in blocks])
    vals = np.concatenate([block[2] for block in blocks])
    matrix = scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(count, 3 * frames))
    target = np.concatenate(targets)
    normal = (matrix.T @ matrix).tocsc()
    return scipy.sparse.linalg.spsolve(normal, matrix.T @ target).reshape(frames, 3)
