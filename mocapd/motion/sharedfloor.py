"""Everyone filmed by one camera stands on one floor: each person's monocular scale, set so that they do.

One view cannot tell a small person near the camera from a big one farther away: the pose model's
metric body size fixes each person's depth, and it is off by about 10 % per person (MultiPerson
cam01-04 against the 4-view triangulation: depths 0.88-1.14 of the true ones, a smaller actor placed
too far, a taller one too near). Scaling a person's whole body about the camera centre (their
position along the rays and their bone lengths together) leaves their image unchanged, and it
moves their feet towards or away from the camera's height. The camera stands at one height above
the floor, so the people's floors, each seen under their own feet, must agree: this weighs each
person's floor against their body size, the one camera pitch error (the clip's up, mocapd.motion.
gravity, is off by a few degrees, which lifts the floor seen far away more than near) against its
uncertainty, in one small linear least-squares problem in logarithms. One person alone keeps their scale.

Moving the others onto the main actor's floor instead measured worse (cam01 distance error -17 % ->
+17 %, cam03 -18 %): the main actor's own size is as wrong as anyone's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mocapd import skeleton
from mocapd.motion import extraction, worldframe

# The pose model's metric size of one person is off by about this much (log, 1 sigma).
BODY_SIZE_SIGMA = 0.10
# A person's own floor, seen under their resting feet, to about this share of the camera's height.
FLOOR_SIGMA = 0.02
# The clip's up is off by a few degrees (mocapd.motion.gravity; MultiPerson: 0.7-4.6): 1 sigma.
PITCH_SIGMA_RAD = float(np.radians(3.0))
# A person's floor needs this many measured frames with both feet seen this confidently.
MIN_FLOOR_FRAMES = 10
MIN_FOOT_CONFIDENCE = 0.5
# Floors that disagree by more than this many sigmas of what body sizes and pitch explain (the
# fit's weighted squared misfit, 3 sigma) say the people do not stand on one level (a stage,
# stairs, a roof): everyone keeps the model's size. MultiPerson cam01-04: 1.0-2.7.
MAX_MISFIT = 9.0


@dataclass
class FloorSeen:
    """One person's floor in the camera frame along the clip's up."""

    tid: int
    camera_height: float  # metres from the camera down to the floor under their feet
    forward: float  # median distance ahead of the camera along the floor, metres
    frames: int


@dataclass
class SharedFloor:
    """The scale found for each person, the camera's height above the one floor, and the people used."""

    scales: dict[int, float]
    camera_height_m: float | None
    seen: list[FloorSeen]
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The figures for the step's data."""
        figures: dict[str, Any] = {
            "depth_scales": {str(tid): round(scale, 4) for tid, scale in self.scales.items()},
            "camera_height_m": None if self.camera_height_m is None else round(self.camera_height_m, 3),
            "floors_seen_m": {str(seen.tid): round(seen.camera_height, 3) for seen in self.seen},
        }
        if self.reason:
            figures["reason"] = self.reason
        return figures


def floor_seen(track: extraction.CameraTrack, up: np.ndarray) -> FloorSeen | None:
    """The person's floor as the world takes it: the plane the solver held their feet on, else a low
    percentile of their lowest sole (worldframe.floor_height), from frames where their feet are seen;
    None with too few."""
    feet = list(skeleton.SOLE_JOINTS.ravel())
    rows = track.measured & (track.confidence[:, feet].min(axis=1) >= MIN_FOOT_CONFIDENCE)
    if np.count_nonzero(rows) < MIN_FLOOR_FRAMES:
        return None
    joints = extraction.camera_positions(
        track.camera_rotations[rows], track.body[rows], track.pelvis_camera[rows], track.offsets
    )
    if track.floor_point is not None:
        height = -float(track.floor_point @ up)
    else:
        soles = joints[:, skeleton.SOLE_JOINTS] @ up - skeleton.sole_rest_heights(track.offsets)
        height = -float(np.percentile(soles.min(axis=(1, 2)), worldframe.FLOOR_PERCENTILE))
    ahead = np.array([0.0, 0.0, 1.0]) - up[2] * up  # the optical axis laid on the floor
    ahead /= max(float(np.linalg.norm(ahead)), 1e-9)
    forward = float(np.median(joints[:, 0] @ ahead))
    if not (height > 0 and np.isfinite(forward)):
        return None
    return FloorSeen(track.tid, height, forward, int(np.count_nonzero(rows)))


def estimate(tracks: list[extraction.CameraTrack], up: np.ndarray) -> SharedFloor:
    """Each person's scale about the camera so that everyone stands on one floor.

    Unknowns (logs): the camera's height H, the pitch error d, each person's scale s_i. Residuals:
    log s_i / BODY_SIZE_SIGMA; d / PITCH_SIGMA_RAD; and per person their floor, which a pitch error
    d lifts by d x their distance ahead: (log s_i + log h_i - d f_i / h_i - log H) / FLOOR_SIGMA."""
    seen = [found for track in tracks if (found := floor_seen(track, up)) is not None]
    # Floors seen under fewer than two people leave nothing to compare.
    if len(seen) < 2:
        return SharedFloor(
            {track.tid: 1.0 for track in tracks},
            seen[0].camera_height if seen else None,
            seen,
            "fewer than two people with their feet seen: each keeps the pose model's size",
        )
    count = len(seen)
    matrix = np.zeros((2 * count + 1, count + 2))
    target = np.zeros(2 * count + 1)
    for index, person in enumerate(seen):
        matrix[index, 2 + index] = 1.0 / BODY_SIZE_SIGMA
        row = count + index
        matrix[row, 0] = -1.0
        matrix[row, 1] = -person.forward / person.camera_height
        matrix[row, 2 + index] = 1.0
        matrix[row] /= FLOOR_SIGMA
        target[row] = -np.log(person.camera_height) / FLOOR_SIGMA
    matrix[2 * count, 1] = 1.0 / PITCH_SIGMA_RAD
    solution = np.linalg.lstsq(matrix, target, rcond=None)[0]
    scales = np.exp(solution[2:])
    misfit = float(np.sum((matrix @ solution - target) ** 2))
    if misfit > MAX_MISFIT:
        return SharedFloor(
            {track.tid: 1.0 for track in tracks},
            None,
            seen,
            f"the floors under the people disagree more than their sizes explain (misfit {misfit:.1f}, "
            f"scales {np.round(scales, 2).tolist()}): not one level, sizes kept",
        )
    by_tid = {person.tid: float(scale) for person, scale in zip(seen, scales, strict=True)}
    return SharedFloor(
        {track.tid: by_tid.get(track.tid, 1.0) for track in tracks}, float(np.exp(solution[0])), seen
    )


def scaled(track: extraction.CameraTrack, scale: float) -> extraction.CameraTrack:
    """The person scaled about the camera centre: the same image, `scale` times as far and as tall."""
    if scale == 1.0:
        return track
    floor_point = None if track.floor_point is None else track.floor_point * scale
    return replace(
        track,
        pelvis_camera=track.pelvis_camera * scale,
        offsets=track.offsets * scale,
        floor_point=floor_point,
    )
