"""The tracking step (mocapd/steps/tracking.py): which backend runs, and the report's reason."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from mocapd.config import Config, FourDHumansSettings
from mocapd.errors import JobError, TransientError
from mocapd.job import Job, VideoInfo
from mocapd.motion import tracklets
from mocapd.options import JobOptions
from mocapd.service import gpu
from mocapd.steps import tracking

REPOSITORY = Path(__file__).resolve().parents[1]
SAMPLE = REPOSITORY / "examples" / "sample.mp4"
FAKE_CHECKOUT = REPOSITORY / "tests" / "fake_4dhumans"


def make_job(tmp_path: Path, config: Config) -> Job:
    config.state_dir = str(tmp_path / "state")
    job = Job(
        id=3,
        name="sample",
        work_dir=tmp_path / "job",
        source_name="sample.mp4",
        options=JobOptions(),
        config=config,
        video_info=VideoInfo(
            width=1088, height=1920, fps=60.0, duration=100 / 60, frame_count=100, codec="h264"
        ),
    )
    job.video_path.parent.mkdir(parents=True)
    shutil.copyfile(SAMPLE, job.video_path)
    return job


@pytest.mark.slow
def test_auto_without_4dhumans_runs_the_embedded_model_and_says_why(tmp_path: Path) -> None:
    job = make_job(tmp_path, Config())
    outcome = tracking.run(job)
    assert outcome.data["backend"] == "mediapipe" and job.backend == "mediapipe"
    assert "4D-Humans is not installed" in outcome.data["backend_reason"]
    data = tracklets.read(job.tracklets_path)
    assert data.embedded and data.track_ids()


def installed() -> Config:
    config = Config()
    config.fourdhumans = FourDHumansSettings(python=sys.executable, checkout=str(FAKE_CHECKOUT))
    return config


def test_auto_with_4dhumans_and_a_free_gpu_runs_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No GPU here: the NVML reading is the one thing stood in for.
    free = gpu.GpuStatus(True, "GPU 0 Test", [gpu.GpuDevice(0, "Test", 24000.0, 20000.0, None, None)])
    monkeypatch.setattr(gpu, "query_gpus", lambda: free)
    monkeypatch.setenv("FAKE_4DHUMANS_MODE", "ok")
    job = make_job(tmp_path, installed())
    outcome = tracking.run(job)
    assert (
        outcome.data["backend"] == "4dhumans"
        and "GPU 0 has enough free memory" in outcome.data["backend_reason"]
    )
    assert tracklets.read(job.tracklets_path).frame_count == 100


def test_4dhumans_chosen_explicitly_without_a_gpu_is_retried_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gpu, "query_gpus", lambda: gpu.GpuStatus(False, "no NVIDIA driver (NVML not found)"))
    config = installed()
    config.backend = "4dhumans"
    with pytest.raises(TransientError, match="no GPU to run on: no NVIDIA driver"):
        tracking.run(make_job(tmp_path, config))


def test_4dhumans_chosen_explicitly_but_not_installed_says_so(tmp_path: Path) -> None:
    config = Config(backend="4dhumans")
    with pytest.raises(JobError, match="4D-Humans cannot run: fourdhumans.python and fourdhumans.checkout"):
        tracking.run(make_job(tmp_path, config))
