"""Faults of the machine, not of a job, against a real `mocapd run`: a database locked by another
process, a full state disk (before the copy and during a step), a read-only outbox, a damaged database.

The work pauses with the reason in `status` and `health`, resumes by itself when the fault passes,
and no attempt is used. The full-disk and read-only cases run on a small tmpfs mounted by the test
(root only); where mounting is refused, they fall back to a `limits.min_free_disk_mb` that makes the
same before-copy path run, or are skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mocapd import states
from tests.stages import counted, write_script
from tests.stages.harness import Setup, drop, wait_for
from tests.test_hostile import outside

MB = 1024 * 1024
FAST = {"MOCAPD_RUNNER__PAUSE_RETRY_S": "0.2", "MOCAPD_RUNNER__DATABASE_BUSY_S": "1.0"}


def job(setup: Setup, source: str) -> dict | None:
    return next((row for row in setup.jobs() if row["source_relative"] == source), None)


def completed(setup: Setup, source: str) -> dict | None:
    row = job(setup, source)
    return row if row is not None and row["state"] == states.COMPLETED else None


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def tmpfs() -> Iterator[list[Path]]:
    """Mount points the test made (tmpfs); unmounted at the end."""
    mounted: list[Path] = []
    yield mounted
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


def mount_tmpfs(point: Path, megabytes: int, mounted: list[Path]) -> bool:
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=755", "tmpfs", str(point)],
        capture_output=True,
    )
    if result.returncode == 0:
        mounted.append(point)
    return result.returncode == 0


def ballast(folder: Path, leave_mb: float) -> Path:
    """Fill the disk of `folder` until about `leave_mb` MB are free (a file inside the state dir)."""
    path = folder / "ballast.bin"
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    path.write_bytes(b"\0" * max(0, int(free - leave_mb * MB)))
    return path


@pytest.mark.slow
def test_a_database_locked_elsewhere_delays_the_work_without_crash_or_attempts(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    release = tmp_path / "release-tracking"
    write_script(
        setup.state,
        {"tracking": {"action": "block", "only": "running", "release": str(release)}},
        setup.counters,
    )
    daemon = setup.start(FAST)
    drop(setup.inbox / "running.mp4", b"video")
    wait_for(lambda: counted(setup.counters, "tracking", "start"), 30, "tracking to start")
    before = outside(setup)
    unlock = tmp_path / "release-lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sqlite3, sys, time\n"
            "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "db.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "while not os.path.exists(sys.argv[2]): time.sleep(0.05)\n"
            "db.execute('COMMIT')\n",
            str(setup.state / "mocapd.db"),
            str(unlock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        drop(setup.inbox / "arrives.mp4", b"video")
        wait_for(lambda: "paused taking videos in" in daemon.log_text(), 30, "the daemon to notice the lock")
        wait_for(lambda: "lease not renewed this time" in daemon.log_text(), 30, "a lease renewal to wait")
        started = time.monotonic()
        status = setup.cli("status", timeout=60)
        answered = time.monotonic() - started
        assert status.returncode == 0 and "locked by another process" in status.stdout, status
        assert answered < 15, f"mocapd status took {answered:.1f} s"  # its bound: 3 s, plus start-up
        health = setup.cli("health", timeout=60)
        assert health.returncode == 2 and "database" in health.stdout and "locked" in health.stdout
        assert "Traceback" not in status.stderr + health.stderr
        assert job(setup, "arrives.mp4") is None and (setup.inbox / "arrives.mp4").exists()
        assert daemon.process.poll() is None
    finally:
        unlock.touch()
        holder.wait(30)
    release.touch()
    wait_for(lambda: completed(setup, "arrives.mp4"), 60, "the job made once the lock is gone")
    running = wait_for(lambda: completed(setup, "running.mp4"), 60, "the running job")
    assert running["attempts"] == 1  # the lock cost no attempt
    assert setup.status("running")["status"] == states.COMPLETED
    assert "Traceback" not in daemon.log_text()
    assert outside(setup) == before
    assert daemon.stop() == 0


@pytest.mark.slow
def test_a_full_state_disk_waits_before_copying_and_pauses_a_step_without_using_attempts(
    tmp_path: Path, tmpfs: list[Path]
) -> None:
    setup = Setup(tmp_path)
    if not mount_tmpfs(setup.state, 12, tmpfs):
        pytest.skip("cannot mount a tmpfs here (not root): see test_a_clip_bigger_than_the_free_space_waits")
    write_script(
        setup.state, {"tracking": {"action": "fill", "only": "fill", "bytes": 3 * MB}}, setup.counters
    )
    daemon = setup.start(FAST)
    before = outside(setup)
    # Before the copy: a clip bigger than the free space is not copied; it waits with the reason.
    weight = ballast(setup.state, leave_mb=2.0)
    big = os.urandom(4 * MB)
    drop(setup.inbox / "big.mp4", big)
    drop(setup.inbox / "small.mp4", b"small video")
    wait_for(lambda: completed(setup, "small.mp4"), 30, "the small clip, which fits")
    waiting = wait_for(lambda: (s := setup.status("big")) and s, 30, "the big clip's status")
    assert (
        waiting["status"] == states.QUEUED
        and "waiting for space: big.mp4 needs 4.0 MB" in waiting["retrying_after"]
    )
    assert "waiting for space" in (setup.outbox / "big" / "report.html").read_text(encoding="utf-8")
    cpu = cpu_seconds(daemon.pid)
    time.sleep(1.5)  # a measurement window (about 15 scans), not a wait for an event
    assert cpu_seconds(daemon.pid) - cpu < 0.75, "the daemon spins while the clip waits"
    assert daemon.log_text().count("waiting for space: big.mp4") == 1  # logged once, not at each scan
    status = setup.cli("status", "--json")
    assert daemon.process.poll() is None and (setup.inbox / "big.mp4").read_bytes() == big
    weight.unlink()
    row = wait_for(lambda: completed(setup, "big.mp4"), 30, "the big clip once it fits")
    assert (setup.state / "jobs" / str(row["id"]) / "input" / "big.mp4").read_bytes() == big
    assert status.returncode == 0
    # During a step: the disk fills up; the queue pauses, no attempt is used, and it resumes by itself.
    weight = ballast(setup.state, leave_mb=1.5)
    staging = tmp_path / "clips"
    staging.mkdir()
    for name in ("fill.mp4", "queued.mp4"):  # both arrive in the same scan: one runs, one waits
        (staging / name).write_bytes(name.encode())
        os.utime(staging / name, ns=(time.time_ns() - 10**9, time.time_ns() - 10**9))
    os.rename(staging / "fill.mp4", setup.inbox / "fill.mp4")
    os.rename(staging / "queued.mp4", setup.inbox / "queued.mp4")
    wait_for(lambda: "the state disk is full during tracking" in daemon.log_text(), 30, "the pause")
    wait_for(lambda: (row := job(setup, "queued.mp4")) and row["ingested"], 30, "the queued job")
    paused = setup.cli("status")
    assert "disk problem: the state disk is full" in paused.stdout, paused.stdout
    held = setup.status("fill")
    assert "paused: the state disk is full during tracking" in held["progress_message"], held
    filling = job(setup, "fill.mp4")
    assert filling["attempts"] == 1 and job(setup, "queued.mp4")["attempts"] == 0
    weight.unlink()
    wait_for(lambda: completed(setup, "queued.mp4"), 60, "the queue to resume")
    filled, queued = completed(setup, "fill.mp4"), completed(setup, "queued.mp4")
    assert filled["attempts"] == 1 and queued["attempts"] == 1
    assert len(counted(setup.counters, "tracking", "start")) >= 3  # fill's tracking ran again, same attempt
    assert setup.status("fill")["status"] == states.COMPLETED
    assert "Traceback" not in daemon.log_text(), daemon.log_text()[-5000:]
    assert outside(setup) == before
    assert daemon.stop() == 0


def test_a_clip_bigger_than_the_free_space_waits(tmp_path: Path) -> None:
    """Without a mount: limits.min_free_disk_mb set so that a 64 MB clip cannot fit but the disk is not low."""
    setup = Setup(tmp_path)
    free_mb = os.statvfs(setup.state).f_bavail * os.statvfs(setup.state).f_frsize / MB
    setup.config.write_text(
        setup.config.read_text().replace("min_free_disk_mb = 0.0", f"min_free_disk_mb = {free_mb - 32:.0f}")
    )
    write_script(setup.state, {}, setup.counters)
    daemon = setup.start(FAST)
    clip = setup.inbox / "big.mp4"
    with open(clip, "wb") as handle:  # sparse: 64 MB in size, no room taken
        handle.truncate(64 * MB)
    waiting = wait_for(lambda: (s := setup.status("big")) and s, 30, "the big clip's status")
    assert "waiting for space: big.mp4 needs 64.0 MB" in waiting["retrying_after"]
    assert clip.stat().st_size == 64 * MB and not any((setup.state / "jobs").glob("*/input/big.mp4"))
    assert daemon.process.poll() is None
    assert daemon.stop() == 0


@pytest.mark.slow
def test_a_read_only_outbox_pauses_publishing_which_is_retried_alone(
    tmp_path: Path, tmpfs: list[Path]
) -> None:
    setup = Setup(tmp_path)
    if not mount_tmpfs(setup.outbox, 8, tmpfs):
        pytest.skip("cannot mount a tmpfs here (not root)")
    release = tmp_path / "release-packaging"
    write_script(setup.state, {"packaging": {"action": "block", "release": str(release)}}, setup.counters)
    daemon = setup.start(FAST)
    before = outside(setup)
    drop(setup.inbox / "take.mp4", b"video")
    wait_for(lambda: counted(setup.counters, "packaging", "start"), 30, "packaging to start")
    subprocess.run(["mount", "-o", "remount,ro", str(setup.outbox)], check=True)
    release.touch()
    wait_for(lambda: "paused: cannot write the results to the outbox" in daemon.log_text(), 30, "the pause")
    # The daemon's log says it first; `status` reads the pause once the daemon has recorded it.
    status = wait_for(
        lambda: (
            (answer := setup.cli("status")) and "paused: cannot write the results" in answer.stdout and answer
        ),
        30,
        "the pause in mocapd status",
    )
    assert "paused: cannot write the results to the outbox" in status.stdout, status.stdout
    health = setup.cli("health")
    assert health.returncode >= 1 and "Read-only file system" in health.stdout
    row = job(setup, "take.mp4")
    assert row["state"] == states.PROCESSING and row["attempts"] == 1
    subprocess.run(["mount", "-o", "remount,rw", str(setup.outbox)], check=True)
    wait_for(lambda: completed(setup, "take.mp4"), 60, "publishing once the outbox is writable")
    done = completed(setup, "take.mp4")
    assert done["attempts"] == 1
    assert counted(setup.counters, "packaging", "start") == [done["id"]]  # only publishing was retried
    status_file = wait_for(
        lambda: (s := setup.status("take")) and s["status"] == "completed" and s, 10, "status"
    )
    assert any("retried" in warning for warning in status_file["warnings"])
    assert (setup.outbox / "take" / "animation.fbx").read_bytes().endswith(b"\nEND\n")
    assert outside(setup) == before
    assert daemon.stop() == 0


def test_a_damaged_database_is_one_clear_line_from_every_command(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    database = setup.state / "mocapd.db"
    database.write_bytes(b"this is not a database, it was overwritten" * 100)
    for command in (("jobs",), ("status",), ("show", "1"), ("run",)):
        result = setup.cli(*command, timeout=60)
        assert result.returncode != 0, command
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, (command, result.stderr)
        assert str(database) in lines[0] and "move it aside" in lines[0], lines[0]
    assert database.read_bytes().startswith(b"this is not a database")  # left for the person to decide
