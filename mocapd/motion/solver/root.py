"""The root and feet of a track whose pose is its backend's own (4D-Humans): contacts and root path only.

The pose (HMR 2.0's, per frame) is kept; what is solved is the whole clip's pelvis path, from the
skeleton's joints in the camera frame and their 2D positions: resting feet found (contacts), the
floor under them, and one translation per row that holds planted feet still and on that floor and
moves the root smoothly between contacts (rootpath), instead of each frame's own depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mocapd.motion.landmarks import NUM_MEDIAPIPE
from mocapd.motion.solver import MIN_FRAMES, contacts, floor_figures, rootpath, up_of
from mocapd.motion.solver.camera import Pinhole

# Passes of the root path: each one also lifts the soles the previous one left below the floor.
PASSES = 2
# Contact detections: on the smoothed path, then again on the path the first contacts held.
DETECTIONS = 2
# Two resting feet whose contact points the pose moves apart by more than this in one row (metres):
# one of them is lifting.
DOUBLE_SUPPORT_M = 0.01


@dataclass
class RootSolved:
    """The translation to add to each row's body, the contacts and floor it was held on, the figures."""

    shift: np.ndarray  # (N, 3) camera frame
    found: contacts.Contacts
    up: np.ndarray  # (3,) the up the floor was found with
    smoothed: np.ndarray  # (N, 24, 3) the joints on the first, contact-free path (where up is seen from)
    figures: dict[str, Any] = field(default_factory=dict)
    # A point on the floor under the person (camera frame), where one was found: the world's floor.
    floor_point: np.ndarray | None = None


def sole_landmarks(image: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 33, 2) and (N, 33): the ankle and foot joints' 2D (N, 24, 2) and confidences (N, 24) where
    contacts reads a foot's heel and toe landmarks (the other landmarks NaN and unseen)."""
    frames = image.shape[0]
    landmark_image = np.full((frames, NUM_MEDIAPIPE, 2), np.nan)
    landmark_confidence = np.zeros((frames, NUM_MEDIAPIPE))
    landmark_image[:, contacts.SOLE_LANDMARKS] = image[:, contacts.SOLE_JOINTS]
    landmark_confidence[:, contacts.SOLE_LANDMARKS] = confidence[:, contacts.SOLE_JOINTS]
    return landmark_image, landmark_confidence


def _contacts(
    joints: np.ndarray,
    confidence: np.ndarray,
    offsets: np.ndarray,
    camera: Pinhole,
    times: np.ndarray,
    up: np.ndarray,
) -> contacts.Contacts:
    """Contacts of joints (N, 24, 3) seen in the image where they project."""
    image, landmark_confidence = sole_landmarks(camera.project(joints), confidence)
    found = contacts.detect(joints, image, landmark_confidence, up, offsets, camera, times)
    speeds = contacts.image_speeds(image, joints[:, 0, 2], camera, times)
    return release_double_support(found, joints, speeds, up)


def release_double_support(
    found: contacts.Contacts, joints: np.ndarray, speeds: np.ndarray, up: np.ndarray
) -> contacts.Contacts:
    """Contacts without the double-support steps the pose contradicts: where both feet rest in two
    neighbouring rows but the pose moves their contact points apart along the floor by more than
    DOUBLE_SUPPORT_M, one of them is lifting (toe-off): the faster one in the image is released."""
    resting = found.resting.copy()
    rows = np.arange(joints.shape[0])
    sole = joints[:, contacts.SOLE_JOINTS]  # (N, 2, 2, 3)
    points = np.stack([sole[rows, side, found.point[:, side]] for side in range(2)], axis=1)  # (N, 2, 3)
    apart = points[:, 0] - points[:, 1]
    apart = apart - (apart @ up)[:, None] * up
    change = np.linalg.norm(np.diff(apart, axis=0), axis=-1)
    both = resting[:-1].all(axis=1) & resting[1:].all(axis=1) & (change > DOUBLE_SUPPORT_M)
    for row in np.flatnonzero(both):
        for frame in (row, row + 1):
            side_speeds = speeds[frame, np.arange(2), found.point[frame]]
            resting[frame, int(np.argmax(side_speeds))] = False
    if not resting.any():
        return contacts.Contacts(resting, found.point, None)
    return contacts.Contacts(resting, found.point, found.floor)


def solve_root(
    joints: np.ndarray,
    image: np.ndarray,
    confidence: np.ndarray,
    offsets: np.ndarray,
    camera: Pinhole,
    times: np.ndarray,
    up: np.ndarray | None = None,
) -> RootSolved:
    """The root path of a posed skeleton: joints (N, 24, 3) camera frame, their 2D (N, 24, 2) px and
    confidences (N, 24, 0 for rows not measured), the skeleton's offsets, times (N,) s; up (3,) where
    the caller knows it, else estimated (mocapd.motion.gravity) from the smoothed path."""
    frames = joints.shape[0]
    joints = np.asarray(joints, dtype=np.float64)
    confidence = np.nan_to_num(np.asarray(confidence, dtype=np.float64))
    rest = contacts.rest_heights(offsets)
    # The per-frame depth jitters, which changes the body's size in the image and so moves a planted
    # foot there, and makes both feet look fast to gravity's balance cue: contacts and up are looked
    # for on the path smoothed first (reprojection and acceleration only; up plays no part in it).
    shift = np.zeros((frames, 3))
    if frames >= MIN_FRAMES:
        none = contacts.Contacts(np.zeros((frames, 2), dtype=bool), np.zeros((frames, 2), dtype=int), None)
        level = np.array([0.0, -1.0, 0.0])
        shift = rootpath.solve(joints, image, confidence, joints, none, level, rest, camera, times)
    smooth = joints + shift[:, None]
    if up is None:
        up = up_of(smooth, confidence, times, offsets)
    found = _contacts(smooth, confidence, offsets, camera, times, up)
    floor_point = None
    for detection in range(DETECTIONS):
        if frames < MIN_FRAMES or found.floor is None:
            break
        if detection:
            # Looked for again on the path held by the first ones: nearer the truth than the smoothed one.
            again = _contacts(joints + shift[:, None], confidence, offsets, camera, times, up)
            if again.floor is None:
                break
            found = again
        for _ in range(PASSES):
            moved = joints + shift[:, None]
            below = contacts.sole_heights(moved, up, offsets) < found.floor
            # rootpath's translation is relative to the body it is given: accumulate it.
            shift = shift + rootpath.solve(
                moved, image, confidence, moved, found, up, rest, camera, times, below
            )
    if found.floor is not None and frames >= MIN_FRAMES:
        # The world's floor: the plane the resting feet were held on.
        floor_point = contacts.floor_point(joints[:, 0] + shift, up, found.floor)
    moved = joints + shift[:, None]
    figures = {
        "contact_share": round(found.share, 4),
        "root_shift_cm": round(100.0 * float(np.linalg.norm(shift, axis=1).mean()), 2) if frames else 0.0,
    } | floor_figures(moved, found, up, rest)
    return RootSolved(
        shift=shift, found=found, up=up, smoothed=smooth, figures=figures, floor_point=floor_point
    )
