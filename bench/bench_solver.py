"""The clip-level solver (mocapd.motion.solver) before/after, on the exported FBX read back with ufbx.

Each Pose2Sim view (SinglePerson cam01-04; MultiPerson cam01-04, each person) goes through the real
pipeline with default options: tracking (embedded backend), track extraction, smoothing, FBX export
(Blender); the FBX is read back with ufbx and held against the 4-view triangulation of the same clip
(bench_accuracy's). "before" is the per-frame fit (extraction.observe(solve=False)), "after" the solver.
Per view: PA-MPJPE over 12 limb joints (mm), knee/elbow angle RMSE (deg), mirrored frames (the
left/right swapped body fits the reference better), frames with a foot within 5 cm of the floor,
the lowest foot's worst height, planted-foot sliding (mm/frame), mean joint acceleration
(mm/frame^2), the best time offset (frames), joint turns over 30 deg/frame where the reference
turns less; times, the solver's share, peak memory. Per posed frame (the FBX is sampled at the times
of the frames the tracker posed).

Knees and elbows bent backwards by more than 5 deg, two ways. About their own hinge ("hinge"): the
knee/elbow node's local rotation in the FBX against the hinge axis its upper bone carries from the
file's rest pose (tests/fbx_hinges); the count for ours, since the reference has positions only (no
bone twist). From positions ("hip line", "shoulder line"): the signed bend about the body's side line,
on ours and the reference alike; a fair proxy for a knee (the thigh twists little), not for an elbow: a
twisted upper arm puts an elbow bent 73-150 deg forwards at ~180 about the shoulder line. And frames
with an upper arm raised behind the back ("arm back", on both): more than ARM_BACK_DEG behind the
torso's plane while at or above the shoulders' level, past any shoulder's reach, where a twisted upper
arm can also hide an elbow bent backwards.

Speed (--speed SECONDS): the whole job for one person (every step: probe, tracking, extraction with
the solver, smoothing, FBX export, packaging; not the daemon's waits, see bench_job) on SinglePerson
cam01 looped forwards and backwards to SECONDS, against that duration: wall and CPU seconds per step
(Blender's CPU included), the solver's share, each step's peak memory, the load.

Run: .venv/bin/python bench/bench_solver.py [--cache DIR] [--demo SinglePerson MultiPerson] [--speed 20]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_accuracy as accuracy  # noqa: E402

from mocapd import skeleton, trackfile  # noqa: E402
from mocapd.backends.embedded import posemodel  # noqa: E402
from mocapd.backends.embedded.tracking import track_video  # noqa: E402
from mocapd.config import Config  # noqa: E402
from mocapd.inbox.probe import probe  # noqa: E402
from mocapd.job import Job  # noqa: E402
from mocapd.motion import extraction, tracklets  # noqa: E402
from mocapd.motion.landmarks import MEDIAPIPE_INDEX  # noqa: E402
from mocapd.options import JobOptions  # noqa: E402
from mocapd.steps import fbx_export, packaging, smoothing, track_extraction, video_upload  # noqa: E402
from tests import fbx_hinges  # noqa: E402

DATA = REPO / "tests" / "data" / "pose2sim"
SIDES = ("left", "right")
SOLE_JOINTS = [[skeleton.JOINT_INDEX[f"{side}_{name}"] for name in ("ankle", "foot")] for side in SIDES]
REFERENCE_SOLE = [[MEDIAPIPE_INDEX[f"{side}_{name}"] for name in ("heel", "foot_index")] for side in SIDES]
# Segments whose turning speed is compared: (from, to) in bench_accuracy's 12-joint order.
SEGMENTS = ((0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8), (9, 10), (10, 11))
NEAR_FLOOR_M = 0.05
CONTACT_SPEED_M_S = 0.5
FAST_TURN_DEG = 30.0
BACKWARDS_DEG = 5.0
# An upper arm this far behind the torso's plane (degrees) while at or above the shoulders' level is
# past any shoulder's reach: at shoulder height a shoulder takes the arm 30-45 degrees behind that
# plane, less above it. Lower down it reaches further (extension, 50-60 degrees from hanging; the real
# motions in tests/data go 72 behind the plane measured so, a backflip's swing), but their arms that
# far back all point at least 10 degrees below the shoulders' level.
ARM_BACK_DEG = 45.0
# Each hinge's bend about its own axis read from the FBX's bones (tests/fbx_hinges), in this order.
HINGE_NAMES = ("left_knee", "right_knee", "left_elbow", "right_elbow")
# Time offsets tried (posed frames), each over the same frames: those whose reference is known and
# whose own pose is known at every offset. (Over a changing set of frames the curve followed the
# frames left out: MultiPerson cam01 person 1 came out at -1 with the curve flat within 0.4 mm.)
MAX_LAG = 3
# The first and last posed frames of a track, whose PA-MPJPE is printed beside the whole track's.
ENDS = 5
# bench_accuracy's 12 compared joints, by name.
COMPARED_NAMES = [f"{side}_{name}" for side in SIDES for name in accuracy.COMPARED]


@dataclass
class Mirrored:
    """One frame whose left/right swapped body fits the reference better."""

    frame: int  # the video frame
    labelled_mm: float  # PA-MPJPE as labelled
    swapped_mm: float  # and swapped
    worst_joint: str  # our joint furthest off as labelled
    worst_mm: float
    reference_segment: str  # the reference's limb segment furthest off its length over the clip
    reference_off: float  # by this share of that length (signed)


@dataclass
class Figures:
    pa_mpjpe: float
    ends_pa_mpjpe: float  # over the track's first and last ENDS frames
    knee: float
    elbow: float
    mirrored: int
    near_floor: float
    worst_lowest_cm: float
    below_2cm: int
    sliding: float
    acceleration: float
    lag: int
    lag_subframe: float  # the best offset from a parabola through the error curve's lowest point
    fast_turns: int
    knee_back_hip_line: int  # knees bent backwards > 5 deg about the hip line (positions)
    # Elbows "backwards" > 5 deg about the shoulder line (positions) where the reference's are not.
    elbow_back_shoulder_line: int
    knee_back_hinge: int  # knees bent backwards > 5 deg about their own hinge (the FBX's bones)
    elbow_back_hinge: int  # elbows likewise
    arm_back: int  # an upper arm more than ARM_BACK_DEG behind the torso's plane, not below the shoulders
    frames: int
    # Each mirrored frame, to tell a swapped body from a frame one misplaced joint (ours or the
    # reference's) decides.
    mirrored_frames: tuple[Mirrored, ...] = ()
    # Each frame the shoulder line counts an elbow backwards: (video frame, side, its bend about its own
    # hinge in degrees), to tell a backwards elbow from the proxy's failure.
    shoulder_line_frames: tuple[tuple[int, str, float], ...] = ()
    worst_arm_back: float = float("nan")  # the furthest an upper arm goes behind the torso's plane (deg)
    worst_arm_back_raised: float = float("nan")  # and while not below the shoulders (nan: never so)


def track_clip(video: Path, folder: Path, cache: Path | None, demo: str) -> tuple[Path, float]:
    """The tracklets of one view (from the cache when there) and the tracking time (0 from the cache)."""
    cached = None if cache is None else cache / f"{demo}_{video.stem}.pkl"
    if cached is not None and cached.is_file():
        return cached, 0.0
    job = make_job(video, folder / f"track_{demo}_{video.stem}")
    start = time.perf_counter()
    track_video(job)
    seconds = time.perf_counter() - start
    if cached is not None:
        cache.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        shutil.copy(job.tracklets_path, cached)
    return job.tracklets_path, seconds


def make_job(video: Path, work: Path) -> Job:
    (work / "input").mkdir(parents=True, exist_ok=True)
    shutil.copy(video, work / "input" / video.name)
    config = Config(state_dir=str(work / "state"))
    job = Job(1, video.stem, work, video.name, JobOptions(track_mode="all", min_track_frames=10), config)
    job.video_info = probe(job.video_path, config.limits)
    return job


@contextlib.contextmanager
def solver_enabled(enabled: bool) -> Iterator[None]:
    original = extraction.observe

    def observe(*arguments: Any, **keywords: Any) -> extraction.CameraTrack:
        # The step's own choice (tracks left out are not solved) where the solver is on.
        return original(*arguments, **(keywords | {"solve": enabled and keywords.get("solve", True)}))

    extraction.observe = observe  # type: ignore[assignment]
    try:
        yield
    finally:
        extraction.observe = original  # type: ignore[assignment]


def export(video: Path, tracklets_path: Path, work: Path, solve: bool) -> tuple[Job, float, dict[str, Any]]:
    """Extraction, smoothing and FBX export of every track; the extraction step's CPU seconds and data."""
    job = make_job(video, work)
    job.tracklets_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(tracklets_path, job.tracklets_path)
    with solver_enabled(solve):
        # CPU seconds: on a shared host the wall clock says more about the neighbours than the step.
        start = time.process_time()
        outcome = track_extraction.run(job)
        seconds = time.process_time() - start
    start = time.perf_counter()
    smoothing.run(job)
    middle = time.perf_counter()
    fbx_export.run(job)
    outcome.data["bench_seconds"] = {
        "smoothing": middle - start,
        "export": time.perf_counter() - middle,
    }
    return job, seconds, outcome.data


