"""Statistics over the job database and the folders."""

from __future__ import annotations

import time
from pathlib import Path

from mocapd import states
from mocapd.config import load
from mocapd.stats import collect, folder_mb
from mocapd.store import open_store


def test_totals_success_rate_and_step_averages(tmp_path: Path) -> None:
    config = load(overrides={"state_dir": str(tmp_path / "state"), "outbox": str(tmp_path / "outbox")})
    store = open_store(config.state_path)
    assert collect(store, config)["success_rate"] is None
    for index, (state, duration) in enumerate(
        [(states.COMPLETED, 1.0), (states.COMPLETED, 3.0), (states.FAILED, 5.0), (states.QUEUED, None)]
    ):
        job_id, _ = store.create_job(f"job{index}", f"job{index}.mp4", {}, time.time())
        store.update_job(job_id, state=state)
        if duration is not None:
            store.update_step(job_id, states.TRACKING, status=states.DONE, duration=duration)
    figures = collect(store, config)
    assert figures["jobs"][states.COMPLETED] == 2 and figures["total"] == 4
    assert figures["success_rate"] == 2 / 3
    assert figures["average_step_seconds"] == {states.TRACKING: 3.0}


def test_folder_size(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "file").write_bytes(b"x" * 1024 * 1024)
    (tmp_path / "link").symlink_to(tmp_path / "a" / "file")
    assert 1.0 <= folder_mb(tmp_path) < 1.01
