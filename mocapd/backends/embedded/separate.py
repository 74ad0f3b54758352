"""People who overlap in the image, posed apart: the nearer one again with the one behind painted out.

The pose model poses a person from a crop around them. Where another person stands in that crop
(here: behind them), the model mixes the two bodies: it takes the other's arm or leg for one
of the person's own, swaps their arms, or puts a limb hidden behind them where the other's is
(Pose2Sim MultiPerson cam03, frames 52-96: the man's hanging left arm placed above his head, his right
arm and leg on the woman behind him; 2D landmarks 35-150 px off the 4-view triangulation where other
frames are 6-23 px, world landmarks 150-270 mm PA-MPJPE where they are 64-95 mm). Painting the others'
bones grey and looking at the frame afresh (IMAGE mode: no crop carried over from the mixed frame)
leaves one body in the crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mocapd.backends.embedded.tracker import Detection
from mocapd.motion.landmarks import BONE_INDICES, MEDIAPIPE_INDEX
from mocapd.motion.solver.flips import permutation

MIRRORED = permutation(None)

# A person's bones are painted this wide, as a share of their height: a limb's width with the
# landmarks' error (MultiPerson cam03 man, every frame posed again, offline: PA-MPJPE of the solver's
# joints 109 mm as tracked, 5 %: 95, 7 %: 84 mm).
BONE_WIDTH_SHARE = 0.07
# Another person's box covering this share of a person's box is in their crop.
OVERLAP_SHARE = 0.1
# Someone the model did not find in this frame (hidden behind the person, or mixed into them) is
# painted where they were last seen, for this long.
HOLD_SECONDS = 0.5
# The fresh look's pose is the person's when its landmarks lie this close to theirs (share of their
# box height, median over the landmarks): the mixed pose is far off where it matters, not everywhere.
MATCH_SHARE = 0.3
# The fresh look replaces the followed pose only where the two disagree by more than this (the 80th
# percentile of the landmarks' distances, as a share of the box height: one limb or more elsewhere).
# Where they agree the followed pose is kept: VIDEO mode smooths it over the frames, and a look at one
# image alone is noisier (MultiPerson cam01 and cam04, where the two people's boxes overlap in most
# frames: 1-3 % apart, and PA-MPJPE after the solver 3-13 mm worse when every frame was replaced).
# bench_solver MultiPerson, PA-MPJPE after / knee RMSE: 0.05: c2p1 59.9 / 14.4, c3p2 102.7, c4p2 75.2;
# 0.07: c2p1 59.3 / 14.4, c3p2 101.2, c4p2 75.2; 0.1: c2p1 57.4 / 10.7, c3p2 108.8, c4p2 79.0
# (as tracked 59.0 / 9.4, 115.5, 79.0): the knee's 5 degrees on c2p1 kept it at 0.1.
DISAGREE_SHARE = 0.1
# The fresh look finds up to this many people: the person and whoever the paint missed.
FRESH_PEOPLE = 2


# The torso's sides and diagonals: how far away a person stands, from their metric size over their
# size in the image.
TORSO = tuple(
    (MEDIAPIPE_INDEX[first], MEDIAPIPE_INDEX[second])
    for first, second in (
        ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"),
        ("left_shoulder", "right_shoulder"),
        ("left_hip", "right_hip"),
        ("left_shoulder", "right_hip"),
        ("right_shoulder", "left_hip"),
    )
)


@dataclass
class Seen:
    """Where a person was last seen: image landmarks (L, 2) pixels and their confidences, how far
    away (apparent_depth), and when."""

    points: np.ndarray
    confidence: np.ndarray
    depth: float
    time: float


def apparent_depth(detection: Detection) -> float:
    """The person's distance from the camera up to the focal length: their torso's metric size (the
    world landmarks) over its size in the image, metres per pixel."""
    world = np.asarray(detection.payload[0])
    metric = sum(float(np.linalg.norm(world[a] - world[b])) for a, b in TORSO)
    pixels = sum(
        float(np.linalg.norm(detection.image_points[a] - detection.image_points[b])) for a, b in TORSO
    )
    return metric / max(pixels, 1e-6)


def seen(detection: Detection, time: float) -> Seen:
    """Where and how far away the person of `detection` is seen at `time`."""
    return Seen(detection.image_points, detection.confidence, apparent_depth(detection), time)


def covered_share(box: np.ndarray, other: np.ndarray) -> float:
    """The share of (x0, y0, x1, y1) `box` that `other` covers."""
    width = min(box[2], other[2]) - max(box[0], other[0])
    height = min(box[3], other[3]) - max(box[1], other[1])
    if width <= 0 or height <= 0:
        return 0.0
    return float(width * height / max((box[2] - box[0]) * (box[3] - box[1]), 1e-9))


def box_of(points: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) around the confident landmarks (all where fewer than two are)."""
    chosen = points[confidence >= 0.5] if np.count_nonzero(confidence >= 0.5) >= 2 else points
    return np.concatenate([chosen.min(axis=0), chosen.max(axis=0)])


