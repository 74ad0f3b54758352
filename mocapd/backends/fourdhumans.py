"""4D-Humans (HMR 2.0 + PHALP) as a child process in its own Python environment.

The tracking step gives it the job's video as mp4 (PHALP reads nothing else), a work folder inside
the job, an end frame past the clip's last frame (its default, 1300, silently drops the rest), the
configured GPU, and a timeout; it follows its progress output and stops its whole process group on
timeout. Its results pkl is checked and copied to job.tracklets_path unchanged: reading it is
mocapd.motion.tracklets' job. CUDA out-of-memory is a TransientError (the job is retried later).
"""

from __future__ import annotations

import collections
import ctypes
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av

from mocapd.config import FourDHumansSettings
from mocapd.errors import JobError, TransientError
from mocapd.job import Job, StepOutcome
from mocapd.motion import tracklets

SCRIPT_NAME = "track.py"
WORK_FOLDER = "4dhumans"  # inside the job's folder
INPUT_STEM = "clip"  # PHALP names its outputs after the video's file name
# PHALP writes results/demo_<video name>.pkl (track_dataset "demo").
RESULTS_NAME = f"results/demo_{INPUT_STEM}.pkl"
# Video codecs an mp4 can carry as they are (remuxed); anything else is re-encoded to H.264.
REMUXABLE_CODECS = ("h264", "hevc", "mpeg4", "av1", "vp9")
TRANSCODE_CODEC = "libx264"
# end_frame: the probe's frame count may be an estimate; leave a wide margin past it.
END_FRAME_MARGIN = 1000
# After SIGTERM the process group has this long to exit before SIGKILL.
TERMINATE_GRACE_S = 10.0
# The step's own deadline is this much shorter than the runner's, to stop the child cleanly first.
TIMEOUT_MARGIN_FRACTION = 0.05
TAIL_LINES = 40
OUT_OF_MEMORY_PATTERN = re.compile(
    r"CUDA out of memory|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED", re.IGNORECASE
)
# Progress: PHALP's rich bar ("Tracking : clip ━━━━ 45% 0:00:12") and tqdm-style "45/100 [".
RICH_PROGRESS_PATTERN = re.compile(r"Tracking\b.*?(\d{1,3})%")
COUNT_PROGRESS_PATTERN = re.compile(r"(\d+)/(\d+)\s*\[")
ANSI_PATTERN = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def installation_problem(settings: FourDHumansSettings) -> str | None:
    """Why the configured 4D-Humans cannot run, or None when interpreter and checkout are there."""
    if not settings.python or not settings.checkout:
        return "fourdhumans.python and fourdhumans.checkout are not both set"
    python = Path(settings.python)
    if not python.is_file() or not os.access(python, os.X_OK):
        return f"fourdhumans.python {python} is not an executable file"
    script = Path(settings.checkout) / SCRIPT_NAME
    if not script.is_file():
        return f"{script} does not exist (fourdhumans.checkout must be the 4D-Humans checkout)"
    return None


def prepare_input(video: Path, folder: Path) -> Path:
    """The video as `folder/clip.mp4`: linked when it is an mp4, else remuxed (or re-encoded) with PyAV."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{INPUT_STEM}.mp4"
    target.unlink(missing_ok=True)
    if video.suffix.lower() == ".mp4":
        try:
            os.link(video, target)
        except OSError:
            shutil.copyfile(video, target)
        return target
    staging = folder / f".{INPUT_STEM}.partial.mp4"
    try:
        _convert_to_mp4(video, staging)
    except (av.FFmpegError, OSError, ValueError) as error:
        staging.unlink(missing_ok=True)
        raise JobError(f"cannot convert {video.name} to mp4 for 4D-Humans: {error}") from error
    staging.replace(target)
    return target


def _convert_to_mp4(video: Path, target: Path) -> None:
    with av.open(str(video)) as source:
        if not source.streams.video:
            raise ValueError("no video stream")
        stream = source.streams.video[0]
        with av.open(str(target), "w", format="mp4") as output:
            if stream.codec_context.name in REMUXABLE_CODECS:
                copied = output.add_stream_from_template(stream)
                for packet in source.demux(stream):
                    if not packet.size:  # the demuxer's final flush packet
                        continue
                    packet.stream = copied
                    output.mux(packet)
                return
            encoded = output.add_stream(TRANSCODE_CODEC, rate=stream.average_rate or 30)
            assert isinstance(encoded, av.VideoStream)
            encoded.width = stream.codec_context.width
            encoded.height = stream.codec_context.height
            encoded.pix_fmt = "yuv420p"
            for frame in source.decode(stream):
                output.mux(encoded.encode(frame.reformat(format="yuv420p")))
            output.mux(encoded.encode(None))


def _hydra_value(text: str) -> str:
    """A Hydra override value, quoted so that paths with spaces, commas or '=' pass through."""
    return "'" + text.replace("'", "\\'") + "'"


def build_command(
    settings: FourDHumansSettings, source: Path, output_dir: Path, end_frame: int, render: bool
) -> list[str]:
    """The command line of track.py for one clip."""
    return [
        settings.python,
        str(Path(settings.checkout) / SCRIPT_NAME),
        f"video.source={_hydra_value(str(source))}",
        f"video.output_dir={_hydra_value(str(output_dir))}",
        "video.start_frame=-1",
        f"video.end_frame={end_frame}",
        f"render.enable={'True' if render else 'False'}",
    ]


def parse_progress(line: str) -> float | None:
    """The fraction done that a line of 4D-Humans' output reports, if any."""
    match = RICH_PROGRESS_PATTERN.search(line)
    if match:
        return min(int(match.group(1)), 100) / 100.0
    match = COUNT_PROGRESS_PATTERN.search(line)
    if match and int(match.group(2)) > 0:
        return min(int(match.group(1)) / int(match.group(2)), 1.0)
    return None


