"""What the command tests share: folders, a real job database, jobs in given states, `mocapd` in-process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from mocapd import cli, states
from mocapd.store import Store, open_store


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    found = {name: tmp_path / name for name in ("inbox", "outbox", "state")}
    for folder in found.values():
        folder.mkdir()
    return found


def run(folders: dict[str, Path], *arguments: str) -> int:
    shortcuts = [
        "--inbox",
        str(folders["inbox"]),
        "--outbox",
        str(folders["outbox"]),
        "--state-dir",
        str(folders["state"]),
    ]
    return cli.main([*arguments, *shortcuts])


def add_job(
    store: Store, folders: dict[str, Path], name: str, state: str, failed_step: str | None = None
) -> int:
    job_id, _ = store.create_job(f"{name}|1", f"{name}.mp4", {}, time.time() - 100)
    work = folders["state"] / "jobs" / str(job_id)
    (work / "input").mkdir(parents=True)
    (work / "input" / f"{name}.mp4").write_bytes(b"video")
    (work / "tracklets.pkl").write_bytes(b"tracklets")
    (work / "logs").mkdir()
    (work / "logs" / "tracking.log").write_text("tracking said hello\n")
    store.mark_ingested(job_id, name, {})
    for step in states.STEPS:
        if step == failed_step:
            store.update_step(job_id, step, status=states.STEP_FAILED, error="it broke")
            break
        store.update_step(job_id, step, status=states.DONE, duration=1.5)
    store.set_tracks(
        job_id,
        [{"tid": 1, "frames": 10, "share": 1.0, "selected": True}, {"tid": 2, "frames": 5, "share": 0.5}],
    )
    fields: dict[str, Any] = {"state": state, "finished": time.time() - 50, "started": time.time() - 90}
    if state == states.FAILED:
        fields["error"] = "tracking: it broke"
    store.update_job(job_id, **fields)
    return job_id


@pytest.fixture
def store(folders: dict[str, Path]) -> Store:
    return open_store(folders["state"])
