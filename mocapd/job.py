"""The typed job object that every pipeline stage receives, and the fixed layout of a job's folder.

Stages are plain functions `stage(job: Job) -> StepOutcome`; they talk to each other only through
the files named here, so a step can run in a child process and be resumed after a crash.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mocapd.config import Config
from mocapd.options import JobOptions


@dataclass
class VideoInfo:
    """What the probe found in the source video."""

    width: int
    height: int
    fps: float
    duration: float
    frame_count: int
    codec: str
    rotation: int = 0  # display rotation in degrees (phone videos)
    focal_length_px: float | None = None  # from metadata where present


@dataclass
class StepOutcome:
    """What a step reports back: warnings for the report and JSON-ready figures stored on the job."""

    warnings: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    """One job as the pipeline sees it."""

    id: int
    name: str  # output name: outbox/<name>/
    work_dir: Path  # state_dir/jobs/<id>/
    source_name: str  # the video's file name as dropped
    options: JobOptions
    config: Config
    video_info: VideoInfo | None = None
    backend: str = ""  # the tracking backend that ran, e.g. "mediapipe"
    selected_tracks: list[int] = field(default_factory=list)

    # The job folder's layout: one place for each file name.
    @property
    def video_path(self) -> Path:
        return self.work_dir / "input" / self.source_name

    @property
    def tracklets_path(self) -> Path:
        return self.work_dir / "tracklets.pkl"

    @property
    def visualization_path(self) -> Path:
        return self.work_dir / "visualization.mp4"

    @property
    def tracks_dir(self) -> Path:
        return self.work_dir / "tracks"

    def track_path(self, tid: int) -> Path:
        return self.tracks_dir / f"track_{tid}.npz"

    @property
    def smoothed_dir(self) -> Path:
        return self.work_dir / "smoothed"

    def smoothed_path(self, tid: int) -> Path:
        return self.smoothed_dir / f"track_{tid}.npz"

    def motion_path(self, tid: int) -> Path:
        """The motion the exporter reads: smoothed where smoothing ran, else the raw track."""
        smoothed = self.smoothed_path(tid)
        return smoothed if smoothed.exists() else self.track_path(tid)

    @property
    def export_dir(self) -> Path:
        return self.work_dir / "export"

    @property
    def package_dir(self) -> Path:
        return self.work_dir / "package"

    @property
    def logs_dir(self) -> Path:
        return self.work_dir / "logs"

    def log_path(self, step: str) -> Path:
        return self.logs_dir / f"{step}.log"

    def progress_path(self, step: str) -> Path:
        return self.work_dir / "progress" / f"{step}.json"

    def report_progress(self, step: str, fraction: float, message: str = "") -> None:
        """Record a step's progress (0..1) in a small file the daemon reads; atomic replace."""
        path = self.progress_path(step)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{os.getpid()}")
        staging.write_text(
            json.dumps({"fraction": max(0.0, min(1.0, fraction)), "message": message, "time": time.time()})
        )
        staging.replace(path)
