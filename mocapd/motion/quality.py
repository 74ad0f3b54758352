"""Quality figures of one extracted track, stored with the job and shown in its report."""

from __future__ import annotations

from typing import Any

import numpy as np

from mocapd.motion.extraction import Extracted
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.trackfile import TrackMotion

# Limbs whose length should not change over a clip: their variation measures the landmarks' noise.
LIMBS: tuple[tuple[str, str], ...] = (
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
)
# A box edge this close to the image border (pixels) counts as touching it: the person is cut off.
BORDER_MARGIN_PX = 2.0
# A frame where more than half the joints are below this confidence counts as the person leaving view.
LOW_CONFIDENCE = 0.3


def bone_length_variation(landmarks_world: np.ndarray) -> float | None:
    """Mean coefficient of variation of limb lengths over frames (N, 33, 3); None without data."""
    variations = []
    for start, end in LIMBS:
        lengths = np.linalg.norm(
            landmarks_world[:, MEDIAPIPE_INDEX[start]] - landmarks_world[:, MEDIAPIPE_INDEX[end]], axis=-1
        )
        lengths = lengths[np.isfinite(lengths)]
        if lengths.size >= 2 and lengths.mean() > 0:
            variations.append(lengths.std() / lengths.mean())
    return float(np.mean(variations)) if variations else None


def jitter(motion: TrackMotion) -> float:
    """Mean joint acceleration (m/s^2) of the skeleton's joint positions, from the real frame times."""
    if motion.frame_count < 3:
        return 0.0
    positions = motion.joint_positions()
    steps = np.diff(motion.time)
    velocities = np.diff(positions, axis=0) / steps[:, None, None]
    accelerations = np.diff(velocities, axis=0) / ((steps[1:] + steps[:-1]) / 2.0)[:, None, None]
    return float(np.linalg.norm(accelerations, axis=-1).mean())


def out_of_image(
    bbox: np.ndarray, image_size: np.ndarray, confidence: np.ndarray | None = None
) -> np.ndarray:
    """Per frame: the box (x0, y0, w, h) touches or crosses the border of the image (height, width),
    or most joints have a low confidence. Frames without a box count only by confidence."""
    x0, y0, width, height = bbox.T
    image_height, image_width = image_size.T
    with np.errstate(invalid="ignore"):
        touching = (
            (x0 <= BORDER_MARGIN_PX)
            | (y0 <= BORDER_MARGIN_PX)
            | (x0 + width >= image_width - BORDER_MARGIN_PX)
            | (y0 + height >= image_height - BORDER_MARGIN_PX)
        )
    touching &= np.isfinite(bbox).all(axis=1) & np.isfinite(image_size).all(axis=1)
    if confidence is not None:
        touching |= np.mean(confidence < LOW_CONFIDENCE, axis=1) > 0.5
    return touching


def track_quality(extracted: Extracted) -> dict[str, Any]:
    """The figures of one track, JSON-ready."""
    motion, observed = extracted.motion, extracted.observations
    real = observed.measured
    landmarks_world = observed.extras.get("landmarks_world")
    variation = bone_length_variation(landmarks_world[real]) if landmarks_world is not None else None
    joint_confidence = observed.extras.get("joint_confidence")
    leaving = out_of_image(
        observed.bbox[real],
        observed.image_size[real],
        np.nan_to_num(joint_confidence[real]) if joint_confidence is not None else None,
    )
    return (
        {
            "detected_share": round(float(extracted.measured.mean()), 4),
            "interpolated_frames": int(np.count_nonzero(~extracted.measured)),
            "bone_length_cv": None if variation is None else round(variation, 4),
            "jitter_m_s2": round(jitter(motion), 3),
            "frames_out_of_image": int(np.count_nonzero(leaving)),
        }
        | extracted.camera_tilt.to_dict()
        | extracted.solver
    )
