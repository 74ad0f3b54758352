"""Tracks in a tracklets file: listing them, choosing them, and turning one into a world-frame motion.

The motion has one row per processed frame from the track's first to its last real detection: every
video frame for 4D-Humans, the frames the embedded backend posed (limits.max_inference_fps) for it;
`fps` is the rate of those rows and `frame_idx` their index in the video. Rows without a measurement
(PHALP's ghosts, frames where the track is missing) are interpolated: slerp for rotations, linear for
translation and shape; their confidence is 0.
Confidence of measured rows: the embedded backend's per-joint confidence; for 4D-Humans, which
gives none, 1 for a detection and BACKFILLED_CONFIDENCE for the detections PHALP wrote back when it
confirmed the track (real images, but their identity was settled only afterwards).
Bone lengths: from the embedded backend's world landmarks (mocapd.motion.ik.estimate_offsets); for
4D-Humans from the track's median betas through the SMPL model file when one is configured, else
the standard skeleton.
Camera tilt: the direction of up in the camera is estimated from the clip's tracks together
(mocapd.motion.gravity, clip_up), or from the track's own motion, and the motion levelled with it.
World: one per clip (mocapd.motion.worldframe.World, clip_world below), anchored on its main actor.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from mocapd.errors import JobError
from mocapd.motion import gravity, ik, landmarks, occlusion, rootmotion, solver, worldframe
from mocapd.motion.smplmodel import SmplModel, load_or_explain
from mocapd.motion.solver import root as solver_root
from mocapd.motion.tracklets import Tracklets, TrackObservations, observations, real_frame_counts
from mocapd.motion.tracklets import read as read_tracklets
from mocapd.options import JobOptions
from mocapd.rotations import matrix_to_quaternion, quaternion_to_matrix
from mocapd.skeleton import NUM_JOINTS, STANDARD_OFFSETS, positions_from_local
from mocapd.trackfile import TrackMotion, save

# The tracklets do not record the video's frame rate; the tools assume this one unless told.
ASSUMED_FPS = 30.0
MEASURED_CONFIDENCE = 1.0
BACKFILLED_CONFIDENCE = 0.8
INTERPOLATED_CONFIDENCE = 0.0


@dataclass
class TrackSummary:
    """One track as listed to a person: real detections and where they lie in the clip."""

    tid: int
    frames: int  # real detections (ghost entries not counted)
    share: float  # frames / the clip's frame count
    first_frame: int
    last_frame: int
    first_time: float | None = None  # seconds in the video, where the file records times
    last_time: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Extracted:
    """A track's motion, the observations it came from and what the person should know about it."""

    motion: TrackMotion
    observations: TrackObservations
    measured: np.ndarray  # (N,) bool per motion row
    warnings: list[str] = field(default_factory=list)
    # Up in the camera and the tilt it was levelled by; a level camera where nothing was estimated.
    camera_tilt: gravity.GravityEstimate = field(default_factory=lambda: gravity.level("not estimated"))
    # What the clip-level solver found (mocapd.motion.solver); empty where it did not run.
    solver: dict[str, Any] = field(default_factory=dict)


@dataclass
class CameraTrack:
    """One track in the camera frame with its gaps filled: all of extraction but the levelling."""

    tid: int
    row_fps: float
    frame_idx: np.ndarray  # (N,)
    times: np.ndarray  # (N,) seconds
    camera_rotations: np.ndarray  # (N, 3, 3) root orientation, OpenCV camera frame
    body: np.ndarray  # (N, 23, 3, 3)
    pelvis_camera: np.ndarray  # (N, 3)
    camera: np.ndarray  # (N, 3) the backend's camera translation
    betas: np.ndarray  # (N, 10)
    offsets: np.ndarray  # (24, 3)
    confidence: np.ndarray  # (N, 24)
    observations: TrackObservations
    measured: np.ndarray  # (N,) bool
    warnings: list[str] = field(default_factory=list)
    solver: dict[str, Any] = field(default_factory=dict)
    # What the camera's up is estimated from when it is not this motion (the solver's tracks).
    tilt_person: gravity.Person | None = None
    # A camera-frame point on the floor the solver held the feet on (None: the world finds one).
    floor_point: np.ndarray | None = None

    def person(self) -> gravity.Person:
        """The joints in the camera frame, as the camera's up is estimated from."""
        if self.tilt_person is not None:
            return self.tilt_person
        positions = camera_positions(self.camera_rotations, self.body, self.pelvis_camera, self.offsets)
        return gravity.Person(positions, self.confidence, self.times, self.offsets)