@dataclass
class ProcessResult:
    """How the child process ended and what it said."""

    returncode: int | None  # None: stopped at the timeout
    tail: list[str]
    out_of_memory_line: str | None = None
    timed_out: bool = False
    lines: int = 0
    progress: list[float] = field(default_factory=list)


def _load_prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up in the parent (no dynamic loading between fork and exec)."""
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None


PRCTL = _load_prctl()
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: be killed if the step process dies, so no orphan keeps the GPU."""
    if PRCTL is not None:
        PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the child's process group, SIGKILL after a grace period."""
    for signal_number, wait_s in ((signal.SIGTERM, TERMINATE_GRACE_S), (signal.SIGKILL, TERMINATE_GRACE_S)):
        try:
            os.killpg(process.pid, signal_number)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            # The leader is gone; its group may still hold children: make sure they go too.
            os.killpg(process.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def run_process(
    command: list[str],
    cwd: Path,
    environment: dict[str, str],
    timeout_s: float,
    log_path: Path,
    on_progress: Callable[[float], None] | None = None,
) -> ProcessResult:
    """Run a command in its own process group, logging its output and following its progress."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    result = ProcessResult(returncode=None, tail=[])
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    except OSError as error:
        raise JobError(f"cannot start 4D-Humans ({command[0]}): {error.strerror or error}") from error

    def read_output() -> None:
        assert process.stdout is not None
        pending = ""
        previous = ""
        with open(log_path, "a", encoding="utf-8") as log:
            while True:
                chunk = process.stdout.read1(65536)  # type: ignore[attr-defined]
                if not chunk:
                    break
                pending += chunk.decode("utf-8", "replace")
                *lines, pending = re.split(r"[\r\n]", pending)
                for raw in lines:
                    line = ANSI_PATTERN.sub("", raw).rstrip()
                    if not line or line == previous:
                        continue
                    previous = line
                    result.lines += 1
                    log.write(line + "\n")
                    tail.append(line)
                    if result.out_of_memory_line is None and OUT_OF_MEMORY_PATTERN.search(line):
                        result.out_of_memory_line = line.strip()
                    fraction = parse_progress(line)
                    if fraction is not None:
                        result.progress.append(fraction)
                        if on_progress is not None:
                            on_progress(fraction)
            if pending.strip():
                tail.append(ANSI_PATTERN.sub("", pending).rstrip())
                log.write(tail[-1] + "\n")

    reader = threading.Thread(target=read_output, name="4dhumans-output", daemon=True)
    reader.start()
    try:
        result.returncode = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        result.timed_out = True
    finally:
        # On a timeout, an error or an interrupt, nothing of the child's group may outlive the step.
        _stop_group(process)
        reader.join(timeout=5.0)
        if process.stdout is not None:
            process.stdout.close()
    result.tail = list(tail)
    return result


def _last_lines(result: ProcessResult, count: int = 8) -> str:
    lines = [line for line in result.tail if line.strip()][-count:]
    return " | ".join(lines) if lines else "no output"


def interpret(result: ProcessResult, output_dir: Path, timeout_s: float, device: int) -> Path:
    """The results pkl of a finished run, or the error that says what went wrong."""
    results = output_dir / RESULTS_NAME
    if result.timed_out:
        raise TransientError(
            f"4D-Humans did not finish within {timeout_s:.0f} s (timeouts.tracking) and was stopped; "
            f"last output: {_last_lines(result, 3)}"
        )
    if result.out_of_memory_line is not None:
        raise TransientError(
            f"4D-Humans ran out of GPU memory on GPU {device} ({result.out_of_memory_line}); "
            "the job is retried later (free the GPU, or raise gpu.min_free_mb)"
        )
    partial = " (it left a partial results file, not used)" if results.exists() else ""
    if result.returncode is not None and result.returncode < 0:
        name = signal.Signals(-result.returncode).name
        raise JobError(f"4D-Humans was killed by {name}{partial}; last output: {_last_lines(result)}")
    if result.returncode:
        raise JobError(
            f"4D-Humans failed with exit status {result.returncode}{partial}; last output: {_last_lines(result)}"
        )
    if not results.is_file():
        # PHALP catches its own errors, prints them and exits 0: its last lines hold the reason.
        raise JobError(
            f"4D-Humans finished without writing {RESULTS_NAME}; last output: {_last_lines(result)}"
        )
    return results


def end_frame_for(job: Job) -> int:
    """An end frame past the clip's last frame."""
    frame_count = job.video_info.frame_count if job.video_info is not None else 0
    return max(frame_count, 0) * 2 + END_FRAME_MARGIN


def track(job: Job) -> StepOutcome:
    """Run 4D-Humans on the job's video and leave its tracklets at job.tracklets_path."""
    settings = job.config.fourdhumans
    problem = installation_problem(settings)
    if problem is not None:
        raise JobError(f"4D-Humans cannot run: {problem}")
    folder = job.work_dir / WORK_FOLDER
    output_dir = folder / "output"
    shutil.rmtree(folder, ignore_errors=True)  # a retry starts clean: no stale results are taken
    source = prepare_input(job.video_path, folder)
    render = job.options.keep_intermediate
    command = build_command(settings, source, output_dir, end_frame_for(job), render)
    environment = dict(os.environ)
    environment.update(
        CUDA_VISIBLE_DEVICES=str(job.config.gpu.device),
        PYTHONUNBUFFERED="1",
        # PHALP's progress bar (rich) draws only on a terminal; these make it write to our pipe.
        FORCE_COLOR="1",
        TTY_COMPATIBLE="1",
        COLUMNS="120",
    )
    timeout_s = job.config.timeouts.tracking * (1.0 - TIMEOUT_MARGIN_FRACTION)
    log_path = job.log_path("tracking")
    job.report_progress("tracking", 0.0, "4D-Humans starting")

    def on_progress(fraction: float) -> None:
        job.report_progress("tracking", 0.95 * fraction, f"4D-Humans tracking: {fraction:.0%}")

    result = run_process(command, folder, environment, timeout_s, log_path, on_progress)
    results = interpret(result, output_dir, timeout_s, job.config.gpu.device)
    try:
        loaded = tracklets.read(results)
    except JobError as error:
        raise JobError(
            f"4D-Humans wrote a results file that cannot be used (partial output?): {error}"
        ) from error
    warnings: list[str] = []
    expected = job.video_info.frame_count if job.video_info is not None else 0
    if expected and loaded.frame_count < expected - 1:
        warnings.append(f"4D-Humans covered {loaded.frame_count} of the video's {expected} frames")
    staging = job.tracklets_path.with_name(job.tracklets_path.name + ".partial")
    shutil.copyfile(results, staging)
    staging.replace(job.tracklets_path)
    if render:
        rendered = sorted(output_dir.glob(f"PHALP_{INPUT_STEM}*.mp4"))
        if rendered:
            shutil.copyfile(rendered[0], job.visualization_path)
        else:
            warnings.append("4D-Humans wrote no visualisation video (PHALP_*.mp4)")
    if not job.options.keep_intermediate:
        shutil.rmtree(folder, ignore_errors=True)  # extracted frames: large, no longer needed
    job.report_progress("tracking", 1.0, "4D-Humans done")
    return StepOutcome(
        warnings=warnings,
        data={
            "frames": loaded.frame_count,
            "track_count": len(loaded.track_ids()),
            "gpu": job.config.gpu.device,
        },
    )
