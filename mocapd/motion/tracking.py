"""The embedded tracking backend: every person in the video, followed and posed, written as PHALP-style tracklets.

Frames stream from the decoder into the bundled pose model (several people per frame; at most
limits.max_inference_fps frames per second of video, the tracklets list only the frames posed); our tracker
gives each person a stable id; after the last frame each track's landmarks are turned into SMPL joint
rotations (ik), a camera-frame root translation (rootmotion) and per-joint confidences.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import joblib
import mediapipe
import numpy as np

from mocapd import decode
from mocapd.errors import JobError
from mocapd.job import Job, StepOutcome
from mocapd.motion import ik, landmarks, posemodel, rootmotion
from mocapd.motion.tracker import MAX_GAP_SECONDS, Detection, Tracker, box_from_points, iou
from mocapd.motion.visualization import PreviewWriter, draw_person
from mocapd.motion.worldframe import PELVIS_IN_SMPL_MODEL

log = logging.getLogger(__name__)

STEP = "tracking"
# Most people the pose model looks for in one frame.
MAX_PEOPLE = 4
# Tracks with fewer detections are noise (a false detection, a person crossing a corner).
MIN_TRACK_DETECTIONS = 3
# Progress is written at most this often (frames).
PROGRESS_EVERY = 10
# Seconds of video between two scout passes looking for people who entered the frame. The detector
# misses a partly hidden person in most frames: at 0.5 s the second person of the Pose2Sim MultiPerson
# cam02 view went unfound; at 0.2 s people are found in as many frames as running it on every frame.
SCOUT_INTERVAL_SECONDS = 0.2
# The scout runs on every frame until it has counted the same number of people this many frames in a row:
# the detector misses people in single frames, most often at the start.
SCOUT_SETTLED_FRAMES = 3
# A scout detection overlapping a main one this much (box IoU) is the same person.
SCOUT_SAME_PERSON_IOU = 0.3


@dataclass
class TrackRecord:
    """Everything measured on one track, one row per detection."""

    frames: list[int] = field(default_factory=list)
    world: list[np.ndarray] = field(default_factory=list)
    image: list[np.ndarray] = field(default_factory=list)
    visibility: list[np.ndarray] = field(default_factory=list)
    confidence: list[np.ndarray] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


def detections_from_result(
    result: Any, width: int, height: int, scale: float, size: tuple[int, int]
) -> list[Detection]:
    """The pose model's people as detections in upright full-resolution pixels."""
    found = []
    for image_landmarks, world_landmarks in zip(
        result.pose_landmarks, result.pose_world_landmarks, strict=True
    ):
        values = np.array(
            [[mark.x, mark.y, mark.visibility or 0.0, mark.presence or 0.0] for mark in image_landmarks],
            dtype=np.float64,
        )
        world = np.array([[mark.x, mark.y, mark.z] for mark in world_landmarks], dtype=np.float64)
        points = values[:, :2] * np.array([width, height]) / scale
        visibility = np.minimum(values[:, 2], values[:, 3])
        confidence = landmarks.landmark_confidence(points, visibility, size)
        box = box_from_points(points, confidence, size)
        found.append(Detection(points, confidence, box, float(np.mean(values[:, 3])), (world, visibility)))
    return found


