"""Test helper: synthetic embedded-backend observations from real DeepMimic motion, seen by a known camera.

The motion (tests/deepmimic.py) is turned into MediaPipe's 33 landmarks, placed in front of a level
pinhole camera, projected to pixels (with noise) and given as world landmarks relative to the hips
(with noise), the way the pose model reports them. Ground truth is kept beside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocapd import skeleton
from mocapd.motion.landmarks import MEDIAPIPE_INDEX, NUM_MEDIAPIPE, joint_confidence, landmark_confidence
from mocapd.motion.solver import Pinhole
from mocapd.motion.solver.flips import HYPOTHESES
from mocapd.motion.worldframe import view_ray_rotation
from tests import deepmimic
from tests.fake_4dhumans.layout import IMAGE_SIZE, LayoutBuilder, Person

JOINT = skeleton.JOINT_INDEX
HEIGHT, WIDTH = 1080, 1920
CAMERA = Pinhole.for_image(HEIGHT, WIDTH)
# World (Y up, mocapd's frame) -> OpenCV camera axes; the camera 1 m above the floor, 5 m back.
WORLD_TO_CAMERA = np.diag([-1.0, -1.0, 1.0])
CAMERA_POSITION = np.array([0.0, 1.0, -5.0])
# Where the landmarks without a skeleton joint lie, from a joint, in that joint's rest frame (metres).
EXTRAS = {
    "nose": ("head", (0.0, 0.0, 0.10)),
    "left_eye": ("head", (0.03, 0.03, 0.08)),
    "right_eye": ("head", (-0.03, 0.03, 0.08)),
    "left_ear": ("head", (0.075, 0.0, 0.0)),
    "right_ear": ("head", (-0.075, 0.0, 0.0)),
    "left_heel": ("left_ankle", (0.0, -0.06, -0.05)),
    "right_heel": ("right_ankle", (0.0, -0.06, -0.05)),
    "left_index": ("left_hand", (0.035, 0.0, 0.02)),
    "right_index": ("right_hand", (-0.035, 0.0, 0.02)),
    "left_pinky": ("left_hand", (0.03, 0.0, -0.02)),
    "right_pinky": ("right_hand", (-0.03, 0.0, -0.02)),
}
FROM_JOINTS = {
    name: f"{side}_{part}"
    for side in ("left", "right")
    for name, part in (
        (f"{side}_hip", "hip"),
        (f"{side}_knee", "knee"),
        (f"{side}_ankle", "ankle"),
        (f"{side}_foot_index", "foot"),
        (f"{side}_shoulder", "shoulder"),
        (f"{side}_elbow", "elbow"),
        (f"{side}_wrist", "wrist"),
    )
}


@dataclass
class Clip:
    image: np.ndarray  # (N, 33, 2) px
    world: np.ndarray  # (N, 33, 3) m, relative to the hips, in the axes of the ray to them
    visibility: np.ndarray  # (N, 33)
    times: np.ndarray  # (N,)
    truth: np.ndarray  # (N, 33, 3) the true camera-frame landmarks
    true_joints: np.ndarray  # (N, 24, 3) camera frame
    up: np.ndarray  # (3,) up in the camera frame


def landmarks_of(joints: np.ndarray, global_rotations: np.ndarray) -> np.ndarray:
    """(N, 33, 3) MediaPipe landmarks of skeleton joints (N, 24, 3) with rotations (N, 24, 3, 3)."""
    points = np.zeros(joints.shape[:1] + (NUM_MEDIAPIPE, 3))
    for name, joint in FROM_JOINTS.items():
        points[:, MEDIAPIPE_INDEX[name]] = joints[:, JOINT[joint]]
    for name, (joint, offset) in EXTRAS.items():
        points[:, MEDIAPIPE_INDEX[name]] = joints[:, JOINT[joint]] + global_rotations[
            :, JOINT[joint]
        ] @ np.array(offset)
    for name in ("left_eye_inner", "left_eye_outer", "mouth_left"):
        points[:, MEDIAPIPE_INDEX[name]] = points[:, MEDIAPIPE_INDEX["left_eye"]]
    for name in ("right_eye_inner", "right_eye_outer", "mouth_right"):
        points[:, MEDIAPIPE_INDEX[name]] = points[:, MEDIAPIPE_INDEX["right_eye"]]
    for side in ("left", "right"):
        points[:, MEDIAPIPE_INDEX[f"{side}_thumb"]] = points[:, MEDIAPIPE_INDEX[f"{side}_index"]]
    return points


def make_clip(
    name: str = "walk",
    frames: int | None = None,
    seed: int = 0,
    pixel_noise: float = 1.5,
    world_noise_m: float = 0.02,
    lift_m: np.ndarray | None = None,
    cycles: int = 3,
    heading_deg: float = 0.0,
) -> Clip:
    """A DeepMimic clip seen by CAMERA; `lift_m` (N,) raises the actor off the floor per frame;
    `heading_deg` turns the motion about the vertical (0: away from the camera, 90: across the image)."""
    motion = deepmimic.load_track(name, cycles=cycles)
    count = motion.frame_count if frames is None else min(frames, motion.frame_count)
    angle = np.radians(heading_deg)
    turn = np.array(
        [[np.cos(angle), 0.0, np.sin(angle)], [0.0, 1.0, 0.0], [-np.sin(angle), 0.0, np.cos(angle)]]
    )
    local = np.concatenate([turn @ motion.R_root[:count, None], motion.R_body[:count]], axis=1)
    global_rotations = skeleton.local_to_global(local)
    trans = motion.trans[:count] @ turn.T
    trans[:, [0, 2]] -= trans[:, [0, 2]].mean(axis=0)  # centred in front of the camera
    if lift_m is not None:
        trans[:, 1] += lift_m[:count]
    joints_world = skeleton.forward_kinematics(global_rotations, motion.offsets, trans)
    points_world = landmarks_of(joints_world, global_rotations)
    truth = (points_world - CAMERA_POSITION) @ WORLD_TO_CAMERA.T
    true_joints = (joints_world - CAMERA_POSITION) @ WORLD_TO_CAMERA.T
    generator = np.random.default_rng(seed)
    image = CAMERA.project(truth) + generator.normal(0.0, pixel_noise, truth.shape[:-1] + (2,))
    hips = truth[:, [MEDIAPIPE_INDEX["left_hip"], MEDIAPIPE_INDEX["right_hip"]]].mean(axis=1, keepdims=True)
    # The model sees the person through a crop, as if centred: its world landmarks are in the axes of
    # the ray to the person (the solver turns them back, mocapd.motion.worldframe.view_ray_rotation).
    ray = view_ray_rotation(hips[:, 0])
    world = (truth - hips) @ ray + generator.normal(0.0, world_noise_m, truth.shape)
    return Clip(
        image=image,
        world=world,
        visibility=np.full(truth.shape[:-1], 0.95),
        times=np.arange(count) / motion.fps,
        truth=truth,
        true_joints=true_joints,
        up=WORLD_TO_CAMERA @ np.array([0.0, 1.0, 0.0]),
    )


def in_world_axes(truth: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """(N, 3) camera-frame displacements in the axes of the model's world landmarks (the ray to the hips, as
    make_clip puts them): how a test moves a joint of the model's guess."""
    hips = truth[:, [MEDIAPIPE_INDEX["left_hip"], MEDIAPIPE_INDEX["right_hip"]]].mean(axis=1)
    return np.einsum("ni,nij->nj", shift, view_ray_rotation(hips))


