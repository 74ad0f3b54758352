"""Identity over a clip and one world per clip: real two-person frames through tracking and extraction,
and the joining and splitting rules on PHALP-layout files."""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest

from mocapd import trackfile
from mocapd.backends.embedded import posefinder
from mocapd.backends.embedded.tracking import track_video
from mocapd.config import Config
from mocapd.decode import iter_frames
from mocapd.errors import JobError
from mocapd.inbox.probe import probe
from mocapd.job import Job, StepOutcome
from mocapd.motion import appearance, association, extraction, sharedfloor, tracklets
from mocapd.options import JobOptions
from mocapd.steps import track_extraction
from tests.fake_4dhumans.layout import LayoutBuilder, Person
from tests.jobs import folder_job
from tests.videofiles import write_frames

MULTI = Path(__file__).parent / "data" / "pose2sim" / "MultiPerson" / "videos" / "cam01.mp4"
MULTI_CAM03 = MULTI.with_name("cam03.mp4")
# The actors' landmarks from the 4-view triangulation, projected into each view (bench_people.py).
ACTORS = MULTI.parent.parent / "actors_2d.npz"
# Written at 15 fps, 20 hidden frames are 1.3 s: longer than the tracker waits (1 s), so the
# tracker ends the hidden person's track and only the association can join the two fragments.
RATE = 15
HIDDEN = range(30, 50)
FRAMES = 80
# The 4-view triangulation of this clip (bench/bench_people.py) puts the actors' hip centres
# 1.05-1.86 m apart.
TRUE_DISTANCE_M = (1.05, 1.86)


@pytest.fixture(scope="module")
def hidden(tmp_path_factory: pytest.TempPathFactory) -> tuple[Job, StepOutcome]:
    root = tmp_path_factory.mktemp("hidden")
    frames = [frame.image.copy() for frame in iter_frames(MULTI, 640, limit=FRAMES)]
    height, width = frames[0].shape[:2]
    for index in HIDDEN:
        # A grey board in front of the person in front (the lower right of the frame).
        frames[index][int(0.39 * height) :, int(0.4 * width) :] = 128
    video = write_frames(root / "hidden.mp4", frames, rate=RATE)
    work = root / "job"
    (work / "input").mkdir(parents=True)
    shutil.copy(video, work / "input" / video.name)
    config = Config(state_dir=str(root / "state"))
    config.limits.max_resolution = 640
    config.limits.max_inference_fps = 0.0
    job = Job(1, "hidden", work, video.name, JobOptions(track_mode="all"), config)
    job.video_info = probe(job.video_path, config.limits)
    track_video(job)
    return job, track_extraction.run(job)


