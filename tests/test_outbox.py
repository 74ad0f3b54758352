"""The outbox: status.json, report.html, index.html, results and intermediate files, names."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mocapd import states
from mocapd.config import Config
from mocapd.outbox import Outbox, allocate_name, write_atomic
from mocapd.service.runner import job_from_record
from mocapd.store import Store, open_store
from tests.jobs import folders_config, ingested_job


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return folders_config(tmp_path)


@pytest.fixture
def store(config: Config) -> Store:
    return open_store(config.state_path)


def test_names_are_unique_in_the_outbox(tmp_path: Path) -> None:
    (tmp_path / "take").mkdir()
    (tmp_path / "take-2").mkdir()
    assert allocate_name(tmp_path, "take", set()) == "take-3"
    assert allocate_name(tmp_path, "other", {"other"}) == "other-2"
    assert allocate_name(tmp_path, "fresh", set()) == "fresh"


def test_write_atomic_leaves_no_staging_file(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a.json", b"{}")
    write_atomic(tmp_path / "a.json", b'{"b": 1}')
    assert [path.name for path in tmp_path.iterdir()] == ["a.json"]
    assert json.loads((tmp_path / "a.json").read_text()) == {"b": 1}


def test_status_follows_the_job_and_names_are_escaped(store: Store, config: Config) -> None:
    job_id = ingested_job(store, '<b>"take"</b>')
    outbox = Outbox(store, config)
    outbox.job_changed(job_id)
    folder = config.outbox_path / '<b>"take"</b>'
    status = json.loads((folder / "status.json").read_text())
    assert status["status"] == states.QUEUED and status["source"] == 'in/<b>"take"</b>.mp4'
    assert [step["status"] for step in status["steps"]] == [states.PENDING] * len(states.STEPS)
    store.update_job(
        job_id, state=states.PROCESSING, current_step="tracking", progress=0.25, started=time.time()
    )
    store.update_step(job_id, "video_upload", status=states.DONE, duration=0.5)
    outbox.job_changed(job_id)
    status = json.loads((folder / "status.json").read_text())
    assert (
        status["status"] == states.PROCESSING and status["step"] == "tracking" and status["progress"] == 0.25
    )
    store.set_tracks(
        job_id, [{"tid": 3, "frames": 40, "share": 0.9, "selected": True, "quality": {"detected_share": 0.9}}]
    )
    store.update_job(
        job_id,
        step_data=json.dumps(
            {"smoothing": {"method": "ours", "jitter": {"3": {"before": 9.0, "after": 2.0}}}}
        ),
    )
    store.fail_job(job_id, "export: Blender <crashed>", time.time())
    outbox.job_changed(job_id)
    status = json.loads((folder / "status.json").read_text())
    assert status["status"] == states.FAILED and status["error"] == "export: Blender <crashed>"
    assert status["tracks"][0]["jitter"] == {"before": 9.0, "after": 2.0}
    assert status["smoothing"] == {"method": "ours"} and status["timings"]["total_seconds"] is not None
    report = (folder / "report.html").read_text()
    assert "Blender &lt;crashed&gt;" in report and "&lt;b&gt;" in report and "<b>" not in report
    outbox.flush_index(force=True)
    index = (config.outbox_path / "index.html").read_text()
    assert "&lt;b&gt;" in index and "<b>" not in index and "%3Cb%3E" in index


def test_publish_copies_the_package_and_intermediate_files(store: Store, config: Config) -> None:
    job_id = ingested_job(store, "take", {"keep_intermediate": True})
    record = store.job(job_id)
    assert record is not None
    job = job_from_record(record, config)
    job.package_dir.mkdir(parents=True)
    (job.package_dir / "animation.fbx").write_bytes(b"fbx")
    job.tracks_dir.mkdir(parents=True)
    job.track_path(1).write_bytes(b"track")
    job.smoothed_dir.mkdir(parents=True)
    job.smoothed_path(1).write_bytes(b"smooth")
    job.tracklets_path.write_bytes(b"pkl")
    outbox = Outbox(store, config)
    outbox.publish(job)
    folder = config.outbox_path / "take"
    assert (folder / "animation.fbx").read_bytes() == b"fbx"
    assert sorted(path.name for path in (folder / "intermediate").iterdir()) == [
        "smoothed",
        "track_1.npz",
        "tracklets.pkl",
    ]
    # A re-export that makes a zip replaces the single file, and the intermediate folder is renewed.
    (job.package_dir / "animation.fbx").unlink()
    (job.package_dir / "animations.zip").write_bytes(b"zip")
    job.tracklets_path.unlink()
    outbox.publish(job)
    names = sorted(path.name for path in folder.iterdir())
    assert names == ["animations.zip", "intermediate"]
    assert not (folder / "intermediate" / "tracklets.pkl").exists()


def test_an_empty_package_is_an_error(store: Store, config: Config) -> None:
    record = store.job(ingested_job(store, "empty"))
    assert record is not None
    job = job_from_record(record, config)
    job.package_dir.mkdir(parents=True)
    with pytest.raises(OSError, match="empty"):
        Outbox(store, config).publish(job)
