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
# A person's floor is held to FLOOR_SIGMA from this many measured frames with both feet seen this
# confidently; from fewer, it is blended with their unseen feet's floor by share of these frames
# (no cliff: one actor's feet hidden behind the other, MultiPerson cam03, dropped everyone's scale).
MIN_FLOOR_FRAMES = 10
MIN_FOOT_CONFIDENCE = 0.5
# The floor under feet the solver placed without seeing them (hidden, below the frame's edge): their
# lowest sole's median over the measured frames, about this share of the camera's height (a leg's
# guessed bend moves the sole 5-10 cm).
UNSEEN_FLOOR_SIGMA = 3 * FLOOR_SIGMA
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
    frames: int  # measured frames with both feet seen
    sigma: float = FLOOR_SIGMA  # the floor's uncertainty, a share of the camera's height


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
            "feet_frames": {str(seen.tid): seen.frames for seen in self.seen},
            "floor_sigmas": {str(seen.tid): round(seen.sigma, 4) for seen in self.seen},
        }
        unseen = [seen.tid for seen in self.seen if seen.frames == 0]
        if unseen:
            figures["feet_never_seen"] = (
                f"people {unseen}: floor from the solver's unseen feet only "
                f"(+-{UNSEEN_FLOOR_SIGMA:.0%} of the camera's height)"
            )
        if self.reason:
            figures["reason"] = self.reason
        return figures


def _floor(
    track: extraction.CameraTrack, up: np.ndarray, rows: np.ndarray, percentile: float
) -> tuple[float, float]:
    """The camera's height above the person's floor and their distance ahead, from `rows`."""
    joints = extraction.camera_positions(
        track.camera_rotations[rows], track.body[rows], track.pelvis_camera[rows], track.offsets
    )
    if track.floor_point is not None:
        height = -float(track.floor_point @ up)
    else:
        soles = joints[:, skeleton.SOLE_JOINTS] @ up - skeleton.sole_rest_heights(track.offsets)
        height = -float(np.percentile(soles.min(axis=(1, 2)), percentile))
    ahead = np.array([0.0, 0.0, 1.0]) - up[2] * up  # the optical axis laid on the floor
    ahead /= max(float(np.linalg.norm(ahead)), 1e-9)
    return height, float(np.median(joints[:, 0] @ ahead))


def floor_seen(track: extraction.CameraTrack, up: np.ndarray) -> FloorSeen | None:
    """The person's floor as the world takes it: the plane the solver held their feet on, else a low
    percentile of their lowest sole (worldframe.floor_height) where their feet are seen, blended with
    the floor under their unseen feet by share of MIN_FLOOR_FRAMES; None without measured frames."""
    feet = list(skeleton.SOLE_JOINTS.ravel())
    rows = track.measured & (track.confidence[:, feet].min(axis=1) >= MIN_FOOT_CONFIDENCE)
    frames = int(np.count_nonzero(rows))
    share = min(frames / MIN_FLOOR_FRAMES, 1.0)
    # Information (1/sigma^2) of each source: the seen feet's grows with their frames, the unseen
    # feet's fades as they come, so that from MIN_FLOOR_FRAMES on only the seen feet count.
    seen_weight = share / FLOOR_SIGMA**2
    unseen_weight = (1.0 - share) / UNSEEN_FLOOR_SIGMA**2
    logs, forwards, weights = [], [], []
    if frames:
        height, forward = _floor(track, up, rows, worldframe.FLOOR_PERCENTILE)
        logs.append(np.log(max(height, 1e-9)))
        forwards.append(forward)
        weights.append(seen_weight if height > 0 else 0.0)
    if unseen_weight > 0 and np.any(track.measured):
        # A guessed foot is as often too low as too high: its median, not a low percentile.
        height, forward = _floor(track, up, track.measured, 50.0)
        logs.append(np.log(max(height, 1e-9)))
        forwards.append(forward)
        weights.append(unseen_weight if height > 0 else 0.0)
    total = float(np.sum(weights))
    if total <= 0:
        return None
    height = float(np.exp(np.average(logs, weights=weights)))
    forward = float(np.average(forwards, weights=weights))
    if not np.isfinite(forward):
        return None
    return FloorSeen(track.tid, height, forward, frames, float(1.0 / np.sqrt(total)))


def estimate(tracks: list[extraction.CameraTrack], up: np.ndarray) -> SharedFloor:
    """Each person's scale about the camera so that everyone stands on one floor.

    Unknowns (logs): the camera's height H, the pitch error d, each person's scale s_i. Residuals:
    log s_i / BODY_SIZE_SIGMA; d / PITCH_SIGMA_RAD; and per person their floor, which a pitch error
    d lifts by d x their distance ahead: (log s_i + log h_i - d f_i / h_i - log H) / sigma_i."""
    seen = [found for track in tracks if (found := floor_seen(track, up)) is not None]
    # Floors under fewer than two people leave nothing to compare.
    if len(seen) < 2:
        return SharedFloor(
            {track.tid: 1.0 for track in tracks},
            seen[0].camera_height if seen else None,
            seen,
            "fewer than two people with a floor under them: each keeps the pose model's size",
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
        matrix[row] /= person.sigma
        target[row] = -np.log(person.camera_height) / person.sigma
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
