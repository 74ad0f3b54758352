"""Reading PHALP-layout tracklets: frame keys, order, ghosts, per-track rows."""

from __future__ import annotations

import random
from pathlib import Path

import joblib
import numpy as np
import pytest

from mocapd.errors import JobError
from mocapd.motion import tracklets
from tests.fake_4dhumans.layout import LayoutBuilder, Person


def test_frame_keys_are_normalised() -> None:
    assert tracklets.normalise_frame_key("out/_DEMO/clip/img/000004.jpg") == "out/_DEMO/clip/img/000004.jpg"
    assert tracklets.normalise_frame_key(("clip.mp4", 1536)) == "clip.mp4#1536"
    assert tracklets.normalise_frame_key(b"000001.jpg") == "000001.jpg"


def test_frames_are_ordered_by_time_whatever_the_dict_order() -> None:
    builder = LayoutBuilder(30)
    items = list(builder.build().items())
    random.Random(1).shuffle(items)
    data = tracklets.from_dict(dict(items))
    assert [frame.index for frame in data.frames] == list(range(30))
    assert data.frames[9].key.endswith("000010.jpg")
    assert data.frame_count == 30


def test_frames_without_time_are_ordered_by_the_numbers_in_their_keys() -> None:
    paths = {f"img/{index:d}.jpg": {"tid": []} for index in (10, 9, 100, 1)}
    assert [frame.key for frame in tracklets.from_dict(paths).frames] == [
        "img/1.jpg",
        "img/9.jpg",
        "img/10.jpg",
        "img/100.jpg",
    ]
    tuples = {("v.mp4", pts): {"tid": []} for pts in (1024, 0, 512)}
    assert [frame.key for frame in tracklets.from_dict(tuples).frames] == [
        "v.mp4#0",
        "v.mp4#512",
        "v.mp4#1024",
    ]


def test_two_frames_with_one_time_are_refused() -> None:
    with pytest.raises(JobError, match="same 'time'"):
        tracklets.from_dict({"a.jpg": {"time": 0, "tid": []}, "b.jpg": {"time": 0, "tid": []}})
    with pytest.raises(JobError, match="expected a dict"):
        tracklets.from_dict([1, 2])  # type: ignore[arg-type]


def test_read_round_trips_a_compressed_joblib_file_and_names_bad_files(tmp_path: Path) -> None:
    builder = LayoutBuilder(3, tuple_keys=True)
    builder.add(1, Person(tid=4))
    path = tmp_path / "demo_clip.pkl"
    joblib.dump(builder.build(), path, compress=3)
    data = tracklets.read(path)
    assert data.track_ids() == [4] and not data.embedded
    with pytest.raises(JobError, match="does not exist"):
        tracklets.read(tmp_path / "missing.pkl")
    (tmp_path / "bad.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(JobError, match="cannot read tracklets file bad.pkl"):
        tracklets.read(tmp_path / "bad.pkl")


def test_a_plain_pickle_and_joblib_files_read_alike(tmp_path: Path) -> None:
    """The embedded backend's plain pickle goes through the C unpickler, joblib's own layouts
    (array wrappers uncompressed, or compressed) through joblib: the same tracklets either way."""
    import pickle

    builder = LayoutBuilder(5)
    builder.add(1, Person(tid=4, camera=[1.0, 0.5, 5.0]))
    builder.add(2, Person(tid=4, camera=[1.5, 0.5, 5.0]))
    raw = builder.build()
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps(raw, protocol=pickle.HIGHEST_PROTOCOL))
    joblib.dump(raw, tmp_path / "wrapped.pkl")
    joblib.dump(raw, tmp_path / "packed.pkl", compress=("gzip", 3))
    read = [tracklets.read(tmp_path / name) for name in ("plain.pkl", "wrapped.pkl", "packed.pkl")]
    cameras = [tracklets.observations(data, 4).camera for data in read]
    assert all(np.array_equal(camera, cameras[0]) for camera in cameras)
    assert not np.array_equal(cameras[0][0], cameras[0][1])  # two different frames, not one repeated


