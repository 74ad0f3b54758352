"""The smoothing step over a job folder: track files in, smoothed track files and jitter figures out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from mocapd import trackfile
from mocapd.config import Config, SmoothingSettings
from mocapd.errors import JobError
from mocapd.job import Job
from mocapd.options import JobOptions
from mocapd.steps import load_stage
from mocapd.steps.smoothing import DISABLED, run
from tests.deepmimic import load_track
from tests.jitter_model import add_jitter
from tests.test_smoothnet import official_state_dict, write_official


def make_job(tmp_path: Path, options: JobOptions | None = None, checkpoint: str = "") -> Job:
    config = Config(smoothing=SmoothingSettings(checkpoint=checkpoint))
    job = Job(
        id=1,
        name="clip",
        work_dir=tmp_path / "job",
        source_name="clip.mp4",
        options=options or JobOptions(),
        config=config,
        selected_tracks=[1, 4],
    )
    for tid, clip in ((1, "dance_a"), (4, "kick")):
        trackfile.save(add_jitter(load_track(clip, tid=tid), seed=tid), job.track_path(tid))
    return job


def test_the_runner_finds_the_step() -> None:
    assert load_stage("smoothing") is run


def test_each_selected_track_is_smoothed_and_its_jitter_reported(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    outcome = run(job)
    for tid in (1, 4):
        smoothed = trackfile.load(job.smoothed_path(tid))
        assert smoothed.frame_count == trackfile.load(job.track_path(tid)).frame_count
        assert job.motion_path(tid) == job.smoothed_path(tid)
        figures = outcome.data["jitter"][str(tid)]
        assert figures["after"] < 0.5 * figures["before"]
    assert outcome.data["jitter_units"] == "mm/frame^2"
    assert "zero-phase" in outcome.data["method"]
    assert outcome.warnings == []


def test_disabled_writes_nothing_and_says_so(tmp_path: Path) -> None:
    job = make_job(tmp_path, replace(JobOptions(), enable_smoothing=False))
    job.smoothed_path(1).parent.mkdir(parents=True)
    job.smoothed_path(1).write_bytes(b"left over from an earlier attempt")
    outcome = run(job)
    assert outcome.data["method"] == DISABLED
    assert not job.smoothed_path(1).exists() and not job.smoothed_path(4).exists()
    assert job.motion_path(1) == job.track_path(1)


def test_a_checkpoint_that_cannot_be_loaded_fails_the_step_with_the_reason(tmp_path: Path) -> None:
    state = official_state_dict(32, 512, 16, 1)
    state["decoder.bias"] = torch.zeros(31)
    checkpoint = write_official(tmp_path / "checkpoint_32.pth.tar", state)
    job = make_job(tmp_path, checkpoint=str(checkpoint))
    with pytest.raises(JobError, match=r"decoder.bias' has shape \(31,\)"):
        run(job)
    assert not job.smoothed_path(1).exists()


def test_a_missing_checkpoint_is_named(tmp_path: Path) -> None:
    job = make_job(tmp_path, checkpoint=str(tmp_path / "nowhere.pth.tar"))
    with pytest.raises(JobError, match="nowhere.pth.tar does not exist"):
        run(job)


def test_a_configured_checkpoint_is_used_and_named(tmp_path: Path) -> None:
    checkpoint = write_official(tmp_path / "checkpoint_8.pth.tar", official_state_dict(8, 512, 16, 1))
    job = make_job(tmp_path, checkpoint=str(checkpoint))
    outcome = run(job)
    assert outcome.data["method"].startswith("SmoothNet checkpoint checkpoint_8.pth.tar (window 8")
    assert trackfile.load(job.smoothed_path(4)).frame_count > 0


def test_a_missing_track_file_is_a_job_error(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    job.track_path(4).unlink()
    with pytest.raises(JobError, match="track 4"):
        run(job)
