"""Preparing a track for the writers: rate, preset names, root motion, T-pose frame, rest root height."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mocapd import hinges, skeleton
from mocapd.errors import JobError
from mocapd.export import footlock
from mocapd.export.prepare import (
    PrepareSettings,
    prepare,
    resample,
    rest_root_position,
    root_from_camera,
    source_rate,
    standard_rate,
)
from mocapd.rotations import angle_between
from mocapd.trackfile import TrackMotion
from tests.deepmimic import load_track


def test_ntsc_rates_are_exact() -> None:
    assert standard_rate(29.97) == 30000 / 1001
    assert standard_rate(59.94) == 60000 / 1001
    assert standard_rate(25.0) == 25.0


def test_resampling_keeps_the_duration_and_hits_the_source_frames() -> None:
    track = load_track("walk", cycles=2)
    times = track.time - track.time[0]
    rotations, positions = resample(times, track.local_rotations(), track.trans, track.fps * 2)
    assert rotations.shape[0] == 2 * track.frame_count - 1
    # Every other frame is a source frame; the ones between lie between their neighbours.
    assert np.degrees(angle_between(rotations[::2], track.local_rotations())).max() < 1e-3
    np.testing.assert_allclose(positions[::2], track.trans, atol=1e-9)
    middle = np.degrees(angle_between(rotations[1::2], track.local_rotations()[:-1]))
    step = np.degrees(angle_between(track.local_rotations()[1:], track.local_rotations()[:-1]))
    assert np.all(middle <= step * 0.5 + 1e-3)


def test_presets_name_the_bones() -> None:
    track = load_track("walk")
    for preset, names in skeleton.PRESETS.items():
        motion = prepare(track, PrepareSettings(preset=preset)).motion
        assert tuple(motion.names[joint] for joint in motion.smpl_joints) == names
    with pytest.raises(JobError, match="unknown skeleton preset"):
        prepare(track, PrepareSettings(preset="maya"))


def test_the_first_frame_lies_on_the_videos_timeline() -> None:
    track = load_track("walk")
    track.frame_idx = track.frame_idx + 50  # the person enters at video frame 50
    track.time = track.frame_idx / track.fps
    assert prepare(track, PrepareSettings()).motion.start_frame == 50
    np.testing.assert_allclose(prepare(track, PrepareSettings()).motion.times[0], track.time[0])
    # At another rate: the nearest frame of that rate, and the samples taken at its own time.
    resampled = prepare(track, PrepareSettings(fps=25.0)).motion
    assert resampled.start_frame == round(50 / track.fps * 25.0)
    assert resampled.times[-1] <= track.time[-1] + 1e-9


def test_without_root_motion_the_root_stays_over_the_origin() -> None:
    motion = prepare(load_track("walk", cycles=2), PrepareSettings(with_root_motion=False)).motion
    np.testing.assert_allclose(motion.root_positions[:, [0, 2]], 0.0)
    assert motion.root_positions[:, 1].min() > 0.7


def test_tpose_frame_stands_on_the_floor() -> None:
    motion = prepare(load_track("walk"), PrepareSettings(tpose_frame=True)).motion
    np.testing.assert_allclose(motion.rotations[0], np.broadcast_to(np.eye(3), (24, 3, 3)))
    points = footlock.foot_points(
        skeleton.forward_kinematics(motion.rotations[:1], motion.offsets, motion.root_positions[:1])
    )
    assert points[..., 1].min() == pytest.approx(0.0, abs=1e-9)


def test_rest_root_position_puts_the_lowest_foot_point_on_the_floor() -> None:
    height = rest_root_position(skeleton.STANDARD_OFFSETS)
    assert height[1] == pytest.approx(0.93, abs=0.01)
    np.testing.assert_allclose(height[[0, 2]], 0.0)


def test_root_from_camera_turns_opencv_axes_into_y_up() -> None:
    track = load_track("walk")
    track.camera = np.zeros_like(track.camera)
    track.camera[:, 1] = -np.linspace(0.0, 1.0, track.frame_count)  # moving up in the image
    track.camera[:, 2] = 5.0 - np.linspace(0.0, 2.0, track.frame_count)  # towards the camera
    root = root_from_camera(track, 0.5)
    np.testing.assert_allclose(root[-1] - root[0], [0.0, 0.5, 1.0])


def test_unevenly_timed_frames_are_resampled_onto_the_rate() -> None:
    track = load_track("walk", cycles=2)
    track.fps = 30.0
    even = prepare(track, PrepareSettings(foot_locking=False)).motion
    track.time = np.arange(track.frame_count) / 30.0
    track.time[10:] += 0.1  # three frames' worth of time missing after frame 9 (a variable-rate video)
    uneven = prepare(track, PrepareSettings(foot_locking=False))
    assert uneven.report["resampled"]
    assert uneven.motion.frame_count == even.frame_count + 3
    assert "resampled" not in prepare(load_track("walk"), PrepareSettings()).report


def every_second_row(track: TrackMotion) -> TrackMotion:
    """The track as a tracker posing every second frame would give it: rows 0, 2, 4, ... at half the rate."""
    rows = slice(0, track.frame_count - track.frame_count % 2, 2)
    return replace(
        track,
        fps=track.fps / 2,
        frame_idx=track.frame_idx[rows],
        time=track.time[rows],
        R_root=track.R_root[rows],
        R_body=track.R_body[rows],
        camera=track.camera[rows],
        betas=track.betas[rows],
        trans=track.trans[rows],
        confidence=track.confidence[rows],
    )


def test_a_track_sampled_at_half_the_video_rate_is_exported_with_every_video_frame() -> None:
    track = load_track("walk", cycles=2)
    sampled = every_second_row(track)
    assert source_rate(sampled) == track.fps and source_rate(track) == track.fps
    prepared = prepare(sampled, PrepareSettings(foot_locking=False))
    motion = prepared.motion
    assert motion.fps == track.fps and prepared.report["sampled_fps"] == track.fps / 2
    # The video's frames: the sampled ones where they were, the last held for its interval.
    assert motion.frame_count == 2 * sampled.frame_count
    source = track.local_rotations()[: motion.frame_count]
    assert np.degrees(angle_between(motion.rotations[::2], sampled.local_rotations())).max() < 1e-3
    assert np.degrees(angle_between(motion.rotations[-1], motion.rotations[-2])).max() < 1e-3
    # Frames between samples are interpolated: close to the real frames they stand for.
    assert np.degrees(angle_between(motion.rotations[1:-1:2], source[1:-1:2])).mean() < 2.0
    # A rate asked for explicitly wins.
    assert prepare(sampled, PrepareSettings(fps=sampled.fps, foot_locking=False)).motion.frame_count == (
        sampled.frame_count
    )


def test_no_knee_or_elbow_is_written_bent_backwards() -> None:
    """A track whose knee and elbow bend 40 degrees past straight is written within the hinges' limit."""
    track = load_track("walk")
    local = track.local_rotations().copy()
    for name in ("left_knee", "right_elbow"):
        hinge = next(hinge for hinge in hinges.HINGES if hinge.middle == name)
        axis = hinges.rest_axis(hinge, track.offsets)
        cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
        angle = np.radians(-40.0 - hinges.bends(local, track.offsets)[:, hinges.HINGES.index(hinge), 0])
        turn = (
            np.eye(3)
            + np.sin(angle)[:, None, None] * cross
            + (1.0 - np.cos(angle))[:, None, None] * (cross @ cross)
        )
        local[:, skeleton.JOINT_INDEX[name]] = turn @ local[:, skeleton.JOINT_INDEX[name]]
    assert np.nanmin(hinges.bends(local, track.offsets)) < -35.0
    track = replace(track, R_root=local[:, 0], R_body=local[:, 1:])
    motion = prepare(track, PrepareSettings(preset="smpl")).motion
    written = motion.rotations[:, motion.smpl_joints]
    assert np.nanmin(hinges.bends(written, track.offsets)) >= -hinges.HYPEREXTENSION_DEG - 1e-6
