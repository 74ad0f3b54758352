"""Choosing tracks and extracting them from PHALP-layout tracklets built in code."""

from __future__ import annotations

import random
from pathlib import Path

import joblib
import numpy as np
import pytest

from mocapd import trackfile
from mocapd.errors import JobError
from mocapd.motion import extraction, tracklets, worldframe
from mocapd.options import JobOptions
from mocapd.rotations import angle_between, rotation_x, rotation_y
from tests.fake_4dhumans.layout import LayoutBuilder, Person, camera_from_world

FPS = 25.0


def person_at(tid: int, x: float, depth: float = 8.0, tracked_time: int = 0) -> Person:
    """An upright person facing the camera, pelvis at (x, 0, -depth) in Y-up camera axes."""
    return Person(tid=tid, tracked_time=tracked_time, camera=camera_from_world([x, 0.0, -depth]))


def camera_x(motion_camera: np.ndarray) -> np.ndarray:
    return motion_camera[:, 0] + worldframe.PELVIS_IN_SMPL_MODEL[0]


def test_a_ghost_listed_first_is_not_taken_for_the_real_detection() -> None:
    builder = LayoutBuilder(20)
    for frame in range(20):
        if 8 <= frame <= 11:
            # Track 1 lost: PHALP lists its ghost (a repeat, here far off) before track 2's detection.
            builder.add(frame, person_at(1, 50.0, tracked_time=frame - 7))
        else:
            builder.add(frame, person_at(1, -1.0 + 0.01 * frame))
        builder.add(frame, person_at(2, 1.0))
    data = tracklets.from_dict(builder.build())
    two = extraction.extract(data, 2, FPS)
    assert np.allclose(camera_x(two.motion.camera), 1.0, atol=1e-6)
    assert np.all(two.motion.confidence[4:] == 1.0) and np.all(two.motion.confidence[:4] < 1.0)
    one = extraction.extract(data, 1, FPS)
    assert np.allclose(camera_x(one.motion.camera), -1.0 + 0.01 * np.arange(20), atol=1e-5)
    assert np.all(one.motion.confidence[8:12] == 0.0)
    assert np.all(one.motion.confidence[12:] == 1.0)
    assert list(one.measured) == [not 8 <= frame <= 11 for frame in range(20)]


def test_auto_picks_the_track_with_most_real_frames_not_most_entries() -> None:
    builder = LayoutBuilder(40)
    for frame in range(40):
        # Track 3 is listed in every frame but detected only in the first 10; track 4 in 30 frames.
        builder.add(frame, person_at(3, -1.0, tracked_time=0 if frame < 10 else frame - 9))
        if frame >= 10:
            builder.add(frame, person_at(4, 1.0))
    data = tracklets.from_dict(builder.build())
    summaries = extraction.summarise(data)
    assert [(summary.tid, summary.frames) for summary in summaries] == [(4, 30), (3, 10)]
    assert summaries[0].share == 0.75 and (summaries[0].first_frame, summaries[0].last_frame) == (10, 39)
    assert extraction.select(summaries, JobOptions()) == [4]
    assert extraction.select(summaries, JobOptions(track_mode="single", track_id=3)) == [3]
    assert extraction.select(summaries, JobOptions(track_mode="all", min_track_frames=10)) == [3, 4]
    assert extraction.select(summaries, JobOptions(track_mode="all", min_track_frames=11)) == [4]
    # Ghost entries after its last detection do not extend the track.
    assert extraction.extract(data, 3, FPS).motion.frame_count == 10


def test_unknown_track_id_and_empty_tracklets_are_clear_errors() -> None:
    builder = LayoutBuilder(5)
    for frame in range(5):
        builder.add(frame, person_at(7, 0.0))
        builder.add(frame, person_at(9, 1.0))
    summaries = extraction.summarise(tracklets.from_dict(builder.build()))
    with pytest.raises(JobError, match="track_id 8 .*known tracks: 7, 9"):
        extraction.select(summaries, JobOptions(track_id=8))
    assert extraction.select(summaries, JobOptions(track_ids=[9, 7], track_id=7)) == [7, 9]
    with pytest.raises(JobError, match="track_ids 8 not in this video; known tracks: 7, 9"):
        extraction.select(summaries, JobOptions(track_ids=[7, 8]))
    with pytest.raises(JobError, match="min_track_frames"):
        extraction.select(summaries, JobOptions(track_mode="all", min_track_frames=6))
    empty = extraction.summarise(tracklets.from_dict(LayoutBuilder(5).build()))
    with pytest.raises(JobError, match="no person found"):
        extraction.select(empty, JobOptions())