def test_a_hidden_person_comes_back_as_one_person_with_the_gap_marked(
    hidden: tuple[Job, StepOutcome],
) -> None:
    job, outcome = hidden
    raw_tracks = tracklets.read(job.tracklets_path).track_ids()
    assert len(raw_tracks) >= 3  # the tracker alone splits the hidden person
    assert len(outcome.data["selected"]) == 2, outcome.data["tracks"]
    people = {entry["tid"]: entry for entry in outcome.data["tracks"] if entry["selected"]}
    joined = [entry for entry in people.values() if len(entry["quality"]["fragments"]) >= 2]
    assert len(joined) == 1, people
    person = joined[0]
    assert person["quality"]["joins"][0]["gap_seconds"] >= 1.0
    motion = trackfile.load(job.track_path(person["tid"]))
    # Every frame of the clip from first to last, the hidden ones filled and marked not measured.
    assert np.array_equal(motion.frame_idx, np.arange(motion.frame_idx[0], motion.frame_idx[-1] + 1))
    inside = np.isin(motion.frame_idx, np.arange(HIDDEN.start + 2, HIDDEN.stop - 2))
    assert np.all(motion.confidence[inside] == 0.0)
    # Someone coming back is found by the next look for newcomers, at most SCOUT_INTERVAL_SECONDS later.
    late = int(np.ceil(posefinder.SCOUT_INTERVAL_SECONDS * RATE))
    seen = ~np.isin(motion.frame_idx, range(HIDDEN.start, HIDDEN.stop + late))
    assert motion.confidence[seen].max(axis=1).min() > 0.0
    (gap,) = [gap for gap in person["quality"]["gaps"] if gap[0] <= HIDDEN.start + 2]
    assert gap[0] >= HIDDEN.start - 2 and HIDDEN.stop - 3 <= gap[1] <= HIDDEN.stop + 1
    # What the step reports agrees with the file.
    assert person["quality"]["motion_frames"] == motion.frame_count
    assert person["first_frame"] == motion.frame_idx[0] and person["last_frame"] == motion.frame_idx[-1]
    assert person["first_time"] == pytest.approx(motion.time[0], abs=1e-3)
    assert person["quality"]["video_frames"] == motion.frame_count
    other = next(entry for entry in people.values() if entry is not person)
    assert other["quality"]["fragments"] == [other["tid"]]
    # Their only gaps: detections mostly behind the person in front (mocapd.motion.occlusion).
    behind = outcome.data["behind_others"].get(str(other["tid"]), {}).get("mostly_hidden", 0)
    assert sum(last - first + 1 for first, last in other["quality"]["gaps"]) <= behind


def test_both_people_share_one_world_at_their_real_distance(hidden: tuple[Job, StepOutcome]) -> None:
    job, outcome = hidden
    first, second = (trackfile.load(job.track_path(tid)) for tid in outcome.data["selected"])
    shared = np.intersect1d(first.frame_idx, second.frame_idx)[: HIDDEN.start]
    rows_a, rows_b = np.searchsorted(first.frame_idx, shared), np.searchsorted(second.frame_idx, shared)
    world = np.linalg.norm(first.trans[rows_a] - second.trans[rows_b], axis=1)
    # The camera frame is one rigid turn away from the world: distances between people are kept.
    raw = tracklets.read(job.tracklets_path)
    data = association.relabel(raw, association.associate(raw, job.video_info.fps))
    # Landmarks behind the person in front read as unseen (mocapd.motion.occlusion), as the step did.
    tids = [entry["tid"] for entry in outcome.data["tracks"]]
    data = track_extraction.behind_others(
        job, data, None, track_extraction.per_frame_tracks(job, data, None, tids)
    )[0]
    # Each person scaled about the camera onto the one floor (mocapd.motion.sharedfloor), as the step did.
    scales = outcome.data["world"]["floor"]["depth_scales"]
    # The solver was given the camera's up where the scene's vertical edges gave it (mocapd.motion.verticals).
    method = next(entry for entry in outcome.data["tracks"] if entry["tid"] == first.tid)["quality"][
        "level_method"
    ]
    up = first.world_from_camera[:3, :3].T @ [0.0, 1.0, 0.0] if method == "verticals" else None
    in_camera = [
        sharedfloor.scaled(
            extraction.observe(
                data, motion.tid, job.video_info.fps, None, job.video_info.focal_length_px, up=up
            ),
            scales[str(motion.tid)],
        )
        for motion in (first, second)
    ]
    camera = np.linalg.norm(in_camera[0].pelvis_camera[rows_a] - in_camera[1].pelvis_camera[rows_b], axis=1)
    assert np.allclose(world, camera, atol=1e-3)  # the scales are reported to 4 digits
    assert TRUE_DISTANCE_M[0] * 0.85 <= np.median(world) <= TRUE_DISTANCE_M[1] * 1.15, np.median(world)
    # Headings: the turn between the two people is the same in the world as in the camera (about up).
    world_turn = [
        angle_about_y(first.R_root[a].T @ second.R_root[b]) for a, b in zip(rows_a, rows_b, strict=True)
    ]
    assert np.std(world_turn) < np.radians(60)
    anchor = outcome.data["world"]["anchor_track"]
    anchored = first if first.tid == anchor else second
    assert np.allclose(anchored.trans[0, [0, 2]], 0.0, atol=1e-6)  # the origin is under the main actor
    facing = anchored.R_root[0] @ np.array([0.0, 0.0, 1.0])
    assert abs(np.arctan2(facing[0], facing[2])) < 1e-6  # who faces +Z at their first frame


