"""The embedded tracking backend: every person in the video, followed and posed, written as PHALP-style tracklets.

Frames stream from the decoder into the bundled pose model (several people per frame; at most
limits.max_inference_fps frames per second of video, the tracklets list only the frames posed); our tracker
gives each person a stable id; after the last frame each track's landmarks are turned into SMPL joint
rotations (ik), a camera-frame root translation (rootmotion) and per-joint confidences.
"""

from __future__ import annotations

import logging
import pickle
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import mediapipe
import numpy as np

from mocapd import decode
from mocapd.backends.embedded.posefinder import Posed, PoseFinder, share_inside
from mocapd.backends.embedded.tracker import Detection, Tracker, box_from_points, iou, same_person
from mocapd.errors import JobError
from mocapd.job import Job, StepOutcome
from mocapd.motion import appearance, ik, landmarks, rootmotion
from mocapd.motion.visualization import PreviewWriter, draw_person
from mocapd.motion.worldframe import PELVIS_IN_SMPL_MODEL
from mocapd.report import preview as report_preview

log = logging.getLogger(__name__)

STEP = "tracking"
# Tracks with fewer detections are noise (a false detection, a person crossing a corner).
MIN_TRACK_DETECTIONS = 3
# Progress is written at most this often (frames).
PROGRESS_EVERY = 10
# A scout detection overlapping a main one this much (box IoU) is the same person.
SCOUT_SAME_PERSON_IOU = 0.3
# A painted-out look's detection whose landmarks lie this close to a found person's (share of the box
# height) is that person again.
SAME_PERSON_SHARE = 0.1
# A painted-out look's detection with more of its confident landmarks on the paint than this is not
# a person behind the one painted out: someone behind shows their visible parts beside the paint.
MAX_SHARE_ON_PAINT = 0.4
# Posed frames handed to the taking thread and not yet taken: enough to ride out a slow frame, few
# enough for memory (each holds its image).
TAKE_BACKLOG = 4


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
    appearance: list[np.ndarray] = field(default_factory=list)


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


def merge_detections(main: list[Detection], scout: list[Detection]) -> list[Detection]:
    """The main landmarker's people plus those only the scout found (overlapping ones are the same person)."""
    # The two instances pose one person from different regions, so their boxes differ more than the
    # tracker's duplicate test allows; a looser overlap marks them as one.
    return main + [
        found for found in scout if all(iou(found.box, kept.box) < SCOUT_SAME_PERSON_IOU for kept in main)
    ]


def merge_hidden(
    found: list[Detection], hidden: list[Detection], painted: list[np.ndarray], scale: float
) -> list[Detection]:
    """The people found plus those the painted-out look found (`painted`: the outlines painted out,
    in pixels of the posed image). One with the same landmarks as a found person is that person
    (paint that missed them); one whose confident landmarks lie mostly on the paint is the model
    seeing a person in the paint itself."""
    kept = []
    for person in hidden:
        if any(same_person(person, other, SAME_PERSON_SHARE) for other in found):
            continue
        confident = person.image_points[person.confidence >= 0.5] * scale
        if share_inside(confident, painted) > MAX_SHARE_ON_PAINT:
            continue
        kept.append(person)
    return found + kept


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


@dataclass
class TrackingState:
    """What the frames of one video build up: the tracks, the posed frames' times, the preview."""

    job: Job
    tracker: Tracker = field(default_factory=Tracker)
    records: dict[int, TrackRecord] = field(default_factory=dict)
    frame_times: list[tuple[int, float]] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)
    preview: PreviewWriter | None = None

    def detections(
        self, posed: Posed[decode.DecodedFrame]
    ) -> tuple[list[Detection], list[Detection], list[Detection]]:
        """The main landmarker's, the scout's and the painted-out look's people (worked out once a frame)."""
        if posed.people is None:
            frame = posed.item
            height, width = frame.image.shape[:2]
            size = (int(round(height / frame.scale)), int(round(width / frame.scale)))
            posed.people = tuple(
                [] if result is None else detections_from_result(result, width, height, frame.scale, size)
                for result in (posed.main, posed.scout, posed.hidden)
            )
        return cast(tuple[list[Detection], list[Detection], list[Detection]], posed.people)

    def hidden_found(self, posed: Posed[decode.DecodedFrame]) -> bool:
        """Whether the painted-out look found someone the tracker is given (merge_hidden keeps them)."""
        main, scout, hidden = self.detections(posed)
        found = merge_detections(main, scout)
        return len(merge_hidden(found, hidden, posed.painted or [], posed.item.scale)) > len(found)

    def take(self, posed: Posed[decode.DecodedFrame]) -> None:
        """One posed frame: its people to the tracker, their measurements to their tracks."""
        frame = posed.item
        height, width = frame.image.shape[:2]
        self.size = (int(round(height / frame.scale)), int(round(width / frame.scale)))
        main, scout, hidden = self.detections(posed)
        self.frame_times.append((frame.frame_index, frame.time))
        for detection in main + scout + hidden:
            # Before anything is drawn on the frame.
            detection.look = appearance.describe(frame.image, detection.image_points * frame.scale)
        found = merge_hidden(merge_detections(main, scout), hidden, posed.painted or [], frame.scale)
        assigned = self.tracker.update(found, frame.time)
        for tid, detection in assigned:
            record = self.records.setdefault(tid, TrackRecord())
            world, visibility = cast(tuple[np.ndarray, np.ndarray], detection.payload)
            record.frames.append(frame.frame_index)
            record.world.append(world.astype(np.float32))
            record.image.append(detection.image_points.astype(np.float32))
            record.visibility.append(visibility.astype(np.float32))
            record.confidence.append(detection.confidence.astype(np.float32))
            record.boxes.append(detection.box)
            record.scores.append(detection.score)
            record.appearance.append(
                detection.look if detection.look is not None else np.full(appearance.SIZE, np.nan, np.float32)
            )
        for tid, detection in assigned if self.preview is not None else []:
            draw_person(
                frame.image,
                tid,
                detection.image_points * frame.scale,
                detection.confidence,
                detection.box * frame.scale,
            )
        if self.preview is not None:
            self.preview.write(frame.image, frame.time)
        info = self.job.video_info
        if len(self.frame_times) % PROGRESS_EVERY == 0 and info is not None and info.frame_count:
            self.job.report_progress(STEP, 0.9 * min(1.0, (frame.frame_index + 1) / info.frame_count))


