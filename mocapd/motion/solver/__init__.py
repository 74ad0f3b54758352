"""The clip-level solver: one body and one motion per person, from everything the pose model saw over the clip.

Stages, one module each, run in this order by `solve_embedded`:
  flips     left/right labels the neighbouring frames contradict, repaired;
  bones     the person's one skeleton (segment lengths and SMPL offsets, left = right), the legs'
            long bones as the image measures them;
  forearms  forearms folded back in depth mirrored, before and between posefit's two passes;
  legs      knees and ankles the model put at the mirror of their depth, likewise;
  posefit   every frame's landmarks fitted to the 2D image landmarks through the camera (camera),
            with the metric world landmarks as the depth prior, bone lengths and a temporal term;
  (ik)      the SMPL joint rotations of the fitted landmarks (mocapd.motion.ik), knees and elbows
            as hinges that do not bend backwards;
  contacts  resting feet (image speed, height, confidence; the stance foot while the other swings)
            and the floor under them;
  rootpath  the pelvis path that keeps planted feet still and on the floor, depth included.
contacts and rootpath need only joints in the camera frame, 2D observations and a camera: they
are the part a backend with its own pose (4D-Humans) can use as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import threadpoolctl

from mocapd import skeleton
from mocapd.motion import gravity, ik, landmarks, rootmotion, worldframe
from mocapd.motion.solver import bones, contacts, flips, forearms, legs, posefit, rootpath
from mocapd.motion.solver.camera import Pinhole

__all__ = ["Pinhole", "Solved", "solve_embedded"]

# Tracks shorter than this are not fitted over time (nothing to be smooth with): their frame is posed
# from its world landmarks, placed by rootmotion; no contact, no floor (the figures say so).
MIN_FRAMES = 2
# The world landmarks are turned from the ray to the person into the camera's axes (SinglePerson
# cam01-04, mean PA-MPJPE of the fitted joints 95.6 -> 93.3 mm, knee RMSE 14.2 -> 13.4 degrees).
VIEW_RAY_PRIOR = True
# The fitted landmarks already hold the skeleton's lengths: the IK's position fit needs fewer steps.
IK_ITERATIONS = 2
# Gauss-Newton steps of the pose fit's second pass, with the floor.
GROUND_ITERATIONS = 2


@dataclass
class Solved:
    """One track's motion in the OpenCV camera frame, one row per detection, and what the solver found."""

    global_orient: np.ndarray  # (M, 3, 3) root orientation
    body_pose: np.ndarray  # (M, 23, 3, 3) local rotations
    pelvis: np.ndarray  # (M, 3) the pelvis joint
    offsets: np.ndarray  # (24, 3)
    resting: np.ndarray  # (M, 2) left/right foot resting
    figures: dict[str, Any] = field(default_factory=dict)
    # A point on the floor under the person (camera frame), where one was found: the world's floor.
    floor_point: np.ndarray | None = None


def _fill(values: np.ndarray) -> np.ndarray:
    """(M, 3) rows with NaN replaced by the nearest known values (linear between them)."""
    valid = np.isfinite(values).all(axis=1)
    if valid.all() or not valid.any():
        return np.nan_to_num(values)
    rows = np.arange(values.shape[0])
    return np.stack([np.interp(rows, rows[valid], values[valid, axis]) for axis in range(3)], axis=1)