def test_two_actors_passing_each_other_keep_their_ids(tmp_path: Path) -> None:
    """MultiPerson cam03, as filmed: the man walks over to the woman and past her, their outlines
    overlapping for the second half (the detector finds one of them, or a mix of both, in most of
    those frames). Held against where the 4-view triangulation puts each actor in this view
    (actors_2d.npz, written by bench/bench_people.py --write-actors): each exported person stays on
    one actor, and each actor is followed by their own person."""
    work = tmp_path / "job"
    (work / "input").mkdir(parents=True)
    shutil.copy(MULTI_CAM03, work / "input" / MULTI_CAM03.name)
    config = Config(state_dir=str(tmp_path / "state"))
    job = Job(1, "passing", work, MULTI_CAM03.name, JobOptions(track_mode="all"), config)
    job.video_info = probe(job.video_path, config.limits)
    track_video(job)
    outcome = track_extraction.run(job)
    assert len(outcome.data["selected"]) == 2, outcome.data["tracks"]
    reference = np.load(ACTORS)
    actors = dict(zip(reference["frames"].tolist(), reference["cam03"], strict=True))  # (2, C, 2) px
    raw = tracklets.read(job.tracklets_path)
    data = association.relabel(raw, association.associate(raw, job.video_info.fps))
    on: dict[int, list[int]] = {tid: [] for tid in outcome.data["selected"]}
    for frame in data.frames:
        for position, pid in enumerate(frame.tids):
            if pid in on and frame.is_measured(position) and frame.index in actors:
                points = np.asarray(frame.data["landmarks_image"][position])[reference["core"]]
                actor = actor_under(actors[frame.index], points)
                if actor is not None:
                    on[pid].append(actor)
    for pid, sequence in on.items():
        assert len(set(sequence)) == 1, (pid, sequence)  # never on the other actor: no swap
    first, second = on.values()
    assert first[0] != second[0]
    assert min(len(first), len(second)) >= 20  # each actor measured in most frames they are seen


def actor_under(actors: np.ndarray, points: np.ndarray) -> int | None:
    """Which actor (0, 1) a detection's core landmarks lie on: within 15 % of the actor's height."""
    distances = []
    for actor in actors:
        height = max(float(np.ptp(actor[:, 1])), 1.0)
        distances.append(float(np.median(np.linalg.norm(actor - points, axis=1))) / height)
    best = int(np.argmin(distances))
    return best if distances[best] < 0.15 else None


def angle_about_y(rotation: np.ndarray) -> float:
    forward = rotation @ np.array([0.0, 0.0, 1.0])
    return float(np.arctan2(forward[0], forward[2]))


def look(colour: int) -> np.ndarray:
    """An appearance descriptor of a person dressed in one hue bin."""
    histogram = np.zeros(appearance.SIZE, dtype=np.float32)
    for region in range(len(appearance.REGIONS)):
        histogram[region * appearance.REGION_BINS + colour * appearance.SATURATION_BINS + 2] = 1.0
    return histogram


