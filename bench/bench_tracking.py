"""Speed and memory of the embedded tracking step (decode + pose model + tracker + IK + tracklets).

Clips are made at bench time from examples/sample.mp4 (the Pose2Sim single-person view, 1080x1920
portrait, 60 fps, 100 frames):
  - speed: the sample letterboxed into a 1280x720 landscape frame (the person scaled to 720 px high,
    black bars left and right), looped to 600 frames at 60 fps (10 s: the step's start-up, about 0.3 s
    for two landmarkers, weighs on a 1.7 s clip as it would not on a take);
  - memory: the same frames looped into a 2-minute clip at 30 fps and 640x360 (3600 frames), so the
    bench stays short; run in a child process so its peak RSS is its own.
  - two people: the Pose2Sim MultiPerson cam01 view (1088x1920 portrait read at 1280 px, 60 fps, 100 frames).
Printed, with the default limits.max_inference_fps cap (every 2nd frame of the 60 fps clip posed) and
with the cap off (every frame): tracking wall time / clip duration (goal <= 1.0 on 2 cores), tracking
milliseconds per posed frame, pure pose-model time (one landmarker looking for MAX_PEOPLE on every
frame, as before the scout) / clip duration, tracking time / that model time on the same frames; the
decoding time of the clip with and without the cap; for the two-person clip the frames where both are
tracked; then tracemalloc peak and max RSS.

Run: .venv/bin/python bench/bench_tracking.py [--minutes 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mocapd.backends.embedded import posemodel  # noqa: E402
from mocapd.backends.embedded.posefinder import MAX_PEOPLE  # noqa: E402
from mocapd.backends.embedded.tracking import track_video  # noqa: E402
from mocapd.config import Config, LimitSettings  # noqa: E402
from mocapd.decode import iter_frames  # noqa: E402
from mocapd.job import Job, VideoInfo  # noqa: E402
from mocapd.options import JobOptions  # noqa: E402
from mocapd.service.stepchild import limit_malloc_arenas  # noqa: E402
from tests.videofiles import write_frames  # noqa: E402

SAMPLE = REPO / "examples" / "sample.mp4"
SPEED_FRAMES = 600
TWO_PEOPLE = REPO / "tests" / "data" / "pose2sim" / "MultiPerson" / "videos" / "cam01.mp4"


def letterboxed_frames(width: int, height: int) -> list[np.ndarray]:
    """The sample's frames scaled to fit `height` and centred on a black width x height canvas."""
    frames = []
    for frame in iter_frames(SAMPLE, max_resolution=4096):
        image = frame.image
        scale = height / image.shape[0]
        resized = cv2.resize(
            image, (int(round(image.shape[1] * scale)) // 2 * 2, height), interpolation=cv2.INTER_AREA
        )
        canvas = np.zeros((height, width, 3), dtype=np.uint8)
        left = (width - resized.shape[1]) // 2
        canvas[:, left : left + resized.shape[1]] = resized
        frames.append(canvas)
    return frames


def write_clip(path: Path, frames: list[np.ndarray], rate: int, count: int) -> Path:
    """`count` frames looped forwards then backwards (no jump at the seam) as an mp4."""
    period = 2 * len(frames) - 2
    images = (
        frames[index % period if index % period < len(frames) else period - index % period]
        for index in range(count)
    )
    return write_frames(path, images, rate=rate, options={"preset": "veryfast"})


def make_job(
    root: Path,
    video: Path,
    rate: float,
    count: int,
    max_resolution: int = 1280,
    max_inference_fps: float = LimitSettings.max_inference_fps,
    attempt: int = 0,
) -> Job:
    work = root / f"job_{video.stem}_{max_inference_fps:g}_{attempt}"
    (work / "input").mkdir(parents=True)
    shutil.copy(video, work / "input" / video.name)
    config = Config(state_dir=str(root / "state"))
    config.limits.max_resolution = max_resolution
    config.limits.max_inference_fps = max_inference_fps
    job = Job(1, video.stem, work, video.name, JobOptions(), config)
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        job.video_info = VideoInfo(stream.width, stream.height, rate, count / rate, count, "h264")
    return job


def decoding_only(video: Path, max_rate: float) -> float:
    """Seconds decoding the clip takes (frames the cap skips are decoded but not converted)."""
    started = time.perf_counter()
    for _ in iter_frames(video, max_resolution=1280, max_rate=max_rate):
        pass
    return time.perf_counter() - started


def inference_only(video: Path, state: Path, max_rate: float) -> float:
    """Seconds the pose model alone takes on the frames the tracking step poses (decoded beforehand)."""
    frames = list(iter_frames(video, max_resolution=1280, max_rate=max_rate))
    import mediapipe

    landmarker = posemodel.create_landmarker(MAX_PEOPLE, cache_dir=state / "models")
    try:
        started = time.perf_counter()
        for frame in frames:
            landmarker.detect_for_video(
                mediapipe.Image(image_format=mediapipe.ImageFormat.SRGB, data=frame.image),
                int(round(frame.time * 1000)),
            )
        return time.perf_counter() - started
    finally:
        landmarker.close()


def tracked_frames(job: Job, people: int) -> int:
    """Posed frames of the job's tracklets with at least `people` people."""
    import joblib

    return sum(1 for entry in joblib.load(job.tracklets_path).values() if len(entry["tid"]) >= people)


def speed_run(
    root: Path, video: Path, label: str, frame_count: int, rate: int, people: int, repeats: int = 1
) -> None:
    """Print the tracking step's speed on `video` with the default cap and with every frame posed.

    With repeats > 1 the capped run alternates tracking and pure inference that many times and prints
    the median and range of each ratio: this machine's speed drifts by tens of percent from minute to minute.
    """
    duration = frame_count / rate
    default_cap = LimitSettings.max_inference_fps
    print(f"{label}, {frame_count} frames at {rate} fps ({duration:.2f} s)")
    for cap, name, times in (
        (default_cap, f"default cap {default_cap:g} fps", repeats),
        (0.0, "cap off, every frame", 1),
    ):
        decoding = decoding_only(video, cap)
        trackings, inferences = [], []
        for attempt in range(times):
            inferences.append(inference_only(video, root / "state", cap))
            job = make_job(root, video, rate, frame_count, max_inference_fps=cap, attempt=attempt)
            started = time.perf_counter()
            outcome = track_video(job)
            trackings.append(time.perf_counter() - started)
        tracking, inference = float(np.median(trackings)), float(np.median(inferences))
        posed = outcome.data["frames"]
        print(f"  {name}: {posed} frames posed, {tracked_frames(job, people)} with {people} people tracked")
        print(
            f"    tracking step {tracking:.2f} s ({frame_count / tracking:.1f} video frames/s, "
            f"{1000 * tracking / posed:.0f} ms/posed frame), pure inference {inference:.2f} s "
            f"({1000 * inference / posed:.0f} ms/posed frame), decoding {decoding:.2f} s"
            + (f"; medians of {times} runs" if times > 1 else "")
        )
        ratios = np.array(trackings) / duration
        spread = f" (runs {ratios.min():.2f}-{ratios.max():.2f})" if times > 1 else ""
        print(f"    tracking time / clip duration: {tracking / duration:.2f}{spread} (goal <= 1.0)")
        print(f"    pose model time / clip duration: {inference / duration:.2f}")
        paired = np.array(trackings) / np.array(inferences)
        spread = f" (runs {paired.min():.2f}-{paired.max():.2f})" if times > 1 else ""
        print(f"    tracking time / inference time: {np.median(paired):.2f}{spread}")


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; getrusage's ru_maxrss keeps the parent's across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_run(video: Path, rate: int, count: int) -> None:
    """Child process: track the long clip and print its memory figures as JSON."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        job = make_job(root, video, rate, count)
        posemodel.ensure_task_file(root / "state" / "models")
        limit_malloc_arenas()  # as in the daemon's step processes
        baseline_rss = peak_rss_mb()
        tracemalloc.start()
        started = time.perf_counter()
        track_video(job)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        result = {
            "seconds": elapsed,
            "tracemalloc_peak_mb": peak / 2**20,
            "max_rss_mb": peak_rss_mb(),
            "rss_before_mb": baseline_rss,
            "tracklets_mb": job.tracklets_path.stat().st_size / 2**20,
        }
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="length of the memory clip")
    parser.add_argument("--memory-child", nargs=3, metavar=("VIDEO", "RATE", "COUNT"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.memory_child:
        video, rate, count = arguments.memory_child
        memory_run(Path(video), int(rate), int(count))
        return
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        frames = letterboxed_frames(1280, 720)
        video = write_clip(root / "sample_720p.mp4", frames, 60, SPEED_FRAMES)
        posemodel.ensure_task_file(root / "state" / "models")
        speed_run(
            root,
            video,
            "720p clip: 1280x720 letterboxed sample looped, one person",
            SPEED_FRAMES,
            60,
            1,
            repeats=3,
        )
        speed_run(
            root, TWO_PEOPLE, "two-person clip: MultiPerson cam01, 1088x1920 read at 1280 px", 100, 60, 2
        )
    rate, width, height = 30, 640, 360
    count = int(round(arguments.minutes * 60 * rate))
    small = letterboxed_frames(width, height)
    # A quarter-length clip beside the full one: what grows with length shows in the difference.
    for frames_in_clip in (count // 4, count):
        with tempfile.TemporaryDirectory() as folder:
            long_video = write_clip(Path(folder) / "long.mp4", small, rate, frames_in_clip)
            child = subprocess.run(
                [sys.executable, __file__, "--memory-child", str(long_video), str(rate), str(frames_in_clip)],
                capture_output=True,
                text=True,
                check=True,
            )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        duration = frames_in_clip / rate
        print(
            f"{duration / 60:g}-minute clip (looped sample, 640x360, 30 fps, {frames_in_clip} frames): "
            f"tracking {figures['seconds']:.1f} s = {figures['seconds'] / duration:.2f} x real time "
            "(tracemalloc tracing every allocation slows it)"
        )
        print(
            f"  tracemalloc peak {figures['tracemalloc_peak_mb']:.1f} MB, max RSS {figures['max_rss_mb']:.0f} MB "
            f"(RSS {figures['rss_before_mb']:.0f} MB before tracking), tracklets file {figures['tracklets_mb']:.1f} MB"
        )


if __name__ == "__main__":
    main()