def fbx_joints(path: Path, video_fps: float, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames, 24, 3) joint positions, metres, Y up, sampled at the video's frame times from the first
    key, and (frames, 4) each knee's and elbow's bend about its own hinge (degrees, HINGE_NAMES' order)."""
    import ufbx

    scene = ufbx.load_file(str(path))
    fbx_hinges.KEPT.append(scene)  # ufbx objects must outlive the run (tests/ufbx_scenes.py)
    stacks = list(scene.anim_stacks)
    fbx_hinges.KEPT.append(stacks)
    unit = scene.settings.unit_meters or 0.01
    begin = stacks[0].time_begin
    names = skeleton.JOINT_NAMES
    world, local = fbx_hinges.sample(scene, [begin + frame / video_fps for frame in range(frames)], names)
    bends = fbx_hinges.bends(
        fbx_hinges.rest(scene, names),
        {name: local[:, joint] for joint, name in enumerate(names)},
        HINGE_NAMES,
    )
    return world[..., :3, 3] * unit, np.stack([bends[name] for name in HINGE_NAMES], axis=1)


def signed_knee(joints: np.ndarray, hips: tuple[int, int], leg: tuple[int, int, int]) -> np.ndarray:
    """(F,) knee flexion (deg), negative when bent backwards, about the hip line (left hip - right hip)."""
    lateral = accuracy.ik.unit(joints[:, hips[0]] - joints[:, hips[1]])
    thigh = joints[:, leg[1]] - joints[:, leg[0]]
    shank = joints[:, leg[2]] - joints[:, leg[1]]
    normal = np.cross(accuracy.ik.unit(thigh), accuracy.ik.unit(shank))
    cosine = np.sum(accuracy.ik.unit(thigh) * accuracy.ik.unit(shank), axis=-1)
    return np.degrees(np.arctan2(np.sum(normal * lateral, axis=-1), cosine))


def arm_behind(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, 2) degrees each upper arm (left, right) points behind the torso's plane, the plane through
    the shoulder line and the hips-to-shoulders line (bench_accuracy's 12 joints), negative in front;
    and (F, 2) degrees it points above the shoulder line's level in that plane, negative below."""
    lateral = accuracy.ik.unit(joints[:, 0] - joints[:, 6])
    forward = accuracy.ik.unit(np.cross(lateral, joints[:, 0] + joints[:, 6] - joints[:, 3] - joints[:, 9]))
    up = np.cross(forward, lateral)
    arms = np.stack([accuracy.ik.unit(joints[:, b] - joints[:, a]) for a, b in ((0, 1), (6, 7))], axis=1)

    def angle(direction: np.ndarray) -> np.ndarray:
        return np.degrees(np.arcsin(np.clip(np.sum(arms * direction[:, None], axis=-1), -1.0, 1.0)))

    return angle(-forward), angle(up)


def arm_back(joints: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(F,) frames with an upper arm raised behind the back (ARM_BACK_DEG), the furthest an upper arm
    goes behind the torso's plane, and the furthest while not below the shoulders (nan: never)."""
    behind, raised = arm_behind(joints)
    back = ((behind > ARM_BACK_DEG) & (raised >= 0.0)).any(axis=1)
    at_or_above = behind[raised >= 0.0]
    return back, float(np.nanmax(behind)), float(np.nanmax(at_or_above)) if at_or_above.size else float("nan")


def turn_speeds(joints: np.ndarray) -> np.ndarray:
    """(F-1, segments) degrees per frame each limb segment turns."""
    directions = np.stack([accuracy.ik.unit(joints[:, b] - joints[:, a]) for a, b in SEGMENTS], axis=1)
    cosine = np.clip(np.sum(directions[1:] * directions[:-1], axis=-1), -1.0, 1.0)
    return np.degrees(np.arccos(cosine))


def floor_figures(sole: np.ndarray, horizontal: np.ndarray, fps: float) -> tuple[float, float, int, float]:
    """sole (F, 2, 2) heights of each foot's points above the floor, horizontal (F, 2, 2, 2) positions:
    share of frames with a foot within 5 cm, the worst frame's lowest foot (cm), frames with a foot
    more than 2 cm below, mean planted-foot sliding (mm/frame)."""
    seen = np.isfinite(sole).all(axis=(1, 2)) & np.isfinite(horizontal).all(axis=(1, 2, 3))
    sole, horizontal = sole[seen], horizontal[seen]
    lowest = np.min(sole.reshape(len(sole), -1), axis=1)
    near = float(np.mean(lowest <= NEAR_FLOOR_M))
    worst = float(np.nanmax(lowest) * 100.0)
    below = int(np.count_nonzero(lowest < -0.02))
    slides = []
    for side in range(2):
        point = np.argmin(sole[:, side], axis=1)
        rows = np.arange(len(sole))
        height = sole[rows, side, point]
        # The step of the point lowest in the earlier frame, between it and the next (row-wise: a
        # slice beside an index array would pair every frame with every frame's point).
        step = np.linalg.norm(
            horizontal[rows[1:], side, point[:-1]] - horizontal[rows[:-1], side, point[:-1]], axis=-1
        )
        planted = (
            (height[1:] < NEAR_FLOOR_M) & (height[:-1] < NEAR_FLOOR_M) & (step * fps < CONTACT_SPEED_M_S)
        )
        slides.append(step[planted])
    sliding = np.concatenate(slides)
    return near, worst, below, float(sliding.mean() * 1000.0) if sliding.size else float("nan")


def figures(
    ours: np.ndarray, reference: np.ndarray, rest_ankle: float, fps: float, hinge_bends: np.ndarray
) -> tuple[Figures, dict[str, float]]:
    """Our FBX joints (F, 24, 3) and hinge bends (F, 4) against the reference landmarks (F, 33, 3) of
    the same video frames.

    Only the frames the tracker posed (every other frame of a 60 fps video) have a reference: the
    figures are per posed frame."""
    posed = np.flatnonzero(np.isfinite(reference).any(axis=(1, 2)))
    step = int(np.median(np.diff(posed))) if posed.size > 1 else 1
    posed = np.arange(posed[0], posed[-1] + 1, step)
    ours, reference, fps, hinge_bends = ours[posed], reference[posed], fps / step, hinge_bends[posed]
    compared = ours[:, accuracy.SMPL_JOINTS]
    truth = reference[:, accuracy.MEDIAPIPE_JOINTS]
    usable = np.isfinite(truth).all(axis=(1, 2)) & np.isfinite(compared).all(axis=(1, 2))

    pa_mpjpe = float(
        np.mean(
            [accuracy.procrustes_error(compared[frame], truth[frame]) for frame in np.flatnonzero(usable)]
        )
    )
    lags = shift_curve(
        lambda other, frame: accuracy.procrustes_error(compared[other], truth[frame]),
        np.isfinite(truth).all(axis=(1, 2)),
        np.isfinite(compared).all(axis=(1, 2)),
    )
    both = np.flatnonzero(usable)
    ends = np.concatenate([both[:ENDS], both[-ENDS:]])
    ends_pa = float(np.mean([accuracy.procrustes_error(compared[frame], truth[frame]) for frame in ends]))
    swap = [6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5]
    # The reference's limb segments against their lengths over the clip: a triangulated joint off by
    # much is the reference's (bones are rigid).
    segments = np.stack([np.linalg.norm(truth[:, b] - truth[:, a], axis=-1) for a, b in SEGMENTS], axis=1)
    segment_off = segments / np.nanmedian(segments, axis=0) - 1.0
    mirrored_frames = []
    for frame in np.flatnonzero(usable):
        labelled = accuracy.procrustes_error(compared[frame], truth[frame])
        swapped = accuracy.procrustes_error(compared[frame][swap], truth[frame])
        if swapped < labelled:
            distances = accuracy.procrustes_distances(compared[frame], truth[frame])
            worst = int(np.argmax(distances))
            segment = int(np.nanargmax(np.abs(segment_off[frame])))
            first, second = SEGMENTS[segment]
            mirrored_frames.append(
                Mirrored(
                    int(posed[frame]),
                    labelled * 1000.0,
                    swapped * 1000.0,
                    COMPARED_NAMES[worst],
                    float(distances[worst]) * 1000.0,
                    f"{COMPARED_NAMES[first]}-{COMPARED_NAMES[second].split('_', 1)[1]}",
                    float(segment_off[frame, segment]),
                )
            )
    mirrored = len(mirrored_frames)
    angles, truth_angles = accuracy.joint_angles(compared[usable]), accuracy.joint_angles(truth[usable])

    def rmse(names: tuple[str, str]) -> float:
        return float(np.mean([np.sqrt(np.mean((angles[n] - truth_angles[n]) ** 2)) for n in names]))

    sole = ours[:, SOLE_JOINTS, 1] - np.array([rest_ankle, 0.0])
    near, worst, below, sliding = floor_figures(sole, ours[:, SOLE_JOINTS][..., [0, 2]], fps)
    # The lab floor under the skin markers: the reference's own lowest soles (2nd percentile, as
    # mocapd's levelling takes its floor), so that heel and toe markers above the skin count as on it.
    reference_sole = reference[:, REFERENCE_SOLE, 2]
    reference_sole = reference_sole - np.nanpercentile(np.nanmin(reference_sole, axis=(1, 2)), 2.0)
    ref_near, ref_worst, ref_below, ref_sliding = floor_figures(
        reference_sole, reference[:, REFERENCE_SOLE][..., :2], fps
    )
    acceleration = float(
        np.nanmean(np.linalg.norm(compared[2:] - 2 * compared[1:-1] + compared[:-2], axis=-1)) * 1000
    )
    ref_acceleration = float(
        np.nanmean(np.linalg.norm(truth[2:] - 2 * truth[1:-1] + truth[:-2], axis=-1)) * 1000
    )
    ours_turns, truth_turns = turn_speeds(compared), turn_speeds(truth)
    fast = int(np.count_nonzero(((ours_turns > FAST_TURN_DEG) & ~(truth_turns > FAST_TURN_DEG)).any(axis=1)))
    knees = [(3, 4, 5), (9, 10, 11)]
    knee_line = np.stack([signed_knee(compared, (3, 9), leg) < -BACKWARDS_DEG for leg in knees], axis=1)
    truth_knee_line = np.stack([signed_knee(truth, (3, 9), leg) < -BACKWARDS_DEG for leg in knees], axis=1)
    # Elbows about the shoulder line: flexion is negative there (the forearm comes forward of a hanging
    # arm); the convention fails for some poses (an arm raised forward, forearm down), so only frames
    # where the reference's elbow is not bent that way count.
    arms = [(0, 1, 2), (6, 7, 8)]
    elbow_line = np.stack([signed_knee(compared, (0, 6), arm) > BACKWARDS_DEG for arm in arms], axis=1)
    truth_line = np.stack([signed_knee(truth, (0, 6), arm) > BACKWARDS_DEG for arm in arms], axis=1)
    counted = (elbow_line & ~truth_line) & usable[:, None]
    shoulder_line_frames = tuple(
        (int(posed[frame]), SIDES[side], float(hinge_bends[frame, 2 + side]))
        for frame, side in zip(*np.nonzero(counted), strict=True)
    )
    # About each hinge's own axis (the FBX's bones; the reference has positions only, no bone twist).
    hinge_back = hinge_bends < -BACKWARDS_DEG
    back, worst_back, worst_raised = arm_back(compared)
    truth_arm_back, truth_worst, truth_worst_raised = arm_back(truth)
    reference_figures = {
        "near_floor": ref_near,
        "worst_lowest_cm": ref_worst,
        "sliding": ref_sliding,
        "acceleration": ref_acceleration,
        # The reference's own counts, by the measures that read positions.
        "knee_back_hip_line": int(np.count_nonzero(truth_knee_line.any(axis=1))),
        "elbow_back_shoulder_line": int(np.count_nonzero(truth_line.any(axis=1))),
        "arm_back": int(np.count_nonzero(truth_arm_back)),
        "worst_arm_back": truth_worst,
        "worst_arm_back_raised": truth_worst_raised,
    }
    return (
        Figures(
            pa_mpjpe=pa_mpjpe * 1000.0,
            ends_pa_mpjpe=ends_pa * 1000.0,
            knee=rmse(("left knee", "right knee")),
            elbow=rmse(("left elbow", "right elbow")),
            mirrored=int(mirrored),
            near_floor=near,
            worst_lowest_cm=worst,
            below_2cm=below,
            sliding=sliding,
            acceleration=acceleration,
            lag=min(lags, key=lambda shift: lags[shift]),
            lag_subframe=subframe_offset(lags),
            fast_turns=fast,
            knee_back_hip_line=int(np.count_nonzero(knee_line.any(axis=1))),
            elbow_back_shoulder_line=int(np.count_nonzero(counted.any(axis=1))),
            knee_back_hinge=int(np.count_nonzero(hinge_back[:, :2].any(axis=1))),
            elbow_back_hinge=int(np.count_nonzero(hinge_back[:, 2:].any(axis=1))),
            arm_back=int(np.count_nonzero(back)),
            frames=int(usable.sum()),
            mirrored_frames=tuple(mirrored_frames),
            shoulder_line_frames=shoulder_line_frames,
            worst_arm_back=worst_back,
            worst_arm_back_raised=worst_raised,
        ),
        reference_figures,
    )


def shift_curve(
    error: Callable[[int, int], float], known: np.ndarray, ours_known: np.ndarray
) -> dict[int, float]:
    """{shift: mean error(ours at frame + shift, reference at frame)} for shifts -MAX_LAG..MAX_LAG, each
    over the same frames: `known` (P,) where the reference is, `ours_known` (P,) where ours is."""
    shifts = range(-MAX_LAG, MAX_LAG + 1)
    frames = [
        frame
        for frame in np.flatnonzero(known)
        if all(0 <= frame + shift < len(ours_known) and ours_known[frame + shift] for shift in shifts)
    ]
    if not frames:
        return {shift: float("inf") for shift in shifts}
    return {shift: float(np.mean([error(frame + shift, frame) for frame in frames])) for shift in shifts}


def subframe_offset(errors: dict[int, float]) -> float:
    """The shift of least error with sub-frame precision: the vertex of the parabola through the
    lowest point of the error curve {shift: error} and its two neighbours (the lowest shift at an end)."""
    best = min(errors, key=lambda shift: errors[shift])
    if best - 1 not in errors or best + 1 not in errors:
        return float(best)
    before, at, after = errors[best - 1], errors[best], errors[best + 1]
    curvature = before - 2.0 * at + after
    return float(best + 0.5 * (before - after) / curvature) if curvature > 0 else float(best)


# Whether the reference puts the views on one clock first (--sync). Off by default: the offsets are
# estimated from the pose model's own landmarks (SinglePerson: cam03 +1.27, cam01 -0.91 posed frames),
# and under occlusion the two MultiPerson people gave the same cameras different offsets (cam01 +1.66
# and -0.61): not a reference to measure a lag of 0.5 frames against.
SYNCHRONISE = False


@dataclass
class Reference:
    """One person's triangulated landmarks (F, 33, 3) on the views' mean clock, and per view: the track,
    the camera and how many posed frames late its video runs."""

    points: np.ndarray
    tids: dict[str, int]
    cameras: dict[str, accuracy.Camera]
    offsets: dict[str, float]
    posed: np.ndarray  # the video frames posed

    def in_view(self, name: str) -> np.ndarray:
        """The reference on a view's clock: what that view's video shows at each of its frames."""
        return accuracy.time_shifted(self.points, -self.offsets[name], self.posed)


def reference_for(demo: str, observed: dict[str, dict[int, tracklets.TrackObservations]]) -> list[Reference]:
    """One triangulated reference per person: SinglePerson's one; MultiPerson's by matching each view's
    tracks to the cam01 tracks through the triangulation's reprojection."""
    raw, names = accuracy.read_qca(DATA / demo / "calibration" / "Calib.qca.txt")
    frames = max(int(track.frame_idx.max()) + 1 for tracks in observed.values() for track in tracks.values())
    first = names[0]
    people = sorted(observed[first], key=lambda tid: -observed[first][tid].frame_idx.size)[
        : 2 if demo == "MultiPerson" else 1
    ]
    references = []
    used: dict[str, set[int]] = {}
    candidates = accuracy.candidate_cameras(raw, names)
    for tid in people:
        chosen = {first: observed[first][tid]}
        anchor = accuracy.dense(chosen[first], "landmarks_image", frames)
        for name in names[1:]:
            # The other view's track of the same person: the one whose landmarks triangulate best with cam01's.
            best, best_score = None, float("inf")
            for other in observed[name].values():
                if other.tid in used.setdefault(name, set()):
                    continue  # another person's track in this view
                points = [anchor, accuracy.dense(other, "landmarks_image", frames)]
                weights = [
                    np.nan_to_num(accuracy.dense(chosen[first], "landmarks_visibility", frames)),
                    np.nan_to_num(accuracy.dense(other, "landmarks_visibility", frames)),
                ]
                for cameras in candidates.values():
                    pair = [cameras[0], cameras[names.index(name)]]
                    sample = slice(0, frames, 10)
                    tri = accuracy.triangulate(
                        pair, [p[sample] for p in points], [w[sample] for w in weights]
                    )
                    if not np.isfinite(tri).any():
                        continue
                    score = accuracy.reprojection_error(
                        pair, tri, [p[sample] for p in points], [w[sample] for w in weights]
                    )
                    if score < best_score:
                        best, best_score = other, score
            if best is not None:
                chosen[name] = best
                used[name].add(best.tid)
        views = [name for name in names if name in chosen]
        points = [accuracy.dense(chosen[name], "landmarks_image", frames) for name in views]
        weights = [
            np.nan_to_num(accuracy.dense(chosen[name], "landmarks_visibility", frames)) for name in views
        ]
        sample = slice(0, frames, 10)
        scores = {}
        for label, cameras in candidates.items():
            subset = [cameras[names.index(name)] for name in views]
            tri = accuracy.triangulate(subset, [p[sample] for p in points], [w[sample] for w in weights])
            scores[label] = accuracy.reprojection_error(
                subset, tri, [p[sample] for p in points], [w[sample] for w in weights]
            )
        label = min(scores, key=lambda key: scores[key])
        cameras = [candidates[label][names.index(name)] for name in views]
        seen = np.flatnonzero(np.isfinite(np.stack(points)).any(axis=(0, 2, 3)))
        step = int(np.median(np.diff(seen))) if seen.size > 1 else 1
        posed = np.arange(seen[0], seen[-1] + 1, step)
        # With --sync each view's landmarks are moved onto the views' mean clock before triangulating.
        offsets = (
            accuracy.view_offsets(cameras, points, weights, posed) if SYNCHRONISE else np.zeros(len(views))
        )
        synced = [
            accuracy.time_shifted(view, offset, posed) for view, offset in zip(points, offsets, strict=True)
        ]
        synced_weights = [
            np.nan_to_num(accuracy.time_shifted(weight, offset, posed))
            for weight, offset in zip(weights, offsets, strict=True)
        ]
        # Frames where one view's model mirrored the person are relabelled (SinglePerson: 11 of 50
        # posed frames had a 6-16 cm wide hip and a 6-14 cm forearm before).
        triangulated, swapped = accuracy.triangulate_consistent(cameras, synced, synced_weights)
        references.append(
            Reference(
                triangulated,
                {name: chosen[name].tid for name in views},
                dict(zip(views, cameras, strict=True)),
                dict(zip(views, offsets.tolist(), strict=True)),
                posed,
            )
        )
        after = accuracy.reprojection_error(cameras, triangulated, synced, synced_weights)
        relabelled = {name: int(count) for name, count in zip(views, swapped.sum(axis=0), strict=True)}
        late = {name: round(float(offset), 2) for name, offset in zip(views, offsets, strict=True)}
        print(
            f"{demo} person {len(references)}: reference from {len(views)} views, reprojection "
            f"{scores[label]:.1f} px (sampled) -> {after:.1f} px; frames relabelled per view {relabelled}; "
            f"each view's video late by (posed frames) {late}"
        )
    return references


def run_demo(
    demo: str, cache: Path | None, folder: Path, reference_cache: Path | None = None
) -> list[tuple[str, Figures, Figures, dict[str, float]]]:
    videos = sorted((DATA / demo / "videos").glob("cam*.mp4"))
    observed: dict[str, dict[int, tracklets.TrackObservations]] = {}
    paths: dict[str, Path] = {}
    tracking_s: dict[str, float] = {}
    for video in videos:
        paths[video.stem], tracking_s[video.stem] = track_clip(video, folder, cache, demo)
        data = tracklets.read(paths[video.stem])
        counts = tracklets.real_frame_counts(data)
        observed[video.stem] = {
            tid: tracklets.observations(data, tid) for tid in counts if counts[tid][0] >= 10
        }
    # A tracking change moves the triangulated reference too: --reference-cache holds it to other tracks.
    references = reference_for(
        demo, observed if reference_cache is None else observed_tracks(demo, reference_cache, videos)
    )
    rows = []
    for video in videos:
        results = {}
        for solve in (False, True):
            job, seconds, data = export(
                video, paths[video.stem], folder / f"{demo}_{video.stem}_{solve}", solve
            )
            info = job.video_info
            assert info is not None
            results[solve] = (job, seconds, data)
        duration = info.duration
        tracks = len(results[True][2]["tracks"])
        print(
            f"{demo} {video.stem}: clip {duration:.2f} s; tracking {tracking_s[video.stem]:.2f} s "
            f"({tracking_s[video.stem] / duration:.2f}x, 0 = cached); extraction of {tracks} tracks, CPU before "
            f"{results[False][1]:.2f} s, after {results[True][1]:.2f} s: the solver's share "
            f"{(results[True][1] - results[False][1]) / duration:.3f}x of the clip's duration"
        )
        if demo == "SinglePerson":
            # The whole job for one person: tracking (wall, 0 when cached) + extraction with the solver
            # (CPU) + smoothing + FBX export (wall, Blender included).
            steps = results[True][2]["bench_seconds"]
            whole = tracking_s[video.stem] + results[True][1] + steps["smoothing"] + steps["export"]
            print(
                f"  {demo} {video.stem} whole job: tracking {tracking_s[video.stem]:.2f} + extraction "
                f"{results[True][1]:.2f} + smoothing {steps['smoothing']:.2f} + export {steps['export']:.2f} "
                f"= {whole:.2f} s, {whole / duration:.2f}x the clip's {duration:.2f} s"
                + (
                    " (tracking cached: run without --cache to time it)"
                    if tracking_s[video.stem] == 0
                    else ""
                )
            )
        for person, found in enumerate(references, start=1):
            pair = []
            person_tids = found.tids
            if video.stem not in person_tids:
                print(f"  {demo} {video.stem} person {person}: no track of this view matched the reference")
                continue
            fragment = person_tids[video.stem]
            reference = found.in_view(video.stem)
            for solve in (False, True):
                job, _, data = results[solve]
                # Track extraction joins the tracker's fragments into people: the person holding it.
                tid = person_of(data, fragment)
                motion = trackfile.load(job.motion_path(tid))
                first = int(motion.frame_idx[0])
                last = int(motion.frame_idx[-1])
                count = last - first + 1
                joints = np.full((len(reference), skeleton.NUM_JOINTS, 3), np.nan)
                bends = np.full((len(reference), len(HINGE_NAMES)), np.nan)
                sampled, sampled_bends = fbx_joints(
                    job.export_dir / f"animation_track{tid}.fbx", info.fps, count
                )
                joints[first : first + count] = sampled[: len(reference) - first]
                bends[first : first + count] = sampled_bends[: len(reference) - first]
                rest = rest_ankle_height(motion.offsets)
                figure, ref_figures = figures(joints, reference, rest, info.fps, bends)
                quality = next(entry["quality"] for entry in data["tracks"] if entry["tid"] == tid)
                # The same reading on the motion before the exporter's hinge limit: what it had to mend.
                unlimited = {
                    stage: track_backwards(trackfile.load(path))
                    for stage, path in (("track", job.track_path(tid)), ("smoothed", job.motion_path(tid)))
                }
                pair.append((figure, quality, unlimited))
            label = f"{demo} {video.stem}" + (f" person {person}" if len(references) > 1 else "")
            rows.append((label, pair[0][0], pair[1][0], ref_figures))
            solver_figures = {key: pair[1][1].get(key) for key in SOLVER_KEYS}
            print(f"  {label}: solver figures {solver_figures}")
            detected = detected_frames(observed[video.stem], pair[1][1].get("fragments", [fragment]))
            for name, (figure, _, unlimited) in zip(("before", "after"), pair, strict=True):
                print(
                    f"  {label} {name}, bent backwards > {BACKWARDS_DEG:g} deg about their own hinge before the "
                    "export's limit (frames with a knee / an elbow, of the track's frames): "
                    + ", ".join(
                        f"{stage} {knees} / {elbows} of {frames}"
                        for stage, (knees, elbows, frames) in unlimited.items()
                    )
                )
                if figure.mirrored_frames:
                    print(
                        f"  {label} {name}, mirrored frames: {describe_mirrored(figure.mirrored_frames, detected)}"
                    )
                if figure.shoulder_line_frames:
                    described = "; ".join(
                        f"frame {frame} {side} {bend:+.0f}"
                        for frame, side, bend in figure.shoulder_line_frames
                    )
                    print(
                        f"  {label} {name}, elbows backwards about the shoulder line, their bend about "
                        f"their own hinge (deg): {described}"
                    )
            print(
                f"  {label}: furthest upper arm behind the torso's plane (deg), at any height / not below "
                f"the shoulders: before {pair[0][0].worst_arm_back:.0f} / {pair[0][0].worst_arm_back_raised:.0f}, "
                f"after {pair[1][0].worst_arm_back:.0f} / {pair[1][0].worst_arm_back_raised:.0f}, reference "
                f"{ref_figures['worst_arm_back']:.0f} / {ref_figures['worst_arm_back_raised']:.0f}"
            )
    return rows


def observed_tracks(
    demo: str, cache: Path, videos: list[Path]
) -> dict[str, dict[int, tracklets.TrackObservations]]:
    """Each view's tracks of at least 10 detections, from the tracklets cached in `cache`."""
    observed = {}
    for video in videos:
        data = tracklets.read(cache / f"{demo}_{video.stem}.pkl")
        counts = tracklets.real_frame_counts(data)
        observed[video.stem] = {
            tid: tracklets.observations(data, tid) for tid in counts if counts[tid][0] >= 10
        }
    return observed


def detected_frames(tracks: dict[int, tracklets.TrackObservations], fragments: list[int]) -> set[int]:
    """The video frames where the tracker detected the person (any of its fragments), not filled in."""
    frames: set[int] = set()
    for fragment in fragments:
        if fragment in tracks:
            observed = tracks[fragment]
            frames.update(int(frame) for frame in observed.frame_idx[observed.measured])
    return frames


def describe_mirrored(mirrored: tuple[Mirrored, ...], detected: set[int]) -> str:
    """One line: each mirrored frame's PA-MPJPE as labelled / swapped (mm), our joint furthest off as
    labelled and its distance, the reference's segment furthest off its length; 'gap' where the
    tracker had no detection (the motion is filled in)."""
    return "; ".join(
        f"frame {entry.frame}{'' if entry.frame in detected else ' gap'}: "
        f"{entry.labelled_mm:.0f}/{entry.swapped_mm:.0f} mm, {entry.worst_joint} {entry.worst_mm:.0f} mm, "
        f"ref {entry.reference_segment} {entry.reference_off:+.0%}"
        for entry in mirrored
    )


SOLVER_KEYS = (
    "reprojection_error_px",
    "flip_repaired_frames",
    "forearm_flip_frames",
    "leg_flip_frames",
    "contact_share",
    "floor_penetration_cm",
    "planted_sliding_cm",
)


def person_of(data: dict[str, Any], fragment: int) -> int:
    """The person (track file id) whose fragments include the tracker's track `fragment`."""
    for entry in data["tracks"]:
        if fragment in entry.get("quality", {}).get("fragments", entry.get("fragments", [entry["tid"]])):
            return int(entry["tid"])
    return fragment


def track_backwards(motion: trackfile.TrackMotion) -> tuple[int, int, int]:
    """Frames of a track file with a knee, with an elbow bent backwards past BACKWARDS_DEG about its own
    hinge (tests/fbx_hinges on its rotations: bone axes those of the rest pose), and its frame count."""
    rotations = motion.local_rotations()
    identity = np.broadcast_to(np.eye(3), (skeleton.NUM_JOINTS, 3, 3))
    rest_positions = skeleton.forward_kinematics(identity, motion.offsets, np.zeros(3))
    rest, local = {}, {}
    for joint, name in enumerate(skeleton.JOINT_NAMES):
        rest[name] = np.eye(4)
        rest[name][:3, 3] = rest_positions[joint]
        local[name] = np.tile(np.eye(4), (len(rotations), 1, 1))
        local[name][:, :3, :3] = rotations[:, joint]
        local[name][:, :3, 3] = motion.offsets[joint]
    bends = fbx_hinges.bends(rest, local, HINGE_NAMES)
    back = np.stack([bends[name] < -BACKWARDS_DEG for name in HINGE_NAMES], axis=1)
    return int(back[:, :2].any(axis=1).sum()), int(back[:, 2:].any(axis=1).sum()), len(rotations)


def rest_ankle_height(offsets: np.ndarray) -> float:
    identity = np.broadcast_to(np.eye(3), (skeleton.NUM_JOINTS, 3, 3))
    rest = skeleton.forward_kinematics(identity, offsets, np.zeros(3))
    joint = skeleton.JOINT_INDEX
    return float(rest[joint["left_ankle"], 1] - rest[joint["left_foot"], 1])


def print_table(rows: list[tuple[str, Figures, Figures, dict[str, float]]]) -> None:
    columns = (
        ("PA-MPJPE mm", "pa_mpjpe", "{:.1f}"),
        ("ends PA mm", "ends_pa_mpjpe", "{:.1f}"),
        ("knee deg", "knee", "{:.1f}"),
        ("elbow deg", "elbow", "{:.1f}"),
        ("mirrored", "mirrored", "{:d}"),
        ("foot<5cm", "near_floor", "{:.0%}"),
        ("worst low cm", "worst_lowest_cm", "{:.1f}"),
        ("<-2cm frames", "below_2cm", "{:d}"),
        ("slide mm/f", "sliding", "{:.1f}"),
        ("accel mm/f2", "acceleration", "{:.1f}"),
        ("lag", "lag", "{:d}"),
        ("lag sub", "lag_subframe", "{:+.2f}"),
        (">30deg/f", "fast_turns", "{:d}"),
        ("knee back hip line", "knee_back_hip_line", "{:d}"),
        ("elbow back shoulder line", "elbow_back_shoulder_line", "{:d}"),
        ("knee back hinge", "knee_back_hinge", "{:d}"),
        ("elbow back hinge", "elbow_back_hinge", "{:d}"),
        ("arm back raised", "arm_back", "{:d}"),
    )
    widths = [max(12, len(title)) for title, _, _ in columns]

    def line(label: str, name: str, cells: list[str]) -> str:
        return f"{label:32s} {name:6s} " + " ".join(
            f"{cell:>{width}s}" for cell, width in zip(cells, widths, strict=True)
        )

    print()
    print(line("view", "", [title for title, _, _ in columns]))
    for label, before, after, reference in rows:
        for name, figure in (("before", before), ("after", after)):
            print(line(label, name, [fmt.format(getattr(figure, key)) for _, key, fmt in columns]))
        print(
            line(
                label,
                "ref",
                [(fmt.format(reference[key]) if key in reference else "") for _, key, fmt in columns],
            )
        )
    for name in ("before", "after"):
        single = [
            (b if name == "before" else a) for label, b, a, _ in rows if label.startswith("SinglePerson")
        ]
        if single:
            print(
                f"SinglePerson mean of {len(single)} views, {name}: PA-MPJPE {np.mean([f.pa_mpjpe for f in single]):.1f} mm "
                f"(max {max(f.pa_mpjpe for f in single):.1f}), knee {np.mean([f.knee for f in single]):.1f} deg, "
                f"elbow {np.mean([f.elbow for f in single]):.1f} deg"
            )


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (Blender's export runs as one)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


PEAK_RESETS = Path("/proc/self/clear_refs").exists()


def reset_peak_memory() -> None:
    """Start this process's peak resident size (ru_maxrss) afresh, where Linux allows (clear_refs 5)."""
    if PEAK_RESETS:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass


def speed(seconds: float, folder: Path) -> None:
    """The whole job for one person on SinglePerson cam01 looped to `seconds`, step by step."""
    import av

    from tests.videofiles import write_frames

    source = DATA / "SinglePerson" / "videos" / "cam01.mp4"
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    count = int(round(seconds * rate))
    period = 2 * len(frames) - 2
    looped = (frames[i % period if i % period < len(frames) else period - i % period] for i in range(count))
    video = write_frames(folder / "speed_cam01.mp4", looped, rate=rate, options={"preset": "veryfast"})
    del frames
    job = make_job(video, folder / "speed")
    times: dict[str, tuple[float, float]] = {}
    peaks: dict[str, float] = {}

    def timed(name: str, step: Any) -> Any:
        # Each step's own peak: the looped clip's frames, held above while writing it, are not its.
        reset_peak_memory()
        wall, cpu = time.perf_counter(), cpu_seconds()
        result = step(job)
        times[name] = (time.perf_counter() - wall, cpu_seconds() - cpu)
        peaks[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        return result

    # The daemon builds the pose model's bundle once per install (state folder), not per job.
    posemodel.ensure_task_file(job.config.state_path / "models")
    timed("video_upload", video_upload.run)
    timed("tracking", track_video)
    with solver_enabled(False):
        timed("extraction without solver", track_extraction.run)
    timed("extraction", track_extraction.run)
    timed("smoothing", smoothing.run)
    timed("export", fbx_export.run)
    timed("packaging", packaging.run)
    info = job.video_info
    assert info is not None
    duration = info.duration
    print(
        f"\nspeed: SinglePerson cam01 looped to {duration:.1f} s ({count} frames at {rate:g} fps), one person"
    )
    for name, (wall, cpu) in times.items():
        print(
            f"  {name:28s} wall {wall:7.2f} s ({wall / duration:.3f}x)   CPU {cpu:7.2f} s ({cpu / duration:.3f}x)"
            f"   peak {peaks[name]:5.0f} MB"
        )
    steps = ("video_upload", "tracking", "extraction", "smoothing", "export", "packaging")
    wall = sum(times[name][0] for name in steps)
    cpu = sum(times[name][1] for name in steps)
    solver_cpu = times["extraction"][1] - times["extraction without solver"][1]
    print(
        f"  whole job (every step, as the daemon runs them, without its waits): wall {wall:.2f} s = {wall / duration:.2f}x "
        f"the clip's duration, CPU {cpu:.2f} s = {cpu / duration:.2f}x; the solver's share {solver_cpu:.2f} CPU s "
        f"= {solver_cpu / duration:.3f}x; peak memory of a step {max(peaks[name] for name in steps):.0f} MB "
        f"(this process; {'each step its own' if PEAK_RESETS else 'since the start: no peak reset here'}), "
        f"load {' '.join(f'{value:.2f}' for value in os.getloadavg())}"
    )
    core = ("tracking", "extraction", "smoothing", "export")
    print(
        f"  tracking + extraction + smoothing + export (this figure before probe and packaging were counted): "
        f"wall {sum(times[name][0] for name in core) / duration:.2f}x, "
        f"CPU {sum(times[name][1] for name in core) / duration:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache", type=Path, default=None, help="folder keeping each view's tracklets between runs"
    )
    parser.add_argument("--demo", nargs="+", default=["SinglePerson", "MultiPerson"])
    parser.add_argument(
        "--reference-cache",
        type=Path,
        default=None,
        help="triangulate the reference from the tracklets cached here (the same track ids), not --cache's",
    )
    parser.add_argument(
        "--sync", action="store_true", help="put the views' landmarks on one clock before triangulating"
    )
    parser.add_argument(
        "--speed", type=float, default=None, metavar="SECONDS", help="time the whole job on a looped clip"
    )
    arguments = parser.parse_args()
    global SYNCHRONISE
    SYNCHRONISE = arguments.sync
    gc.disable()  # ufbx objects must not be collected in a cycle (tests/ufbx_scenes.py)
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        if arguments.speed:
            speed(arguments.speed, Path(folder))
            os._exit(0)
        for demo in arguments.demo:
            rows += run_demo(demo, arguments.cache, Path(folder), arguments.reference_cache)
    print_table(rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"peak memory {peak:.0f} MB; wall time {time.perf_counter() - started:.1f} s", flush=True)
    os._exit(0)  # ufbx objects crash the interpreter's final collection (tests/ufbx_scenes.py)


if __name__ == "__main__":
    main()