def test_only_short_fragments_fail_with_the_reason(tmp_path: Path) -> None:
    builder = LayoutBuilder(40)
    for frame in range(0, 40):
        # Flickers of two false detections far apart, never long enough to be a person.
        if frame % 10 < 4:
            builder.add(frame, Person(tid=1 + frame // 10, bbox=(100.0 + 700 * (frame // 10), 200, 300, 700)))
    for mode in ("auto", "all"):
        job = folder_job(tmp_path / mode, 40, track_mode=mode)
        joblib.dump(builder.build(), job.tracklets_path)
        with pytest.raises(JobError, match=r"min_track_frames \(15\)|fewer than 15|at least 15"):
            track_extraction.run(job)
        assert not job.tracks_dir.exists() or not list(job.tracks_dir.iterdir())


def test_a_swap_is_split_and_each_half_joins_its_own_person(tmp_path: Path) -> None:
    """Two people cross: at frame 20 the tracker swaps them (track 1 goes on with B, 2 with A); one
    person is then missed for a second. Colours split the swapped tracks and join the right halves."""
    builder = LayoutBuilder(60)
    for frame in range(60):
        x_a, x_b = 200.0 + 20 * frame, 1400.0 - 20 * frame  # A walks right, B walks left
        on_a, on_b = (1, 2) if frame < 20 else (2, 1)
        if not 40 <= frame < 52:  # B is lost for 12 frames, then found as track 3
            builder.add(
                frame,
                Person(
                    tid=on_b if frame < 40 else 3, bbox=(x_b, 200, 300, 700), extra={"appearance": look(5)}
                ),
            )
        builder.add(frame, Person(tid=on_a, bbox=(x_a, 200, 300, 700), extra={"appearance": look(1)}))
    job = folder_job(tmp_path, 60, track_mode="all")
    joblib.dump(builder.build(), job.tracklets_path)
    outcome = track_extraction.run(job)
    assert len(outcome.data["swaps_split"]) == 2
    assert {split["at_frame"] for split in outcome.data["swaps_split"]} == {20}
    people = {entry["tid"]: entry for entry in outcome.data["tracks"] if entry["selected"]}
    assert len(people) == 2
    data = association.relabel(
        tracklets.read(job.tracklets_path), association.associate(tracklets.read(job.tracklets_path), 30.0)
    )
    colour_of = {1: 1 * appearance.SATURATION_BINS + 2, 2: 5 * appearance.SATURATION_BINS + 2}
    for frame in data.frames:
        for position, pid in enumerate(frame.tids):
            # Each person keeps one colour from the first frame to the last: nobody swapped.
            colour = int(np.argmax(frame.data["appearance"][position][: appearance.REGION_BINS]))
            assert colour == colour_of[pid], (frame.index, pid)
    gap_person = people[2]
    assert gap_person["quality"]["fragments"][-1] == 3 and gap_person["quality"]["gaps"] == [[40, 51]]


def test_two_people_at_once_are_never_joined() -> None:
    builder = LayoutBuilder(30)
    for frame in range(30):
        builder.add(frame, Person(tid=1, bbox=(100, 200, 300, 700), extra={"appearance": look(1)}))
        if frame >= 10:
            builder.add(frame, Person(tid=2, bbox=(150, 200, 300, 700), extra={"appearance": look(1)}))
    result = association.associate(tracklets.from_dict(builder.build()), 30.0)
    assert sorted(person.fragments for person in result.people) == [[1], [2]]


def test_a_false_detection_inside_a_track_is_read_as_not_measured(tmp_path: Path) -> None:
    """The tracker gives one frame of a person to a false detection (half the size, far off): the
    person keeps their track, and that frame is filled, not measured."""
    builder = LayoutBuilder(30)
    for frame in range(30):
        box = (900.0, 300.0, 200.0, 300.0) if frame == 12 else (200.0 + 5 * frame, 200.0, 300.0, 700.0)
        builder.add(frame, Person(tid=1, bbox=box))
    result = association.associate(tracklets.from_dict(builder.build()), 30.0)
    assert result.strays == [(12, 1)]
    job = folder_job(tmp_path, 30, track_mode="all")
    joblib.dump(builder.build(), job.tracklets_path)
    outcome = track_extraction.run(job)
    (person,) = outcome.data["tracks"]
    assert person["frames"] == 29 and person["quality"]["gaps"] == [[12, 12]]
    assert outcome.data["strays"] == [[12, 1]]
