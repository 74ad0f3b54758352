"""Step 1 on a real job folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mocapd.config import Config, LimitSettings
from mocapd.errors import JobError
from mocapd.job import Job
from mocapd.options import JobOptions
from mocapd.steps import load_stage
from tests.videofiles import SAMPLE_CLIP, write_truncated


def make_job(tmp_path: Path, source_name: str, config: Config | None = None) -> Job:
    work_dir = tmp_path / "jobs" / "1"
    (work_dir / "input").mkdir(parents=True)
    return Job(1, "clip", work_dir, source_name, JobOptions(), config or Config())


def test_the_step_stores_the_video_info(tmp_path: Path) -> None:
    job = make_job(tmp_path, "take 1.mp4")
    shutil.copyfile(SAMPLE_CLIP, job.video_path)
    outcome = load_stage("video_upload")(job)
    video = outcome.data["video"]
    assert video["width"] == 1080 and video["height"] == 1920 and video["frame_count"] == 100
    assert video["fps"] == pytest.approx(60.0) and video["codec"] == "h264"
    assert outcome.warnings == []


def test_the_step_uses_the_job_config_limits(tmp_path: Path) -> None:
    job = make_job(tmp_path, "clip.mp4", Config(limits=LimitSettings(max_duration_s=1.0)))
    shutil.copyfile(SAMPLE_CLIP, job.video_path)
    with pytest.raises(JobError, match="limits.max_duration_s"):
        load_stage("video_upload")(job)


def test_a_truncated_video_fails_the_step(tmp_path: Path) -> None:
    job = make_job(tmp_path, "cut.mp4")
    write_truncated(job.video_path)
    with pytest.raises(JobError, match="truncated or corrupt video"):
        load_stage("video_upload")(job)
