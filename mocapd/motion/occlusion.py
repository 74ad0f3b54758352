"""Landmarks hidden behind a nearer person: read as unseen, not as the pose model placed them.

Where one person passes in front of another, the pose model still places every landmark of the one
behind, with high visibility, often on the nearer person's limbs (MultiPerson cam03: the far actor's
feet on the near one's legs, 100-230 px off, visibility 0.9-1.0). Those points make the far body look
taller in the image, so nearer (4.5 -> 4.1 m against a still 4.5 m), and put their feet on the floor
where the nearer person stands. A landmark inside a nearer person's outline (their image landmarks'
bones, as wide as a limb) cannot be seen: its visibility and its joints' confidences are lowered; a
detection mostly hidden is not solved from at all (extraction fills the track across it like a gap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mocapd.motion import landmarks, verticals
from mocapd.motion.tracklets import Frame, Tracklets

if TYPE_CHECKING:  # extraction imports this module (unplaced)
    from mocapd.motion import extraction

# The outline's half-width, a share of the person's height in the image: half a limb's width (a
# thigh: about 4 %) and the landmarks' error (20-30 px on an 800 px person: about 3 %). MultiPerson
# cam03 hip-centre distance error 0.05: 17 %, 0.06: 12 %, 0.075: 9 %, 0.09: 11 %; 0.1: 8 % (the far
# actor's feet seen in 7 frames, their floor weighed less by mocapd.motion.sharedfloor; was 60 %).
RADIUS_SHARE = 0.075
# One person hides another only where their depth (the tracker's per-frame fit, off by about 10 %
# each) is below this share of the other's: side by side, neither is taken as in front.
NEARER_SHARE = 0.85
# A hiding person missing from a frame (the detector lost them in the overlap) is outlined there
# from their landmarks before and after, across gaps up to this long (seconds).
MAX_GAP_S = 1.0
# What is left of a hidden landmark's visibility (the pose model's own never reaches 0 exactly).
HIDDEN_VISIBILITY = 0.0
# A detection with at least this share of its landmarks hidden neither poses nor places the person:
# the pose model's crop held two people, its metric landmarks included, and the visible part's size
# says little of the depth (MultiPerson cam03: the far actor drawn 4.5 -> 4.3 m over the frames
# mostly behind the near one, solved from what was seen). Extraction fills the track across it like
# a gap (mocapd.motion.extraction.unplaced). MultiPerson cam03, that actor: hip-centre distance error
# 9 / 11 / 16 % and bench_solver PA-MPJPE 93 / 101 / - mm at 0.25 / 0.35 / 0.5.
MOSTLY_HIDDEN_SHARE = 0.25
VISIBILITY_KEYS = ("landmarks_visibility", "joint_confidence")


@dataclass
class Outline:
    """One person in one frame: their bones in the image, how wide, how far from the camera."""

    bones: np.ndarray  # (K, 2, 2) pixels
    radius: float  # pixels
    depth: float  # metres (the tracker's per-frame fit)


def outlines(track: extraction.CameraTrack) -> dict[int, Outline]:
    """Video frame -> the person's outline: their image landmarks where detected, else interpolated
    between the detections around a gap of at most MAX_GAP_S."""
    points = track.observations.extras.get("landmarks_image")
    if points is None:
        return {}
    observed = track.observations
    detected = np.flatnonzero(observed.measured & np.isfinite(points).all(axis=(1, 2)))
    if detected.size == 0:
        return {}
    rows = np.searchsorted(track.frame_idx, observed.frame_idx[detected])  # track rows of the detections
    result = {}
    for row, frame in enumerate(track.frame_idx):
        after = int(np.searchsorted(rows, row))
        if after < rows.size and rows[after] == row:
            marks = points[detected[after]]
        elif 0 < after < rows.size and track.times[rows[after]] - track.times[rows[after - 1]] <= MAX_GAP_S:
            span = track.times[rows[after]] - track.times[rows[after - 1]]
            share = (track.times[row] - track.times[rows[after - 1]]) / max(span, 1e-9)
            marks = (1 - share) * points[detected[after - 1]] + share * points[detected[after]]
        else:
            continue
        height = float(np.ptp(marks[:, 1]))
        result[int(frame)] = Outline(
            verticals.body_bones(marks), RADIUS_SHARE * height, float(track.pelvis_camera[row, 2])
        )
    return result


def inside(points: np.ndarray, outline: Outline) -> np.ndarray:
    """(L,) whether each image point (L, 2) lies within the outline's bones."""
    return verticals.bone_distances(points, outline.bones).min(axis=-1) < outline.radius


