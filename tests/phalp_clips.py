"""Test and bench helper: a 4D-Humans track as PHALP writes it, from real DeepMimic motion, with PHALP's depth errors.

The clip: a real DeepMimic walk on the standard skeleton, filmed by a level camera 1.8 m high, 6 m
back, written as PHALP's tracklets (tests/fake_4dhumans/layout.py) with the root depth wrong along
the ray to the person, as PHALP's weak-perspective camera makes it: a slow drift (the feet float
above the floor and sink into it) and a per-frame jitter (they slide). The pose is HMR 2.0's and
stays as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocapd import skeleton
from mocapd.motion import extraction, tracklets
from mocapd.motion.solver import contacts
from mocapd.motion.worldframe import PELVIS_IN_SMPL_MODEL
from tests import deepmimic
from tests.fake_4dhumans.layout import LayoutBuilder, Person

FPS = 30.0
# World (Y up) -> OpenCV camera axes, and where the camera stands.
WORLD_TO_CAMERA = np.diag([-1.0, -1.0, 1.0])
CAMERA_POSITION = np.array([0.0, 1.8, -6.0])
DEPTH_DRIFT = 0.06  # the per-frame depth is up to 6 % too far or too near over DRIFT_S ...
DRIFT_S = 2.0
DEPTH_JITTER = 0.02  # ... give or take 2 % a frame


@dataclass
class Clip:
    data: tracklets.Tracklets
    pelvis: np.ndarray  # (N, 3) the true pelvis, camera frame
    soles: np.ndarray  # (N,) the true lowest sole above the floor (m)
    planted: np.ndarray  # (N - 1, 2, 2) a true foot point resting in both frames of a step


def phalp_clip(frames: int = 90, lift_m: np.ndarray | None = None, seed: int = 0) -> Clip:
    """The walk as PHALP's tracklets, its root depth off by the drift and the jitter along the ray."""
    motion = deepmimic.load_track("walk", cycles=3)
    count = min(frames, motion.frame_count)
    local = np.concatenate([motion.R_root[:count, None], motion.R_body[:count]], axis=1)
    global_rotations = skeleton.local_to_global(local)
    trans = motion.trans[:count].copy()
    trans[:, [0, 2]] -= trans[:, [0, 2]].mean(axis=0)
    if lift_m is not None:
        trans[:, 1] += lift_m[:count]
    joints = skeleton.forward_kinematics(global_rotations, motion.offsets, trans)
    pelvis = (trans - CAMERA_POSITION) @ WORLD_TO_CAMERA.T
    drift = DEPTH_DRIFT * np.sin(2.0 * np.pi * np.arange(count) / (FPS * DRIFT_S))
    error = drift + np.random.default_rng(seed).normal(0.0, DEPTH_JITTER, count)
    builder = LayoutBuilder(count)
    for frame in range(count):
        seen = pelvis[frame] * (1.0 + error[frame])  # along the ray: the same place in the image
        camera = seen * [1.0, 1.0, 1.0 / builder.depth_scale] - PELVIS_IN_SMPL_MODEL
        orient = WORLD_TO_CAMERA @ global_rotations[frame, 0]
        builder.add(frame, Person(tid=1, global_orient=orient, body_pose=local[frame, 1:], camera=camera))
    sole = joints[:, contacts.SOLE_JOINTS]  # (N, 2, 2, 3) world, y up
    heights = sole[..., 1] - contacts.rest_heights(motion.offsets)
    speed = np.linalg.norm(np.diff(sole[..., [0, 2]], axis=0), axis=-1) * FPS
    planted = (heights[:-1] < 0.03) & (heights[1:] < 0.03) & (speed < 0.1)
    return Clip(tracklets.from_dict(builder.build()), pelvis, heights.min(axis=(1, 2)), planted)


@dataclass
class Measured:
    root_error_m: float  # mean distance of the pelvis from the truth
    lowest_sole_m: np.ndarray  # (N,) the lowest sole above the world's floor
    sliding_mm: float  # mean motion along the floor of a truly planted foot point, per frame


def measure(track: extraction.CameraTrack, clip: Clip) -> Measured:
    motion = extraction.level(track).motion
    joints = motion.joint_positions()
    sole = joints[:, contacts.SOLE_JOINTS]
    heights = sole[..., 1] - contacts.rest_heights(motion.offsets)
    steps = np.linalg.norm(np.diff(sole[..., [0, 2]], axis=0), axis=-1)
    return Measured(
        root_error_m=float(np.linalg.norm(track.pelvis_camera - clip.pelvis, axis=1).mean()),
        lowest_sole_m=heights.min(axis=(1, 2)),
        sliding_mm=1000.0 * float(steps[clip.planted].mean()),
    )


# The camera's true up (a level camera) and the floor's offset along it (1.8 m below the camera).
TRUE_UP = WORLD_TO_CAMERA @ np.array([0.0, 1.0, 0.0])
TRUE_FLOOR = -CAMERA_POSITION[1]


def per_frame_joints(track: extraction.CameraTrack) -> np.ndarray:
    """(N, 24, 3) the track's joints in the camera frame."""
    return extraction.camera_positions(track.camera_rotations, track.body, track.pelvis_camera, track.offsets)


def measure_camera(joints: np.ndarray, offsets: np.ndarray, clip: Clip) -> Measured:
    """The same figures in the camera frame, against the true floor and up (no levelling)."""
    sole = joints[:, contacts.SOLE_JOINTS]
    heights = contacts.sole_heights(joints, TRUE_UP, offsets) - TRUE_FLOOR
    steps = np.diff(sole - (sole @ TRUE_UP)[..., None] * TRUE_UP, axis=0)
    return Measured(
        root_error_m=float(np.linalg.norm(joints[:, 0] - clip.pelvis, axis=1).mean()),
        lowest_sole_m=heights.min(axis=(1, 2)),
        sliding_mm=1000.0 * float(np.linalg.norm(steps, axis=-1)[clip.planted].mean()),
    )