def clip_up(tracks: list[CameraTrack]) -> gravity.GravityEstimate:
    """The camera's up from every track of one clip: one camera, one floor."""
    return gravity.estimate_from_people([track.person() for track in tracks])


def clip_world(main: CameraTrack, up: gravity.GravityEstimate) -> worldframe.World:
    """The clip's one world, anchored on its main actor (docs/export.md)."""
    return worldframe.clip_world(
        main.camera_rotations, main.body, main.pelvis_camera, main.offsets, up.up, main.floor_point
    )


def camera_positions(
    camera_rotations: np.ndarray, body: np.ndarray, pelvis_camera: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Joint positions (N, 24, 3) in the OpenCV camera frame."""
    local = np.concatenate([camera_rotations[:, None], body], axis=1)
    return positions_from_local(local, offsets, pelvis_camera)


def processed_frames(tracklets: Tracklets) -> np.ndarray:
    """Video frame indices the backend posed: those the embedded backend lists (it may skip frames to
    keep to limits.max_inference_fps); every frame up to the last for PHALP's files."""
    if tracklets.embedded:
        return np.array([frame.index for frame in tracklets.frames], dtype=np.int64)
    return np.arange(tracklets.frame_count, dtype=np.int64)


def sampling_step(tracklets: Tracklets) -> float:
    """Mean step, in video frames, between processed frames (1: every frame was processed)."""
    indices = processed_frames(tracklets)
    if indices.shape[0] < 2:
        return 1.0
    return float(indices[-1] - indices[0]) / (indices.shape[0] - 1)


def summarise(tracklets: Tracklets, clip_frames: int | None = None) -> list[TrackSummary]:
    """Every track with at least one real detection, longest first (then by id).

    share: detections / the frames processed (the clip's frames when every frame was processed)."""
    total = max(clip_frames or 0, tracklets.frame_count, 1)
    if sampling_step(tracklets) > 1.0:
        total = max(len(tracklets.frames), 1)
    summaries = []
    for tid, (count, first, last) in real_frame_counts(tracklets).items():
        times = tracklets.timestamps(np.array([first, last]))
        summary = TrackSummary(tid, count, round(count / total, 4), first, last)
        if times is not None:
            summary.first_time, summary.last_time = round(float(times[0]), 4), round(float(times[1]), 4)
        summaries.append(summary)
    return sorted(summaries, key=lambda summary: (-summary.frames, summary.tid))


def select(summaries: list[TrackSummary], options: JobOptions) -> list[int]:
    """The tids to extract, per the job's track_mode, track_ids or track_id, and min_track_frames."""
    if not summaries:
        raise JobError("no person found in the video")
    known = sorted(summary.tid for summary in summaries)
    if options.track_mode == "all":
        chosen = [summary.tid for summary in summaries if summary.frames >= options.min_track_frames]
        if not chosen:
            longest = summaries[0]
            raise JobError(
                f"no track has at least {options.min_track_frames} detected frames (min_track_frames); "
                f"the longest, track {longest.tid}, has {longest.frames}"
            )
        return sorted(chosen)
    if options.track_ids:
        missing = sorted(set(options.track_ids) - set(known))
        if missing:
            raise JobError(
                f"track_ids {', '.join(map(str, missing))} not in this video; known tracks: {', '.join(map(str, known))}"
            )
        return sorted(set(options.track_ids))
    if options.track_id is not None:
        if options.track_id not in known:
            raise JobError(
                f"track_id {options.track_id} is not in this video; known tracks: {', '.join(map(str, known))}"
            )
        return [options.track_id]
    return [summaries[0].tid]


def slerp(first: np.ndarray, second: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Spherical interpolation of unit quaternions (..., 4); weight broadcasts over the leading axes."""
    dot = np.sum(first * second, axis=-1, keepdims=True)
    second = np.where(dot < 0, -second, second)
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    angle = np.arccos(dot)
    sine = np.sin(angle)
    weight = weight[..., None]
    close = sine < 1e-6
    safe_sine = np.where(close, 1.0, sine)
    first_weight = np.where(close, 1.0 - weight, np.sin((1.0 - weight) * angle) / safe_sine)
    second_weight = np.where(close, weight, np.sin(weight * angle) / safe_sine)
    result = first_weight * first + second_weight * second
    return result / np.linalg.norm(result, axis=-1, keepdims=True)


def _neighbours(known: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each unknown row: its index, the known rows before and after, and the weight of the latter."""
    known_rows = np.flatnonzero(known)
    unknown_rows = np.flatnonzero(~known)
    after_position = np.searchsorted(known_rows, unknown_rows)
    # Rows before the first known one or after the last hold it.
    before = known_rows[np.maximum(after_position - 1, 0)]
    after = known_rows[np.minimum(after_position, known_rows.size - 1)]
    weight = np.where(after > before, (unknown_rows - before) / np.maximum(after - before, 1), 0.0)
    return unknown_rows, before, after, weight


def fill_rotations(rotations: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Rotations (N, ..., 3, 3) with unknown rows slerped between the nearest known rows."""
    result = rotations.copy()
    if known.all():
        return result
    rows, before, after, weight = _neighbours(known)
    weight = weight.reshape((-1,) + (1,) * (rotations.ndim - 3))
    result[rows] = quaternion_to_matrix(
        slerp(matrix_to_quaternion(rotations[before]), matrix_to_quaternion(rotations[after]), weight)
    )
    return result


def fill_linear(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Values (N, ...) with unknown rows interpolated linearly between the nearest known rows."""
    result = values.copy()
    if known.all():
        return result
    rows, before, after, weight = _neighbours(known)
    weight = weight.reshape((-1,) + (1,) * (values.ndim - 1))
    result[rows] = (1.0 - weight) * values[before] + weight * values[after]
    return result


def _dense(values: np.ndarray, rows: np.ndarray, count: int) -> np.ndarray:
    result = np.zeros((count,) + values.shape[1:])
    result[rows] = values
    return result


def _confidence(
    tracklets: Tracklets, observed: TrackObservations, real_rows: np.ndarray, rows: np.ndarray, count: int
) -> np.ndarray:
    """(count, 24): the embedded backend's joint confidences, or PHALP's measured/back-filled levels;
    0 for interpolated rows."""
    confidence = np.full((count, NUM_JOINTS), INTERPOLATED_CONFIDENCE)
    joint_confidence = observed.extras.get("joint_confidence")
    if tracklets.embedded and joint_confidence is not None:
        confidence[rows] = np.nan_to_num(joint_confidence[real_rows], nan=INTERPOLATED_CONFIDENCE)
    else:
        per_row = np.where(observed.backfilled[real_rows], BACKFILLED_CONFIDENCE, MEASURED_CONFIDENCE)
        confidence[rows] = per_row[:, None]
    return confidence


def _skeleton(
    tracklets: Tracklets, observed: TrackObservations, real_rows: np.ndarray, smpl_model: SmplModel | None
) -> tuple[np.ndarray, np.ndarray]:
    """The actor's offsets (24, 3) and the pelvis position in SMPL model coordinates."""
    landmarks_world = observed.extras.get("landmarks_world")
    if tracklets.embedded:
        # The embedded backend writes `camera` with the standard pelvis offset and has no betas.
        if landmarks_world is None:
            return STANDARD_OFFSETS.copy(), worldframe.PELVIS_IN_SMPL_MODEL
        visibility = observed.extras.get("landmarks_visibility")
        confidence = (
            None
            if visibility is None
            else landmarks.confidence_from_mediapipe(np.nan_to_num(visibility[real_rows]))
        )
        offsets = ik.estimate_offsets(landmarks.from_mediapipe(landmarks_world[real_rows]), confidence)
        return offsets, worldframe.PELVIS_IN_SMPL_MODEL
    if smpl_model is None:
        return STANDARD_OFFSETS.copy(), worldframe.PELVIS_IN_SMPL_MODEL
    shape = np.median(observed.betas[real_rows], axis=0)
    return smpl_model.offsets(shape), smpl_model.pelvis(shape)


def _depth_scale(sizes: np.ndarray, focal_length_px: float | None) -> float | None:
    """Real focal length / PHALP's, from the image sizes (M, 2) of a track; None without sizes.

    PHALP places people with a focal length of about a 3 degree field of view, so its depths (and
    depth motion) are many times the real ones. Same image, real lens: depth scales with the focal
    length, lateral position does not. The real lens: the video's metadata, else mocapd's default.
    """
    if not np.isfinite(sizes).all():
        return None
    height, width = np.median(sizes, axis=0)
    real_focal = rootmotion.focal_length(int(width), int(height), focal_length_px)
    return real_focal / worldframe.phalp_focal_length(height, width)


def extract(
    tracklets: Tracklets,
    tid: int,
    fps: float,
    smpl_model: SmplModel | None = None,
    focal_length_px: float | None = None,
    up: gravity.GravityEstimate | None = None,
) -> Extracted:
    """One track as a world-frame motion (mocapd.trackfile): `observe`, then `level` by `up`."""
    return level(observe(tracklets, tid, fps, smpl_model, focal_length_px), up)


def solve_embedded(
    tracklets: Tracklets,
    observed: TrackObservations,
    real_rows: np.ndarray,
    fps: float,
    focal_length_px: float | None,
    up: np.ndarray | None = None,
) -> solver.Solved | None:
    """The clip-level solver on an embedded track's landmarks; None where the tracklets lack them."""
    extras = observed.extras
    if not all(key in extras for key in ("landmarks_image", "landmarks_world", "landmarks_visibility")):
        return None
    sizes = observed.image_size[real_rows]
    if not np.isfinite(sizes).all():
        return None
    height, width = (int(value) for value in np.median(sizes, axis=0))
    frames = observed.frame_idx[real_rows]
    recorded = tracklets.timestamps(frames)
    times = recorded if recorded is not None else frames / float(fps)
    return solver.solve_embedded(
        extras["landmarks_image"][real_rows],
        extras["landmarks_world"][real_rows],
        extras["landmarks_visibility"][real_rows],
        np.asarray(times, dtype=np.float64),
        solver.Pinhole.for_image(height, width, focal_length_px),
        (height, width),
        up,
    )


def observe(
    tracklets: Tracklets,
    tid: int,
    fps: float,
    smpl_model: SmplModel | None = None,
    focal_length_px: float | None = None,
    solve: bool = True,
    up: np.ndarray | None = None,
    track: CameraTrack | None = None,
) -> CameraTrack:
    """One track in the camera frame (`camera_track`), through the clip-level solver where `solve`:
    embedded tracks (mocapd.motion.solver), 4D-Humans' root path (mocapd.motion.solver.root). up: the
    camera's up where it is known from elsewhere (the scene's verticals, mocapd.motion.verticals),
    else the solver estimates it from the person. track: camera_track's result for these arguments,
    where the caller has it already."""
    if track is None:
        track = camera_track(tracklets, tid, fps, smpl_model, focal_length_px)
    if solve and tracklets.embedded:
        real_rows = np.flatnonzero(track.observations.measured & ~unplaced(track.observations))
        if real_rows.size == 0:
            return track
        return solved_track(track, tracklets, real_rows, fps, focal_length_px, up)
    if solve:
        return rooted_track(track, focal_length_px, up)
    return track


def unplaced(observed: TrackObservations) -> np.ndarray:
    """(M,) bool: detections mostly behind a nearer person (mocapd.motion.occlusion), which neither
    pose nor place them: the crop the pose model saw held two people."""
    visibility = observed.extras.get("landmarks_visibility")
    if visibility is None:
        return np.zeros(observed.frame_idx.shape[0], dtype=bool)
    return occlusion.unplaced(visibility)


def camera_track(
    tracklets: Tracklets,
    tid: int,
    fps: float,
    smpl_model: SmplModel | None = None,
    focal_length_px: float | None = None,
) -> CameraTrack:
    """One track in the camera frame as the tracker fitted it, rows from its first to last detection.

    fps: the source video's frame rate (PHALP does not record it); frame times are the file's own
    timestamps where it has them, else index / fps. The motion's `fps` is the rate of its rows: the
    video's, or lower where the embedded backend skipped frames. focal_length_px: the real focal
    length where the video's metadata gives it; PHALP's depths are rescaled to it, or to mocapd's
    default field of view (mocapd.motion.rootmotion) without one.
    """
    if not (np.isfinite(fps) and fps > 0):
        raise JobError(f"the frame rate must be a positive number, got {fps}")
    observed = observations(tracklets, tid)
    if not observed.measured.any():
        raise JobError(f"track {tid} has no real detection, only predicted (ghost) entries")
    warnings: list[str] = []
    real_rows = np.flatnonzero(observed.measured)
    first, last = observed.frame_idx[real_rows[0]], observed.frame_idx[real_rows[-1]]
    processed = processed_frames(tracklets)
    frame_idx = np.union1d(
        processed[(processed >= first) & (processed <= last)], observed.frame_idx[real_rows]
    )
    count = frame_idx.shape[0]
    rows = np.searchsorted(frame_idx, observed.frame_idx[real_rows])  # motion row of each real detection
    # Rows one video frame apart run at the video's rate; rows k frames apart (frames skipped) at 1/k of it.
    step = float(last - first) / (count - 1) if count > 1 else sampling_step(tracklets)
    row_fps = float(fps) / step
    measured = np.zeros(count, dtype=bool)
    measured[rows] = True

    offsets, pelvis_offset = _skeleton(tracklets, observed, real_rows, smpl_model)
    depth_scale = 1.0
    if not tracklets.embedded:
        scale = _depth_scale(observed.image_size[real_rows], focal_length_px)
        if scale is None:
            warnings.append(f"track {tid}: image size missing, depths kept at the tracker's focal length")
        else:
            depth_scale = scale
    pelvis_measured = worldframe.pelvis_in_camera(observed.camera[real_rows], pelvis_offset, depth_scale)
    orientation_measured = observed.global_orient[real_rows]
    body_measured = observed.body_pose[real_rows]
    if not tracklets.embedded:
        orientation_measured = worldframe.view_ray_rotation(pelvis_measured) @ orientation_measured
    # Gaps are filled after the corrections, so that what is interpolated is the real motion.
    camera_rotations = fill_rotations(_dense(orientation_measured, rows, count), measured)
    body = fill_rotations(_dense(body_measured, rows, count), measured)
    pelvis_camera = fill_linear(_dense(pelvis_measured, rows, count), measured)
    camera = fill_linear(_dense(observed.camera[real_rows], rows, count), measured)
    betas = fill_linear(_dense(observed.betas[real_rows], rows, count), measured)
    confidence = _confidence(tracklets, observed, real_rows, rows, count)
    recorded = tracklets.timestamps(frame_idx)
    times = recorded if recorded is not None else frame_idx / float(fps)
    return CameraTrack(
        tid=tid,
        row_fps=row_fps,
        frame_idx=frame_idx,
        times=times,
        camera_rotations=camera_rotations,
        body=body,
        pelvis_camera=pelvis_camera,
        camera=camera,
        betas=betas,
        offsets=offsets,
        confidence=confidence,
        observations=observed,
        measured=measured,
        warnings=warnings,
    )


def rooted_track(
    track: CameraTrack, focal_length_px: float | None, up: np.ndarray | None = None
) -> CameraTrack:
    """A 4D-Humans track with its per-frame root depth replaced by the solver's root path (its pose kept).

    The 2D evidence is the skeleton's joints projected through the real lens: PHALP's `2d_joints` are
    HMR 2.0's own 3D joints projected through its camera (no independent detector), in a layout not
    checked against a real file here. Up is estimated from the path smoothed before the contacts
    (mocapd.motion.solver.root), and the track levelled by the same, so that its floor is level;
    `up` where it is known from elsewhere (the scene)."""
    sizes = track.observations.image_size[track.observations.measured]
    if sizes.size == 0 or not np.isfinite(sizes).all():
        return track  # no image size: no lens to project through (extraction warned already)
    height, width = (int(value) for value in np.median(sizes, axis=0))
    camera = solver.Pinhole.for_image(height, width, focal_length_px)
    joints = camera_positions(track.camera_rotations, track.body, track.pelvis_camera, track.offsets)
    solved = solver_root.solve_root(
        joints, camera.project(joints), track.confidence, track.offsets, camera, track.times, up
    )
    return replace(
        track,
        pelvis_camera=track.pelvis_camera + solved.shift,
        solver=solved.figures | {"root_solved_from": "the joints projected through the lens"},
        tilt_person=gravity.Person(solved.smoothed, track.confidence, track.times, track.offsets),
        floor_point=solved.floor_point,
    )


def solved_track(
    track: CameraTrack,
    tracklets: Tracklets,
    real_rows: np.ndarray,
    fps: float,
    focal_length_px: float | None,
    up: np.ndarray | None = None,
) -> CameraTrack:
    """The per-frame track replaced by the clip-level solver's motion (unchanged where it cannot run).

    The camera's up is estimated from the per-frame motion, as before the solver (its figures were
    measured on it: MultiPerson cam02, 2.4-2.8 degrees off the calibration alone, against 2.8-9.5
    from the solved motion), and the solver places the floor with the same up, so that the
    levelled feet land on it. `up`: the camera's up where it is known from elsewhere (the scene)."""
    tilt_person = track.person()
    if up is None:
        up = gravity.estimate_from_people([tilt_person]).up
    solved = solve_embedded(tracklets, track.observations, real_rows, fps, focal_length_px, up)
    if solved is None:
        return track
    rows = np.searchsorted(track.frame_idx, track.observations.frame_idx[real_rows])
    count = track.frame_idx.shape[0]
    # Detections left out of the solve (mostly behind a nearer person) are filled like gaps.
    measured = np.zeros(count, dtype=bool)
    measured[rows] = True
    return replace(
        track,
        camera_rotations=fill_rotations(_dense(solved.global_orient, rows, count), measured),
        body=fill_rotations(_dense(solved.body_pose, rows, count), measured),
        pelvis_camera=fill_linear(_dense(solved.pelvis, rows, count), measured),
        measured=measured,
        confidence=np.where(measured[:, None], track.confidence, INTERPOLATED_CONFIDENCE),
        offsets=solved.offsets,
        solver=solved.figures,
        tilt_person=tilt_person,
        floor_point=solved.floor_point,
    )


def world_from_camera(
    camera_rotation: np.ndarray,
    camera_position: np.ndarray,
    world_rotation: np.ndarray,
    world_position: np.ndarray,
) -> np.ndarray:
    """(4, 4) the rigid map from camera to world axes, from one frame's root seen in both."""
    pose = np.eye(4)
    pose[:3, :3] = world_rotation @ camera_rotation.T
    pose[:3, 3] = world_position - pose[:3, :3] @ camera_position
    return pose


def level(
    track: CameraTrack, up: gravity.GravityEstimate | None = None, world: worldframe.World | None = None
) -> Extracted:
    """The track in the world frame, levelled by `up`: the whole clip's (clip_up), else the track's own;
    placed in `world` (the clip's, clip_world), else in one anchored on this track."""
    if up is None:
        up = gravity.estimate_from_people([track.person()])
    if world is None:
        world = clip_world(track, up)
    root, trans = worldframe.to_world(
        track.camera_rotations, track.body, track.pelvis_camera, track.offsets, up.up, world
    )
    motion = TrackMotion(
        tid=track.tid,
        fps=track.row_fps,
        frame_idx=track.frame_idx,
        time=track.times,
        R_root=root,
        R_body=track.body,
        camera=track.camera,
        betas=track.betas,
        trans=trans,
        offsets=track.offsets,
        confidence=track.confidence,
        world_from_camera=world_from_camera(
            track.camera_rotations[0], track.pelvis_camera[0], root[0], trans[0]
        ),
    )
    motion.validate()
    return Extracted(
        motion=motion,
        observations=track.observations,
        measured=track.measured,
        warnings=list(track.warnings),
        camera_tilt=up,
        solver=dict(track.solver),
    )


def format_track_list(summaries: list[TrackSummary]) -> str:
    """The tracks as a table for a terminal: tid, real frames, share of the clip, first and last frame."""
    lines = [f"{'tid':>6} {'frames':>7} {'share':>7} {'first':>7} {'last':>7}"]
    for summary in summaries:
        lines.append(
            f"{summary.tid:>6} {summary.frames:>7} {summary.share:>7.1%} {summary.first_frame:>7} {summary.last_frame:>7}"
        )
    return "\n".join(lines)


def list_file(path: Path) -> str:
    """The track table of a tracklets file (ours or PHALP's)."""
    return format_track_list(summarise(read_tracklets(path)))


def recorded_rate(tracklets: Tracklets) -> float | None:
    """The video's frame rate from the file's own timestamps (the embedded backend's); None without them."""
    indices = np.array([frame.index for frame in tracklets.frames], dtype=np.int64)
    stamps = tracklets.timestamps(indices) if indices.shape[0] >= 2 else None
    if stamps is None or not stamps[-1] > stamps[0]:
        return None
    # Rounded so that 60 stays 60 and 59.94 is recognised as NTSC by the exporter.
    return round(float(indices[-1] - indices[0]) / float(stamps[-1] - stamps[0]), 3)


def extract_file(
    path: Path, tid: int, out: Path, fps: float | None = None, smpl_model: str = ""
) -> list[str]:
    """Extract one track of a tracklets file (ours or PHALP's) to a track NPZ; returns warnings.

    Without `fps`: the rate the file's timestamps show, else ASSUMED_FPS with a warning."""
    warnings: list[str] = []
    data = read_tracklets(path)
    if fps is None:
        fps = recorded_rate(data)
    if fps is None:
        fps = ASSUMED_FPS
        warnings.append(f"the tracklets do not record the frame rate: {fps:g} fps assumed (give --fps)")
    model = None if data.embedded else load_or_explain(smpl_model, warnings)
    extracted = extract(data, tid, fps, model)
    save(extracted.motion, out)
    return warnings + extracted.warnings
