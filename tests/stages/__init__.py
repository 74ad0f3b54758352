"""Test stages for the runner and the daemon: each step does what a JSON script says.

The script is state_dir/test-stages.json (read at each step, so a test may change it), and a test
chooses per step: ok (write small stand-in files), real (the shipped stage), block (until a file
appears), fill (write N bytes: a full disk), crash, kill, hang, transient, fail, error. Counters in
the script's counter_dir record each start and end, which proves a step ran once.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mocapd.errors import JobError, TransientError
from mocapd.job import Job, StepOutcome
from mocapd.motion.extraction import TrackSummary, select

SCRIPT_NAME = "test-stages.json"
VIDEO = {"width": 64, "height": 48, "fps": 25.0, "duration": 1.0, "frame_count": 25, "codec": "h264"}


def script(job: Job) -> dict[str, Any]:
    path = job.config.state_path / SCRIPT_NAME
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_script(state_dir: Path, steps: dict[str, dict[str, Any]], counter_dir: Path | None = None) -> None:
    """Write the script the stages follow in the daemon's state dir."""
    state_dir.mkdir(parents=True, exist_ok=True)
    data = {"steps": steps, "counter_dir": str(counter_dir) if counter_dir else None}
    staging = state_dir / f".{SCRIPT_NAME}.tmp"
    staging.write_text(json.dumps(data), encoding="utf-8")
    staging.replace(state_dir / SCRIPT_NAME)


def counted(counter_dir: Path, step: str, event: str) -> list[int]:
    """Job ids of the `event` lines (start, end) of a step's counter file."""
    path = counter_dir / f"{step}.log"
    if not path.exists():
        return []
    return [int(line.split()[1]) for line in path.read_text().splitlines() if line.startswith(event + " ")]


def count(counter_dir: str | None, step: str, event: str, job: Job) -> int:
    """Append `event job-id` to the step's counter file; the number of such events for this job so far."""
    if not counter_dir:
        return 0
    path = Path(counter_dir) / f"{step}.log"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{event} {job.id}\n")
    return sum(1 for line in path.read_text().splitlines() if line == f"{event} {job.id}")


def fake_result(job: Job) -> bytes:
    """The stand-in animation file: a header naming what was asked, padding, and an end marker."""
    header = (
        f"FAKE-FBX job={job.id} tracks={job.selected_tracks} preset={job.options.skeleton_preset}"
        f" host={job.config.host_name}\n"
    )
    return header.encode() + b"x" * 4096 + b"\nEND\n"


def default(step: str, job: Job) -> StepOutcome:
    if step == "video_upload":
        return StepOutcome(data={"video": VIDEO})
    if step == "tracking":
        job.tracklets_path.write_bytes(b"tracklets")
        return StepOutcome(data={"backend": "test", "backend_reason": "test stages"})
    if step == "track_extraction":
        # Two people; the shipped selection picks among them by the job's options.
        summaries = [TrackSummary(1, 25, 1.0, 0, 24), TrackSummary(2, 20, 0.8, 5, 24)]
        selected = select(summaries, job.options)
        job.tracks_dir.mkdir(parents=True, exist_ok=True)
        for tid in selected:
            job.track_path(tid).write_bytes(b"track")
        shares = {1: 0.96, 2: 0.5}
        tracks = [
            summary.to_dict()
            | {"selected": summary.tid in selected, "quality": {"detected_share": shares[summary.tid]}}
            for summary in summaries
        ]
        return StepOutcome(data={"tracks": tracks, "selected": selected})
    if step == "smoothing":
        job.smoothed_dir.mkdir(parents=True, exist_ok=True)
        for tid in job.selected_tracks:
            job.smoothed_path(tid).write_bytes(b"smoothed")
        jitter = {str(tid): {"before": 2.0, "after": 0.5} for tid in job.selected_tracks}
        return StepOutcome(data={"method": "test", "jitter": jitter})
    if step == "fbx_export":
        job.export_dir.mkdir(parents=True, exist_ok=True)
        (job.export_dir / "animation_track1.fbx").write_bytes(fake_result(job))
        return StepOutcome(data={"files": ["animation_track1.fbx"]})
    if step == "packaging":
        job.package_dir.mkdir(parents=True, exist_ok=True)
        staging = job.package_dir / ".animation.fbx.partial"
        staging.write_bytes((job.export_dir / "animation_track1.fbx").read_bytes())
        staging.replace(job.package_dir / "animation.fbx")
        return StepOutcome(data={"result": "animation.fbx"})
    raise KeyError(step)


def perform(step: str, job: Job) -> StepOutcome:
    """Run `step` as the script says."""
    plan = script(job)
    counter_dir = plan.get("counter_dir")
    behaviour: dict[str, Any] = plan.get("steps", {}).get(step, {})
    only = behaviour.get("only")
    action = behaviour.get("action", "ok") if only is None or only in job.source_name else "ok"
    starts = count(counter_dir, step, "start", job)
    if counter_dir:
        (Path(counter_dir) / f"{step}.pid").write_text(str(os.getpid()))
    if action == "real":
        module = importlib.import_module(f"mocapd.steps.{step}")
        outcome: StepOutcome = module.run(job)
    elif action == "block":
        release = Path(behaviour["release"])
        while not release.exists():
            job.report_progress(step, 0.5, "waiting for the test")
            time.sleep(0.02)
        outcome = default(step, job)
    elif action == "fill":
        # Write `bytes` bytes into the job folder for real: on a small tmpfs this runs out of space.
        with open(job.work_dir / "filler.bin", "wb") as handle:
            for _ in range(int(behaviour["bytes"]) // 65536):
                handle.write(b"\0" * 65536)
            handle.flush()
            os.fsync(handle.fileno())
        outcome = default(step, job)
    elif action == "crash":
        os._exit(7)
    elif action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "hang":
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        if counter_dir:
            (Path(counter_dir) / f"{step}.grandchild").write_text(str(grandchild.pid))
        time.sleep(600)
    elif action == "transient" and starts <= int(behaviour.get("times", 1)):
        raise TransientError(behaviour.get("message", "the GPU is busy"))
    elif action == "fail":
        raise JobError(behaviour.get("message", "the test stage refused"))
    elif action == "error":
        raise ValueError("a bug in the stage")
    else:
        outcome = default(step, job)
    job.report_progress(step, 1.0, "done")
    count(counter_dir, step, "end", job)
    return outcome
