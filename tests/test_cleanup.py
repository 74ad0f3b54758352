"""Clean-up of finished jobs' work files: never a running job's, never the logs."""

from __future__ import annotations

import time
from pathlib import Path

from mocapd import states
from mocapd.config import load
from mocapd.service.cleanup import cleanup
from mocapd.store import open_store


def test_only_old_finished_jobs_lose_their_work_files(tmp_path: Path) -> None:
    config = load(overrides={"state_dir": str(tmp_path / "state"), "cleanup.retention_hours": 1.0})
    store = open_store(config.state_path)
    now = time.time()
    jobs = {}
    for name, state, finished in (
        ("old", states.FAILED, now - 7200),
        ("recent", states.COMPLETED, now - 60),
        ("running", states.PROCESSING, None),
    ):
        job_id, _ = store.create_job(name, f"{name}.mp4", {}, now - 9000)
        store.update_job(job_id, state=state, finished=finished)
        work = config.state_path / "jobs" / str(job_id)
        for folder in ("input", "logs", "tracks"):
            (work / folder).mkdir(parents=True)
            (work / folder / "file").write_bytes(b"x" * 100)
        (work / "tracklets.pkl").write_bytes(b"y" * 50)
        jobs[name] = work
    planned = cleanup(store, config, now, dry_run=True)
    assert sorted(removal.path.name for removal in planned) == ["input", "tracklets.pkl", "tracks"]
    assert sum(removal.bytes for removal in planned) == 250
    assert (jobs["old"] / "input").exists()
    cleanup(store, config, now)
    assert sorted(path.name for path in jobs["old"].iterdir()) == ["logs"]
    for name in ("recent", "running"):
        assert sorted(path.name for path in jobs[name].iterdir()) == [
            "input",
            "logs",
            "tracklets.pkl",
            "tracks",
        ]