class PoseFinder:
    """The pose model, run so that the person detector is rarely needed: a main landmarker plus a scout.

    The landmarker runs its detector on every frame where it follows fewer people than its num_poses, so
    the main one is sized to the people being followed (tracking only, about half the cost); a scout with
    num_poses MAX_PEOPLE looks every SCOUT_INTERVAL_SECONDS (and whenever the main one loses someone) for
    people who entered, and the main one is rebuilt larger when it sees more, smaller when people left.
    """

    def __init__(self, cache_dir: Path, max_people: int = MAX_PEOPLE) -> None:
        self.cache_dir = cache_dir
        self.max_people = max_people
        self.scout = posemodel.create_landmarker(max_people, cache_dir=cache_dir)
        self.main: Any = None
        self.main_size = 0
        self.last_scout_time = -np.inf
        self.scout_counts: list[int] = []
        self.last_main_count = 0
        # When the main landmarker last found all the people it is sized for.
        self.last_full_time = 0.0
        self.most_found_since_full = 0

    def resize_main(self, people: int, time: float) -> None:
        """A fresh main landmarker following `people` (a new instance: VIDEO mode state is per instance)."""
        if self.main is not None:
            self.main.close()
        self.main = posemodel.create_landmarker(people, cache_dir=self.cache_dir)
        self.main_size = people
        self.last_full_time = time
        self.most_found_since_full = 0

    def scout_due(self, time: float) -> bool:
        """Whether the scout looks at this frame."""
        settled = len(self.scout_counts) >= SCOUT_SETTLED_FRAMES and len(set(self.scout_counts)) == 1
        # While the main landmarker has not found everyone the scout sees, the scout's people fill in.
        behind = bool(self.scout_counts) and self.last_main_count < self.scout_counts[-1]
        return not settled or behind or time - self.last_scout_time >= SCOUT_INTERVAL_SECONDS

    def detect(self, image: mediapipe.Image, stamp: int, time: float) -> tuple[Any, Any]:
        """The main and the scout landmarker's results for one frame (None for one that did not run)."""
        main_result = scout_result = None
        lost = False
        if self.main is not None:
            main_result = self.main.detect_for_video(image, stamp)
            found = len(main_result.pose_landmarks)
            lost = found < self.last_main_count
            self.last_main_count = found
            if found >= self.main_size:
                self.last_full_time = time
                self.most_found_since_full = 0
            else:
                self.most_found_since_full = max(self.most_found_since_full, found)
        if self.main is None or lost or self.scout_due(time):
            scout_result = self.scout.detect_for_video(image, stamp)
            seen = len(scout_result.pose_landmarks)
            if lost or (self.scout_counts and seen != self.scout_counts[-1]):
                self.scout_counts = []  # a change: look again on the next frames
            self.scout_counts = (self.scout_counts + [seen])[-SCOUT_SETTLED_FRAMES:]
            self.last_scout_time = time
            if self.main is None or seen > self.main_size:
                self.resize_main(max(1, seen, self.main_size), time)
                self.last_main_count = seen
        elif self.main_size > 1 and time - self.last_full_time > MAX_GAP_SECONDS:
            # Someone left a while ago (the tracker has ended their track): stop looking for them each frame.
            self.resize_main(max(1, self.most_found_since_full), time)
        return main_result, scout_result

    def close(self) -> None:
        """Release both landmarkers."""
        self.scout.close()
        if self.main is not None:
            self.main.close()


def merge_detections(main: list[Detection], scout: list[Detection]) -> list[Detection]:
    """The main landmarker's people plus those only the scout found (overlapping ones are the same person)."""
    # The two instances pose one person from different regions, so their boxes differ more than the
    # tracker's duplicate test allows; a looser overlap marks them as one.
    return main + [
        found for found in scout if all(iou(found.box, kept.box) < SCOUT_SAME_PERSON_IOU for kept in main)
    ]


def fill_gaps(values: np.ndarray) -> np.ndarray:
    """Rows (N, C) with NaN rows replaced by linear interpolation (held at the ends)."""
    valid = np.all(np.isfinite(values), axis=1)
    if valid.all() or not valid.any():
        return values
    rows = np.arange(values.shape[0])
    return np.stack(
        [np.interp(rows, rows[valid], values[valid, column]) for column in range(values.shape[1])], axis=1
    )