def track_video(job: Job) -> StepOutcome:
    """Track every person in job.video_path; write job.tracklets_path (and the preview when asked)."""
    info = job.video_info
    rotation = info.rotation if info is not None else 0
    state = TrackingState(job)
    finder: PoseFinder[decode.DecodedFrame] = PoseFinder(
        job.config.state_path / "models", hidden_found=state.hidden_found
    )
    last_stamp = -1
    # The report's preview is drawn on a small copy of these frames, kept as they are decoded (None:
    # the preview decodes the source again).
    keeper = report_preview.frame_keeper(job)
    decoded = False
    # The model's cost is per frame: above max_inference_fps only a subset of frames is posed (their
    # real times and source indices are kept), and the export resamples to the video's rate.
    frames = decode.prefetch(
        decode.iter_frames(
            job.video_path,
            job.config.limits.max_resolution,
            rotation=rotation,
            max_rate=job.config.limits.max_inference_fps,
            on_frame=keeper.add if keeper is not None else None,
            on_frame_rate=keeper.max_rate if keeper is not None else None,
        )
    )
    # The posed frames' Python work (detections, colours, the tracker, the preview) runs on its own
    # thread, one frame after another in order, so the main landmarker starts on the next frame at once.
    taker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracking-take")
    taking: deque[Future[None]] = deque()

    def take(posed: Posed[decode.DecodedFrame]) -> None:
        while taking and (taking[0].done() or len(taking) >= TAKE_BACKLOG):
            taking.popleft().result()  # in order; raises the taking thread's error here
        taking.append(taker.submit(state.take, posed))

    try:
        for frame in frames:
            # VIDEO mode needs strictly increasing millisecond stamps; real timestamps keep VFR spacing.
            stamp = max(int(round(frame.time * 1000.0)), last_stamp + 1)
            last_stamp = stamp
            if job.options.keep_intermediate and state.preview is None:
                height, width = frame.image.shape[:2]
                rate = info.fps if info is not None and info.fps > 0 else 30.0
                state.preview = PreviewWriter(job.visualization_path, width, height, rate)
            image = mediapipe.Image(image_format=mediapipe.ImageFormat.SRGB, data=frame.image)
            for posed in finder.add(frame, image, stamp, frame.time):
                take(posed)
        for posed in finder.finish():
            take(posed)
        while taking:
            taking.popleft().result()
        decoded = True
    finally:
        taker.shutdown(wait=True, cancel_futures=True)
        frames.close()  # stops the decoding thread when tracking fails part-way
        finder.close()
        if keeper is not None:
            keeper.close(complete=decoded)
        if state.preview is not None:
            state.preview.close()
    records, frame_times, size = state.records, state.frame_times, state.size
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
        data={"frames": len(frame_times), "tracks": counts, "focal_length_px": focal}
        | ({"preview_frames": keeper.cost.to_dict()} if keeper is not None else {}),
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
            "appearance": [],  # ours: colour histograms (mocapd.motion.appearance)
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
            entry["appearance"].append(record.appearance[row])
        output[entry["frame_path"]] = entry
    path = job.tracklets_path
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    # A plain pickle, which joblib.load (PHALP's tools, tracklets.load) reads as well: joblib.dump spends
    # ~0.7 ms per frame wrapping each small array (600 frames: 0.40 s with compress=3, 0.02 s here).
    with staging.open("wb") as stream:
        pickle.dump(output, stream, protocol=pickle.HIGHEST_PROTOCOL)
    staging.replace(path)
