"""Several people in one clip: identity over the clip and one shared world, against a 4-view triangulation.

The Pose2Sim MultiPerson demo: two actors filmed by 4 calibrated cameras. Each view goes through the
embedded tracking backend and the track_extraction step (track_mode all). The reference: per frame,
the detections of the 4 views are grouped into people by how well they triangulate (a person is the
set of one detection per view, at least 2 views, that reprojects best), and each person's landmarks
are triangulated (DLT, bench_accuracy.triangulate); the two actors are followed over frames by their
hip centres. Printed per view:
  exported people (want 2); per actor, the share of frames where their exported person is on them
  (want >= 95 %); identity swaps (want 0); the distance between the actors' hip centres in the export
  against the reference (want within 15 %) and the change of their relative heading; each person's
  PA-MPJPE (mm, 12 limb joints, frames where the person was measured); the one floor the step put
  everyone on (each person's depth scale, mocapd.motion.sharedfloor).

Run: .venv/bin/python bench/bench_people.py [--views cam01 cam02 cam03 cam04] [--keep DIR [--reuse]]
     [--write-actors tests/data/pose2sim/MultiPerson/actors_2d.npz]
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_accuracy import (  # noqa: E402
    MEDIAPIPE_JOINTS,
    SMPL_JOINTS,
    Camera,
    candidate_cameras,
    procrustes_error,
    read_qca,
    reprojection_error,
    triangulate,
)

from mocapd import trackfile  # noqa: E402
from mocapd.backends.embedded.tracking import track_video  # noqa: E402
from mocapd.config import Config  # noqa: E402
from mocapd.inbox.probe import probe  # noqa: E402
from mocapd.job import Job  # noqa: E402
from mocapd.motion import tracklets  # noqa: E402
from mocapd.motion.landmarks import MEDIAPIPE_INDEX  # noqa: E402
from mocapd.options import JobOptions  # noqa: E402
from mocapd.steps import track_extraction  # noqa: E402

DEMO = REPO / "tests" / "data" / "pose2sim" / "MultiPerson"
HIPS = [MEDIAPIPE_INDEX["left_hip"], MEDIAPIPE_INDEX["right_hip"]]
# Landmarks that group detections into people: shoulders, hips, knees, ankles.
CORE = [
    MEDIAPIPE_INDEX[f"{side}_{name}"]
    for side in ("left", "right")
    for name in ("shoulder", "hip", "knee", "ankle")
]
# A group of detections is one person when its triangulation reprojects within this (pixels, median).
GROUP_PX = 30.0
# A detection is on an actor when its landmarks lie within this share of the actor's projected height.
ON_ACTOR_SHARE = 0.15


@dataclass
class Detection:
    tid: int
    points: np.ndarray  # (33, 2)
    weights: np.ndarray  # (33,)


@dataclass
class ViewRun:
    name: str
    job: Job
    raw: tracklets.Tracklets
    detections: dict[int, list[Detection]]  # frame index -> detections
    data: dict  # the track_extraction step's data
    seconds: float


def run_view(name: str, root: Path, reuse: bool) -> ViewRun:
    video = DEMO / "videos" / f"{name}.mp4"
    work = root / name
    (work / "input").mkdir(parents=True, exist_ok=True)
    shutil.copy(video, work / "input" / video.name)
    config = Config(state_dir=str(root / "state"))
    job = Job(1, name, work, video.name, JobOptions(track_mode="all"), config)
    job.video_info = probe(job.video_path, config.limits)
    started = time.perf_counter()
    if not (reuse and job.tracklets_path.exists()):
        track_video(job)
    outcome = track_extraction.run(job)
    seconds = time.perf_counter() - started
    raw = tracklets.read(job.tracklets_path)
    detections: dict[int, list[Detection]] = {}
    for frame in raw.frames:
        detections[frame.index] = [
            Detection(
                tid,
                np.asarray(frame.data["landmarks_image"][position], dtype=np.float64),
                np.asarray(frame.data["landmarks_visibility"][position], dtype=np.float64),
            )
            for position, tid in enumerate(frame.tids)
        ]
    return ViewRun(name, job, raw, detections, outcome.data, seconds)


def group_error(cameras: list[Camera], chosen: list[Detection | None]) -> tuple[float, int]:
    """Median reprojection error (px) of the core landmarks triangulated from one detection per view."""
    used = [(camera, found) for camera, found in zip(cameras, chosen, strict=True) if found is not None]
    points = [found.points[None, CORE] for _, found in used]
    weights = [found.weights[None, CORE] for _, found in used]
    reference = triangulate([camera for camera, _ in used], points, weights)
    if not np.isfinite(reference).all(axis=-1).any():
        return float("inf"), len(used)
    return reprojection_error([camera for camera, _ in used], reference, points, weights), len(used)


def reference_people(cameras: list[Camera], views: list[ViewRun], frame: int) -> list[list[Detection | None]]:
    """The frame's people: groups of one detection per view (or none), best triangulating first."""
    remaining = [list(view.detections.get(frame, [])) for view in views]
    people = []
    while True:
        best: tuple[float, list[Detection | None]] | None = None
        for chosen in itertools.product(*[found + [None] for found in remaining]):
            if sum(found is not None for found in chosen) < 2:
                continue
            error, count = group_error(cameras, list(chosen))
            if error > GROUP_PX:
                continue
            score = error - 10.0 * count  # more views agreeing is the likelier grouping
            if best is None or score < best[0]:
                best = (score, list(chosen))
        if best is None:
            return people
        people.append(best[1])
        for index, found in enumerate(best[1]):
            if found is not None:
                remaining[index] = [other for other in remaining[index] if other is not found]


