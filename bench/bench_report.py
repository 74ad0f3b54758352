"""Report: the cost of the preview (video, poster, thumbnails) and plots against the whole job's time.

Runs every pipeline step in this process on the sample clip and on a 60 s 1080p clip made by looping
the sample (forwards and backwards, so the motion has no jump) onto a 1920x1080 canvas, then times
the report's files alone. The preview's frames are kept by the tracking step (mocapd/report/proxy.py):
that copy's cost, measured in the decoding thread that makes it, is counted in the preview's, in
CPU and in wall time (in full, though it runs beside the pose model). Prints wall and CPU seconds
per step, the preview's share of the job (target <= 10 %; the CPU share is the one to read on a
shared machine, where wall times follow the neighbours' load), the preview's size, and peak memory.
Run: .venv/bin/python bench/bench_report.py [--seconds 60] [--skip-long] [--cache DIR]
(--cache keeps the long clip, which takes a minute or two to make, between runs).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mocapd import states  # noqa: E402
from mocapd.config import load  # noqa: E402
from mocapd.job import Job, VideoInfo  # noqa: E402
from mocapd.options import JobOptions  # noqa: E402
from mocapd.steps import load_stage  # noqa: E402

SAMPLE = REPO / "examples" / "sample.mp4"


def long_clip(path: Path, seconds: float, fps: float = 30.0) -> Path:
    """The sample looped forwards and backwards to `seconds` at `fps`, centred on a 1920x1080 frame."""
    with av.open(str(SAMPLE)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    frames = frames[::2]  # 60 fps -> 30 fps
    loop = frames + frames[-2:0:-1]
    height = 1080
    with av.open(str(path), mode="w") as output:
        stream = output.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "20"}
        canvas = np.full((height, 1920, 3), 90, dtype=np.uint8)
        for index in range(int(seconds * fps)):
            image = loop[index % len(loop)]
            width = round(image.shape[1] * height / image.shape[0])
            left = (1920 - width) // 2
            canvas[:, left : left + width] = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path


def cpu_seconds() -> float:
    """CPU seconds of this process (all threads) and its finished children (Blender)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb(reset: bool = False) -> float:
    """This process's peak resident memory since the last reset (Linux: VmHWM, reset via clear_refs)."""
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_job(video: Path, folder: Path) -> dict[str, float]:
    """Every step of the pipeline in this process; seconds per step, and the report's files alone."""
    config = load(overrides={"state_dir": str(folder / "state"), "outbox": str(folder / "outbox")})
    work = folder / "state" / "jobs" / "1"
    (work / "input").mkdir(parents=True)
    (work / "input" / video.name).symlink_to(video.resolve())
    job = Job(
        id=1, name=video.stem, work_dir=work, source_name=video.name, options=JobOptions(), config=config
    )
    timings: dict[str, float] = {}
    for step in states.STEPS:
        if step == states.PACKAGING:
            timings["rss before packaging MB"] = peak_rss_mb(reset=True)
        started, cpu_started = time.perf_counter(), cpu_seconds()
        outcome = load_stage(step)(job)
        timings[f"{step} peak MB"] = peak_rss_mb()
        timings[step] = time.perf_counter() - started
        timings[f"{step} cpu"] = cpu_seconds() - cpu_started
        if step == states.VIDEO_UPLOAD:
            job.video_info = VideoInfo(**outcome.data["video"])
        if step == states.TRACKING:
            kept = outcome.data.get("preview_frames") or {}
            timings["kept frames cpu"] = float(kept.get("cpu_seconds", 0.0))
            timings["kept frames"] = float(kept.get("seconds", 0.0))
            timings["kept frames MB"] = float(kept.get("bytes", 0)) / 1e6
        if step == states.TRACK_EXTRACTION:
            job.selected_tracks = [int(tid) for tid in outcome.data["selected"]]
    report = outcome.data.get("report", {})
    timings["report files"] = float(report.get("seconds", float("nan")))
    timings["report files cpu"] = float(report.get("cpu_seconds", float("nan")))
    timings["preview video"] = float(report.get("preview_seconds", float("nan")))
    timings["preview from"] = 1.0 if report.get("frames_from") == "tracking" else 0.0
    preview = job.package_dir / str(report.get("video", "preview/preview.mp4"))
    timings["preview MB"] = preview.stat().st_size / 1e6 if preview.exists() else float("nan")
    assert job.video_info is not None
    timings["clip s"] = job.video_info.duration
    return timings


def shares(timings: dict[str, float]) -> tuple[float, float]:
    """The preview's share of the job: (wall, CPU)."""
    job = sum(timings[step] for step in states.STEPS)
    job_cpu = sum(timings[f"{step} cpu"] for step in states.STEPS)
    wall = timings["report files"] + timings["kept frames"]
    cpu = timings["report files cpu"] + timings["kept frames cpu"]
    return wall / job, cpu / job_cpu