def solve_track(record: TrackRecord, focal: float, size: tuple[int, int]) -> dict[str, np.ndarray] | None:
    """Per-detection SMPL rotations, camera translation and joint confidences of one track."""
    world = np.stack(record.world)
    image = np.stack(record.image)
    confidence = np.stack(record.confidence)
    keypoints = landmarks.from_mediapipe(world)
    keypoint_confidence = landmarks.confidence_from_mediapipe(confidence)
    offsets = ik.estimate_offsets(keypoints, keypoint_confidence)
    global_rotations, local_rotations, pelvis = ik.solve(keypoints, offsets, keypoint_confidence)
    height, width = size
    translation = rootmotion.fit_translation(world, image, confidence, focal, (width / 2.0, height / 2.0))
    if not np.isfinite(translation).any():
        return None
    pelvis_camera = fill_gaps(translation) + pelvis
    return {
        "global_orient": global_rotations[:, :1].astype(np.float32),
        "body_pose": local_rotations[:, 1:].astype(np.float32),
        "camera": (pelvis_camera - PELVIS_IN_SMPL_MODEL).astype(np.float32),
        "joint_confidence": landmarks.joint_confidence(confidence).astype(np.float32),
    }


def track_video(job: Job) -> StepOutcome:
    """Track every person in job.video_path; write job.tracklets_path (and the preview when asked)."""
    info = job.video_info
    rotation = info.rotation if info is not None else 0
    expected_frames = info.frame_count if info is not None and info.frame_count else 0
    records: dict[int, TrackRecord] = {}
    frame_times: list[tuple[int, float]] = []
    size = (0, 0)
    preview: PreviewWriter | None = None
    finder = PoseFinder(job.config.state_path / "models")
    tracker = Tracker()
    last_stamp = -1
    # The model's cost is per frame: above max_inference_fps only a subset of frames is posed (their
    # real times and source indices are kept), and the export resamples to the video's rate.
    frames = decode.prefetch(
        decode.iter_frames(
            job.video_path,
            job.config.limits.max_resolution,
            rotation=rotation,
            max_rate=job.config.limits.max_inference_fps,
        )
    )
    try:
        for frame in frames:
            height, width = frame.image.shape[:2]
            size = (int(round(height / frame.scale)), int(round(width / frame.scale)))
            # VIDEO mode needs strictly increasing millisecond stamps; real timestamps keep VFR spacing.
            stamp = max(int(round(frame.time * 1000.0)), last_stamp + 1)
            last_stamp = stamp
            if job.options.keep_intermediate and preview is None:
                rate = info.fps if info is not None and info.fps > 0 else 30.0
                preview = PreviewWriter(job.visualization_path, width, height, rate)
            results = finder.detect(
                mediapipe.Image(image_format=mediapipe.ImageFormat.SRGB, data=frame.image), stamp, frame.time
            )
            main, scout = (
                [] if result is None else detections_from_result(result, width, height, frame.scale, size)
                for result in results
            )
            detections = merge_detections(main, scout)
            frame_times.append((frame.frame_index, frame.time))
            for tid, detection in tracker.update(detections, frame.time):
                record = records.setdefault(tid, TrackRecord())
                world, visibility = cast(tuple[np.ndarray, np.ndarray], detection.payload)
                record.frames.append(frame.frame_index)
                record.world.append(world.astype(np.float32))
                record.image.append(detection.image_points.astype(np.float32))
                record.visibility.append(visibility.astype(np.float32))
                record.confidence.append(detection.confidence.astype(np.float32))
                record.boxes.append(detection.box)
                record.scores.append(detection.score)
                if preview is not None:
                    draw_person(
                        frame.image,
                        tid,
                        detection.image_points * frame.scale,
                        detection.confidence,
                        detection.box * frame.scale,
                    )
            if preview is not None:
                preview.write(frame.image, frame.time)
            if len(frame_times) % PROGRESS_EVERY == 0 and expected_frames:
                job.report_progress(STEP, 0.9 * min(1.0, (frame.frame_index + 1) / expected_frames))
    finally:
        frames.close()  # stops the decoding thread when tracking fails part-way
        finder.close()
        if preview is not None:
            preview.close()
    if not frame_times:
        raise JobError(f"no frames could be decoded from {job.video_path.name}")
    records = {tid: record for tid, record in records.items() if len(record.frames) >= MIN_TRACK_DETECTIONS}
    if not records:
        raise JobError(
            f"no person found in the video {job.video_path.name}: the pose model detected nobody in "
            f"{len(frame_times)} frames; film the whole body, well lit, not too far from the camera"
        )
    focal = rootmotion.focal_length(size[1], size[0], info.focal_length_px if info is not None else None)
    warnings: list[str] = []
    solved = {}
    for tid, record in records.items():
        result = solve_track(record, focal, size)
        if result is None:
            warnings.append(f"track {tid}: too few confident landmarks to place it in depth; dropped")
            continue
        solved[tid] = result
    if not solved:
        raise JobError(f"no person found in the video {job.video_path.name} with enough visible landmarks")
    job.report_progress(STEP, 0.95, "writing tracklets")
    write_tracklets(job, frame_times, size, {tid: records[tid] for tid in solved}, solved)
    job.report_progress(STEP, 1.0)
    counts = {str(tid): len(records[tid].frames) for tid in solved}
    log.info("tracking: %d frames, tracks %s", len(frame_times), counts)
    return StepOutcome(
        warnings=warnings,
        data={"frames": len(frame_times), "tracks": counts, "focal_length_px": focal},
    )


