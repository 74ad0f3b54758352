"""Where a time lag against the 4-view triangulation comes from: the best time offset, stage by stage.

Per Pose2Sim view (and person), the error against bench_solver's triangulated reference at time shifts
of -3..3 posed frames, and the best offset with sub-frame precision (a parabola through the error
curve's lowest point and its two neighbours; positive: ours shows a pose later than the reference):
  world       the pose model's world landmarks in the tracklets (PA-MPJPE, 12 limb joints)
  image       its image landmarks against the reference reprojected into that view (pixels)
  solver      the joints of the track file the extraction step wrote (the clip-level solver)
  smoothed    the joints of the smoothed track file
  fbx         the exported FBX read back with ufbx at the video frames' times (as bench_solver)
The reference is triangulated from the image landmarks of all four views (with --sync put on one clock
first and compared with each view on that view's clock): a delay the pose model adds to every view is
in it as well, so `image` compares the views with each other only.

Run: .venv/bin/python bench/bench_lag.py [--cache DIR] [--demo SinglePerson MultiPerson]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_accuracy as accuracy  # noqa: E402
import bench_solver  # noqa: E402

from mocapd import skeleton, trackfile  # noqa: E402
from mocapd.motion import tracklets  # noqa: E402

STAGES = ("world", "image", "solver", "smoothed", "fbx")


def pa_curve(ours: np.ndarray, truth: np.ndarray) -> dict[int, float]:
    """PA-MPJPE (mm) of ours (P, 12, 3) against truth (P, 12, 3) per shift, over posed frames."""
    return bench_solver.shift_curve(
        lambda other, frame: 1000.0 * accuracy.procrustes_error(ours[other], truth[frame]),
        np.isfinite(truth).all(axis=(1, 2)),
        np.isfinite(ours).all(axis=(1, 2)),
    )


def pixel_curve(ours: np.ndarray, truth: np.ndarray, weight: np.ndarray) -> dict[int, float]:
    """Mean pixel distance of ours (P, 12, 2) to truth (P, 12, 2) per shift, where weight >= 0.5."""
    kept = (weight >= accuracy.MIN_VISIBILITY) & np.isfinite(ours).all(axis=-1)

    def error(other: int, frame: int) -> float:
        usable = kept[other] & np.isfinite(truth[frame]).all(axis=-1)
        if not usable.any():
            return float("nan")
        return float(np.mean(np.linalg.norm(ours[other][usable] - truth[frame][usable], axis=-1)))

    return bench_solver.shift_curve(error, np.isfinite(truth).all(axis=(1, 2)), kept.any(axis=-1))


def stage_joints(motion: trackfile.TrackMotion, frames: int) -> np.ndarray:
    """(frames, 24, 3) joints of a track file at its video frames (NaN elsewhere)."""
    result = np.full((frames, skeleton.NUM_JOINTS, 3), np.nan)
    kept = motion.frame_idx < frames
    result[motion.frame_idx[kept]] = motion.joint_positions()[kept]
    return result


def run_demo(demo: str, cache: Path | None, folder: Path) -> list[tuple[str, dict[str, dict[int, float]]]]:
    videos = sorted((bench_solver.DATA / demo / "videos").glob("cam*.mp4"))
    observed: dict[str, dict[int, tracklets.TrackObservations]] = {}
    paths: dict[str, Path] = {}
    for video in videos:
        paths[video.stem], _ = bench_solver.track_clip(video, folder, cache, demo)
        data = tracklets.read(paths[video.stem])
        counts = tracklets.real_frame_counts(data)
        observed[video.stem] = {
            tid: tracklets.observations(data, tid) for tid in counts if counts[tid][0] >= 10
        }
    references = bench_solver.reference_for(demo, observed)
    rows = []
    for video in videos:
        job, _, data = bench_solver.export(
            video, paths[video.stem], folder / f"lag_{demo}_{video.stem}", True
        )
        info = job.video_info
        assert info is not None
        for person, found in enumerate(references, start=1):
            person_tids, cameras = found.tids, found.cameras
            if video.stem not in person_tids:
                continue
            reference = found.in_view(video.stem)
            fragment = person_tids[video.stem]
            frames = len(reference)
            posed = np.flatnonzero(np.isfinite(reference).any(axis=(1, 2)))
            step = int(np.median(np.diff(posed))) if posed.size > 1 else 1
            posed = np.arange(posed[0], posed[-1] + 1, step)
            truth = reference[posed][:, accuracy.MEDIAPIPE_JOINTS]
            track = observed[video.stem][fragment]
            curves: dict[str, dict[int, float]] = {}
            world = accuracy.dense(track, "landmarks_world", frames)[posed][:, accuracy.MEDIAPIPE_JOINTS]
            curves["world"] = pa_curve(world, truth)
            image = accuracy.dense(track, "landmarks_image", frames)[posed][:, accuracy.MEDIAPIPE_JOINTS]
            weight = np.nan_to_num(accuracy.dense(track, "landmarks_visibility", frames))[posed][
                :, accuracy.MEDIAPIPE_JOINTS
            ]
            projected = cameras[video.stem].project_distorted(reference[posed][:, accuracy.MEDIAPIPE_JOINTS])
            curves["image"] = pixel_curve(image, projected, weight)
            tid = bench_solver.person_of(data, fragment)
            for stage, path in (("solver", job.track_path(tid)), ("smoothed", job.smoothed_path(tid))):
                joints = stage_joints(trackfile.load(path), frames)
                curves[stage] = pa_curve(joints[posed][:, accuracy.SMPL_JOINTS], truth)
            motion = trackfile.load(job.motion_path(tid))
            first, last = int(motion.frame_idx[0]), int(motion.frame_idx[-1])
            sampled = np.full((frames, skeleton.NUM_JOINTS, 3), np.nan)
            fbx, _ = bench_solver.fbx_joints(
                job.export_dir / f"animation_track{tid}.fbx", info.fps, last - first + 1
            )
            sampled[first : first + len(fbx)] = fbx[: frames - first]
            curves["fbx"] = pa_curve(sampled[posed][:, accuracy.SMPL_JOINTS], truth)
            label = f"{demo} {video.stem}" + (f" person {person}" if len(references) > 1 else "")
            # The export's time mapping: at a posed frame the FBX holds that frame's smoothed pose, half
            # way between two the mean of theirs (root-relative: foot locking moves the root).
            relative = sampled - sampled[:, :1]
            smoothed = joints - joints[:, :1]
            between = posed[:-1] + step // 2
            blend = (smoothed[posed[:-1]] + smoothed[posed[1:]]) / 2.0
            print(
                f"{label}: FBX - smoothed track, root-relative joints: at the posed frames max "
                f"{1000 * np.nanmax(np.linalg.norm(relative[posed] - smoothed[posed], axis=-1)):.1f} mm, "
                f"between them against the neighbours' mean max "
                f"{1000 * np.nanmax(np.linalg.norm(relative[between] - blend, axis=-1)):.1f} mm"
            )
            rows.append((label, curves))
    return rows


def print_rows(rows: list[tuple[str, dict[str, dict[int, float]]]]) -> None:
    print()
    print(f"{'view':28s} " + " ".join(f"{stage:>18s}" for stage in STAGES))
    for label, curves in rows:
        cells = []
        for stage in STAGES:
            lags = curves[stage]
            cells.append(f"{min(lags, key=lambda s: lags[s]):+d} ({bench_solver.subframe_offset(lags):+.2f})")
        print(f"{label:28s} " + " ".join(f"{cell:>18s}" for cell in cells))
    print("\nerror curves (shift: error; mm, image in px):")
    for label, curves in rows:
        for stage in STAGES:
            text = " ".join(f"{shift:+d}:{value:.1f}" for shift, value in curves[stage].items())
            print(f"  {label:28s} {stage:9s} {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="folder keeping each view's tracklets")
    parser.add_argument("--demo", nargs="+", default=["SinglePerson", "MultiPerson"])
    parser.add_argument("--sync", action="store_true", help="the views put on one clock first")
    arguments = parser.parse_args()
    bench_solver.SYNCHRONISE = arguments.sync
    gc.disable()  # ufbx objects must not be collected in a cycle (tests/ufbx_scenes.py)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for demo in arguments.demo:
            rows += run_demo(demo, arguments.cache, Path(folder))
    print_rows(rows)
    sys.stdout.flush()
    os._exit(0)  # ufbx objects crash the interpreter's final collection (tests/ufbx_scenes.py)


if __name__ == "__main__":
    main()