def test_two_people_crossing_keep_their_identity_at_every_frame() -> None:
    count = 60
    builder = LayoutBuilder(count)
    path = np.linspace(-2.0, 2.0, count)
    for frame in range(count):
        first, second = person_at(1, path[frame], 7.0), person_at(2, -path[frame], 9.0)
        # After the crossing PHALP happens to list the people in the other order.
        for person in (first, second) if frame < count // 2 else (second, first):
            builder.add(frame, person)
    data = tracklets.from_dict(builder.build())
    one, two = extraction.extract(data, 1, FPS).motion, extraction.extract(data, 2, FPS).motion
    assert np.allclose(camera_x(one.camera), path, atol=1e-5)
    assert np.allclose(camera_x(two.camera), -path, atol=1e-5)
    # In the world frame each moves along x at its own depth, facing +Z.
    assert np.allclose(one.trans[:, 0], path - path[0], atol=1e-5)
    assert np.allclose(two.trans[:, 0], -path + path[0], atol=1e-5)
    assert np.allclose(one.trans[:, 2], 0.0, atol=1e-5)


def test_back_filled_first_frames_sit_at_the_end_of_their_frames_lists() -> None:
    builder = LayoutBuilder(30)
    for frame in range(30):
        builder.add(frame, person_at(1, -1.0))
        if frame >= 9:
            builder.add(frame, person_at(5, 0.5 + 0.01 * frame))
    # Track 5 confirmed at frame 9: PHALP then appends its 4 earlier detections to frames 5..8.
    for frame in range(5, 9):
        builder.add(frame, person_at(5, 0.5 + 0.01 * frame))
    motion = extraction.extract(tracklets.from_dict(builder.build()), 5, FPS).motion
    assert list(motion.frame_idx) == list(range(5, 30))
    assert np.allclose(motion.time, np.arange(5, 30) / FPS)
    assert np.allclose(camera_x(motion.camera), 0.5 + 0.01 * np.arange(5, 30), atol=1e-5)
    assert np.allclose(motion.confidence[:4], extraction.BACKFILLED_CONFIDENCE)
    assert np.allclose(motion.confidence[4:], extraction.MEASURED_CONFIDENCE)


def test_tuple_keys_in_any_order_are_ordered_by_time() -> None:
    builder = LayoutBuilder(12, tuple_keys=True)
    for frame in range(12):
        builder.add(frame, person_at(1, 0.1 * frame))
    items = list(builder.build().items())
    random.Random(3).shuffle(items)
    data = tracklets.from_dict(dict(items))
    motion = extraction.extract(data, 1, FPS).motion
    assert list(motion.frame_idx) == list(range(12))
    assert np.allclose(camera_x(motion.camera), 0.1 * np.arange(12), atol=1e-5)
    assert data.frames[3].key == "clip.mp4#1536"


def test_a_2000_frame_clip_is_extracted_whole() -> None:
    count = 2000
    builder = LayoutBuilder(count)
    for frame in range(count):
        builder.add(frame, person_at(1, 0.001 * frame))
    data = tracklets.from_dict(builder.build())
    (summary,) = extraction.summarise(data)
    assert (summary.frames, summary.share, summary.last_frame) == (2000, 1.0, 1999)
    motion = extraction.extract(data, 1, 29.97).motion
    assert motion.frame_count == 2000 and motion.frame_idx[-1] == 1999
    assert np.isclose(motion.time[-1], 1999 / 29.97)


def test_gaps_are_slerped_and_interpolated_linearly() -> None:
    builder = LayoutBuilder(11)
    for frame in (0, 10):
        person = person_at(1, 0.0, depth=5.0 + frame)  # on the optical axis: seen straight on
        person.global_orient = worldframe.OPENCV_TO_WORLD @ rotation_y(np.radians(9 * frame))
        person.body_pose[0] = rotation_x(np.radians(6 * frame))
        builder.add(frame, person)
    motion = extraction.extract(tracklets.from_dict(builder.build()), 1, FPS).motion
    assert motion.frame_count == 11
    assert np.allclose(
        motion.camera[:, 2] + worldframe.PELVIS_IN_SMPL_MODEL[2], 5.0 + np.arange(11), atol=1e-5
    )
    turns = [angle_between(motion.R_root[0], motion.R_root[frame]) for frame in range(11)]
    assert np.allclose(turns, np.radians(9 * np.arange(11)), atol=1e-6)
    knee_angles = angle_between(np.eye(3), motion.R_body[:, 0])
    assert np.allclose(knee_angles, np.radians(6 * np.arange(11)), atol=1e-6)
    assert np.all(motion.confidence[1:10] == 0.0) and np.all(motion.confidence[10] > 0)


def test_a_track_of_ghosts_only_and_a_bad_fps_are_errors() -> None:
    builder = LayoutBuilder(3)
    builder.add(0, person_at(1, 0.0))
    builder.add(1, person_at(2, 0.0, tracked_time=1))
    data = tracklets.from_dict(builder.build())
    with pytest.raises(JobError, match="no real detection"):
        extraction.extract(data, 2, FPS)
    with pytest.raises(JobError, match="frame rate"):
        extraction.extract(data, 1, 0.0)


