"""Jobs for the tests: a job object over a folder, and a job row in a store."""

from __future__ import annotations

import time
from pathlib import Path

from mocapd import states
from mocapd.config import Config, load
from mocapd.job import Job, VideoInfo
from mocapd.options import JobOptions
from mocapd.store import Store


def folder_job(tmp_path: Path, frames: int, job_id: int = 1, **options: object) -> Job:
    """A job of a 1080p, 30 fps clip of `frames` frames, its work folder made under tmp_path."""
    job = Job(
        id=job_id,
        name="clip",
        work_dir=tmp_path / "job",
        source_name="clip.mp4",
        options=JobOptions(**options),  # type: ignore[arg-type]
        config=Config(),
        video_info=VideoInfo(
            width=1920, height=1080, fps=30.0, duration=frames / 30, frame_count=frames, codec="h264"
        ),
    )
    job.work_dir.mkdir(parents=True)
    return job


def folders_config(tmp_path: Path) -> Config:
    """The configuration with state, outbox and inbox under tmp_path."""
    return load(
        overrides={
            "state_dir": str(tmp_path / "state"),
            "outbox": str(tmp_path / "outbox"),
            "inbox": str(tmp_path / "inbox"),
        }
    )


def ingested_job(store: Store, name: str, options: dict | None = None) -> int:
    """A job row as after ingest, named `name`, with these options."""
    job_id, _ = store.create_job(f"{name}|1", f"in/{name}.mp4", {}, time.time())
    store.mark_ingested(job_id, name, options or {})
    return job_id


def running_job(store: Store, name: str, now: float) -> int:
    """An ingested job a minute into its run: its video checked in 2 s, tracking under way for 58 s."""
    job_id = ingested_job(store, name)
    store.update_job(
        job_id, state=states.PROCESSING, current_step=states.TRACKING, progress=0.5, started=now - 60
    )
    store.update_step(job_id, states.VIDEO_UPLOAD, status=states.DONE, started=now - 60, duration=2.0)
    store.update_step(job_id, states.TRACKING, status=states.RUNNING, started=now - 58)
    return job_id
