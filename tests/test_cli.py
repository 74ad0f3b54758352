"""The `mocapd` commands: in-process over a real database, and as real processes against a daemon."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

import mocapd
from mocapd import cli, states
from mocapd.store import Store
from tests.commandline import add_job, folders, run, store
from tests.stages import counted, write_script
from tests.stages.harness import Setup, drop, wait_for

__all__ = ["folders", "store"]  # fixtures


def test_status_exits_3_when_the_daemon_is_not_running(
    folders: dict[str, Path], store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    add_job(store, folders, "broken", states.FAILED, failed_step="tracking")
    assert run(folders, "status") == 3
    output = capsys.readouterr().out
    assert "mocapd is not running" in output and "tracking: it broke" in output
    assert run(folders, "status", "--json") == 3
    assert json.loads(capsys.readouterr().out)["running"] is False


def test_health_reports_a_missing_inbox_as_unhealthy(
    folders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folders["inbox"].rmdir()
    assert run(folders, "health", "--json") == 2
    checks = {check["name"]: check for check in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["inbox"]["level"] == "unhealthy" and "is missing" in checks["inbox"]["message"]
    assert checks["outbox"]["level"] == "ok"


def test_jobs_show_tracks_and_logs(
    folders: dict[str, Path], store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = add_job(store, folders, "take", states.COMPLETED)
    assert run(folders, "jobs") == 0
    assert "completed" in capsys.readouterr().out
    assert run(folders, "show", "take", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == job_id and shown["status"] == states.COMPLETED and len(shown["tracks"]) == 2
    assert run(folders, "tracks", str(job_id), "--json") == 0
    assert [track["tid"] for track in json.loads(capsys.readouterr().out)] == [1, 2]
    assert run(folders, "logs", "take", "--step", "tracking") == 0
    assert "tracking said hello" in capsys.readouterr().out
    assert run(folders, "logs", "take", "--step", "packaging") == 1
    assert run(folders, "show", "nobody") == 1
    assert "no job 'nobody'" in capsys.readouterr().err


def test_retry_queues_a_failed_job_from_its_failed_step(folders: dict[str, Path], store: Store) -> None:
    job_id = add_job(store, folders, "broken", states.FAILED, failed_step="tracking")
    assert run(folders, "retry", str(job_id)) == 0
    record = store.job(job_id)
    assert (
        record is not None and record.state == states.QUEUED and record.attempts == 0 and record.error is None
    )
    statuses = {step.name: step.status for step in store.steps(job_id)}
    assert statuses["video_upload"] == states.DONE and statuses["tracking"] == states.PENDING
    assert run(folders, "retry", str(job_id)) == 1  # not failed any more


def test_cancel_a_queued_job(folders: dict[str, Path], store: Store) -> None:
    job_id = add_job(store, folders, "waiting", states.QUEUED)
    assert run(folders, "cancel", str(job_id)) == 0
    record = store.job(job_id)
    assert record is not None and record.state == states.CANCELLED
    assert run(folders, "cancel", str(job_id)) == 1


def test_reexport_with_another_track_reruns_from_extraction(folders: dict[str, Path], store: Store) -> None:
    job_id = add_job(store, folders, "take", states.COMPLETED)
    assert run(folders, "reexport", "take", "--track", "2", "--skeleton-preset", "mixamo") == 0
    record = store.job(job_id)
    assert record is not None and record.state == states.QUEUED
    options = json.loads(record.options)
    assert (
        options["track_mode"] == "single"
        and options["track_id"] == 2
        and options["skeleton_preset"] == "mixamo"
    )
    statuses = {step.name: step.status for step in store.steps(job_id)}
    assert statuses["tracking"] == states.DONE and statuses["track_extraction"] == states.PENDING
    assert run(folders, "reexport", "take", "--track", "9") == 1  # not a track of this job


def test_cleanup_removes_old_work_files_but_keeps_logs(
    folders: dict[str, Path], store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = add_job(store, folders, "old", states.COMPLETED)
    work = folders["state"] / "jobs" / str(job_id)
    assert run(folders, "cleanup", "--dry-run", "--set", "cleanup.retention_hours=0") == 0
    assert "would remove" in capsys.readouterr().out and (work / "input").exists()
    assert run(folders, "cleanup") == 0  # within the default retention: nothing
    assert (work / "input").exists()
    assert run(folders, "cleanup", "--set", "cleanup.retention_hours=0") == 0
    assert sorted(path.name for path in work.iterdir()) == ["logs"]


def test_stats(folders: dict[str, Path], store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    add_job(store, folders, "good", states.COMPLETED)
    add_job(store, folders, "bad", states.FAILED, failed_step="tracking")
    assert run(folders, "stats", "--json") == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["jobs"]["completed"] == 1 and figures["success_rate"] == 0.5
    assert figures["average_step_seconds"]["video_upload"] == 1.5


def test_submit_copies_the_video_and_writes_its_sidecar(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"video data")
    assert (
        run(
            folders, "submit", str(video), "--option", 'formats=["bvh"]', "--option", "smoothing_strength=0.8"
        )
        == 0
    )
    assert (folders["inbox"] / "clip.mp4").read_bytes() == b"video data"
    assert json.loads((folders["inbox"] / "clip.json").read_text()) == {
        "formats": ["bvh"],
        "smoothing_strength": 0.8,
    }
    assert [path.name for path in folders["inbox"].iterdir() if path.name.startswith(".")] == []
    assert run(folders, "submit", str(video), "--option", "colour=red") == 1
    assert "unknown key 'colour'" in capsys.readouterr().err


def test_a_bad_override_is_an_error_naming_the_key(
    folders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(folders, "jobs", "--set", "limits.max_size_mb=-5") == 1
    assert "limits.max_size_mb" in capsys.readouterr().err


def test_start_status_reexport_and_stop_against_a_real_daemon(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    write_script(setup.state, {}, setup.counters)
    started = setup.cli("start", "--stage-package", "tests.stages")
    assert started.returncode == 0, started.stderr
    assert "mocapd started" in started.stdout
    drop(setup.inbox / "take.mp4", b"video")
    wait_for(lambda: (s := setup.status("take")) and s["status"] == states.COMPLETED, 30, "the job")
    status = setup.cli("status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["running"] is True
    assert setup.cli("health").returncode == 0
    reexport = setup.cli("reexport", "take", "--track", "2", "--skeleton-preset", "mixamo")
    assert reexport.returncode == 0, reexport.stderr

    def reexported() -> bool:
        status = setup.status("take-2")
        return status is not None and status["status"] == states.COMPLETED

    wait_for(reexported, 30, "the re-export")
    # The re-export went into a new folder; the first results stay as they were.
    assert b"tracks=[2] preset=mixamo" in (setup.outbox / "take-2" / "animation.fbx").read_bytes()[:100]
    assert b"tracks=[1] preset=smpl" in (setup.outbox / "take" / "animation.fbx").read_bytes()[:100]
    assert len(counted(setup.counters, "tracking", "start")) == 1  # tracking was not run again
    assert len(counted(setup.counters, "track_extraction", "start")) == 2
    assert "mocapd.service.daemon" in (setup.state / "mocapd.log").read_text()
    stopped = setup.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert setup.cli("status").returncode == 3


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"mocapd {mocapd.__version__}"


def test_common_options_go_before_or_after_the_command(
    folders: dict[str, Path], store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_job(store, folders, "take", states.COMPLETED)
    config = tmp_path / "mocapd.toml"
    config.write_text(f'state_dir = "{folders["state"]}"\ninbox = "{folders["inbox"]}"\n')
    for arguments in (
        ["--config", str(config), "jobs", "--json"],
        ["jobs", "--config", str(config), "--json"],
        ["--json", "--config", str(config), "jobs"],
    ):
        assert cli.main(arguments) == 0, arguments
        assert [row["name"] for row in json.loads(capsys.readouterr().out)] == ["take"]
    # --set before and after the command add up; after the command a folder shortcut wins.
    arguments = cli.parse(
        ["--set", "a.b=1", "--state-dir", "x", "jobs", "--set", "c.d=2", "--state-dir", "y"]
    )
    assert arguments.set == ["a.b=1", "c.d=2"] and arguments.state_dir == "y"
    assert cli.main(["--config", str(config), "retry", "1", "--json"]) == 2
    assert "--json" in capsys.readouterr().err


def test_config_prints_the_example_and_the_settings_in_effect(
    folders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(folders, "config", "--example") == 0
    example = capsys.readouterr().out
    assert example == (Path(__file__).resolve().parent.parent / "etc" / "mocapd.toml").read_text()
    assert run(folders, "config", "--json", "--set", "limits.max_size_mb=123") == 0
    settings = json.loads(capsys.readouterr().out)
    assert settings["limits"]["max_size_mb"] == 123 and settings["state_dir"] == str(folders["state"])


def test_log_lines_and_step_headers_carry_utc(tmp_path: Path) -> None:
    from mocapd.logs import log_to_file, step_header

    path = tmp_path / "mocapd.log"
    handler = log_to_file(path, "INFO")
    logging.getLogger("mocapd.test").info("hello")
    handler.flush()
    logging.getLogger().removeHandler(handler)
    handler.close()
    line = path.read_text().strip()
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC INFO mocapd.test: hello$", line), line
    assert re.match(
        r"== tracking started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(job 7\)$", step_header("tracking", 7)
    )