def triangulated(cameras: list[Camera], group: list[Detection | None]) -> np.ndarray:
    """(33, 3) one person's landmarks from their detections."""
    used = [(camera, found) for camera, found in zip(cameras, group, strict=True) if found is not None]
    return triangulate(
        [camera for camera, _ in used],
        [found.points[None] for _, found in used],
        [found.weights[None] for _, found in used],
    )[0]


def follow_actors(frames: list[int], per_frame: dict[int, list[np.ndarray]]) -> dict[int, np.ndarray]:
    """(F, 2, 33, 3) the two actors over the frames, linked by their hip centres (NaN where unseen)."""
    actors = np.full((len(frames), 2, 33, 3), np.nan)
    last = [None, None]
    for row, frame in enumerate(frames):
        found = [person for person in per_frame.get(frame, []) if np.isfinite(person[HIPS]).all()]
        centres = [person[HIPS].mean(axis=0) for person in found]
        if not found:
            continue
        if last[0] is None and last[1] is None:
            for slot, person in enumerate(found[:2]):
                actors[row, slot] = person
                last[slot] = centres[slot]
            continue
        cost = np.array(
            [
                [np.linalg.norm(centre - (known if known is not None else centre + 10.0)) for known in last]
                for centre in centres
            ]
        )
        rows, slots = linear_sum_assignment(cost)
        for index, slot in zip(rows, slots, strict=True):
            if cost[index, slot] < 1.0:
                actors[row, slot] = found[index]
                last[slot] = centres[index]
            elif last[slot] is None:
                actors[row, slot] = found[index]
                last[slot] = centres[index]
    return {frame: actors[row] for row, frame in enumerate(frames)}


def actor_of(camera: Camera, actors: np.ndarray, found: Detection) -> int | None:
    """Which actor (0, 1) a detection lies on, by the actors' landmarks projected into the view."""
    best: tuple[float, int] | None = None
    for slot in range(2):
        if not np.isfinite(actors[slot][CORE]).all():
            continue
        projected = camera.project(actors[slot])
        height = np.ptp(projected[CORE, 1])
        usable = found.weights[CORE] >= 0.5
        if not usable.any():
            continue
        distance = np.median(np.linalg.norm(projected[CORE] - found.points[CORE], axis=-1)[usable]) / max(
            height, 1.0
        )
        if distance < ON_ACTOR_SHARE and (best is None or distance < best[0]):
            best = (distance, slot)
    return None if best is None else best[1]


def heading(hips: np.ndarray) -> float:
    """Facing direction (radians about up) from the left-to-right hip vector on the ground plane (x, z)."""
    across = hips[1] - hips[0]
    return float(np.arctan2(across[0], across[2]))


def wrap(angle: float) -> float:
    return float(np.angle(np.exp(1j * angle)))


