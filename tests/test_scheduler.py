"""The daemon's periodic work: one APScheduler job per task, and what each task does."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from mocapd import states
from mocapd.config import Config, load
from mocapd.service.scheduler import CLEANUP_ID, DISK_ID, REAPER_ID, Scheduler
from mocapd.store import Store, open_store


class Host:
    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store: Store | None = store
        self.leading = True
        self.disk_checks = 0
        self.reaped = threading.Event()

    def check_disk(self) -> None:
        self.disk_checks += 1

    def reap_leases(self) -> None:
        assert self.store is not None
        self.store.expire_leases(time.time())
        self.reaped.set()


def test_the_scheduler_runs_its_tasks(tmp_path: Path) -> None:
    config = load(
        overrides={
            "state_dir": str(tmp_path / "state"),
            "runner.lease_seconds": 1.0,
            "cleanup.retention_hours": 0.0,
            "cleanup.interval_minutes": 0.01,
        }
    )
    store = open_store(config.state_path)
    # A finished job with work files, and a job whose lease ran out.
    done, _ = store.create_job("done", "done.mp4", {}, 0.0)
    store.update_job(done, state=states.COMPLETED, finished=time.time() - 10)
    work = config.state_path / "jobs" / str(done) / "input"
    work.mkdir(parents=True)
    (work / "done.mp4").write_bytes(b"v")
    stuck, _ = store.create_job("stuck", "stuck.mp4", {}, 0.0)
    store.mark_ingested(stuck, "stuck", {})
    store.claim("dead", 0.5, time.time())
    store.start_step(stuck, states.TRACKING, "log", time.time())
    host = Host(config, store)
    scheduler = Scheduler(host)
    scheduler.start()
    try:
        assert host.disk_checks == 1  # at once, before any job is claimed
        assert scheduler.job_ids() == sorted([CLEANUP_ID, DISK_ID, REAPER_ID])
        for job in scheduler.scheduler.get_jobs():
            assert job.coalesce is True and job.max_instances == 1
        assert host.reaped.wait(10)
        deadline = time.monotonic() + 10
        while work.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not work.exists()
    finally:
        scheduler.shutdown()
    steps = {step.name: step.status for step in store.steps(stuck)}
    assert steps[states.TRACKING] == states.PENDING
    claim = store.claim("alive", 60.0, time.time())
    assert claim is not None and claim.job_id == stuck