def up_of(joints: np.ndarray, confidence: np.ndarray, times: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Up in the camera frame from the person alone (mocapd.motion.gravity); level when unsure."""
    return gravity.estimate_from_people([gravity.Person(joints, confidence, times, offsets)]).up


def solve_embedded(*arguments: Any, **keywords: Any) -> Solved:
    """solve_clip on one BLAS thread (its many small LAPACK calls lose to thread hand-offs)."""
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        return solve_clip(*arguments, **keywords)


def solve_clip(
    image: np.ndarray,
    world: np.ndarray,
    visibility: np.ndarray,
    times: np.ndarray,
    camera: Pinhole,
    size: tuple[int, int],
    up: np.ndarray | None = None,
) -> Solved:
    """One embedded track: image (M, 33, 2) px, world (M, 33, 3) m, visibility (M, 33), times (M,) s.

    up: the direction of up in the camera (OpenCV axes) where the caller knows it; else it is
    estimated from the person (mocapd.motion.gravity) and again from the solved path."""
    frames = image.shape[0]
    image = np.asarray(image, dtype=np.float64)
    world = np.asarray(world, dtype=np.float64)
    visibility = np.nan_to_num(np.asarray(visibility, dtype=np.float64))
    confidence = landmarks.landmark_confidence(image, visibility, size)

    image, world, visibility, confidence, chosen = flips.repair(image, world, visibility, confidence)
    lengths = bones.segment_lengths(world, confidence)
    translation = rootmotion.fit_translation(
        world, image, confidence, camera.focal, (camera.centre_x, camera.centre_y)
    )
    if not np.isfinite(translation).any():
        # Too few confident landmarks to place the person in depth: 3 m in front of the camera.
        translation = np.tile([0.0, 0.0, 3.0], (frames, 1))
    if VIEW_RAY_PRIOR:
        # The model sees the person through a crop, as if centred: its world landmarks are in the
        # axes of the ray to the person, not the camera's (worldframe.view_ray_rotation).
        world = world @ np.swapaxes(worldframe.view_ray_rotation(_fill(translation)), -1, -2)
        translation = rootmotion.fit_translation(
            world, image, confidence, camera.focal, (camera.centre_x, camera.centre_y)
        )
    start = world + _fill(translation)[:, None]
    keypoint_confidence = landmarks.confidence_from_mediapipe(confidence)
    offsets = bones.rest_offsets(landmarks.from_mediapipe(world), keypoint_confidence)
    # The legs' long bones as the image measures them at the person's depth.
    noise = posefit.image_sigma(image[:, posefit.FITTED])
    lengths = bones.image_lengths(lengths, image, world, start[..., 2], confidence, camera, noise)
    offsets = bones.with_lengths(offsets, lengths)
    joint_confidence = landmarks.joint_confidence(confidence)
    fixed_up = up is not None
    if up is None:
        up = up_of(skeleton_joints(start, offsets, keypoint_confidence, 0), joint_confidence, times, offsets)

    # The pose fit, then again with the floor its resting feet show (held on it, still, not below).
    fitted = start
    forearm_flips = leg_flips = 0
    if frames >= MIN_FRAMES:
        # Forearms the model folded back in depth, mirrored (prior included): as the model placed them,
        # and again as the first pass fitted them.
        start, world, flipped_start = forearms.repair(start, world)
        start, world, legs_start = legs.repair(start, world)
        fitted = posefit.fit(image, world, confidence, camera, times, lengths, start)
        fitted, world, forearm_flips = forearms.repair(fitted, world)
        forearm_flips += flipped_start
        # The legs again, with the resting feet and the floor the first pass shows.
        ground = contacts.detect_landmarks(fitted, image, confidence, up, camera, times)
        fitted, world, leg_flips = legs.repair(fitted, world, ground, up)
        if leg_flips:
            ground = contacts.detect_landmarks(fitted, image, confidence, up, camera, times)
        leg_flips += legs_start
        if ground.floor is not None:
            fitted = posefit.fit(
                image, world, confidence, camera, times, lengths, fitted, GROUND_ITERATIONS, ground, up
            )
        elif forearm_flips or leg_flips:
            fitted = posefit.fit(image, world, confidence, camera, times, lengths, fitted, GROUND_ITERATIONS)

    solution = ik.solve(landmarks.from_mediapipe(fitted), offsets, keypoint_confidence, IK_ITERATIONS)
    joints = skeleton.forward_kinematics(solution.global_rotations, offsets, solution.root)
    if not fixed_up:
        up = up_of(joints, joint_confidence, times, offsets)

    # The root path polishes what the IK moved: planted joints still and on the floor.
    rest = contacts.rest_heights(offsets)
    found = contacts.detect(joints, image, confidence, up, offsets, camera, times)
    shift = np.zeros((frames, 3))
    floor_point = None
    if frames >= MIN_FRAMES and found.floor is not None:
        below = contacts.sole_heights(joints, up, offsets) < found.floor
        shift = rootpath.solve(
            fitted[:, posefit.FITTED],
            image[:, posefit.FITTED],
            confidence[:, posefit.FITTED],
            joints,
            found,
            up,
            rest,
            camera,
            times,
            below,
            support=True,
        )
        # The world's floor: the plane the resting feet were held on.
        floor_point = contacts.floor_point(joints[:, 0] + shift, up, found.floor)
    joints = joints + shift[:, None]
    fitted = fitted + shift[:, None]
    figures = {
        "reprojection_error_px": _round(posefit.reprojection_px(fitted, image, confidence, camera), 2),
        "flip_repaired_frames": int(np.count_nonzero(chosen)),
        "forearm_flip_frames": forearm_flips,
        "leg_flip_frames": leg_flips,
        "contact_share": round(found.share, 4),
    } | floor_figures(joints, found, up, rest)
    return Solved(
        global_orient=solution.global_rotations[:, 0],
        body_pose=solution.local_rotations[:, 1:],
        pelvis=joints[:, 0],
        offsets=offsets,
        resting=found.resting,
        figures=figures,
        floor_point=floor_point,
    )


def skeleton_joints(
    points: np.ndarray, offsets: np.ndarray, keypoint_confidence: np.ndarray, iterations: int
) -> np.ndarray:
    """(M, 24, 3) the skeleton's joints posed on landmarks (M, 33, 3) by the IK."""
    solution = ik.solve(landmarks.from_mediapipe(points), offsets, keypoint_confidence, iterations)
    return skeleton.forward_kinematics(solution.global_rotations, offsets, solution.root)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def floor_figures(
    joints: np.ndarray, found: contacts.Contacts, up: np.ndarray, rest: np.ndarray
) -> dict[str, Any]:
    """Floor penetration (cm, the deepest sole below the floor) and planted-foot sliding (cm/frame)."""
    if found.floor is None:
        return {"floor_found": False, "floor_penetration_cm": None, "planted_sliding_cm": None}
    sole = joints[:, contacts.SOLE_JOINTS]  # (M, 2, 2, 3)
    heights = sole @ up - rest - found.floor
    penetration = max(0.0, -float(np.min(heights)))
    axes = rootpath.floor_axes(up)
    slides = []
    for side in range(2):
        pairs = np.flatnonzero(found.resting[:-1, side] & found.resting[1:, side])
        point = found.point[pairs, side]
        step = sole[pairs + 1, side, point] - sole[pairs, side, point]
        slides.append(np.linalg.norm(step @ axes.T, axis=-1))
    sliding = np.concatenate(slides)
    return {
        "floor_found": True,
        "floor_penetration_cm": round(100.0 * penetration, 2),
        "planted_sliding_cm": round(100.0 * float(sliding.mean()), 3) if sliding.size else None,
    }