def hidden(
    tracklets: Tracklets, tracks: dict[int, extraction.CameraTrack]
) -> dict[tuple[int, int], np.ndarray]:
    """(video frame, tid) -> (33,) bool: the landmarks of that detection inside a nearer person's outline
    (detections with none left out)."""
    if not tracklets.embedded or len(tracks) < 2:
        return {}
    shapes = {tid: outlines(track) for tid, track in tracks.items()}
    found = {}
    for frame in tracklets.frames:
        marks = frame.data.get("landmarks_image")
        if marks is None:
            continue
        for position, tid in enumerate(frame.tids):
            own = shapes.get(tid, {}).get(frame.index)
            if own is None or not frame.is_measured(position) or position >= len(marks):
                continue
            points = np.asarray(marks[position], dtype=np.float64)
            mask = np.zeros(points.shape[0], dtype=bool)
            for other, shape in shapes.items():
                outline = shape.get(frame.index)
                if other == tid or outline is None or not outline.depth < NEARER_SHARE * own.depth:
                    continue
                mask |= inside(points, outline)
            if mask.any():
                found[(frame.index, tid)] = mask
    return found


def lowered(tracklets: Tracklets, masks: dict[tuple[int, int], np.ndarray]) -> Tracklets:
    """The tracklets with the masked landmarks' visibility, and their joints' confidences, lowered to
    HIDDEN_VISIBILITY (the file on disk is left as it is)."""
    if not masks:
        return tracklets
    frames = []
    for frame in tracklets.frames:
        changed = dict(frame.data)
        for position, tid in enumerate(frame.tids):
            mask = masks.get((frame.index, tid))
            if mask is None:
                continue
            keep = np.where(mask, HIDDEN_VISIBILITY, 1.0)
            factors = {"landmarks_visibility": keep, "joint_confidence": landmarks.joint_confidence(keep)}
            for key in VISIBILITY_KEYS:
                values = frame.data.get(key)
                if values is None or position >= len(values) or values[position] is None:
                    continue
                if changed[key] is values:
                    changed[key] = list(values)
                changed[key][position] = np.asarray(values[position], dtype=np.float64) * factors[key]
        frames.append(Frame(frame.index, frame.key, changed))
    return Tracklets(frames, tracklets.embedded)


def mostly_hidden(hidden: np.ndarray) -> np.ndarray:
    """(...) bool: whether at least MOSTLY_HIDDEN_SHARE of a detection's (..., 33) landmarks are hidden."""
    return np.mean(hidden, axis=-1) >= MOSTLY_HIDDEN_SHARE


def unplaced(visibility: np.ndarray) -> np.ndarray:
    """(M,) bool: detections (M, 33 visibilities) with MOSTLY_HIDDEN_SHARE of their landmarks hidden."""
    return mostly_hidden(np.asarray(visibility) == HIDDEN_VISIBILITY)  # NaN (no detection) is not hidden


def figures(masks: dict[tuple[int, int], np.ndarray]) -> dict[str, dict[str, int]]:
    """Per tid: detections with landmarks hidden, and those mostly hidden (not placed by), for the step's data."""
    result: dict[str, dict[str, int]] = {}
    for (_, tid), mask in sorted(masks.items()):
        counts = result.setdefault(str(tid), {"partly_hidden": 0, "mostly_hidden": 0})
        counts["mostly_hidden" if mostly_hidden(mask) else "partly_hidden"] += 1
    return result
