"""The runner on the test stages (tests/stages): real child processes, real SQLite, real files."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mocapd import states
from mocapd.config import Config, load
from mocapd.job import Job
from mocapd.service.runner import Listener, Runner, StopControl, job_from_record
from mocapd.store import Store, open_store
from tests.stages import counted, write_script

STAGES = "tests.stages"


class Recorder(Listener):
    def __init__(self) -> None:
        self.changes = 0
        self.published: list[Job] = []

    def job_changed(self, job_id: int) -> None:
        self.changes += 1

    def publish(self, job: Job) -> None:
        self.published.append(job)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    overrides: dict[str, Any] = {
        "state_dir": str(tmp_path / "state"),
        "outbox": str(tmp_path / "outbox"),
        "inbox": str(tmp_path / "inbox"),
        "runner.max_attempts": 2,
        "runner.heartbeat_seconds": 0.2,
        "runner.lease_seconds": 5.0,
    }
    return load(overrides=overrides)


@pytest.fixture
def job_store(config: Config) -> Iterator[Store]:
    opened = open_store(config.state_path)
    yield opened
    opened.close()


def queue_job(
    job_store: Store, config: Config, name: str = "clip", options: dict[str, Any] | None = None
) -> int:
    job_id, _ = job_store.create_job(f"{name}.mp4|1", f"{name}.mp4", {}, time.time())
    video = config.state_path / "jobs" / str(job_id) / "input" / f"{name}.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"video")
    job_store.mark_ingested(job_id, name, options or {})
    return job_id


def make_runner(
    job_store: Store, config: Config, control: StopControl | None = None
) -> tuple[Runner, Recorder]:
    recorder = Recorder()
    return Runner(job_store, lambda: config, "test-worker", recorder, STAGES, control), recorder


def step_statuses(job_store: Store, job_id: int) -> dict[str, str]:
    return {step.name: step.status for step in job_store.steps(job_id)}


def test_a_job_runs_every_step_and_keeps_their_data(job_store: Store, config: Config, tmp_path: Path) -> None:
    counters = tmp_path / "counters"
    counters.mkdir()
    write_script(config.state_path, {}, counters)
    job_id = queue_job(job_store, config)
    runner, recorder = make_runner(job_store, config)
    assert runner.run_next() == job_id
    record = job_store.job(job_id)
    assert record is not None and record.state == states.COMPLETED, record.error
    assert set(step_statuses(job_store, job_id).values()) == {states.DONE}
    assert record.json("video_info")["fps"] == 25.0
    assert record.backend == "test" and record.backend_reason == "test stages"
    assert record.json("selected_tracks") == [1]
    assert [(track.tid, track.selected) for track in job_store.tracks(job_id)] == [(1, True), (2, False)]
    assert record.json("step_data")["smoothing"]["jitter"] == {"1": {"before": 2.0, "after": 0.5}}
    for step in states.STEPS:
        assert counted(counters, step, "end") == [job_id]
        log = job_from_record(record, config).log_path(step).read_text()
        assert f"== {step} started" in log
    assert recorder.published and recorder.published[0].video_info is not None
    assert job_store.steps(job_id)[0].duration is not None
    assert runner.run_next() is None


def test_a_failing_step_fails_the_job_with_its_reason(job_store: Store, config: Config) -> None:
    write_script(
        config.state_path, {"track_extraction": {"action": "fail", "message": "nobody in the video"}}
    )
    job_id = queue_job(job_store, config)
    runner, _ = make_runner(job_store, config)
    runner.run_next()
    record = job_store.job(job_id)
    assert record is not None and record.state == states.FAILED
    assert record.error == "track extraction: nobody in the video"
    statuses = step_statuses(job_store, job_id)
    assert statuses["tracking"] == states.DONE and statuses["track_extraction"] == states.STEP_FAILED
    assert statuses["smoothing"] == states.PENDING


def test_a_bug_in_a_stage_fails_the_job_and_logs_the_traceback(job_store: Store, config: Config) -> None:
    write_script(config.state_path, {"tracking": {"action": "error"}})
    job_id = queue_job(job_store, config)
    runner, _ = make_runner(job_store, config)
    runner.run_next()
    record = job_store.job(job_id)
    assert record is not None and record.state == states.FAILED
    assert "ValueError: a bug in the stage" in (record.error or "")
    log = job_from_record(record, config).log_path("tracking").read_text()
    assert "Traceback" in log


def test_smoothing_failure_is_a_warning_and_the_raw_motion_is_exported(
    job_store: Store, config: Config
) -> None:
    write_script(config.state_path, {"smoothing": {"action": "fail", "message": "checkpoint unusable"}})
    job_id = queue_job(job_store, config)
    runner, _ = make_runner(job_store, config)
    runner.run_next()
    record = job_store.job(job_id)
    assert record is not None and record.state == states.COMPLETED
    assert step_statuses(job_store, job_id)["smoothing"] == states.WARNING
    assert any("smoothing failed (checkpoint unusable)" in warning for warning in record.json("warnings"))
    job = job_from_record(record, config)
    assert job.motion_path(1) == job.track_path(1)


def test_a_transient_error_is_retried_and_then_succeeds(
    job_store: Store, config: Config, tmp_path: Path
) -> None:
    counters = tmp_path / "counters"
    counters.mkdir()
    write_script(config.state_path, {"tracking": {"action": "transient", "times": 1}}, counters)
    job_id = queue_job(job_store, config)
    runner, _ = make_runner(job_store, config)
    runner.run_next()
    record = job_store.job(job_id)
    assert record is not None and record.state == states.QUEUED and "GPU is busy" in (record.error or "")
    runner.run_next()
    record = job_store.job(job_id)
    assert record is not None and record.state == states.COMPLETED and record.attempts == 2
    assert counted(counters, "video_upload", "start") == [job_id]  # resumed at the failed step
    assert counted(counters, "tracking", "start") == [job_id, job_id]


def test_a_crashed_step_is_retried_until_the_attempts_run_out(job_store: Store, config: Config) -> None:
    write_script(config.state_path, {"tracking": {"action": "kill"}})
    job_id = queue_job(job_store, config)
    runner, _ = make_runner(job_store, config)
    runner.run_next()
    runner.run_next()
    record = job_store.job(job_id)
    assert record is not None and record.state == states.FAILED
    assert "killed by signal 9" in (record.error or "") and "gave up after 2 attempts" in (record.error or "")
    assert runner.run_next() is None


def test_a_hanging_step_is_killed_with_its_process_group(
    job_store: Store, config: Config, tmp_path: Path
) -> None:
    counters = tmp_path / "counters"
    counters.mkdir()
    config.timeouts.tracking = 1.0
    config.runner.max_attempts = 1
    write_script(config.state_path, {"tracking": {"action": "hang"}}, counters)
    job_id = queue_job(job_store, config)
    runner, _ = make_runner(job_store, config)
    started = time.monotonic()
    runner.run_next()
    assert time.monotonic() - started < 15
    record = job_store.job(job_id)
    assert record is not None and record.state == states.FAILED
    assert "timed out after 1 s (timeouts.tracking)" in (record.error or "")
    grandchild = int((counters / "tracking.grandchild").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(grandchild):
        time.sleep(0.05)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_a_stop_request_lets_the_step_finish_and_releases_the_job(
    job_store: Store, config: Config, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    write_script(config.state_path, {"tracking": {"action": "block", "release": str(release)}})
    job_id = queue_job(job_store, config)
    control = StopControl()
    runner, _ = make_runner(job_store, config, control)
    thread = threading.Thread(target=runner.run_next)
    thread.start()
    _wait(lambda: step_statuses(job_store, job_id)["tracking"] == states.RUNNING)
    control.request_stop(60.0)
    release.touch()
    thread.join(30)
    record = job_store.job(job_id)
    assert record is not None and record.state == states.QUEUED and record.attempts == 0
    statuses = step_statuses(job_store, job_id)
    assert statuses["tracking"] == states.DONE and statuses["track_extraction"] == states.PENDING


def test_an_abort_kills_the_step_and_leaves_it_pending(
    job_store: Store, config: Config, tmp_path: Path
) -> None:
    write_script(config.state_path, {"tracking": {"action": "block", "release": str(tmp_path / "never")}})
    job_id = queue_job(job_store, config)
    control = StopControl()
    runner, _ = make_runner(job_store, config, control)
    thread = threading.Thread(target=runner.run_next)
    thread.start()
    _wait(lambda: step_statuses(job_store, job_id)["tracking"] == states.RUNNING)
    control.request_stop(60.0)
    control.request_stop(60.0)
    thread.join(30)
    record = job_store.job(job_id)
    assert record is not None and record.state == states.QUEUED and record.lease_owner is None
    assert step_statuses(job_store, job_id)["tracking"] == states.PENDING


def test_cancel_stops_a_running_job(job_store: Store, config: Config, tmp_path: Path) -> None:
    write_script(config.state_path, {"tracking": {"action": "block", "release": str(tmp_path / "never")}})
    job_id = queue_job(job_store, config)
    runner, _ = make_runner(job_store, config)
    thread = threading.Thread(target=runner.run_next)
    thread.start()
    _wait(lambda: step_statuses(job_store, job_id)["tracking"] == states.RUNNING)
    job_store.update_job(job_id, cancel_requested=True)
    thread.join(30)
    record = job_store.job(job_id)
    assert record is not None and record.state == states.CANCELLED


def test_progress_is_read_from_the_step(job_store: Store, config: Config, tmp_path: Path) -> None:
    release = tmp_path / "release"
    write_script(config.state_path, {"tracking": {"action": "block", "release": str(release)}})
    job_id = queue_job(job_store, config)
    runner, _ = make_runner(job_store, config)
    thread = threading.Thread(target=runner.run_next)
    thread.start()

    def halfway() -> bool:
        record = job_store.job(job_id)
        return record is not None and record.progress == 0.5 and record.current_step == "tracking"

    _wait(halfway)
    release.touch()
    thread.join(30)
    record = job_store.job(job_id)
    assert record is not None and record.state == states.COMPLETED
    progress = json.loads(job_from_record(record, config).progress_path("packaging").read_text())
    assert progress["fraction"] == 1.0


def _wait(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def test_a_job_that_keeps_killing_the_daemon_fails_after_the_attempts(
    job_store: Store, config: Config
) -> None:
    write_script(config.state_path, {})
    job_id = queue_job(job_store, config)
    for attempt in range(config.runner.max_attempts):  # each claim ends with the daemon dying mid-step
        assert job_store.claim(f"dead{attempt}", 1.0, 100.0 * attempt) is not None
        job_store.start_step(job_id, states.TRACKING, "log", 100.0 * attempt)
    job_store.expire_leases(time.time())
    runner, _ = make_runner(job_store, config)
    assert runner.run_next() == job_id
    record = job_store.job(job_id)
    assert record is not None and record.state == states.FAILED
    assert "gave up after 2 attempts: the daemon stopped during video check each time" in (record.error or "")


def test_the_forkserver_preloads_every_step_module_and_each_one_exists() -> None:
    import importlib.util

    from mocapd.service.runner import preloaded

    names = preloaded()
    # The forkserver skips a module that does not import, silently: each of mocapd's must be a real one.
    assert all(importlib.util.find_spec(name) is not None for name in names if name.startswith("mocapd"))
    assert {f"mocapd.steps.{step}" for step in states.STEPS} <= set(names)
    assert {f"tests.stages.{step}" for step in states.STEPS} <= set(preloaded("tests.stages"))
