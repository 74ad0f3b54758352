"""Test and bench helper: real DeepMimic motion clips converted to SMPL-skeleton track files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mocapd import skeleton
from mocapd.rotations import matrix_to_quaternion, quaternion_to_matrix
from mocapd.trackfile import TrackMotion

DEEPMIMIC_DIR = Path(__file__).parent / "data" / "mocap" / "deepmimic"

# DeepMimic's humanoid: x forward, y up, z to the actor's right. SMPL: x left, y up, z forward.
DEEPMIMIC_TO_SMPL = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
# Layout of one frame after the duration (README): name -> (start, size), sizes 3 (position), 4 (quaternion), 1 (angle).
FIELDS = {
    "root_position": (1, 3),
    "root": (4, 4),
    "chest": (8, 4),
    "neck": (12, 4),
    "right_hip": (16, 4),
    "right_knee": (20, 1),
    "right_ankle": (21, 4),
    "right_shoulder": (25, 4),
    "right_elbow": (29, 1),
    "left_hip": (30, 4),
    "left_knee": (34, 1),
    "left_ankle": (35, 4),
    "left_shoulder": (39, 4),
    "left_elbow": (43, 1),
}
DEEPMIMIC_PARENTS = {
    "root": None,
    "chest": "root",
    "neck": "chest",
    "right_hip": "root",
    "right_knee": "right_hip",
    "right_ankle": "right_knee",
    "right_shoulder": "chest",
    "right_elbow": "right_shoulder",
    "left_hip": "root",
    "left_knee": "left_hip",
    "left_ankle": "left_knee",
    "left_shoulder": "chest",
    "left_elbow": "left_shoulder",
}
# The SMPL joint that takes each DeepMimic joint's global rotation; the others keep their parent's.
SMPL_SOURCE = {
    "pelvis": "root",
    "spine1": "chest",
    "neck": "neck",
    "left_hip": "left_hip",
    "right_hip": "right_hip",
    "left_knee": "left_knee",
    "right_knee": "right_knee",
    "left_ankle": "left_ankle",
    "right_ankle": "right_ankle",
    "left_shoulder": "left_shoulder",
    "right_shoulder": "right_shoulder",
    "left_elbow": "left_elbow",
    "right_elbow": "right_elbow",
}


def axis_rotation(axis: int, angles: np.ndarray) -> np.ndarray:
    """(N,) angles -> (N, 3, 3) rotations about coordinate axis 0, 1 or 2."""
    cosine, sine = np.cos(angles), np.sin(angles)
    first, second = [index for index in range(3) if index != axis]
    result = np.zeros(angles.shape + (3, 3))
    result[..., axis, axis] = 1.0
    result[..., first, first] = cosine
    result[..., second, second] = cosine
    result[..., first, second] = -sine if axis != 1 else sine
    result[..., second, first] = sine if axis != 1 else -sine
    return result


def read_frames(name: str, cycles: int) -> tuple[np.ndarray, float]:
    """The clip's frames repeated `cycles` times, heading and position carried across each wrap."""
    data = json.loads((DEEPMIMIC_DIR / f"humanoid3d_{name}.txt").read_text())
    frames = np.array(data["Frames"], dtype=np.float64)
    fps = 1.0 / frames[0, 0]
    if cycles == 1:
        return frames, fps
    cycle = frames[:-1]  # the last frame repeats the first, moved on by one cycle
    first_root = quaternion_to_matrix(frames[0, 4:8])
    last_root = quaternion_to_matrix(frames[-1, 4:8])
    turn = last_root @ first_root.T
    heading = np.arctan2(turn[0, 2], turn[2, 2])
    step = frames[-1, 1:4] - frames[0, 1:4]
    pieces = []
    start = frames[0, 1:4].copy()
    for index in range(cycles):
        rotation = axis_rotation(1, np.array(heading * index))
        piece = cycle.copy()
        piece[:, 1:4] = start + (cycle[:, 1:4] - frames[0, 1:4]) @ rotation.T
        rotated = rotation @ quaternion_to_matrix(cycle[:, 4:8])
        piece[:, 4:8] = matrix_to_quaternion(rotated)
        pieces.append(piece)
        start = start + rotation @ step
    return np.concatenate(pieces), fps


def deepmimic_globals(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Global rotation of each DeepMimic joint, in DeepMimic's axes."""
    result: dict[str, np.ndarray] = {}
    for joint, parent in DEEPMIMIC_PARENTS.items():
        start, size = FIELDS[joint]
        if size == 4:
            local = quaternion_to_matrix(frames[:, start : start + 4])
        else:  # knees and elbows turn about the joint's z axis
            local = axis_rotation(2, frames[:, start])
        result[joint] = local if parent is None else result[parent] @ local
    return result


def load_track(name: str = "walk", cycles: int = 1, tid: int = 1) -> TrackMotion:
    """A track file's contents from a DeepMimic clip on the standard SMPL skeleton, feet on the floor."""
    frames, fps = read_frames(name, cycles)
    count = frames.shape[0]
    deepmimic = deepmimic_globals(frames)
    conversion = DEEPMIMIC_TO_SMPL
    # DeepMimic's arms hang down at rest; SMPL's point sideways (left along +x, right along -x).
    arm_rest = {
        "left": axis_rotation(2, np.array(-np.pi / 2)),
        "right": axis_rotation(2, np.array(np.pi / 2)),
    }
    global_rotations = np.empty((count, skeleton.NUM_JOINTS, 3, 3))
    for joint, joint_name in enumerate(skeleton.JOINT_NAMES):
        source = SMPL_SOURCE.get(joint_name)
        if source is None:
            global_rotations[:, joint] = global_rotations[:, skeleton.PARENTS[joint]]
            continue
        rotation = conversion @ deepmimic[source] @ conversion.T
        side = joint_name.split("_")[0]
        if joint_name.endswith(("shoulder", "elbow")):
            rotation = rotation @ arm_rest[side]
        global_rotations[:, joint] = rotation
    local = skeleton.global_to_local(global_rotations)
    trans = frames[:, 1:4] @ conversion.T
    offsets = skeleton.STANDARD_OFFSETS.copy()
    positions = skeleton.forward_kinematics(global_rotations, offsets, trans)
    feet = [skeleton.JOINT_INDEX[name] for name in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
    trans[:, 1] -= positions[:, feet, 1].min()
    return TrackMotion(
        tid=tid,
        fps=fps,
        frame_idx=np.arange(count),
        time=np.arange(count) / fps,
        R_root=local[:, 0],
        R_body=local[:, 1:],
        camera=trans + np.array([0.0, 0.0, 5.0]),
        betas=np.zeros((count, 10)),
        trans=trans,
        offsets=offsets,
        confidence=np.ones((count, skeleton.NUM_JOINTS)),
    )


def add_noise(motion: TrackMotion, seed: int = 0, position_cm: float = 1.5, floor_cm: float = -3.0) -> None:
    """Estimator-like noise: jitter on the root position and a floor estimated a few cm off."""
    generator = np.random.default_rng(seed)
    motion.trans = motion.trans + generator.normal(0.0, position_cm / 100.0, motion.trans.shape)
    motion.trans[:, 1] += floor_cm / 100.0
