"""One skeleton per person per clip: bone lengths measured once, robustly, the same on both sides.

Two views of the same skeleton: landmark-to-landmark lengths (what the pose fit holds the landmarks
to) and the SMPL rest offsets (what the IK and the exporter use), both from the model's metric world
landmarks over the frames where both ends are seen confidently.
"""

from __future__ import annotations

import numpy as np

from mocapd import skeleton
from mocapd.motion import ik
from mocapd.motion.landmarks import MEDIAPIPE_INDEX

# Landmarks held together by a rigid segment (MediaPipe names). The "left_" name of each pair; the
# right side's segment is the same with "right_", and both share one length.
SIDED_SEGMENTS: tuple[tuple[str, str], ...] = (
    ("hip", "knee"),
    ("knee", "ankle"),
    ("ankle", "heel"),
    ("ankle", "foot_index"),
    ("heel", "foot_index"),
    ("shoulder", "elbow"),
    ("elbow", "wrist"),
    ("wrist", "index"),
    ("wrist", "pinky"),
    ("shoulder", "hip"),
    ("ear", "shoulder"),
)
# Segments across the body (one each).
CROSS_SEGMENTS: tuple[tuple[str, str], ...] = (
    ("left_hip", "right_hip"),
    ("left_shoulder", "right_shoulder"),
    ("left_ear", "right_ear"),
    ("left_shoulder", "right_hip"),
    ("right_shoulder", "left_hip"),
)
# Both ends must be this confident for a frame to measure a segment.
MIN_CONFIDENCE = 0.5
SIDES = ("left", "right")


def segments() -> tuple[np.ndarray, np.ndarray, int]:
    """(S, 2) landmark index pairs, (S,) the length group of each (left and right share one), group count."""
    pairs, groups = [], []
    for group, (first, second) in enumerate(SIDED_SEGMENTS):
        for side in SIDES:
            pairs.append((MEDIAPIPE_INDEX[f"{side}_{first}"], MEDIAPIPE_INDEX[f"{side}_{second}"]))
            groups.append(group)
    for index, (first, second) in enumerate(CROSS_SEGMENTS):
        pairs.append((MEDIAPIPE_INDEX[first], MEDIAPIPE_INDEX[second]))
        groups.append(len(SIDED_SEGMENTS) + index)
    return np.array(pairs), np.array(groups), len(SIDED_SEGMENTS) + len(CROSS_SEGMENTS)


SEGMENTS, SEGMENT_GROUPS, GROUP_COUNT = segments()


def segment_lengths(world: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """(S,) one length per segment over the clip: the median over confident frames, left = right.

    world (N, 33, 3) metres, confidence (N, 33). A segment never seen confidently takes its median
    over all frames (the model still places it)."""
    first, second = SEGMENTS[:, 0], SEGMENTS[:, 1]
    lengths = np.linalg.norm(world[:, first] - world[:, second], axis=-1)  # (N, S)
    seen = (confidence[:, first] >= MIN_CONFIDENCE) & (confidence[:, second] >= MIN_CONFIDENCE)
    seen &= np.isfinite(lengths)
    result = np.empty(GROUP_COUNT)
    for group in range(GROUP_COUNT):
        columns = SEGMENT_GROUPS == group
        values = lengths[:, columns][seen[:, columns]]
        if values.size == 0:
            values = lengths[:, columns][np.isfinite(lengths[:, columns])]
        result[group] = float(np.median(values)) if values.size else np.nan
    return result[SEGMENT_GROUPS]


def mirrored_joint(index: int) -> int:
    """The joint on the other side of the body (itself for the spine and head)."""
    name = skeleton.JOINT_NAMES[index]
    if name.startswith("left_"):
        return skeleton.JOINT_INDEX["right_" + name[5:]]
    if name.startswith("right_"):
        return skeleton.JOINT_INDEX["left_" + name[6:]]
    return index


def symmetric(offsets: np.ndarray) -> np.ndarray:
    """(24, 3) offsets with each left/right pair given the mean of their lengths, directions kept."""
    result = offsets.copy()
    for index in range(skeleton.NUM_JOINTS):
        other = mirrored_joint(index)
        if other <= index:
            continue
        length = (np.linalg.norm(offsets[index]) + np.linalg.norm(offsets[other])) / 2.0
        for joint in (index, other):
            norm = np.linalg.norm(offsets[joint])
            if norm > 0:
                result[joint] = offsets[joint] / norm * length
    return result


def rest_offsets(keypoints: np.ndarray, confidence: np.ndarray | None) -> np.ndarray:
    """(24, 3) the actor's SMPL rest offsets from keypoints (N, K, 3): ik's robust medians, left = right."""
    return symmetric(ik.estimate_offsets(keypoints, confidence))
