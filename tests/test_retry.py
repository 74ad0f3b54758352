"""`mocapd retry`: a job whose options were refused reads them again, and fails again until they are fixed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mocapd import states
from mocapd.store import Store
from tests.commandline import add_job, folders, run, store
from tests.stages import write_script
from tests.stages.harness import Setup, drop, wait_for

__all__ = ["folders", "store"]  # fixtures

BAD = {"skeleton_preset": "maya", "smoothing_strength": 2}


def test_retry_reads_the_options_again_until_they_are_fixed(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    write_script(setup.state, {}, setup.counters)
    daemon = setup.start()
    try:
        drop(setup.inbox / "take.json", json.dumps(BAD).encode())
        drop(setup.inbox / "take.mp4", b"video")
        failed = wait_for(
            lambda: (s := setup.status("take")) and s["status"] == states.FAILED and s, 30, "the failure"
        )
        assert "skeleton_preset" in failed["error"] and "smoothing_strength" in failed["error"]
        # Retried unchanged: refused again, every bad key named, and the job stays failed.
        again = setup.cli("retry", "take")
        assert again.returncode == 1
        assert "'skeleton_preset' must be one of" in again.stderr and "'smoothing_strength'" in again.stderr
        (job,) = setup.jobs()
        assert job["state"] == states.FAILED and "smoothing_strength" in job["error"]
        # Half fixed (a corrected sidecar that still has one bad key): still refused, naming that key.
        half = tmp_path / "half.json"
        half.write_text(json.dumps({"skeleton_preset": "mixamo", "smoothing_strength": 2}))
        again = setup.cli("retry", "take", "--sidecar", str(half))
        assert again.returncode == 1 and "smoothing_strength" in again.stderr
        assert "skeleton_preset" not in again.stderr
        fixed = tmp_path / "fixed.json"
        fixed.write_text(json.dumps({"skeleton_preset": "mixamo", "smoothing_strength": 0.8}))
        retried = setup.cli("retry", "take", "--sidecar", str(fixed))
        assert retried.returncode == 0, retried.stderr
        done = wait_for(
            lambda: (s := setup.status("take")) and s["status"] == states.COMPLETED and s,
            30,
            "the retried job",
        )
        assert done["options"]["skeleton_preset"] == "mixamo" and done["options"]["smoothing_strength"] == 0.8
        assert b"preset=mixamo" in (setup.outbox / "take" / "animation.fbx").read_bytes()[:100]
    finally:
        daemon.stop()


def test_a_folder_file_fixed_since_is_read_again(
    folders: dict[str, Path], store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = add_job(store, folders, "take", states.FAILED, failed_step=states.VIDEO_UPLOAD)
    store.reset_steps_from(job_id, states.VIDEO_UPLOAD)
    folder_file = folders["inbox"] / "mocapd.json"
    folder_file.write_text(json.dumps({"fps": "thirty", "formats": ["usd"]}))
    assert run(folders, "retry", str(job_id)) == 1
    error = capsys.readouterr().err
    assert (
        "mocapd.json: " in error and "'fps' must be a number" in error and "'formats' must be one of" in error
    )
    folder_file.write_text(json.dumps({"fps": 30, "formats": ["bvh"]}))
    assert run(folders, "retry", str(job_id)) == 0
    record = store.job(job_id)
    assert record is not None and record.state == states.QUEUED
    assert json.loads(record.options)["formats"] == ["bvh"] and json.loads(record.options)["fps"] == 30.0


def test_options_resolved_at_ingest_are_kept(folders: dict[str, Path], store: Store) -> None:
    job_id = add_job(store, folders, "take", states.FAILED, failed_step=states.TRACKING)
    store.update_job(job_id, options=json.dumps({"formats": ["glb"], "track_mode": "all"}))
    (folders["inbox"] / "mocapd.json").write_text(json.dumps({"formats": ["bvh"]}))  # a later change
    assert run(folders, "retry", str(job_id)) == 0
    record = store.job(job_id)
    assert record is not None and json.loads(record.options) == {"formats": ["glb"], "track_mode": "all"}