def evaluate(
    view: ViewRun, camera: Camera, frames: list[int], actors: dict[int, np.ndarray], up_axis: int
) -> None:
    person_of = {
        tid: entry["tid"] for entry in view.data["tracks"] for tid in entry["quality"].get("fragments", [])
    }
    for split in view.data.get("swaps_split", []):
        person_of.setdefault(split["new_tid"], split["new_tid"])
    exported = [int(tid) for tid in view.data["selected"]]
    motions = {pid: trackfile.load(view.job.track_path(pid)) for pid in exported}
    # Per exported person and frame: the actor their detection lay on (measured frames only).
    on: dict[int, dict[int, int | None]] = {pid: {} for pid in exported}
    relabelled = {}
    strays = {tuple(stray) for stray in view.data.get("strays", [])}
    for frame in frames:
        for found in view.detections.get(frame, []):
            if (frame, found.tid) in strays:  # read as not measured by the step
                continue
            pid = resolve(view.data, found.tid, frame, person_of)
            relabelled.setdefault(frame, []).append(pid)
            if pid in on:
                on[pid][frame] = actor_of(camera, actors[frame], found)
    owner = {}
    for slot in range(2):
        counts = {pid: sum(1 for actor in on[pid].values() if actor == slot) for pid in exported}
        owner[slot] = (
            max(counts, key=lambda pid: counts[pid]) if counts and max(counts.values()) > 0 else None
        )
    print(
        f"{view.name}: exported people {len(exported)} (want 2) {exported}; tracking+extraction {view.seconds:.1f} s"
    )
    swaps = 0
    for pid in exported:
        sequence = [actor for _, actor in sorted(on[pid].items()) if actor is not None]
        swaps += sum(1 for first, second in itertools.pairwise(sequence) if first != second)
    for slot in range(2):
        present = [frame for frame in frames if np.isfinite(actors[frame][slot][HIPS]).all()]
        pid = owner[slot]
        if pid is None:
            print(f"    actor {slot + 1}: no exported person on them (0 of {len(present)} frames)")
            continue
        motion = motions[pid]
        covered = set(int(index) for index in motion.frame_idx)
        right = [frame for frame in present if frame in covered and on[pid].get(frame, slot) in (slot, None)]
        print(
            f"    actor {slot + 1}: person {pid}, right track in {len(right)}/{len(present)} frames "
            f"({len(right) / max(len(present), 1):.1%}, want >= 95%), PA-MPJPE {pa_mpjpe(motion, actors, slot, on[pid]):.1f} mm"
        )
    print(f"    identity swaps {swaps} (want 0)")
    if owner[0] is None or owner[1] is None or owner[0] == owner[1]:
        print("    hip-centre distance: needs both actors exported as two people")
        return
    first, second = motions[owner[0]], motions[owner[1]]
    shared = sorted(set(map(int, first.frame_idx)) & set(map(int, second.frame_idx)))
    exported_distance, reference_distance, heading_change = [], [], []
    for frame in shared:
        a, b = actors[frame]
        if not (np.isfinite(a[HIPS]).all() and np.isfinite(b[HIPS]).all()):
            continue
        row_a = int(np.searchsorted(first.frame_idx, frame))
        row_b = int(np.searchsorted(second.frame_idx, frame))
        exported_distance.append(float(np.linalg.norm(first.trans[row_a] - second.trans[row_b])))
        reference_distance.append(float(np.linalg.norm(a[HIPS].mean(axis=0) - b[HIPS].mean(axis=0))))
        joints_a, joints_b = first.joint_positions()[row_a], second.joint_positions()[row_b]
        # SMPL: left_hip 1, right_hip 2; world Y up, so the ground plane is x, z.
        exported_turn = wrap(
            heading(np.stack([joints_a[1], joints_a[2]])) - heading(np.stack([joints_b[1], joints_b[2]]))
        )
        axes = [axis for axis in range(3) if axis != up_axis]
        order = [axes[0], up_axis, axes[1]]
        reference_turn = wrap(heading(a[HIPS][:, order]) - heading(b[HIPS][:, order]))
        # The reference's axes may be mirrored against ours: compare the size of the turn.
        heading_change.append(np.degrees(abs(exported_turn) - abs(reference_turn)))
    if not exported_distance:
        print("    hip-centre distance: no frame where both are exported and triangulated")
        return
    ratio = np.mean(exported_distance) / np.mean(reference_distance)
    relative = np.abs(np.array(exported_distance) / np.array(reference_distance) - 1.0)
    print(
        f"    hip-centre distance: export {np.mean(exported_distance):.2f} m, reference {np.mean(reference_distance):.2f} m "
        f"(ratio {ratio:.2f}, error {abs(ratio - 1):.0%}, want within 15%; per frame median {np.median(relative):.0%}); "
        f"relative heading off by {np.median(np.abs(heading_change)):.0f} deg (median, {len(exported_distance)} frames)"
    )


def resolve(data: dict, tid: int, frame: int, person_of: dict[int, int]) -> int:
    """The exported person a raw detection belongs to (after the step's swap splits and joins)."""
    while passed := [
        split for split in data.get("swaps_split", []) if split["tid"] == tid and split["at_frame"] <= frame
    ]:
        tid = max(passed, key=lambda split: split["at_frame"])["new_tid"]
    return person_of.get(tid, tid)