def show(label: str, timings: dict[str, float]) -> None:
    job = sum(timings[step] for step in states.STEPS)
    job_cpu = sum(timings[f"{step} cpu"] for step in states.STEPS)
    print(f"\n{label}: {timings['clip s']:.1f} s of video")
    print(f"  {'step':<18} {'wall':>8} {'cpu':>8}")
    for step in states.STEPS:
        print(f"  {step:<18} {timings[step]:7.2f}s {timings[f'{step} cpu']:7.2f}s")
    print(f"  {'job (all steps)':<18} {job:7.2f}s {job_cpu:7.2f}s")
    source = "the tracking step's copy" if timings["preview from"] else "the source decoded again"
    print(f"  preview drawn on {source}")
    print(
        f"  frames kept in tracking:         {timings['kept frames']:6.2f} s wall {timings['kept frames cpu']:6.2f} s cpu"
        f"  ({timings['kept frames MB']:.1f} MB, removed once the preview is written)"
    )
    print(f"  preview video (with loading the motion): {timings['preview video']:6.2f} s wall")
    print(
        f"  preview + plots + thumbnails:    {timings['report files']:6.2f} s wall {timings['report files cpu']:6.2f} s cpu"
    )
    wall = timings["report files"] + timings["kept frames"]
    cpu = timings["report files cpu"] + timings["kept frames cpu"]
    print(f"  preview's cost / job, wall: {wall:.2f} / {job:.2f} s = {wall / job:.1%} (target <= 10 %)")
    # The copy runs in the decoding thread beside the pose model: on a loaded machine its wall time is
    # mostly waiting for a core, which a free core would not add to the job.
    beside = timings["report files"] + timings["kept frames cpu"]
    print(
        f"  the same with the kept frames at their CPU time (a free core): {beside:.2f} / {job:.2f} s = "
        f"{beside / job:.1%}"
    )
    print(
        f"  preview's cost / job, CPU:  {cpu:.2f} / {job_cpu:.2f} s = {cpu / job_cpu:.1%} "
        "(target <= 10 %; the ratio to read on a shared machine)"
    )
    print(
        f"  preview: {timings['preview MB']:.2f} MB, {timings['preview MB'] * 8 / timings['clip s']:.2f} Mbit/s"
    )
    print(
        f"  peak memory while packaging (preview, plots): {timings[f'{states.PACKAGING} peak MB']:.0f} MB "
        f"(from {timings['rss before packaging MB']:.0f} MB before it)"
    )


def compare_copy(clip: Path, folder: Path, with_copy: dict[str, float]) -> None:
    """The same job without the copy (the preview decodes the source): the copy's real cost in wall time.

    The copy is made in the decoding thread while the pose model runs, so its own wall time (the
    "frames kept" line) overlaps the model's; the job's wall with and without it is what it costs."""
    from mocapd.report import preview

    original = preview.frame_keeper
    preview.frame_keeper = lambda job: None  # type: ignore[assignment]
    try:
        without = run_job(clip, folder)
    finally:
        preview.frame_keeper = original
    job_steps = [step for step in states.STEPS if step in without]
    wall_with = sum(with_copy[step] for step in job_steps)
    wall_without = sum(without[step] for step in job_steps)
    added = with_copy[states.TRACKING] - without[states.TRACKING]
    marginal = with_copy[states.PACKAGING] + max(
        added, 0.0
    )  # a faster run with the copy is noise, not a gain
    print(
        f"  without the copy: tracking {without[states.TRACKING]:.2f} s wall (with it {with_copy[states.TRACKING]:.2f} s: "
        f"{added:+.2f} s), packaging {without[states.PACKAGING]:.2f} s (with it {with_copy[states.PACKAGING]:.2f} s), "
        f"job {wall_without:.2f} s (with it {wall_with:.2f} s)"
    )
    print(
        f"  preview's cost / job, wall, with the copy at what it adds to tracking's wall: "
        f"{marginal:.2f} / {wall_with:.2f} s = {marginal / wall_with:.1%} (packaging includes the zip and copy)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--skip-long", action="store_true")
    parser.add_argument("--cache", type=Path, help="keep the long clip here between runs")
    parser.add_argument(
        "--runs", type=int, default=3, help="jobs on the sample clip (its short steps vary with the load)"
    )
    parser.add_argument(
        "--compare-copy",
        action="store_true",
        help="run the long clip again without the tracking step's copy: what the copy adds to the job's wall",
    )
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        runs = [run_job(SAMPLE, root / f"sample-{run}") for run in range(max(1, arguments.runs))]
        # The run with the median CPU share is shown; every run's shares are listed in order (the
        # first pays the imports and first calls that the daemon's step processes pay on every job).
        show(
            "sample clip (1080x1920, 60 fps), median run",
            sorted(runs, key=lambda t: shares(t)[1])[len(runs) // 2],
        )
        listed = ", ".join(f"{wall:.1%} wall {cpu:.1%} CPU" for wall, cpu in map(shares, runs))
        print(f"  every run's preview share, first (cold) run first: {listed}")
        if not arguments.skip_long:
            started = time.perf_counter()
            folder = arguments.cache or root
            folder.mkdir(parents=True, exist_ok=True)
            clip = folder / f"long-{arguments.seconds:g}s.mp4"
            if not clip.exists():
                long_clip(folder / "long.partial.mp4", arguments.seconds).replace(clip)
                print(
                    f"\n(made the {arguments.seconds:g} s 1920x1080 clip in {time.perf_counter() - started:.1f} s)"
                )
            with_copy = run_job(clip, root / "long")
            show(f"{arguments.seconds:g} s 1920x1080 30 fps clip (the sample looped)", with_copy)
            if arguments.compare_copy:
                compare_copy(clip, root / "long-without-copy", with_copy)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeak memory: {peak:.0f} MB (this process), {children:.0f} MB (largest child: Blender)")


if __name__ == "__main__":
    main()