def mirror(clip: Clip, frames: slice, hypothesis: int = 1) -> None:
    """Swap the labels of `frames` the way the pose model does (1: the whole body, 2: the legs)."""
    order = HYPOTHESES[hypothesis]
    for name in ("image", "world", "visibility"):
        values = getattr(clip, name)
        values[frames] = values[frames][:, order]


def solve(clip: Clip, known_up: bool = False):  # type: ignore[no-untyped-def]
    """The solver on the clip; known_up: given the camera's up, as extraction gives it (its estimate)."""
    from mocapd.motion.solver import solve_embedded

    up = clip.up if known_up else None
    return solve_embedded(clip.image, clip.world, clip.visibility, clip.times, CAMERA, (HEIGHT, WIDTH), up)


def embedded_file(frames: int = 45, hidden: range = range(0), fps: float = 30.0) -> dict:  # type: ignore[type-arg]
    """The synthetic walk as the embedded backend writes it (landmarks per person and frame), the
    person not detected in the frames `hidden`."""
    assert tuple(IMAGE_SIZE) == (HEIGHT, WIDTH)
    clip = make_clip(frames=frames)
    confidence = landmark_confidence(clip.image, clip.visibility, (HEIGHT, WIDTH))
    builder = LayoutBuilder(frames)
    for frame in range(frames):
        if frame in hidden:
            continue
        person = Person(tid=1)
        person.extra = {
            "landmarks_image": clip.image[frame].astype(np.float32),
            "landmarks_world": clip.world[frame].astype(np.float32),
            "landmarks_visibility": clip.visibility[frame].astype(np.float32),
            "joint_confidence": joint_confidence(confidence[frame]).astype(np.float32),
        }
        builder.add(frame, person)
    raw = builder.build()
    for index, key in enumerate(builder.keys):
        raw[key]["timestamp"] = index / fps
    return raw
