"""From a track file to the motion every writer takes: resampled to the job's rate, feet locked, names per preset.

numpy only at import, so the Blender-side tool can use it; resampling to another rate imports scipy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mocapd import hinges, skeleton
from mocapd.errors import JobError
from mocapd.export import footlock, rig
from mocapd.export.motion import ExportMotion
from mocapd.trackfile import TrackMotion


@dataclass
class PrepareSettings:
    """What the job options say about the written motion."""

    fps: float | None = None  # None: the source video's rate (source_rate)
    preset: str = "smpl"
    with_root_motion: bool = True
    foot_locking: bool = True
    tpose_frame: bool = False


@dataclass
class Prepared:
    """The motion to write and the figures the report shows about it."""

    motion: ExportMotion
    report: dict[str, Any] = field(default_factory=dict)


# Video rates written as 29.97, 59.94, 23.976 are the NTSC rates N * 1000 / 1001.
NTSC_RATES = (24000 / 1001, 30000 / 1001, 60000 / 1001)
# Frames by which tpose_frame delays every file's timeline, leaving room for the T-pose before frame 0.
TPOSE_SHIFT = 1


def standard_rate(fps: float) -> float:
    """The exact rate a rounded one stands for: 29.97 -> 30000/1001, so key times match the NTSC time mode."""
    for rate in NTSC_RATES:
        if abs(fps - rate) < 1e-3:
            return rate
    return fps


def source_rate(track: TrackMotion) -> float:
    """The frame rate of the video the track came from: its own, or higher where the tracker skipped
    frames (rows k video frames apart at fps: the video ran at k * fps)."""
    if track.frame_count < 2:
        return float(track.fps)
    step = float(track.frame_idx[-1] - track.frame_idx[0]) / (track.frame_count - 1)
    return float(track.fps) * max(step, 1e-9)


def resample(
    times: np.ndarray,
    rotations: np.ndarray,
    positions: np.ndarray,
    fps: float,
    hold: float = 0.0,
    start: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rotations and positions at start + k / fps from samples at `times` (seconds; start: times[0]).

    hold: seconds after the last sample that it still stands for (its own interval, when samples are
    sparser than the output); frames there repeat it. A start before times[0] repeats the first sample.
    """
    from mocapd.rotations import orthonormalize

    first = float(times[0]) if start is None else start
    duration = float(times[-1] - first)
    if hold > 0.0:
        # Frames strictly before the end of the last sample's interval, which is the next sample's time.
        count = max(int(np.ceil((duration + hold) * fps - 1e-6)), 1)
    else:
        count = int(np.floor(duration * fps + 1e-6)) + 1
    if len(times) == 1:
        return (
            np.repeat(rotations[:1], count, axis=0),
            np.repeat(positions[:1], count, axis=0),
        )
    wanted = np.arange(count) / fps + first
    upper = np.clip(np.searchsorted(times, wanted, side="right"), 1, len(times) - 1)
    lower = upper - 1
    span = np.maximum(times[upper] - times[lower], 1e-12)
    weight = np.clip((wanted - times[lower]) / span, 0.0, 1.0)
    # Neighbouring frames are close, so a blend of matrices brought back to a rotation is a good slerp.
    blended = (1.0 - weight)[:, None, None, None] * rotations[lower] + weight[
        :, None, None, None
    ] * rotations[upper]
    moved = (1.0 - weight)[:, None] * positions[lower] + weight[:, None] * positions[upper]
    return orthonormalize(blended), moved


def rest_root_position(offsets: np.ndarray) -> np.ndarray:
    """The root's position in the rest pose with the lowest foot point on the floor."""
    rest = np.broadcast_to(np.eye(3), (1, skeleton.NUM_JOINTS, 3, 3))
    positions = skeleton.forward_kinematics(rest, offsets, np.zeros((1, 3)))
    lowest = footlock.foot_points(positions)[..., 1].min()
    return np.array([0.0, -lowest, 0.0])