def test_recorded_timestamps_are_the_frame_times() -> None:
    builder = LayoutBuilder(6)
    stamps = [0.0, 0.04, 0.09, 0.13, 0.2, 0.24]  # a variable frame rate
    for frame in range(6):
        builder.add(frame, person_at(1, 0.0))
    raw = builder.build()
    for key, stamp in zip(builder.keys, stamps, strict=True):
        raw[key]["timestamp"] = stamp
    data = tracklets.from_dict(raw)
    assert np.allclose(extraction.extract(data, 1, FPS).motion.time, stamps)
    del raw[builder.keys[2]]["timestamp"]
    assert np.allclose(extraction.extract(tracklets.from_dict(raw), 1, FPS).motion.time, np.arange(6) / FPS)


def test_root_translation_follows_the_camera_model_within_a_millimetre() -> None:
    # A person walks a known path in front of a real 1920x1080 camera with a 1400 px lens. PHALP sees
    # the same images through its own focal length: lateral positions agree, depths scale with it.
    real_focal = 1400.0
    phalp_focal = worldframe.phalp_focal_length(1080, 1920)
    count = 40
    generator = np.random.default_rng(2)
    pelvis = np.stack(
        [
            np.linspace(-1.0, 1.0, count),
            0.3 + generator.normal(0, 0.01, count),
            np.linspace(3.0, 6.0, count) + generator.normal(0, 0.02, count),
        ],
        axis=1,
    )  # OpenCV camera axes, metres
    seen_by_phalp = pelvis * [1.0, 1.0, phalp_focal / real_focal]
    builder = LayoutBuilder(count, real_focal=real_focal)
    for frame in range(count):
        builder.add(frame, Person(tid=1, camera=seen_by_phalp[frame] - worldframe.PELVIS_IN_SMPL_MODEL))
    # The per-frame fit (solve=False): the solver's root path would smooth the noise added above.
    track = extraction.observe(
        tracklets.from_dict(builder.build()), 1, FPS, focal_length_px=real_focal, solve=False
    )
    motion = extraction.level(track).motion
    # Facing the camera: the world is the camera's Y-up axes, shifted to the first position.
    expected = (pelvis - pelvis[0]) @ worldframe.OPENCV_TO_WORLD.T
    assert np.max(np.abs(motion.trans[:, [0, 2]] - expected[:, [0, 2]])) < 1e-3
    assert np.max(np.abs(motion.trans[:, 1] - motion.trans[0, 1] - expected[:, 1])) < 1e-3


def sampled_embedded_file() -> dict:
    """A 60 fps video posed at every second frame, as the embedded backend writes it; frame 10 missed."""
    builder = LayoutBuilder(20)
    for frame in range(0, 20, 2):
        if frame != 10:
            person = person_at(1, 0.0)
            person.extra["joint_confidence"] = np.full(24, 0.9, dtype=np.float32)
            builder.add(frame, person)
    raw = builder.build()
    for index, key in enumerate(builder.keys):
        if index % 2:
            del raw[key]  # not posed: not in the file
        else:
            raw[key]["timestamp"] = index / 60
    return raw


def test_frames_the_embedded_backend_skipped_are_not_rows_and_set_the_rate() -> None:
    data = tracklets.from_dict(sampled_embedded_file())
    assert data.embedded and extraction.sampling_step(data) == 2.0
    motion = extraction.extract(data, 1, 60.0).motion
    assert motion.fps == 30.0 and list(motion.frame_idx) == list(range(0, 20, 2))
    assert np.allclose(motion.time, motion.frame_idx / 60)
    assert np.all(motion.confidence[5] == 0.0) and np.all(motion.confidence[[4, 6]] > 0)  # frame 10: a gap
    # The share counts the frames that were posed, not the video's.
    summary = extraction.summarise(data, 20)[0]
    assert (summary.frames, summary.share, summary.last_frame) == (9, 0.9, 18)


def test_the_tools_take_the_video_rate_from_the_recorded_timestamps(tmp_path: Path) -> None:
    source = tmp_path / "tracklets.pkl"
    joblib.dump(sampled_embedded_file(), source)
    assert extraction.extract_file(source, 1, tmp_path / "track.npz") == []
    motion = trackfile.load(tmp_path / "track.npz")
    assert motion.fps == 30.0 and motion.frame_idx[-1] == 18


def test_rows_before_the_first_known_row_or_after_the_last_hold_it() -> None:
    values = np.arange(6, dtype=np.float64)[:, None] * np.array([[1.0, 2.0]])
    known = np.array([False, True, True, False, True, False])
    filled = extraction.fill_linear(values, known)
    np.testing.assert_allclose(filled[[0, 3, 5], 0], [1.0, 3.0, 4.0])
    rotations = np.tile(np.eye(3), (6, 1, 1))
    np.testing.assert_allclose(extraction.fill_rotations(rotations, known), rotations)
