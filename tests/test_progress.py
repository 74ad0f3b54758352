"""A running job's overall progress: share of its run, elapsed time and time left; shown by status, jobs, show."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mocapd import states
from mocapd.progress import GUESSED_STEP_SECONDS, duration, overall
from mocapd.store import Store
from tests.commandline import add_job, folders, run, store

__all__ = ["folders", "store"]  # fixtures

SECONDS = {
    states.VIDEO_UPLOAD: 1.0,
    states.TRACKING: 5.0,
    states.TRACK_EXTRACTION: 2.0,
    states.SMOOTHING: 1.0,
    states.FBX_EXPORT: 1.0,
    states.PACKAGING: 0.0,
}


def running_job(
    store: Store, folders: dict[str, Path], started_ago: float, kept: tuple[str, ...] = ()
) -> int:
    """A job in track extraction, half through it; steps in `kept` finished before this run began."""
    now = time.time()
    job_id = add_job(store, folders, "take", states.PROCESSING, failed_step=states.TRACK_EXTRACTION)
    for step in (states.VIDEO_UPLOAD, states.TRACKING):
        began = now - started_ago - 1000 if step in kept else now - started_ago
        store.update_step(job_id, step, status=states.DONE, started=began)
    store.update_step(job_id, states.TRACK_EXTRACTION, status=states.RUNNING, started=now - 1, error=None)
    store.update_job(job_id, started=now - started_ago, current_step=states.TRACK_EXTRACTION, progress=0.5)
    return job_id


def test_the_share_weights_each_step_by_its_usual_time(folders: dict[str, Path], store: Store) -> None:
    job_id = running_job(store, folders, started_ago=70.0)
    record = store.job(job_id)
    assert record is not None
    progress = overall(record, store.steps(job_id), SECONDS, now=record.started + 70.0)
    assert progress is not None
    # Done: upload 1 + tracking 5 + half of extraction 1 = 7 of 10 (packaging weighs its guess, 0 falls back).
    total = 10.0 + GUESSED_STEP_SECONDS[states.PACKAGING]
    assert progress.share == pytest.approx(7.0 / total)
    assert progress.elapsed_seconds == pytest.approx(70.0)
    assert progress.remaining_seconds == pytest.approx(70.0 * (1 - 7.0 / total) / (7.0 / total))


def test_steps_kept_from_an_earlier_run_do_not_count(folders: dict[str, Path], store: Store) -> None:
    job_id = running_job(store, folders, started_ago=10.0, kept=(states.VIDEO_UPLOAD, states.TRACKING))
    record = store.job(job_id)
    assert record is not None
    progress = overall(record, store.steps(job_id), SECONDS, now=record.started + 10.0)
    assert progress is not None
    total = 4.0 + GUESSED_STEP_SECONDS[states.PACKAGING]  # extraction, smoothing, export, packaging
    assert progress.share == pytest.approx(1.0 / total)


def test_a_job_that_is_not_running_has_no_progress(folders: dict[str, Path], store: Store) -> None:
    job_id = add_job(store, folders, "done", states.COMPLETED)
    record = store.job(job_id)
    assert record is not None and overall(record, store.steps(job_id), SECONDS) is None


def test_durations_read_well() -> None:
    assert [duration(s) for s in (None, 4.4, 185, 3720)] == ["unknown", "4 s", "3 min 05 s", "1 h 02 min"]


def test_status_jobs_and_show_print_the_overall_progress(
    folders: dict[str, Path], store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = running_job(store, folders, started_ago=70.0)
    assert run(folders, "status") == 3
    text = capsys.readouterr().out
    assert "running: job 1 take: track extraction 50 %" in text
    assert "% overall, 1 min 10 s elapsed, about " in text and " left" in text
    assert run(folders, "status", "--json") == 3
    current = json.loads(capsys.readouterr().out)["current"]
    assert current["id"] == job_id and 0 < current["overall"]["share"] < 1
    assert current["overall"]["elapsed_seconds"] == pytest.approx(70.0, abs=5)
    assert run(folders, "jobs") == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["ID", "STATE", "CREATED", "NAME", "DETAIL"]
    assert row.split()[:2] == [str(job_id), "processing"] and " UTC  take" in row
    assert "track extraction 50 %; " in row and "% overall" in row
    assert run(folders, "jobs", "--json") == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["step_progress"] == 0.5 and listed["progress"]["share"] == current["overall"]["share"]
    assert listed["created"].endswith(" UTC")
    assert run(folders, "show", str(job_id)) == 0
    assert "  progress: " in capsys.readouterr().out