def pa_mpjpe(
    motion: trackfile.TrackMotion, actors: dict[int, np.ndarray], slot: int, on: dict[int, int | None]
) -> float:
    joints = motion.joint_positions()
    errors = []
    for row, frame in enumerate(map(int, motion.frame_idx)):
        if on.get(frame) != slot or motion.confidence[row].max() <= 0:
            continue
        reference = actors[frame][slot][MEDIAPIPE_JOINTS]
        if np.isfinite(reference).all():
            errors.append(procrustes_error(joints[row, SMPL_JOINTS], reference))
    return 1000 * float(np.mean(errors)) if errors else float("nan")


def write_actors(
    path: Path, cameras: list[Camera], names: list[str], frames: list[int], actors: dict[int, np.ndarray]
) -> None:
    """Per view, (F, 2, len(CORE), 2) float32 pixels of the actors' core landmarks (NaN where untriangulated)."""
    stacked = np.stack([actors[frame][:, CORE] for frame in frames])  # (F, 2, C, 3)
    np.savez_compressed(
        path,
        frames=np.asarray(frames, dtype=np.int32),
        core=np.asarray(CORE, dtype=np.int32),
        **{
            name: camera.project(stacked).astype(np.float32)
            for camera, name in zip(cameras, names, strict=True)
        },
    )
    print(f"actors written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", nargs="+", default=["cam01", "cam02", "cam03", "cam04"])
    parser.add_argument("--keep", type=Path, help="keep the job folders here")
    parser.add_argument("--reuse", action="store_true", help="with --keep: reuse the tracklets found there")
    parser.add_argument(
        "--write-actors",
        type=Path,
        help="write the two actors' triangulated core landmarks projected into each view (npz): "
        "the reference tests/test_association.py holds a monocular run against",
    )
    arguments = parser.parse_args()
    started = time.perf_counter()
    tracemalloc.start()
    raw, names = read_qca(DEMO / "calibration" / "Calib.qca.txt")
    root = arguments.keep or Path(tempfile.mkdtemp())
    try:
        views = [run_view(name, root, arguments.reuse) for name in names]
        frames = sorted(set.intersection(*[set(view.detections) for view in views]))
        # Which reading of the QCA transform is right: the one whose groups reproject best.
        sample = frames[:: max(len(frames) // 5, 1)]
        scores = {}
        for label, cameras in candidate_cameras(raw, names).items():
            errors = [
                error
                for frame in sample
                for error in [
                    min(
                        (
                            group_error(cameras, list(chosen))[0]
                            for chosen in itertools.product(*[view.detections[frame] for view in views])
                        ),
                        default=np.inf,
                    )
                ]
            ]
            scores[label] = float(np.median(errors))
        best = min(scores, key=lambda label: scores[label])
        cameras = candidate_cameras(raw, names)[best]
        print(f"calibration reading: {best} (median reprojection error {scores[best]:.1f} px)")
        per_frame = {
            frame: [triangulated(cameras, group) for group in reference_people(cameras, views, frame)]
            for frame in frames
        }
        counts = [len(people) for people in per_frame.values()]
        print(
            f"reference: {len(frames)} frames, people triangulated per frame {np.bincount(counts).tolist()} (index = people)"
        )
        actors = follow_actors(frames, per_frame)
        both = [frame for frame in frames if np.isfinite(actors[frame][:, HIPS]).all()]
        centres = np.array([actors[frame][:, HIPS].mean(axis=1) for frame in both])
        standing = np.array(
            [
                actors[f][0][MEDIAPIPE_INDEX["nose"]] - actors[f][0][MEDIAPIPE_INDEX["left_ankle"]]
                for f in both
            ]
        )
        up_axis = int(np.argmax(np.abs(np.nanmean(standing, axis=0))))
        print(
            f"actors: both triangulated in {len(both)} frames, hip centres {np.linalg.norm(centres[:, 0] - centres[:, 1], axis=-1).min():.2f}-"
            f"{np.linalg.norm(centres[:, 0] - centres[:, 1], axis=-1).max():.2f} m apart (up axis {'xyz'[up_axis]})"
        )
        if arguments.write_actors:
            write_actors(arguments.write_actors, cameras, names, frames, actors)
        chosen = [view for view in views if view.name in arguments.views]
        for view in chosen:
            evaluate(view, cameras[names.index(view.name)], frames, actors, up_axis)
            print("    one floor:", json.dumps(view.data["world"].get("floor")))
            print(
                "    step data:",
                json.dumps(
                    {
                        entry["tid"]: {
                            key: entry["quality"].get(key)
                            for key in ("fragments", "first_frame", "last_frame", "left_out")
                        }
                        for entry in view.data["tracks"]
                    }
                ),
            )
    finally:
        if arguments.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    _, peak = tracemalloc.get_traced_memory()
    print(f"wall time {time.perf_counter() - started:.1f} s, peak Python memory {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