def write_tracklets(
    job: Job,
    frame_times: list[tuple[int, float]],
    size: tuple[int, int],
    records: dict[int, TrackRecord],
    solved: dict[int, dict[str, np.ndarray]],
) -> None:
    """The tracklets file in PHALP's per-frame layout (docs/architecture.md), written atomically."""
    per_frame: dict[int, list[tuple[int, int]]] = {}
    for tid, record in records.items():
        for row, index in enumerate(record.frames):
            per_frame.setdefault(index, []).append((tid, row))
    output: dict[str, dict[str, Any]] = {}
    betas = np.zeros(10, dtype=np.float32)
    for index, seconds in frame_times:
        people = sorted(per_frame.get(index, []))
        entry: dict[str, Any] = {
            "time": index,
            "timestamp": seconds,  # ours: seconds since the first frame (VFR-safe)
            "shot": 0,
            "frame_path": f"frame_{index:06d}",
            "tid": [tid for tid, _ in people],
            "tracked_ids": [tid for tid, _ in people],
            "tracked_time": [0 for _ in people],
            "bbox": [],
            "tracked_bbox": [],
            "smpl": [],
            "camera": [],
            "size": [],
            "conf": [],
            "class_name": [],
            "landmarks_world": [],
            "landmarks_image": [],
            "landmarks_visibility": [],
            "joint_confidence": [],
        }
        for tid, row in people:
            record, result = records[tid], solved[tid]
            x0, y0, x1, y1 = record.boxes[row]
            box = np.array([x0, y0, x1 - x0, y1 - y0], dtype=np.float32)
            entry["bbox"].append(box)
            entry["tracked_bbox"].append(box)
            entry["smpl"].append(
                {
                    "global_orient": result["global_orient"][row],
                    "body_pose": result["body_pose"][row],
                    "betas": betas,
                }
            )
            entry["camera"].append(result["camera"][row])
            entry["size"].append([size[0], size[1]])
            entry["conf"].append(record.scores[row])
            entry["class_name"].append(0)
            entry["landmarks_world"].append(record.world[row])
            entry["landmarks_image"].append(record.image[row])
            entry["landmarks_visibility"].append(record.visibility[row])
            entry["joint_confidence"].append(result["joint_confidence"][row])
        output[entry["frame_path"]] = entry
    path = job.tracklets_path
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    joblib.dump(output, staging, compress=3)
    staging.replace(path)