def behind_in_crop(person: Detection, others: list[Seen]) -> list[Seen]:
    """The other people further from the camera whose confident landmarks' box covers enough of the
    person's box. Only they are painted out: the nearer person is seen whole, and painting them out
    for the one behind leaves that one's hidden parts as unknown as before (MultiPerson cam03, the
    woman behind: PA-MPJPE after the solver 89 -> 97 mm when both were posed again)."""
    depth = apparent_depth(person)
    return [
        other
        for other in others
        if other.depth > depth
        and covered_share(person.box, box_of(other.points, other.confidence)) >= OVERLAP_SHARE
    ]


def paint_bones(image: np.ndarray, people: list[np.ndarray]) -> np.ndarray:
    """A copy of the image with each person's bones (landmarks (33, 2) in the image's pixels) grey."""
    painted = image.copy()
    for points in people:
        height = float(np.ptp(points[:, 1]))
        width = max(1, int(round(BONE_WIDTH_SHARE * height)))
        for first, second in BONE_INDICES:
            start = tuple(int(round(value)) for value in points[first])
            end = tuple(int(round(value)) for value in points[second])
            cv2.line(painted, start, end, (128, 128, 128), width)
    return painted


def matching(person: Detection, candidates: list[Detection]) -> Detection | None:
    """The candidate posing `person` (nearest median landmark distance, within MATCH_SHARE of their
    box height); None where none does."""
    height = max(float(person.box[3] - person.box[1]), 1.0)
    best, best_distance = None, MATCH_SHARE * height
    for candidate in candidates:
        distance = float(np.median(np.linalg.norm(candidate.image_points - person.image_points, axis=1)))
        if distance < best_distance:
            best, best_distance = candidate, distance
    return best


def disagreement(person: Detection, fresh: Detection) -> float:
    """How far the fresh look's landmarks lie from the person's (80th percentile, share of their box
    height), with its left and right as given or exchanged: a look that only labels the sides the other
    way round agrees (the solver's flips repair keeps the labelling the clip supports)."""
    height = max(float(person.box[3] - person.box[1]), 1.0)
    return min(
        float(np.percentile(np.linalg.norm(points - person.image_points, axis=1), 80)) / height
        for points in (fresh.image_points, fresh.image_points[MIRRORED])
    )


def reposed(person: Detection, fresh: Detection) -> Detection:
    """The person as the fresh look posed them: its landmarks and payload, the tracker's box and look."""
    return Detection(
        fresh.image_points, fresh.confidence, person.box, person.score, fresh.payload, person.look
    )


def held(seen: dict[int, Seen], present: set[int], time: float) -> dict[int, Seen]:
    """Those not found in this frame but seen within HOLD_SECONDS."""
    return {
        tid: last for tid, last in seen.items() if tid not in present and time - last.time <= HOLD_SECONDS
    }
