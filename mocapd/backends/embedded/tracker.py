"""Following people from frame to frame: Hungarian assignment on box overlap, landmark distance and motion.

Each track predicts its box and landmarks with constant velocity; detections are matched to
predictions by minimum total cost (scipy's linear_sum_assignment). A track survives unmatched
frames (occlusion) for a while; an unmatched detection starts a new track; ids are never reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from mocapd.motion import appearance

# Weight of the landmark distance (in box diagonals) against 1 - IoU in the matching cost.
LANDMARK_WEIGHT = 1.0
# Pairs costlier than this never match: a different person, or a jump no body makes in one frame.
MAX_COST = 1.2
# Seconds a track may go unseen (occlusion, a missed detection) before it ends.
MAX_GAP_SECONDS = 1.0
# Two detections overlapping this much, with landmarks this close (share of the box height), are one
# person found twice: the weaker is dropped. Boxes alone are not enough: one person behind another
# overlaps them as much.
DUPLICATE_IOU = 0.6
DUPLICATE_LANDMARK_SHARE = 0.25
# Longest extrapolation of a track's motion (seconds); past it the track waits where it was last going.
MAX_PREDICTION_SECONDS = 0.1
# How much of a new velocity measurement enters the track's velocity (the rest is kept): damps noise.
VELOCITY_GAIN = 0.5
# Colours: a detection whose clothes differ from the track's by more than APPEARANCE_FREE (the
# spread of one person's frames, mocapd.motion.appearance.distance) costs APPEARANCE_WEIGHT per unit
# more; two people cross without the tracker swapping them when their clothes differ.
APPEARANCE_FREE = 0.35
APPEARANCE_WEIGHT = 3.0
# How much of a new detection's colours enters the track's.
LOOK_GAIN = 0.2


@dataclass
class Detection:
    """One person found in one frame: landmarks in image pixels and the box around them."""

    image_points: np.ndarray  # (L, 2) pixels
    confidence: np.ndarray  # (L,) 0..1 per landmark
    box: np.ndarray  # (4,) x0, y0, x1, y1 pixels
    score: float  # 0..1 for the whole detection
    payload: Any = None  # whatever the caller attaches (world landmarks, ...)
    look: np.ndarray | None = None  # colour histograms (mocapd.motion.appearance), where measured


@dataclass
class Track:
    """A followed person: last state and constant-velocity motion."""

    tid: int
    box: np.ndarray
    points: np.ndarray
    confidence: np.ndarray
    last_time: float
    box_velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))
    point_velocity: np.ndarray | None = None
    hits: int = 1
    look: np.ndarray | None = None  # running mean of its detections' colour histograms

    def predicted(self, time: float) -> tuple[np.ndarray, np.ndarray]:
        """Box and landmarks extrapolated to `time`."""
        # Velocities are noisy: extrapolating them far ahead (after an occlusion) drifts off the person.
        elapsed = min(time - self.last_time, MAX_PREDICTION_SECONDS)
        points = self.points if self.point_velocity is None else self.points + self.point_velocity * elapsed
        return self.box + self.box_velocity * elapsed, points


def box_from_points(
    points: np.ndarray, confidence: np.ndarray, size: tuple[int, int], pad: float = 0.1
) -> np.ndarray:
    """(x0, y0, x1, y1) around the confident landmarks, padded, clipped to the (H, W) image."""
    height, width = size
    chosen = points[confidence >= 0.3] if np.count_nonzero(confidence >= 0.3) >= 2 else points
    low, high = chosen.min(axis=0), chosen.max(axis=0)
    margin = (high - low) * pad
    low, high = low - margin, high + margin
    return np.array(
        [
            np.clip(low[0], 0, width),
            np.clip(low[1], 0, height),
            np.clip(high[0], 0, width),
            np.clip(high[1], 0, height),
        ]
    )


def iou(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    width = min(first[2], second[2]) - max(first[0], second[0])
    height = min(first[3], second[3]) - max(first[1], second[1])
    if width <= 0 or height <= 0:
        return 0.0
    intersection = width * height
    area = (first[2] - first[0]) * (first[3] - first[1]) + (second[2] - second[0]) * (second[3] - second[1])
    return float(intersection / max(area - intersection, 1e-9))


def same_person(first: Detection, second: Detection, share: float) -> bool:
    """Whether two detections' confident landmarks lie within `share` of the taller box's height."""
    height = max(float(first.box[3] - first.box[1]), float(second.box[3] - second.box[1]), 1.0)
    weights = np.minimum(first.confidence, second.confidence) + 1e-3
    distances = np.linalg.norm(first.image_points - second.image_points, axis=1)
    return float(np.average(distances, weights=weights)) < share * height


def drop_duplicates(detections: list[Detection]) -> list[Detection]:
    """Detections with the same person found twice reduced to the stronger one."""
    kept: list[Detection] = []
    for detection in sorted(detections, key=lambda item: -item.score):
        if all(
            iou(detection.box, other.box) < DUPLICATE_IOU
            or not same_person(detection, other, DUPLICATE_LANDMARK_SHARE)
            for other in kept
        ):
            kept.append(detection)
    return kept


class Tracker:
    """Assigns a stable track id to each detection, frame after frame."""

    def __init__(self, max_gap_seconds: float = MAX_GAP_SECONDS) -> None:
        self.max_gap_seconds = max_gap_seconds
        self.tracks: list[Track] = []
        self.next_tid = 1

    def cost(self, track: Track, detection: Detection, time: float, crowding: float = 0.0) -> float:
        """1 - IoU with the predicted box + landmark distance in box diagonals (both from the prediction).

        crowding: how much the track's predicted box overlaps another track's (IoU, 0..1). Boxes of
        people who overlap each other overlap any detection of either alike, so the box term counts
        that much less and the landmarks and colours decide (MultiPerson cam03: a box widened by the
        man's outstretched arm gave his next detection to the woman behind him)."""
        box, points = track.predicted(time)
        diagonal = max(float(np.hypot(box[2] - box[0], box[3] - box[1])), 1.0)
        # Only landmarks seen in both count: a person half out of frame has guessed limbs.
        weights = np.minimum(np.minimum(detection.confidence, track.confidence), 1.0) + 1e-3
        distance = float(np.average(np.linalg.norm(points - detection.image_points, axis=1), weights=weights))
        cost = (1.0 - crowding) * (1.0 - iou(box, detection.box)) + LANDMARK_WEIGHT * distance / diagonal
        if track.look is not None and detection.look is not None:
            colours = appearance.distance(track.look, detection.look)
            if colours is not None:
                cost += APPEARANCE_WEIGHT * max(0.0, colours - APPEARANCE_FREE)
        return cost

    def update(self, detections: list[Detection], time: float) -> list[tuple[int, Detection]]:
        """Match this frame's detections to tracks; returns (tid, detection) pairs, new tracks included."""
        self.tracks = [track for track in self.tracks if time - track.last_time <= self.max_gap_seconds]
        detections = drop_duplicates(detections)
        assigned: list[tuple[int, Detection]] = []
        unmatched = set(range(len(detections)))
        if self.tracks and detections:
            crowding = self.crowding(time)
            costs = np.array(
                [
                    [self.cost(track, detection, time, crowd) for detection in detections]
                    for track, crowd in zip(self.tracks, crowding, strict=True)
                ]
            )
            rows, columns = linear_sum_assignment(costs)
            for row, column in zip(rows, columns, strict=True):
                if costs[row, column] > MAX_COST:
                    continue
                self.advance(self.tracks[row], detections[column], time)
                assigned.append((self.tracks[row].tid, detections[column]))
                unmatched.discard(int(column))
        for column in sorted(unmatched):
            detection = detections[column]
            track = Track(
                self.next_tid,
                detection.box.copy(),
                detection.image_points.copy(),
                detection.confidence.copy(),
                time,
                look=None if detection.look is None else detection.look.copy(),
            )
            self.next_tid += 1
            self.tracks.append(track)
            assigned.append((track.tid, detection))
        return assigned

    def crowding(self, time: float) -> list[float]:
        """Per track: the largest IoU of its predicted box with another track's."""
        boxes = [track.predicted(time)[0] for track in self.tracks]
        return [
            max((iou(box, other) for place, other in enumerate(boxes) if place != index), default=0.0)
            for index, box in enumerate(boxes)
        ]

    @staticmethod
    def advance(track: Track, detection: Detection, time: float) -> None:
        """Move a track to its new detection and update its velocity."""
        elapsed = max(time - track.last_time, 1e-6)
        box_velocity = (detection.box - track.box) / elapsed
        point_velocity = (detection.image_points - track.points) / elapsed
        track.box_velocity = VELOCITY_GAIN * box_velocity + (1 - VELOCITY_GAIN) * track.box_velocity
        track.point_velocity = (
            point_velocity
            if track.point_velocity is None
            else VELOCITY_GAIN * point_velocity + (1 - VELOCITY_GAIN) * track.point_velocity
        )
        track.box = detection.box.copy()
        track.points = detection.image_points.copy()
        track.confidence = detection.confidence.copy()
        track.last_time = time
        track.hits += 1
        if detection.look is not None and np.isfinite(detection.look).all():
            if track.look is None or not np.isfinite(track.look).all():
                track.look = detection.look.copy()
            else:
                track.look = (1 - LOOK_GAIN) * track.look + LOOK_GAIN * detection.look
