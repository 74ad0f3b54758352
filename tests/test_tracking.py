"""The embedded tracking backend on real clips: tracks, identities, the tracklets layout, bad input."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import joblib
import numpy as np
import pytest

from mocapd.backends.embedded.posefinder import SCOUT_INTERVAL_SECONDS, Posed
from mocapd.backends.embedded.tracking import TrackingState, track_video
from mocapd.config import Config
from mocapd.decode import DecodedFrame, iter_frames
from mocapd.errors import JobError
from mocapd.export.prepare import PrepareSettings, prepare
from mocapd.job import Job, StepOutcome
from mocapd.motion import extraction, tracklets
from mocapd.motion.worldframe import PELVIS_IN_SMPL_MODEL
from mocapd.options import JobOptions
from mocapd.skeleton import JOINT_INDEX
from mocapd.smoothing.smoother import SmoothingParameters, smooth_motion
from tests.videofiles import write_frames

VIDEOS = Path(__file__).parent / "data" / "pose2sim"
SINGLE = VIDEOS / "SinglePerson" / "videos" / "cam01.mp4"
MULTI = VIDEOS / "MultiPerson" / "videos" / "cam01.mp4"
MULTI_CAM03 = VIDEOS / "MultiPerson" / "videos" / "cam03.mp4"
# Inference at this size keeps the module fast; the model resizes to 256 px anyway.
MAX_RESOLUTION = 640
# The clips are 60 fps; the module's single-person run poses every second frame.
CAPPED_FPS = 30.0
LEGS = [
    JOINT_INDEX[name]
    for name in ("left_knee", "right_knee", "left_ankle", "right_ankle", "left_foot", "right_foot")
]
ARMS = [JOINT_INDEX[name] for name in ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow")]


def make_job(root: Path, video: Path, keep_intermediate: bool = False, max_inference_fps: float = 0.0) -> Job:
    """A job over `video`; max_inference_fps 0 (every frame) unless a test is about the cap."""
    work = root / video.stem
    (work / "input").mkdir(parents=True)
    shutil.copy(video, work / "input" / video.name)
    config = Config(state_dir=str(root / "state"))
    config.limits.max_resolution = MAX_RESOLUTION
    config.limits.max_inference_fps = max_inference_fps
    return Job(1, video.stem, work, video.name, JobOptions(keep_intermediate=keep_intermediate), config)


def frames_of(tracklets: dict) -> list[dict]:
    return sorted(tracklets.values(), key=lambda entry: entry["time"])


def track_rows(frames: list[dict], tid: int, key: str) -> np.ndarray:
    return np.array([entry[key][entry["tid"].index(tid)] for entry in frames if tid in entry["tid"]])


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> tuple[Job, StepOutcome, list[dict]]:
    job = make_job(
        tmp_path_factory.mktemp("single"), SINGLE, keep_intermediate=True, max_inference_fps=CAPPED_FPS
    )
    outcome = track_video(job)
    return job, outcome, frames_of(joblib.load(job.tracklets_path))


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> tuple[Job, list[dict]]:
    job = make_job(tmp_path_factory.mktemp("multi"), MULTI)
    track_video(job)
    return job, frames_of(joblib.load(job.tracklets_path))


def test_one_person_is_one_track_over_the_clip(single: tuple[Job, StepOutcome, list[dict]]) -> None:
    _, outcome, frames = single
    assert len(frames) == 50
    tids = {tid for entry in frames for tid in entry["tid"]}
    assert len(tids) == 1
    covered = sum(1 for entry in frames if entry["tid"])
    assert covered >= 47
    assert outcome.data["frames"] == 50


def test_the_cap_poses_every_second_frame_with_its_source_index_and_time(
    single: tuple[Job, StepOutcome, list[dict]],
) -> None:
    _, _, frames = single
    source = list(range(0, 100, 2))
    assert [entry["time"] for entry in frames] == source
    assert [entry["frame_path"] for entry in frames] == [f"frame_{index:06d}" for index in source]
    assert [entry["timestamp"] for entry in frames] == pytest.approx(
        [index / 60 for index in source], abs=1e-6
    )


def test_motion_sampled_at_the_cap_is_exported_with_every_frame_of_the_video(
    single: tuple[Job, StepOutcome, list[dict]],
) -> None:
    job, _, _ = single
    data = tracklets.read(job.tracklets_path)
    tid = extraction.summarise(data, 100)[0].tid
    motion = extraction.extract(data, tid, 60.0).motion
    assert motion.fps == 30.0 and list(motion.frame_idx) == list(range(0, 100, 2))
    assert motion.time == pytest.approx(motion.frame_idx / 60, abs=1e-6)
    smoothed = smooth_motion(motion, SmoothingParameters())
    exported = prepare(smoothed, PrepareSettings()).motion
    assert exported.fps == 60.0
    # One key per source frame, the last (99) holding the last sample (98): the clip's 100 frames.
    assert exported.frame_count == 100


def test_tracklets_follow_the_phalp_layout(single: tuple[Job, StepOutcome, list[dict]]) -> None:
    _, _, frames = single
    entry = next(entry for entry in frames if entry["tid"])
    people = len(entry["tid"])
    for key in (
        "bbox",
        "tracked_time",
        "smpl",
        "camera",
        "size",
        "conf",
        "landmarks_world",
        "landmarks_image",
        "landmarks_visibility",
        "joint_confidence",
    ):
        assert len(entry[key]) == people, key
    assert entry["tracked_time"][0] == 0
    smpl = entry["smpl"][0]
    assert smpl["global_orient"].shape == (1, 3, 3) and smpl["body_pose"].shape == (23, 3, 3)
    assert np.array_equal(smpl["betas"], np.zeros(10))
    assert np.allclose(smpl["body_pose"] @ np.swapaxes(smpl["body_pose"], -1, -2), np.eye(3), atol=1e-5)
    assert entry["landmarks_world"][0].shape == (33, 3) and entry["landmarks_image"][0].shape == (33, 2)
    assert entry["landmarks_visibility"][0].shape == (33,) and entry["joint_confidence"][0].shape == (24,)
    assert list(entry["size"][0]) == [1920, 1080]  # upright full-resolution pixels, not the inference size
    x0, y0, width, height = entry["bbox"][0]
    assert 0 <= x0 and 0 <= y0 and x0 + width <= 1080 and y0 + height <= 1920 and height > width


def test_posed_person_is_upright_in_front_of_the_camera(single: tuple[Job, StepOutcome, list[dict]]) -> None:
    _, outcome, frames = single
    tid = frames[0]["tid"][0]
    orient = np.array([smpl["global_orient"][0] for smpl in track_rows(frames, tid, "smpl")])
    up = orient @ np.array([0.0, 1.0, 0.0])
    # Body up is image up (-y in OpenCV axes), give or take the camera's tilt and the actor's lean.
    assert np.median(up[:, 1]) < -0.6
    camera = track_rows(frames, tid, "camera")
    assert np.all((camera[:, 2] > 1.0) & (camera[:, 2] < 10.0))
    # The pelvis projects inside the person's box.
    focal = outcome.data["focal_length_px"]
    pelvis = camera + PELVIS_IN_SMPL_MODEL
    pixels = pelvis[:, :2] / pelvis[:, 2:] * focal + np.array([540.0, 960.0])
    boxes = track_rows(frames, tid, "bbox")
    inside = (pixels[:, 0] > boxes[:, 0]) & (pixels[:, 0] < boxes[:, 0] + boxes[:, 2])
    inside &= (pixels[:, 1] > boxes[:, 1]) & (pixels[:, 1] < boxes[:, 1] + boxes[:, 3])
    assert inside.mean() > 0.95


def test_preview_video_is_written_when_asked(single: tuple[Job, StepOutcome, list[dict]]) -> None:
    job, _, _ = single
    frames = list(iter_frames(job.visualization_path))
    assert len(frames) == 50
    assert abs(frames[-1].time - 98 / 60) < 1e-3
    assert job.progress_path("tracking").exists()


def test_two_people_are_two_tracks_without_a_swap(multi: tuple[Job, list[dict]]) -> None:
    job, frames = multi
    assert [entry["time"] for entry in frames] == list(range(100))  # no cap: every frame is posed
    counts: dict[int, int] = {}
    for entry in frames:
        for tid in entry["tid"]:
            counts[tid] = counts.get(tid, 0) + 1
    # The two actors; the painted-out look also finds, in a few frames, the bystander far behind them.
    long_tracks = [tid for tid, count in counts.items() if count >= 30]
    assert len(long_tracks) == 2, counts
    assert sum(1 for entry in frames if len(entry["tid"]) >= 2) >= 86  # before the scout: 86; now: 100
    for tid in long_tracks:
        boxes = track_rows(frames, tid, "bbox")
        centres = boxes[:, :2] + boxes[:, 2:] / 2
        jumps = np.linalg.norm(np.diff(centres, axis=0), axis=1) / boxes[1:, 3]
        # 60 fps walking moves a box centre by a few percent of its height per frame; a swap jumps far more.
        assert jumps.max() < 0.2, (tid, jumps.max())
    assert not job.visualization_path.exists()


def test_two_people_stay_followed_at_the_default_inference_cap(tmp_path: Path) -> None:
    """Every 2nd frame posed: both people in nearly every posed frame (was 36 of 50 before GROW_AFTER_LOOKS)."""
    job = make_job(tmp_path, MULTI, max_inference_fps=CAPPED_FPS)
    track_video(job)
    frames = frames_of(joblib.load(job.tracklets_path))
    assert len(frames) == 50
    assert sum(1 for entry in frames if len(entry["tid"]) >= 2) >= 47


def test_a_person_entering_mid_clip_is_found_by_the_scout(tmp_path: Path) -> None:
    """The main landmarker follows only the one person at the start; the scout must find the second."""
    entering, rate = 30, 60
    frames = [frame.image.copy() for frame in iter_frames(MULTI, MAX_RESOLUTION, limit=80)]
    height, width = frames[0].shape[:2]
    for image in frames[:entering]:
        # The person in front (the lower right of the frame) is blacked out until `entering`.
        image[int(0.39 * height) :, int(0.4 * width) :] = 0
    job = make_job(tmp_path, write_frames(tmp_path / "entering.mp4", frames, rate=rate))
    track_video(job)
    entries = frames_of(joblib.load(job.tracklets_path))
    first_seen: dict[int, int] = {}
    counts: dict[int, int] = {}
    for entry in entries:
        for tid in entry["tid"]:
            first_seen.setdefault(tid, entry["time"])
            counts[tid] = counts.get(tid, 0) + 1
    long_tracks = sorted((tid for tid, count in counts.items() if count >= 10), key=first_seen.__getitem__)
    assert len(long_tracks) == 2, counts
    assert first_seen[long_tracks[0]] <= 2  # visible from the first frame: tracked from it
    # The scout looks every SCOUT_INTERVAL_SECONDS: the newcomer is found within one interval (and a few frames).
    assert entering <= first_seen[long_tracks[1]] <= entering + SCOUT_INTERVAL_SECONDS * rate + 5, first_seen
    both = sum(1 for entry in entries if len(entry["tid"]) >= 2 and entry["time"] >= entering + 40)
    assert both >= 0.8 * (len(entries) - entering - 40)


def test_a_person_beside_a_nearer_one_is_found_by_the_painted_out_look(tmp_path: Path) -> None:
    """MultiPerson cam03: the detector finds only the man in front; with him painted out it finds the
    woman behind him (left of the frame): before the painted-out look she was never tracked."""
    frames = [frame.image.copy() for frame in iter_frames(MULTI_CAM03, MAX_RESOLUTION, limit=40)]
    job = make_job(
        tmp_path, write_frames(tmp_path / "cam03.mp4", frames, rate=60), max_inference_fps=CAPPED_FPS
    )
    track_video(job)
    entries = frames_of(joblib.load(job.tracklets_path))
    width = frames[0].shape[1]  # the clip is written at the inference size
    centres: dict[int, list[float]] = {}
    for entry in entries:
        for tid, box in zip(entry["tid"], entry["bbox"], strict=True):
            centres.setdefault(tid, []).append(float(box[0] + box[2] / 2))
    long_tracks = {tid: np.median(xs) for tid, xs in centres.items() if len(xs) >= 10}
    assert len(long_tracks) == 2, {tid: len(xs) for tid, xs in centres.items()}
    assert min(long_tracks.values()) < 0.35 * width < max(long_tracks.values()), long_tracks


def test_a_clip_with_nobody_is_a_job_error(tmp_path: Path) -> None:
    generator = np.random.default_rng(0)
    frames = [
        np.full((256, 320, 3), 90, dtype=np.uint8) + generator.integers(0, 20, (256, 320, 3), dtype=np.uint8)
        for _ in range(15)
    ]
    video = write_frames(tmp_path / "empty_room.mp4", frames)
    job = make_job(tmp_path, video)
    with pytest.raises(JobError, match="no person found"):
        track_video(job)
    assert not job.tracklets_path.exists()


def test_a_person_cut_at_the_waist_has_unseen_legs(tmp_path: Path) -> None:
    upper = [frame.image[: frame.image.shape[0] // 2].copy() for frame in iter_frames(SINGLE, 640, limit=40)]
    video = write_frames(tmp_path / "upper_half.mp4", upper)
    job = make_job(tmp_path, video)
    track_video(job)
    frames = frames_of(joblib.load(job.tracklets_path))
    # The actor's track (the painted-out look may also find the bystander behind, legs and all).
    counts: dict[int, int] = {}
    for entry in frames:
        for tid in entry["tid"]:
            counts[tid] = counts.get(tid, 0) + 1
    confidence = track_rows(frames, max(counts, key=counts.__getitem__), "joint_confidence")
    assert confidence[:, LEGS].mean() < 0.3
    assert confidence[:, ARMS].mean() > 0.6


def test_a_phone_video_filmed_sideways_is_tracked_upright(tmp_path: Path) -> None:
    """Stored landscape with a display rotation (as phones write portrait video): boxes and sizes are upright."""
    upright = [frame.image for frame in iter_frames(SINGLE, 640, limit=30)]
    stored = [np.ascontiguousarray(np.rot90(image, k=-1)) for image in upright]  # 640 wide, 360 high
    video = write_frames(tmp_path / "phone.mp4", stored, rotation=90)
    job = make_job(tmp_path, video)
    track_video(job)
    frames = frames_of(joblib.load(job.tracklets_path))
    assert sum(1 for entry in frames if entry["tid"]) >= 28
    assert all(list(entry["size"][0]) == [640, 360] for entry in frames if entry["tid"])
    boxes = np.concatenate([np.array(entry["bbox"]) for entry in frames if entry["tid"]])
    assert np.median(boxes[:, 3] / boxes[:, 2]) > 1.5  # a standing person: taller than wide


def test_a_failure_while_taking_a_frame_is_raised_by_track_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The posed frames are taken on their own thread: its error stops tracking and reaches the caller."""
    taken: list[int] = []
    original = TrackingState.take

    def take(self: TrackingState, posed: Posed[DecodedFrame]) -> None:
        if len(taken) == 5:
            raise RuntimeError("taking failed")
        taken.append(posed.item.frame_index)
        original(self, posed)

    monkeypatch.setattr(TrackingState, "take", take)
    job = make_job(tmp_path, SINGLE)
    with pytest.raises(RuntimeError, match="taking failed"):
        track_video(job)
    assert taken == [0, 1, 2, 3, 4]  # in order, none after the failure
    assert not job.tracklets_path.exists()
    assert not any(thread.name.startswith("tracking-take") for thread in threading.enumerate())