def test_observations_index_by_position_in_tid_and_prefer_the_real_entry() -> None:
    builder = LayoutBuilder(4)
    builder.add(0, Person(tid=2, tracked_time=3, camera=[9.0, 9.0, 9.0]))
    builder.add(0, Person(tid=1, camera=[1.0, 0.0, 5.0]))
    builder.add(1, Person(tid=1, camera=[2.0, 0.0, 5.0]))
    # The same tid twice in a frame (a ghost and a real entry): the real one is the measurement.
    builder.add(2, Person(tid=1, tracked_time=1, camera=[7.0, 7.0, 7.0]))
    builder.add(2, Person(tid=1, camera=[3.0, 0.0, 5.0]))
    builder.add(3, Person(tid=1, tracked_time=1, camera=[3.0, 0.0, 5.0]))
    data = tracklets.from_dict(builder.build())
    observed = tracklets.observations(data, 1)
    assert list(observed.frame_idx) == [0, 1, 2, 3]
    assert list(observed.measured) == [True, True, True, False]
    assert np.allclose(observed.camera[:3, 0], [1.0, 2.0, 3.0])
    assert list(observed.backfilled) == [True, True, True, False]
    assert observed.image_size[0].tolist() == [1080, 1920]
    assert tracklets.real_frame_counts(data) == {1: (3, 0, 2)}
    with pytest.raises(JobError, match="track 5 is not in the tracklets \\(known tracks: 1, 2\\)"):
        tracklets.observations(data, 5)


def test_embedded_keys_are_carried_with_gaps_for_ghost_rows() -> None:
    builder = LayoutBuilder(3)
    for frame in range(3):
        extra = {} if frame == 1 else {"joint_confidence": np.full(24, 0.5 + 0.1 * frame)}
        builder.add(frame, Person(tid=1, tracked_time=int(frame == 1), extra=extra))
    raw = builder.build()
    raw[builder.keys[1]]["joint_confidence"] = [None]
    data = tracklets.from_dict(raw)
    assert data.embedded
    confidence = tracklets.observations(data, 1).extras["joint_confidence"]
    assert confidence.shape == (3, 24) and np.isnan(confidence[1]).all() and np.allclose(confidence[2], 0.7)
    assert not tracklets.observations(data, 1).backfilled.any()


def test_a_ghost_entry_without_parameters_is_tolerated_and_a_real_one_is_not() -> None:
    builder = LayoutBuilder(3)
    for frame in range(3):
        builder.add(frame, Person(tid=1, tracked_time=int(frame == 1)))
    raw = builder.build()
    raw[builder.keys[1]]["smpl"] = [None]
    observed = tracklets.observations(tracklets.from_dict(raw), 1)
    assert list(observed.measured) == [True, False, True] and np.isnan(observed.camera[1]).all()
    raw[builder.keys[2]]["smpl"] = [None]
    with pytest.raises(JobError, match="track 1 has no SMPL parameters"):
        tracklets.observations(tracklets.from_dict(raw), 1)


def test_a_jobs_tracklets_are_only_loaded_from_its_own_folder(tmp_path: Path) -> None:
    import pickle

    job = tmp_path / "jobs" / "1"
    job.mkdir(parents=True)
    outside = tmp_path / "elsewhere.pkl"
    outside.write_bytes(pickle.dumps({}))
    (job / "tracklets.pkl").symlink_to(outside)
    with pytest.raises(JobError, match="symbolic link"):
        tracklets.read(job / "tracklets.pkl", own_folder=job)
    with pytest.raises(JobError, match="not in the job's own folder"):
        tracklets.read(outside, own_folder=job)
    (tmp_path / "jobs" / "2").symlink_to(job)
    with pytest.raises(JobError, match="job folder .* is a symbolic link"):
        tracklets.read(tmp_path / "jobs" / "2" / "tracklets.pkl", own_folder=tmp_path / "jobs" / "2")
