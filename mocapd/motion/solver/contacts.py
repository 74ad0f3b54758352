"""Foot contacts and the floor: where a foot rests, from its speed in the image, its height and confidence.

Speed is measured in the image (the model's 2D landmarks, turned into metres at the foot's depth),
not from the 3D positions, whose per-frame depth jitter would make every planted foot look as if it
slid. Height is measured along up from a floor that the contacts themselves give: a first guess
from the clip's lowest feet, then the median height of the feet found resting. Walking has no
flight: where neither foot rests by speed but one is on the floor and not stepping, it is the
stance foot (with_stance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocapd import skeleton
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.solver import timeline
from mocapd.motion.solver.camera import Pinhole

SIDES = ("left", "right")
# The skeleton joints a foot rests on (heel side, toe side) and the landmarks that show them in the image.
SOLE_JOINTS = skeleton.SOLE_JOINTS
SOLE_LANDMARKS = np.array(
    [[MEDIAPIPE_INDEX[f"{side}_{name}"] for name in ("heel", "foot_index")] for side in SIDES]
)
# A resting foot moves slower than this (m/s) in the image plane; a walking foot's swing is 3-5 m/s.
CONTACT_SPEED_M_S = 0.35
# ... and its sole is within this of the floor (metres).
CONTACT_HEIGHT_M = 0.06
# Walking has no flight: while neither foot rests by the rule above and one is on the floor, that one
# is the stance foot if slower than this in the image (the other swings at 3-5 m/s). The model's
# landmarks of a stance foot the swinging leg passes in front of wander at 0.35-0.6 m/s (SinglePerson
# cam01, cam02, cam04: the triangulated foot stays within 2 cm meanwhile), which is no step.
STANCE_SPEED_M_S = 1.0
# Between contacts the lowest foot is drawn towards the floor with this sigma (metres, one-sided: only
# from above). Walking has no flight: a stance foot the detector missed because the depth's error
# (the image leaves it open along the ray) lifted it would otherwise float there. MultiPerson cam03
# person 1, 0.03 / 0.015 / 0.01 m: PA-MPJPE 96.4 -> 92.7 / 90.3 / 89.9 mm, feet near the floor 33 -> 45 / 80 / 88 %.
SUPPORT_SIGMA_M = 0.01
# ... where it is no higher than this above the floor: higher, the person is off the ground by intent
# (a jump, a step up), which the image shows, not by a depth error (10 % of a 2 m camera height).
SUPPORT_BAND_M = 0.25
# The first floor guess: this percentile of the clip's lowest sole; feet within FIRST_BAND_M of it
# and slow are the first contacts.
FIRST_PERCENTILE = 5.0
FIRST_BAND_M = 0.15
# The foot's landmarks must be seen at least this confidently.
MIN_CONFIDENCE = 0.5
# A contact lasts at least this long (seconds); shorter runs are noise (a jump's apex).
MIN_CONTACT_S = 0.1
# Image speed is measured over this many frames.
SPEED_SPAN = 4
# The model puts a planted foot's landmarks on the other foot for a frame or two while that one swings
# past it (SinglePerson cam02: jumps of 100-200 px at confidence 0.95), which a plain difference reads
# as a step: a landmark further than SPIKE_FRACTION of the person's height in the image (5 cm of a
# 1.7 m body) from the median of the MEDIAN_SPAN rows around it is replaced by that median. A foot's
# own motion is never that far from it: a steady one (a swing, a heel rising) is its own median.
MEDIAN_SPAN = 5
SPIKE_FRACTION = 0.03


@dataclass
class Contacts:
    """Which foot rests in which frame, on which point, and the floor they rest on."""

    resting: np.ndarray  # (N, 2) bool per side
    point: np.ndarray  # (N, 2) 0: heel side (ankle joint), 1: toe side (foot joint), the slower one
    floor: float | None  # the floor's offset along up (camera frame: up . p = floor on the floor)

    @property
    def share(self) -> float:
        """Share of frames with at least one foot resting."""
        return float(self.resting.any(axis=1).mean()) if self.resting.size else 0.0


def rest_heights(offsets: np.ndarray) -> np.ndarray:
    """(2,) height of the ankle and foot joints above the sole in the rest pose."""
    return skeleton.sole_rest_heights(offsets)


def sole_heights(joints: np.ndarray, up: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(N, 2, 2) the height along `up` of the sole under each foot point (joint height minus its rest height)."""
    return joints[:, SOLE_JOINTS] @ up - rest_heights(offsets)


