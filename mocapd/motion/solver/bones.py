"""One skeleton per person per clip: bone lengths measured once, robustly, the same on both sides.

Two views of the same skeleton: landmark-to-landmark lengths (what the pose fit holds the landmarks
to) and the SMPL rest offsets (what the IK and the exporter use), both from the model's metric world
landmarks over the frames where both ends are seen confidently; the legs' long bones then as the image
measures them where it can (image_lengths).
"""

from __future__ import annotations

import numpy as np

from mocapd import skeleton
from mocapd.motion import ik
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.solver.camera import Pinhole

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


# The legs' long bones, measured in the image (image_lengths): (SIDED_SEGMENTS entry, the SMPL joint at
# its far end, whose rest offset is the bone). Not the arms: measured so, SinglePerson cam02's right
# forearm (its 2D landmarks are the worst) bent backwards in 5 frames instead of 2, elbow RMSE alike.
LEG_BONES: tuple[tuple[tuple[str, str], str], ...] = ((("hip", "knee"), "knee"), (("knee", "ankle"), "ankle"))
# A bone's image length over the clip: this percentile is where it lies across the view (below the
# top, for a misplaced landmark), less what the 2D noise of its ends adds to it there.
IMAGE_PERCENTILE = 95.0
NOISE_QUANTILE = 1.645  # the noise's own 95th percentile, in sigmas
# The frames whose image lengths reach this percentile are where the bone lies across the view when
# the model's own depth for them says so: the sine of its angle out of the view below ACROSS_SINE.
# Elsewhere the image only says the bone is at least that long.
TOP_PERCENTILE = 90.0
ACROSS_SINE = 0.25
# The model's leg proportions are off by up to about 10 %: more is a misplaced landmark or a wrong
# depth (another person's legs, a swap), not the bone.
MAX_CHANGE = 1.1


def _group(segment: tuple[str, str]) -> np.ndarray:
    """(S,) the segments (left and right) of one SIDED_SEGMENTS entry."""
    return SEGMENT_GROUPS == SIDED_SEGMENTS.index(segment)


def image_lengths(
    lengths: np.ndarray,
    image: np.ndarray,
    world: np.ndarray,
    depth: np.ndarray,
    confidence: np.ndarray,
    camera: Pinhole,
    noise_px: float,
) -> np.ndarray:
    """(S,) `lengths` with the legs' long bones measured in the image through the camera, left = right.

    A bone whose ends are seen d pixels apart at depth z is at least d z / f long (the image shows the
    part of it across the view), and that long where it lies across the view. The model's metric
    landmarks make the thigh 5-8 % too long for the rest of the body (SinglePerson, against the
    4-view triangulation); a bone longer than its image leans in depth to fit it, and the knee bends
    wrong. image (N, 33, 2) px, world (N, 33, 3) the model's landmarks in the camera's axes, depth
    (N, 33) m of the landmarks placed in the camera, confidence (N, 33), noise_px the 2D noise."""
    result = lengths.copy()
    rays = (image - camera.centre) / camera.focal
    for segment, _ in LEG_BONES:
        across, sines = [], []
        columns = _group(segment)
        model = float(result[columns][0])
        if not (np.isfinite(model) and model > 0):
            continue
        for side in SIDES:
            first, second = (MEDIAPIPE_INDEX[f"{side}_{name}"] for name in segment)
            middle = (depth[:, first] + depth[:, second]) / 2.0
            length = np.linalg.norm(rays[:, first] - rays[:, second], axis=-1) * middle
            seen = np.minimum(confidence[:, first], confidence[:, second]) >= MIN_CONFIDENCE
            seen &= np.isfinite(length) & np.isfinite(world[:, [first, second], 2]).all(axis=1)
            across.append(length[seen])
            sines.append(np.abs(world[seen, first, 2] - world[seen, second, 2]) / model)
        values, sine = np.concatenate(across), np.concatenate(sines)
        if not values.size:
            continue
        # Both ends' 2D noise at the person's depth, in metres.
        noise = NOISE_QUANTILE * np.sqrt(2.0) * noise_px * float(np.median(depth[np.isfinite(depth)]))
        noise /= camera.focal
        measured = float(
            np.clip(np.percentile(values, IMAGE_PERCENTILE) - noise, model / MAX_CHANGE, model * MAX_CHANGE)
        )
        top = values >= np.percentile(values, TOP_PERCENTILE)
        if np.median(sine[top]) >= ACROSS_SINE:
            measured = max(measured, model)  # never seen across: a lower bound only
        result[columns] = measured
    return result


def with_lengths(offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(24, 3) rest offsets whose leg bones are the segments' `lengths` (S,): the IK's thigh and shank the
    pose fit's (the two medians of the model's landmarks differed by up to 2 %, and the IK bent the
    knee to make up for it: SinglePerson cam04 knee RMSE 12.9 -> 12.3 deg)."""
    result = offsets.copy()
    for segment, joint in LEG_BONES:
        length = lengths[int(np.flatnonzero(_group(segment))[0])]
        if not (np.isfinite(length) and length > 0):
            continue
        for side in SIDES:
            index = skeleton.JOINT_INDEX[f"{side}_{joint}"]
            norm = np.linalg.norm(result[index])
            if norm > 0:
                result[index] *= length / norm
    # The pelvis stands as high as the legs are long (ik.estimate_offsets).
    legs = [skeleton.JOINT_INDEX[f"{side}_{name}"] for side in SIDES for name in ("knee", "ankle")]
    result[0] *= np.linalg.norm(result[legs], axis=-1).sum() / np.linalg.norm(offsets[legs], axis=-1).sum()
    return result