def prepare(track: TrackMotion, settings: PrepareSettings) -> Prepared:
    """The motion as it will be written, with figures about what was done to it."""
    if settings.preset not in skeleton.PRESETS:
        raise JobError(
            f"unknown skeleton preset {settings.preset!r}; choose one of {', '.join(skeleton.PRESETS)}"
        )
    track.validate()
    rotations = track.local_rotations()
    positions = track.trans.copy()
    video_fps = source_rate(track)
    fps = standard_rate(float(settings.fps or video_fps))
    report: dict[str, Any] = {"tid": track.tid, "source_fps": video_fps, "fps": fps}
    if abs(video_fps - track.fps) > 1e-9:
        report["sampled_fps"] = track.fps
    # The video's timeline: the person's first frame is frame start_frame at the written rate.
    start_frame = int(round(float(track.time[0]) * fps))
    times = track.time - track.time[0]
    # Frames from a variable-rate video are not evenly spaced: resample them onto k / fps as well.
    uneven = not np.allclose(times, np.arange(len(times)) / track.fps, rtol=0.0, atol=0.25 / track.fps)
    if abs(fps - standard_rate(track.fps)) > 1e-9 or uneven:
        # Each row stands for one interval of its rate: a clip sampled at 30 fps from a 60 fps video
        # has as many 60 fps frames as the video had, the last one holding the last sample.
        hold = 1.0 / track.fps if fps > track.fps * (1.0 + 1e-6) else 0.0
        rotations, positions = resample(track.time, rotations, positions, fps, hold, start_frame / fps)
        report["resampled"] = True
    # The last change to the joints: smoothing and resampling blend rotations, which can carry a knee or an
    # elbow across straight; the feet are locked on the limited pose.
    rotations = hinges.limit(rotations, track.offsets)
    if settings.foot_locking:
        # The track's world has its floor at y = 0 (mocapd.motion.worldframe, the solver's floor
        # where it ran): locking holds feet on that one floor instead of estimating another.
        locked = footlock.lock_feet(rotations, track.offsets, positions, fps, floor=0.0)
        positions = locked.root_positions
        report["foot_locking"] = {
            "contact_share": [float(share) for share in locked.contacts.mean(axis=0)],
            "floor_offset_m": locked.floor_offset_m,
            "sliding_before_cm": locked.sliding_before_cm,
            "sliding_after_cm": locked.sliding_after_cm,
            "below_floor_before": locked.below_floor_before,
            "below_floor_after": locked.below_floor_after,
        }
    else:
        positions = footlock.lift_above_floor(rotations, track.offsets, positions)
    if not settings.with_root_motion:
        # In place: the root keeps its height (crouches, jumps) but stays over the origin.
        positions = np.column_stack([np.zeros(len(positions)), positions[:, 1], np.zeros(len(positions))])
    offsets = track.offsets.copy()
    offsets[0] = rest_root_position(track.offsets)
    if settings.tpose_frame:
        # The T-pose one frame before the person's first: every file's timeline runs one frame late
        # (TPOSE_SHIFT), so a person seen from the video's first frame still starts at t >= 0.
        rest_position = offsets[0] + np.array([positions[0, 0], 0.0, positions[0, 2]])
        rotations = np.concatenate([np.broadcast_to(np.eye(3), (1,) + rotations.shape[1:]), rotations])
        positions = np.concatenate([rest_position[None], positions])
        start_frame += TPOSE_SHIFT - 1
    report["frames"] = int(rotations.shape[0])
    report["start_frame"] = start_frame
    motion = rig.rig_motion(settings.preset, offsets, rotations, positions, fps, start_frame)
    return Prepared(motion=motion, report=report)


def root_from_camera(track: TrackMotion, scale: float) -> np.ndarray:
    """Root positions from the backend's camera translation (OpenCV axes) times `scale`, starting at trans[0]."""
    # OpenCV's camera frame is x right, y down, z away from the camera; the world is Y up, facing +Z.
    travel = (track.camera - track.camera[0]) * scale * np.array([1.0, -1.0, -1.0])
    return track.trans[0] + travel