def floor_point(pelvis: np.ndarray, up: np.ndarray, floor: float) -> np.ndarray:
    """(3,) the point of the floor (`floor` along `up`) under the pelvis path's (N, 3) mean position:
    what the world's floor is placed through (worldframe.clip_world)."""
    centre = pelvis.mean(axis=0)
    return centre - (centre @ up - floor) * up


def unsupported(heights: np.ndarray, resting: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, points): the frames the support term draws down, and which of their four sole points
    (side * 2 + point) is lowest. heights (N, 2, 2) of the sole points above the floor, resting (N, 2):
    frames with no resting foot whose lowest point is above the floor, by less than SUPPORT_BAND_M."""
    lowest = heights.reshape(heights.shape[0], 4)
    choice = np.argmin(lowest, axis=1)
    height = lowest[np.arange(lowest.shape[0]), choice]
    free = np.flatnonzero(~resting.any(axis=1) & (height > 0.0) & (height < SUPPORT_BAND_M))
    return free, choice[free]


def image_speeds(image: np.ndarray, depth: np.ndarray, camera: Pinhole, times: np.ndarray) -> np.ndarray:
    """(N, 2, 2) metres per second of each foot's heel and toe landmarks in the image plane, over
    SPEED_SPAN frames (one-frame steps are mostly the model's pixel noise)."""
    points = despiked(image[:, SOLE_LANDMARKS], image, times)  # (N, 2, 2, 2)
    frames = points.shape[0]
    speed = np.zeros(points.shape[:3])
    if frames < 2:
        return speed
    span = min(SPEED_SPAN, frames - 1)
    rows = np.arange(frames)
    before = np.clip(rows - span // 2, 0, frames - 1)
    after = np.clip(before + span, 0, frames - 1)
    before = np.clip(after - span, 0, frames - 1)
    seconds = np.maximum(np.asarray(times)[after] - np.asarray(times)[before], timeline.MIN_STEP_S)
    pixels = np.linalg.norm(points[after] - points[before], axis=-1) / seconds[:, None, None]
    metres = camera.metres_per_pixel(depth[:, None, None]) * pixels
    return np.nan_to_num(metres, nan=np.inf)


def running_median(values: np.ndarray, span: int, adjacent: np.ndarray | None = None) -> np.ndarray:
    """(N, ...) the median of the `span` rows centred on each row along the first axis, NaN rows
    skipped (NaN where all are). The window narrows towards the ends, staying centred, so that a
    steady motion there is kept too; it does not reach across a gap (adjacent (N-1,) False)."""
    frames = values.shape[0]
    result = np.array(values, dtype=np.float64)
    cuts = [0] + ([] if adjacent is None else list(np.flatnonzero(~adjacent) + 1)) + [frames]
    for first, stop in zip(cuts[:-1], cuts[1:], strict=True):
        segment = result[first:stop]
        length = stop - first
        for half in range(1, min(span // 2, (length - 1) // 2) + 1):
            rows = np.arange(first + half, stop - half)
            windows = np.stack([values[rows + offset] for offset in range(-half, half + 1)])
            known = np.isfinite(windows)
            count = known.sum(axis=0)
            # nanmedian without its all-NaN warning: unknown entries sorted last, the middle known ones.
            ordered = np.sort(np.where(known, windows, np.inf), axis=0)
            low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[None], axis=0)[0]
            high = np.take_along_axis(ordered, np.maximum(count // 2, 0)[None], axis=0)[0]
            segment[rows - first] = np.where(count > 0, 0.5 * (low + high), np.nan)
    return result


def despiked(points: np.ndarray, image: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(N, ..., 2) image points with the rows further than SPIKE_FRACTION of the person's height (from
    image (N, 33, 2)) from their MEDIAN_SPAN rows' median replaced by that median."""
    median = running_median(points, MEDIAN_SPAN, timeline.adjacent(times))
    heights = np.ptp(image[..., 1], axis=1)
    height = float(np.nanmedian(heights)) if np.isfinite(heights).any() else 0.0
    far = np.linalg.norm(points - median, axis=-1) > SPIKE_FRACTION * height
    return np.where(far[..., None], median, points)


def clean(mask: np.ndarray, minimum: int) -> np.ndarray:
    """A boolean series with runs shorter than `minimum` frames dropped."""
    result = mask.copy()
    start = None
    for index in range(len(mask) + 1):
        inside = index < len(mask) and mask[index]
        if inside and start is None:
            start = index
        elif not inside and start is not None:
            if index - start < minimum:
                result[start:index] = False
            start = None
    return result


def detect(
    joints: np.ndarray,
    image: np.ndarray,
    confidence: np.ndarray,
    up: np.ndarray,
    offsets: np.ndarray,
    camera: Pinhole,
    times: np.ndarray,
) -> Contacts:
    """Contacts and floor of a skeleton: joints (N, 24, 3) camera frame, image/confidence (N, 33, ...)."""
    return detect_points(
        joints[:, SOLE_JOINTS], rest_heights(offsets), joints[:, 0, 2], image, confidence, up, camera, times
    )


def detect_landmarks(
    points: np.ndarray,
    image: np.ndarray,
    confidence: np.ndarray,
    up: np.ndarray,
    camera: Pinhole,
    times: np.ndarray,
) -> Contacts:
    """Contacts and floor of landmarks (N, 33, 3) camera frame: the heel and toe landmarks lie on the sole."""
    depth = np.nanmean(points[:, SOLE_LANDMARKS, 2], axis=(1, 2))
    return detect_points(points[:, SOLE_LANDMARKS], np.zeros(2), depth, image, confidence, up, camera, times)


def detect_points(
    sole: np.ndarray,
    rest: np.ndarray,
    depth: np.ndarray,
    image: np.ndarray,
    confidence: np.ndarray,
    up: np.ndarray,
    camera: Pinhole,
    times: np.ndarray,
) -> Contacts:
    """Contacts and floor from each foot's heel-side and toe-side points (N, 2, 2, 3), their heights
    above the sole in the rest pose (2,), the body's depth (N,) and the 2D landmarks."""
    frames = sole.shape[0]
    heights = sole @ up - rest  # (N, 2, 2)
    speeds = image_speeds(image, depth, camera, times)  # (N, 2, 2)
    # The point a foot rests on is its slower one (the toe while the heel lifts, the heel at strike).
    point = np.argmin(speeds, axis=2)
    rows = np.arange(frames)[:, None]
    sides = np.arange(2)[None, :]
    lower = heights[rows, sides, point]
    speed = speeds[rows, sides, point]
    seen = np.nan_to_num(confidence[:, SOLE_LANDMARKS]).min(axis=2) >= MIN_CONFIDENCE
    slow = (speed < CONTACT_SPEED_M_S) & seen
    minimum = max(2, int(round(MIN_CONTACT_S * timeline.rate(times))))
    if frames < minimum or not np.isfinite(lower).any():
        return Contacts(np.zeros((frames, 2), dtype=bool), point, None)
    guess = float(np.percentile(heights.min(axis=(1, 2)), FIRST_PERCENTILE))
    first = slow & (lower - guess < FIRST_BAND_M)
    first = np.stack([clean(first[:, side], minimum) for side in range(2)], axis=1)
    if not first.any():
        return Contacts(np.zeros((frames, 2), dtype=bool), point, None)
    floor = float(np.median(lower[first]))
    resting = slow & (np.abs(lower - floor) < CONTACT_HEIGHT_M)
    resting = np.stack([clean(resting[:, side], minimum) for side in range(2)], axis=1)
    if not resting.any():
        return Contacts(resting, point, None)
    floor = float(np.median(lower[resting]))
    resting, point = with_stance(resting, point, speeds, heights - floor, seen, minimum)
    return Contacts(resting, point, floor)


def with_stance(
    resting: np.ndarray,
    point: np.ndarray,
    speeds: np.ndarray,
    heights: np.ndarray,
    seen: np.ndarray,
    minimum: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Resting feet (N, 2) and their points (N, 2) with the stance foot added in frames where neither
    rests but the body is on the floor: of the feet whose lowest point is within CONTACT_HEIGHT_M of
    it, seen, and slower than STANCE_SPEED_M_S in the image, the slower one, resting on that point.
    speeds (N, 2, 2) m/s and heights (N, 2, 2) m above the floor of each foot's heel and toe."""
    frames = resting.shape[0]
    lowest = np.argmin(heights, axis=2)  # (N, 2)
    rows, sides = np.arange(frames)[:, None], np.arange(2)[None, :]
    height, speed = heights[rows, sides, lowest], speeds[rows, sides, lowest]
    candidate = seen & (np.abs(height) < CONTACT_HEIGHT_M) & (speed < STANCE_SPEED_M_S)
    free = np.flatnonzero(~resting.any(axis=1) & candidate.any(axis=1))
    chosen = np.argmin(np.where(candidate[free], speed[free], np.inf), axis=1)
    combined = resting.copy()
    combined[free, chosen] = True
    combined = np.stack([clean(combined[:, side], minimum) for side in range(2)], axis=1)
    added = combined & ~resting
    return combined, np.where(added, lowest, point)
