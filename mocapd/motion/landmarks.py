"""Named body keypoints: the one keypoint list the IK reads, filled from MediaPipe's 33 landmarks or .trc markers.

A keypoint a source does not measure is NaN; the IK derives what it needs from the others
(e.g. the neck from the shoulders and hips when there is no neck marker).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mocapd.errors import JobError
from mocapd.skeleton import JOINT_NAMES

KEYPOINT_NAMES: tuple[str, ...] = (
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_toe",
    "right_toe",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_index",
    "right_index",
    "left_pinky",
    "right_pinky",
    "nose",
    "left_ear",
    "right_ear",
    "neck",
    "head_top",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
KEYPOINT_INDEX = {name: index for index, name in enumerate(KEYPOINT_NAMES)}

# MediaPipe Pose's 33 landmarks, in the model's output order.
MEDIAPIPE_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
NUM_MEDIAPIPE = len(MEDIAPIPE_NAMES)
MEDIAPIPE_INDEX = {name: index for index, name in enumerate(MEDIAPIPE_NAMES)}
# Our keypoint name -> MediaPipe landmark name, where they differ or exist at all.
MEDIAPIPE_SOURCE = {name: name for name in KEYPOINT_NAMES if name in MEDIAPIPE_INDEX} | {
    "left_toe": "left_foot_index",
    "right_toe": "right_foot_index",
}

# The bones between MediaPipe landmarks (the preview draws them).
BONES: tuple[tuple[str, str], ...] = tuple(
    (first, second)
    for side in ("left", "right")
    for first, second in (
        ("shoulder", "elbow"),
        ("elbow", "wrist"),
        ("wrist", "index"),
        ("hip", "knee"),
        ("knee", "ankle"),
        ("ankle", "heel"),
        ("heel", "foot_index"),
        ("ankle", "foot_index"),
        ("shoulder", "hip"),
    )
    for first, second in [(f"{side}_{first}", f"{side}_{second}")]
) + (
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
    ("left_ear", "nose"),
    ("right_ear", "nose"),
)
BONE_INDICES = tuple((MEDIAPIPE_INDEX[first], MEDIAPIPE_INDEX[second]) for first, second in BONES)

# .trc marker names (Pose2Sim's HALPE-style body model) -> our keypoints; a list is averaged.
TRC_SOURCE: dict[str, tuple[str, ...]] = {
    "left_hip": ("LHip",),
    "right_hip": ("RHip",),
    "left_knee": ("LKnee",),
    "right_knee": ("RKnee",),
    "left_ankle": ("LAnkle",),
    "right_ankle": ("RAnkle",),
    "left_heel": ("LHeel",),
    "right_heel": ("RHeel",),
    "left_toe": ("LBigToe", "LSmallToe"),
    "right_toe": ("RBigToe", "RSmallToe"),
    "left_shoulder": ("LShoulder",),
    "right_shoulder": ("RShoulder",),
    "left_elbow": ("LElbow",),
    "right_elbow": ("RElbow",),
    "left_wrist": ("LWrist",),
    "right_wrist": ("RWrist",),
    "nose": ("Nose",),
    "neck": ("Neck",),
    "head_top": ("Head",),
}


def from_mediapipe(landmarks: np.ndarray) -> np.ndarray:
    """(..., 33, C) MediaPipe landmarks -> (..., K, C) keypoints in KEYPOINT_NAMES order, NaN where absent."""
    shape = landmarks.shape[:-2] + (NUM_KEYPOINTS, landmarks.shape[-1])
    result = np.full(shape, np.nan, dtype=np.float64)
    for name, source in MEDIAPIPE_SOURCE.items():
        result[..., KEYPOINT_INDEX[name], :] = landmarks[..., MEDIAPIPE_INDEX[source], :]
    return result


def confidence_from_mediapipe(visibility: np.ndarray) -> np.ndarray:
    """(..., 33) per-landmark confidence -> (..., K) per keypoint, 0 where the source has no such point."""
    result = np.zeros(visibility.shape[:-1] + (NUM_KEYPOINTS,), dtype=np.float64)
    for name, source in MEDIAPIPE_SOURCE.items():
        result[..., KEYPOINT_INDEX[name]] = visibility[..., MEDIAPIPE_INDEX[source]]
    return result


def read_trc(path: Path) -> tuple[np.ndarray, float, dict[str, np.ndarray]]:
    """(times (N,), frame rate, markers by name (N, 3) in the file's units) from an OpenSim .trc file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise JobError(f"cannot read {path.name}: {error}") from error
    if len(lines) < 6:
        raise JobError(f"{path.name}: not a .trc file (too short)")
    header = dict(zip(lines[1].split("\t"), lines[2].split("\t"), strict=False))
    rate = float(header.get("DataRate", "nan"))
    names = [name for name in lines[3].split("\t")[2:] if name.strip()]
    rows = [line.split("\t") for line in lines[5:] if line.strip()]
    values = np.array([[float(value) if value.strip() else np.nan for value in row] for row in rows])
    if values.shape[1] < 2 + 3 * len(names):
        raise JobError(f"{path.name}: {len(names)} markers named but only {values.shape[1] - 2} columns")
    markers = {name: values[:, 2 + 3 * index : 5 + 3 * index] for index, name in enumerate(names)}
    return values[:, 1], rate, markers


def from_trc_markers(markers: dict[str, np.ndarray]) -> np.ndarray:
    """Keypoints (N, K, 3) from .trc markers by name (missing markers stay NaN)."""
    frames = next(iter(markers.values())).shape[0]
    result = np.full((frames, NUM_KEYPOINTS, 3), np.nan, dtype=np.float64)
    for name, sources in TRC_SOURCE.items():
        present = [markers[source] for source in sources if source in markers]
        if present:
            result[:, KEYPOINT_INDEX[name]] = np.mean(present, axis=0)
    return result


# MediaPipe landmarks each SMPL joint is seen through: its confidence is that of the least seen one.
JOINT_LANDMARKS: dict[str, tuple[str, ...]] = {
    "pelvis": ("left_hip", "right_hip"),
    "left_hip": ("left_hip",),
    "right_hip": ("right_hip",),
    "spine1": ("left_hip", "right_hip"),
    "left_knee": ("left_knee",),
    "right_knee": ("right_knee",),
    "spine2": ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),
    "left_ankle": ("left_ankle",),
    "right_ankle": ("right_ankle",),
    "spine3": ("left_shoulder", "right_shoulder"),
    "left_foot": ("left_heel", "left_foot_index"),
    "right_foot": ("right_heel", "right_foot_index"),
    "neck": ("left_shoulder", "right_shoulder"),
    "left_collar": ("left_shoulder",),
    "right_collar": ("right_shoulder",),
    "head": ("nose", "left_ear", "right_ear"),
    "left_shoulder": ("left_shoulder",),
    "right_shoulder": ("right_shoulder",),
    "left_elbow": ("left_elbow",),
    "right_elbow": ("right_elbow",),
    "left_wrist": ("left_wrist",),
    "right_wrist": ("right_wrist",),
    "left_hand": ("left_index", "left_pinky"),
    "right_hand": ("right_index", "right_pinky"),
}
# A landmark this far outside the image (fraction of the image size) is not seen, whatever the model says.
OUTSIDE_MARGIN = 0.02


def landmark_confidence(
    image_points: np.ndarray, visibility: np.ndarray, size: tuple[int, int]
) -> np.ndarray:
    """(..., 33) confidence 0..1: the model's visibility, zero for landmarks outside the (H, W) image."""
    height, width = size
    inside = (
        (image_points[..., 0] >= -OUTSIDE_MARGIN * width)
        & (image_points[..., 0] <= (1 + OUTSIDE_MARGIN) * width)
        & (image_points[..., 1] >= -OUTSIDE_MARGIN * height)
        & (image_points[..., 1] <= (1 + OUTSIDE_MARGIN) * height)
    )
    return np.where(inside, np.clip(visibility, 0.0, 1.0), 0.0)


def joint_confidence(landmark_confidences: np.ndarray) -> np.ndarray:
    """(..., 24) per SMPL joint, in skeleton.JOINT_NAMES order, from (..., 33) landmark confidences."""
    columns = [
        np.min(landmark_confidences[..., [MEDIAPIPE_INDEX[name] for name in JOINT_LANDMARKS[joint]]], axis=-1)
        for joint in JOINT_NAMES
    ]
    return np.stack(columns, axis=-1)
