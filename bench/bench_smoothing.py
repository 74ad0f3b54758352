"""Smoothing benchmark: the pose model's jitter, accuracy on held-out real motion, and speed.

Run: .venv/bin/python bench/bench_smoothing.py [--skip-measure]
1. Re-measures the embedded pose model's jitter on the stillest 30 frames of the Pose2Sim clip (the
   figures behind tests/jitter_model.py).
2. Adds that jitter to the held-out DeepMimic clips and prints raw / ours / each alternative tried:
   acceleration error and MPJPE (mm), peak limb speed against the truth, the lag (frames), and how far
   planted feet slide (cm per frame, contacts of the true motion by the exporter's rule).
3. Runs mocapd's own steps (tracking, track_extraction, smoothing; embedded backend) on the four real
   Pose2Sim views: the jitter of the exported motion before and after, and the tracks' own noise on
   the stillest frames (the second measurement behind tests/jitter_model.py).
4. Times smoothing 3000 frames of one track on the CPU, with peak memory (run first, so that the
   process's peak memory is the smoothers' own).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mocapd.export import footlock  # noqa: E402
from mocapd.rotations import (  # noqa: E402
    angle_between,
    continuous_quaternions,
    matrix_to_quaternion,
    quaternion_to_matrix,  # noqa: E402
)
from mocapd.skeleton import JOINT_INDEX  # noqa: E402
from mocapd.smoothing import filters  # noqa: E402
from mocapd.smoothing.metrics import acceleration_error, joint_angle, mpjpe, peak_lag  # noqa: E402
from mocapd.smoothing.smoother import SmoothingParameters, rotation_cutoff, smooth_motion  # noqa: E402
from mocapd.trackfile import TrackMotion  # noqa: E402
from tests.deepmimic import load_track  # noqa: E402
from tests.jitter_model import HELD_OUT_CLIPS, TUNING_CLIPS, add_jitter  # noqa: E402

VIDEO = ROOT / "tests" / "data" / "pose2sim" / "SinglePerson" / "videos" / "cam01.mp4"
# MediaPipe landmark pairs whose direction is a bone.
BONES = {
    "upper arms": [(11, 13), (12, 14)],
    "forearms": [(13, 15), (14, 16)],
    "thighs": [(23, 25), (24, 26)],
    "shanks": [(25, 27), (26, 28)],
    "feet": [(27, 31), (28, 32)],
    "shoulder line": [(11, 12)],
    "hip line": [(23, 24)],
}
LIMBS = [
    JOINT_INDEX[f"{side}_{part}"]
    for side in ("left", "right")
    for part in ("hip", "knee", "shoulder", "elbow")
]
STILL_FRAMES = 30


def measure_pose_model_jitter() -> None:
    """Per-bone angle noise and hip image noise of mediapipe's legacy Pose on the stillest frames."""
    import av
    import mediapipe

    world, image = [], []
    with (
        mediapipe.solutions.pose.Pose(model_complexity=1, smooth_landmarks=False) as pose,
        av.open(str(VIDEO)) as video,
    ):
        for frame in video.decode(video=0):
            pixels = frame.to_ndarray(format="rgb24")
            height, width = pixels.shape[:2]
            result = pose.process(pixels)
            if result.pose_world_landmarks is None:
                world.append(np.full((33, 3), np.nan))
                image.append(np.full((33, 2), np.nan))
                continue
            world.append([[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark])
            image.append([[p.x * width, p.y * height] for p in result.pose_landmarks.landmark])
    landmarks, pixels = np.array(world), np.array(image)
    speed = np.linalg.norm(np.diff(landmarks, axis=0), axis=-1).mean(axis=1)
    start = int(np.nanargmin(np.convolve(speed, np.ones(STILL_FRAMES) / STILL_FRAMES, "valid")))
    still = slice(start, start + STILL_FRAMES)
    print(
        f"pose model jitter, {VIDEO.name} frames {start}-{start + STILL_FRAMES} (stillest), landmark smoothing off"
    )
    for name, pairs in BONES.items():
        sigmas = []
        for first, second in pairs:
            direction = landmarks[still, second] - landmarks[still, first]
            direction /= np.linalg.norm(direction, axis=1, keepdims=True)
            second_difference = direction[2:] - 2 * direction[1:-1] + direction[:-2]
            # White noise of s per axis gives second differences of 6 s^2 per axis, two axes across a bone.
            sigmas.append(np.degrees(np.sqrt(np.mean(np.sum(second_difference**2, axis=1)) / 12.0)))
        print(f"  {name:14s} {np.mean(sigmas):5.2f} deg per axis")
    hips = (pixels[:, 23] + pixels[:, 24]) / 2.0
    body_pixels = np.nanmedian(np.abs((pixels[:, 29, 1] + pixels[:, 30, 1]) / 2.0 - pixels[:, 0, 1]))
    second_difference = hips[still][2:] - 2 * hips[still][1:-1] + hips[still][:-2]
    sigma_pixels = np.sqrt(np.mean(second_difference**2, axis=0) / 6.0)
    millimetres = sigma_pixels * 1600.0 / body_pixels
    print(
        f"  hip midpoint   {sigma_pixels.round(2)} px = {millimetres.round(1)} mm (nose-heel {body_pixels:.0f} px ~ 1.6 m)"
    )


def real_clips() -> None:
    """The product's steps on the real Pose2Sim views: jitter before/after and still-frame noise."""
    import shutil
    import tempfile

    from mocapd import trackfile
    from mocapd.config import Config
    from mocapd.job import Job, VideoInfo
    from mocapd.options import JobOptions
    from mocapd.rotations import matrix_to_axis_angle
    from mocapd.steps import smoothing, track_extraction, tracking

    print("\nreal clips through mocapd's steps (embedded backend); jitter in mm/frame^2")
    with tempfile.TemporaryDirectory() as folder:
        for view in sorted(VIDEO.parent.glob("cam*.mp4")):
            job = Job(
                id=1,
                name=view.stem,
                work_dir=Path(folder) / view.stem,
                source_name=view.name,
                options=JobOptions(),
                config=Config(backend="mediapipe"),
                video_info=VideoInfo(1088, 1920, 60.0, 100 / 60, 100, "h264"),
            )
            job.video_path.parent.mkdir(parents=True)
            shutil.copy(view, job.video_path)
            try:
                tracking.run(job)
                track_extraction.run(job)
                outcome = smoothing.run(job)
            except Exception as error:  # the other steps are still moving: report and go on
                print(f"  {view.name}: the steps failed: {error}")
                continue
            for tid, figures in outcome.data["jitter"].items():
                motion = trackfile.load(job.track_path(int(tid)))
                local = motion.local_rotations()
                velocity = matrix_to_axis_angle(np.swapaxes(local[:-1], -1, -2) @ local[1:])
                second = (velocity[1:] - velocity[:-1])[32:60]
                driven = np.abs(second).sum(axis=(0, 2)) > 0
                # Three axes of white noise s give second differences of 18 s^2 in all.
                joint_sigma = np.degrees(np.sqrt((second[:, driven] ** 2).sum(axis=-1).mean(axis=0) / 18.0))
                root = motion.trans[2:] - 2 * motion.trans[1:-1] + motion.trans[:-2]
                root_sigma = np.sqrt((root[32:60] ** 2).mean(axis=0) / 6.0) * 1000.0
                print(
                    f"  {view.name} track {tid}: {figures['before']:6.2f} -> {figures['after']:5.2f}; "
                    f"frames 32-62 joint noise median {np.median(joint_sigma):.2f} deg per axis "
                    f"(max {joint_sigma.max():.2f}), root {root_sigma.round(1)} mm"
                )


def quaternion_filter(apply: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """A rotation smoother that runs `apply` over continuous quaternions, then renormalises."""

    def smoother(local: np.ndarray) -> np.ndarray:
        frames, joints = local.shape[:2]
        quaternions = continuous_quaternions(matrix_to_quaternion(local)).reshape(frames, joints * 4)
        smoothed = apply(quaternions).reshape(frames, joints, 4)
        return quaternion_to_matrix(smoothed / np.linalg.norm(smoothed, axis=-1, keepdims=True))

    return smoother


Method = Callable[[TrackMotion], TrackMotion]


def methods() -> dict[str, Method]:
    """Ours and the alternatives tried; all share our root path and contact handling."""
    parameters = SmoothingParameters()

    def cutoff(motion: TrackMotion) -> float:
        return rotation_cutoff(parameters.strength, parameters.window, motion.fps)

    def with_joints(make: Callable[[TrackMotion], Callable[[np.ndarray], np.ndarray]]) -> Method:
        return lambda motion: smooth_motion(motion, parameters, quaternion_filter(make(motion)))

    return {
        "raw": lambda motion: motion,
        "ours (order 3, confidence)": lambda motion: smooth_motion(motion, parameters),
        "ours, order 2": lambda motion: smooth_motion(motion, SmoothingParameters(order=2)),
        "ours, no fast-move pass": lambda motion: smooth_motion(
            motion, SmoothingParameters(keep_fast_moves=False)
        ),
        "ours, no confidence": with_joints(lambda m: lambda q: filters.whittaker(q, None, cutoff(m), 3)),
        "Butterworth 2 filtfilt": with_joints(lambda m: lambda q: filters.butterworth(q, cutoff(m), 2)),
        "Savitzky-Golay 0.2 s, cubic": with_joints(
            lambda m: lambda q: filters.savitzky_golay(q, round(0.2 * m.fps) | 1, 3)
        ),
        "moving average 9 (old fallback)": with_joints(lambda m: lambda q: filters.moving_average(q, 9)),
        "One-Euro 1 Hz, beta 0.05": with_joints(lambda m: lambda q: filters.one_euro(q, m.fps, 1.0, 0.05)),
    }


def move_speed(motion: TrackMotion) -> np.ndarray:
    """Peak speed (deg/s) of each limb joint over 0.1 s spans."""
    span = max(1, round(0.1 * motion.fps))
    local = motion.local_rotations()[:, LIMBS]
    return np.degrees(angle_between(local[:-span], local[span:])).max(axis=0) / (span / motion.fps)


def lag(motion: TrackMotion, truth: TrackMotion) -> int:
    """Lag of the three most moving joints' angles together."""
    true_angles, angles = joint_angle(truth.local_rotations()), joint_angle(motion.local_rotations())
    moving = np.argsort(-true_angles.std(axis=0))[:3]
    scale = true_angles[:, moving].std(axis=0)
    return peak_lag((angles[:, moving] / scale).sum(axis=1), (true_angles[:, moving] / scale).sum(axis=1), 5)


def accuracy(clips: tuple[str, ...], title: str, per_clip: bool) -> None:
    """Print each method's pooled figures over `clips` (and ours per clip)."""
    print(f"\n{title}: {', '.join(clips)}")
    data = [(load_track(name), index) for index, name in enumerate(clips)]
    noisy_clips = [(truth, add_jitter(truth, seed=100 + index)) for truth, index in data]
    header = f"{'method':34s} {'accel mm/f2':>11s} {'reduction':>9s} {'MPJPE mm':>8s} {'peak speed':>10s} {'lags':>6s} {'slide cm':>8s}"
    print(header)
    raw_accel = 0.0
    for name, method in methods().items():
        accel = error = frames = 0.0
        ratios, lags, slides = [], [], []
        for truth, noisy in noisy_clips:
            result = method(noisy)
            true_positions, positions = truth.joint_positions(), result.joint_positions()
            count = truth.frame_count
            accel += acceleration_error(positions, true_positions) * (count - 2)
            error += mpjpe(positions, true_positions) * count
            frames += count
            ratios.append(move_speed(result).max() / move_speed(truth).max())
            lags.append(lag(result, truth))
            contacts = footlock.detect_contacts(footlock.foot_points(true_positions), truth.fps)
            if contacts.any():
                slides.append(footlock.sliding_cm(footlock.foot_points(positions), contacts))
        accel_mean = accel / (frames - 2 * len(noisy_clips))
        raw_accel = accel_mean if name == "raw" else raw_accel
        reduction = 100.0 * (1.0 - accel_mean / raw_accel)
        lag_text = f"{min(lags)}..{max(lags)}"
        print(
            f"{name:34s} {accel_mean:11.2f} {reduction:8.1f}% {error / frames:8.1f} "
            f"{np.min(ratios):4.2f}-{np.max(ratios):4.2f} {lag_text:>6s} {np.mean(slides):8.2f}"
        )
    if per_clip:
        print("\nours per clip: fps, accel raw -> ours (reduction), MPJPE raw -> ours, peak speed ratio, lag")
        ours = methods()["ours (order 3, confidence)"]
        for (truth, noisy), name in zip(noisy_clips, clips, strict=True):
            result = ours(noisy)
            true_positions, noisy_positions = truth.joint_positions(), noisy.joint_positions()
            positions = result.joint_positions()
            before, after = (
                acceleration_error(noisy_positions, true_positions),
                acceleration_error(positions, true_positions),
            )
            ratio = move_speed(result).max() / move_speed(truth).max()
            print(
                f"  {name:15s} {truth.fps:4.0f} {before:6.1f} -> {after:5.1f} ({100 * (1 - after / before):5.1f}%)"
                f" {mpjpe(noisy_positions, true_positions):5.1f} -> {mpjpe(positions, true_positions):5.1f}"
                f" {ratio:5.2f} {lag(result, truth):+d}"
            )


def speed() -> None:
    """Time smoothing 3000 frames of one track (ours; a SmoothNet of the official pw3d shape)."""
    walk = load_track("walk", cycles=80)
    motion = add_jitter(walk, seed=1)
    count = 3000
    for key in ("frame_idx", "time", "R_root", "R_body", "camera", "betas", "trans", "confidence"):
        setattr(motion, key, getattr(motion, key)[:count])
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        smooth_motion(motion, SmoothingParameters())
        timings.append(time.perf_counter() - start)
    print(
        f"speed: ours, {count} frames of one track: median {np.median(timings) * 1000:.0f} ms (min {min(timings) * 1000:.0f})"
    )
    print(f"peak memory so far (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    import torch

    from SmoothNet.inference import smooth_rotations
    from SmoothNet.model import SmoothNet

    torch.set_num_threads(2)
    model = SmoothNet(32, 512, 16, 1).eval()
    start = time.perf_counter()
    smooth_rotations(model, motion.local_rotations())
    print(
        f"speed: SmoothNet W32 (pw3d shape), stride 1, {count} frames: {(time.perf_counter() - start) * 1000:.0f} ms"
    )
    print(
        f"peak memory (max RSS of this process): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--skip-measure", action="store_true", help="skip re-measuring the pose model's jitter"
    )
    arguments = parser.parse_args()
    speed()
    accuracy(TUNING_CLIPS, "tuning clips (constants chosen here)", per_clip=False)
    accuracy(HELD_OUT_CLIPS, "held-out clips (never tuned on)", per_clip=True)
    if not arguments.skip_measure:
        print()
        measure_pose_model_jitter()
        real_clips()


if __name__ == "__main__":
    main()
