"""The daemon as a real process: `mocapd run` started with subprocess, on the test stages.

Every wait polls what the daemon writes (status.json, the database) with a timeout; nothing sleeps a
fixed time where an event can be awaited.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from markupsafe import escape

from mocapd import states
from tests import videofiles
from tests.stages import counted, write_script
from tests.stages.harness import Setup, drop, wait_for


def completed(setup: Setup, name: str) -> dict | None:
    status = setup.status(name)
    return status if status is not None and status["status"] == states.COMPLETED else None


def finished_jobs(setup: Setup) -> list[dict]:
    return [job for job in setup.jobs() if job["state"] in states.FINISHED_JOB_STATES]


def test_a_slowly_copied_video_is_taken_once_after_the_copy_ends(tmp_path: Path) -> None:
    setup = Setup(tmp_path, settle=0.6)
    write_script(setup.state, {}, setup.counters)
    daemon = setup.start()
    ignored = [
        ".hidden.mp4",
        "clip.mp4.part",
        "~$clip.mp4",
        "clip.mp4.tmp",
        "clip.mp4.crdownload",
        "._clip.mp4",
    ]
    for name in ignored:
        (setup.inbox / name).write_bytes(b"not for the daemon")
    chunks = [os.urandom(20_000) for _ in range(10)]
    with open(setup.inbox / "slow.mp4", "wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
            handle.flush()
            time.sleep(0.12)  # the copy itself: a slow share
    copy_ended = time.time()
    wait_for(lambda: completed(setup, "slow"), 30, "the slow copy's job")
    drop(setup.inbox / "marker.mp4", b"marker")
    wait_for(lambda: completed(setup, "marker"), 30, "the marker's job")
    jobs = setup.jobs()
    assert [job["source_relative"] for job in jobs] == ["slow.mp4", "marker.mp4"]
    assert jobs[0]["created"] >= copy_ended
    assert (setup.state / "jobs" / str(jobs[0]["id"]) / "input" / "slow.mp4").read_bytes() == b"".join(chunks)
    assert counted(setup.counters, "video_upload", "start") == [jobs[0]["id"], jobs[1]["id"]]
    assert sorted(path.name for path in setup.inbox.iterdir()) == sorted(
        ignored
    )  # taken videos left the inbox
    assert daemon.stop() == 0


class OutboxInspector(threading.Thread):
    """Lists the outbox over and over; every file with a final (non-hidden) name must be complete."""

    def __init__(self, outbox: Path) -> None:
        super().__init__(daemon=True)
        self.outbox = outbox
        self.running = True
        self.looks = 0
        self.problems: list[str] = []

    def run(self) -> None:
        while self.running:
            for folder, folders, files in os.walk(self.outbox):
                folders[:] = [name for name in folders if not name.startswith(".")]
                for name in files:
                    if not name.startswith("."):
                        self.inspect(Path(folder) / name)
            self.looks += 1

    def inspect(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return  # replaced between listing and reading: the next look sees the new one
        if path.name == "status.json":
            try:
                json.loads(data)
            except ValueError:
                self.problems.append(f"{path}: not JSON ({len(data)} bytes)")
        elif path.suffix == ".html" and not data.rstrip().endswith(b"</html>"):
            self.problems.append(f"{path}: HTML cut short")
        elif path.suffix == ".fbx" and not data.endswith(b"\nEND\n"):
            self.problems.append(f"{path}: animation cut short")


def test_kill_9_in_a_step_resumes_that_step_once_and_the_outbox_never_shows_a_partial_file(
    tmp_path: Path,
) -> None:
    setup = Setup(tmp_path)
    release = tmp_path / "release"
    write_script(setup.state, {"tracking": {"action": "block", "release": str(release)}}, setup.counters)
    inspector = OutboxInspector(setup.outbox)
    inspector.start()
    daemon = setup.start()
    drop(setup.inbox / "take.mp4", b"video" * 1000)
    wait_for(lambda: counted(setup.counters, "tracking", "start"), 30, "tracking to start")
    status = wait_for(
        lambda: (s := setup.status("take")) and s["step"] == "tracking" and s, 10, "status: tracking"
    )
    assert status["status"] == states.PROCESSING
    step_pid = int((setup.counters / "tracking.pid").read_text())
    daemon.signal(signal.SIGKILL)
    daemon.wait()
    # The step's process dies with the daemon (its forkserver parent is gone): it cannot finish later.
    wait_for(lambda: not Path(f"/proc/{step_pid}").exists(), 10, "the orphaned step to die")
    restarted = setup.start()
    wait_for(lambda: len(counted(setup.counters, "tracking", "start")) == 2, 30, "tracking to start again")
    release.touch()
    status = wait_for(lambda: completed(setup, "take"), 30, "the job to complete")
    inspector.running = False
    inspector.join(10)
    (job,) = setup.jobs()
    assert counted(setup.counters, "video_upload", "end") == [job["id"]]  # not run again
    assert counted(setup.counters, "tracking", "end") == [job["id"]]  # finished once
    for step in states.STEPS[2:]:
        assert counted(setup.counters, step, "start") == [job["id"]]
    assert job["attempts"] == 2 and status["attempts"] == 2
    assert (setup.outbox / "take" / "animation.fbx").read_bytes().endswith(b"\nEND\n")
    assert inspector.looks > 10 and inspector.problems == []
    assert restarted.stop() == 0


def test_two_hundred_files_at_once_make_two_hundred_jobs_in_order_with_flat_memory(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    write_script(setup.state, {}, setup.counters)
    daemon = setup.start()
    base = time.time_ns() - 10**12
    # Modification times in an order unlike the names': the queue follows mtime, then name.
    names = [f"clip{index:03d}.mp4" for index in range(200)]
    mtimes = {name: base + ((index * 37) % 100) * 10**6 for index, name in enumerate(names)}
    staging = tmp_path / "staging"
    staging.mkdir()
    for name in names:
        path = staging / name
        path.write_bytes(name.encode())
        os.utime(path, ns=(mtimes[name], mtimes[name]))
    for name in names:
        os.rename(staging / name, setup.inbox / name)
    wait_for(lambda: len(finished_jobs(setup)) >= 50, 300, "50 finished jobs")
    rss_50 = daemon.rss_kb()
    wait_for(lambda: len(finished_jobs(setup)) == 200, 600, "200 finished jobs", interval=0.2)
    rss_200 = daemon.rss_kb()
    jobs = setup.jobs()
    assert len(jobs) == 200 and all(job["state"] == states.COMPLETED for job in jobs)
    expected = sorted(names, key=lambda name: (mtimes[name], name))
    assert [job["source_relative"] for job in jobs] == expected
    started = counted(setup.counters, "video_upload", "start")
    assert started == [job["id"] for job in jobs]  # in queue order, each once
    assert sorted(counted(setup.counters, "packaging", "end")) == [job["id"] for job in jobs]
    assert rss_200 - rss_50 < 30 * 1024, f"RSS grew from {rss_50} kB to {rss_200} kB"
    assert daemon.stop() == 0


BAD_INPUTS = {
    # source name: words its reason must hold
    "empty.mp4": "empty file (0 bytes)",
    "truncated.mp4": "truncated or corrupt video",
    "notes.mp4": "not a video",
    "too-big.mp4": "over the limit of 0.1 MB",
    "too-long.mp4": "over the limit of 1 s",
    "folder.mp4": "is a folder named like a video",
    "link.mp4": "is a symbolic link",
    "broken.mp4": "not valid JSON",
    "unknown.mp4": "unknown key 'colour'",
    "script.mp4": "is not a plain file name",
}
GOOD_NAME = '-my "take" été 01.mp4'


def test_bad_inputs_each_get_their_reason_and_the_daemon_keeps_running(tmp_path: Path) -> None:
    setup = Setup(tmp_path, extra="max_size_mb = 0.1\nmax_duration_s = 1.0\n")
    write_script(setup.state, {"video_upload": {"action": "real"}}, setup.counters)
    clips = tmp_path / "clips"
    clips.mkdir()
    short = videofiles.write_synthetic_clip(clips / "short.mp4", frames=12)
    inbox = setup.inbox
    videofiles.write_empty(clips / "empty.mp4")
    videofiles.write_truncated(clips / "truncated.mp4", source=short)
    videofiles.write_text_as_video(clips / "notes.mp4")
    (clips / "too-big.mp4").write_bytes(videofiles.SAMPLE_CLIP.read_bytes())
    videofiles.write_synthetic_clip(clips / "too-long.mp4", frames=50)
    for name in ("broken.mp4", "unknown.mp4", "script.mp4", "styled.mp4"):
        (clips / name).write_bytes(short.read_bytes())
    (clips / "broken.json").write_text("{not json")
    (clips / "unknown.json").write_text(json.dumps({"colour": "red"}))
    (clips / "script.json").write_text(json.dumps({"output_name": "<script>alert(1)</script>"}))
    (clips / "styled.json").write_text(json.dumps({"output_name": "<i>take"}))
    (clips / GOOD_NAME).write_bytes(short.read_bytes())
    daemon = setup.start()
    for path in sorted(clips.iterdir()):
        if path.name != "short.mp4":
            os.rename(path, inbox / path.name)
    (inbox / "folder.mp4").mkdir()
    (inbox / "link.mp4").symlink_to(short)

    def finished_statuses() -> dict[str, tuple[Path, dict]] | None:
        found = {}
        for folder in setup.outbox.iterdir():
            if folder.is_dir() and (folder / "status.json").exists():
                status = json.loads((folder / "status.json").read_text(encoding="utf-8"))
                found[status["source"]] = (folder, status)
        finished = [
            source for source, (_, status) in found.items() if status["status"] in states.FINISHED_JOB_STATES
        ]
        return found if len(finished) == len(BAD_INPUTS) + 2 else None

    statuses = wait_for(finished_statuses, 60, "every job to finish")
    command = setup.cli("status")
    for source, reason in BAD_INPUTS.items():
        folder, status = statuses[source]
        assert status["status"] == states.FAILED, source
        assert reason in status["error"], (source, status["error"])
        report = (folder / "report.html").read_text(encoding="utf-8")
        assert str(escape(reason)) in report, source
        assert reason in command.stdout, source
    assert statuses[GOOD_NAME][1]["status"] == states.COMPLETED
    assert statuses[GOOD_NAME][0].name == '-my "take" été 01'
    assert (
        statuses["styled.mp4"][0].name == "<i>take"
        and statuses["styled.mp4"][1]["status"] == states.COMPLETED
    )
    script_report = (statuses["script.mp4"][0] / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in script_report and "&lt;script&gt;" in script_report
    wait_for(
        lambda: "&lt;i&gt;take" in (setup.outbox / "index.html").read_text(encoding="utf-8"), 10, "the index"
    )
    index = (setup.outbox / "index.html").read_text(encoding="utf-8")
    assert "<i>take" not in index and "&#34;take&#34;" in index
    assert command.returncode == 0 and daemon.process.poll() is None
    assert daemon.stop() == 0


def block_tracking(setup: Setup, release: Path) -> None:
    write_script(setup.state, {"tracking": {"action": "block", "release": str(release)}}, setup.counters)


def test_sigterm_lets_the_running_step_finish_then_exits_0(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    release = tmp_path / "release"
    block_tracking(setup, release)
    daemon = setup.start()
    drop(setup.inbox / "take.mp4", b"video")
    wait_for(lambda: counted(setup.counters, "tracking", "start"), 30, "tracking to start")
    daemon.signal(signal.SIGTERM)
    wait_for(lambda: "stopping: no new jobs" in daemon.log_text(), 10, "the stop to begin")
    assert daemon.process.poll() is None  # still waiting for the step
    release.touch()
    assert daemon.wait() == 0
    (job,) = setup.jobs()
    assert counted(setup.counters, "tracking", "end") == [job["id"]]
    assert job["state"] == states.QUEUED and job["attempts"] == 0
    assert setup.steps(job["id"])["tracking"] == states.DONE
    restarted = setup.start()
    wait_for(lambda: completed(setup, "take"), 30, "the job to complete after the restart")
    assert counted(setup.counters, "tracking", "start") == [job["id"]]  # not run again
    assert restarted.stop() == 0


def test_a_second_sigterm_aborts_the_step_and_the_job_resumes_on_restart(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    release = tmp_path / "release"
    block_tracking(setup, release)
    daemon = setup.start()
    drop(setup.inbox / "take.mp4", b"video")
    wait_for(lambda: counted(setup.counters, "tracking", "start"), 30, "tracking to start")
    daemon.signal(signal.SIGTERM)
    wait_for(lambda: "stopping: no new jobs" in daemon.log_text(), 10, "the stop to begin")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    (job,) = setup.jobs()
    assert job["state"] == states.QUEUED and job["lease_owner"] is None
    assert setup.steps(job["id"])["tracking"] == states.PENDING
    assert counted(setup.counters, "tracking", "end") == []
    restarted = setup.start()
    wait_for(lambda: len(counted(setup.counters, "tracking", "start")) == 2, 30, "tracking to start again")
    release.touch()
    wait_for(lambda: completed(setup, "take"), 30, "the job to complete")
    assert counted(setup.counters, "video_upload", "start") == [job["id"]]
    assert restarted.stop() == 0


def test_the_stop_grace_ends_with_the_step_aborted(tmp_path: Path) -> None:
    setup = Setup(tmp_path, grace=1.0)
    block_tracking(setup, tmp_path / "never")
    daemon = setup.start()
    drop(setup.inbox / "take.mp4", b"video")
    wait_for(lambda: counted(setup.counters, "tracking", "start"), 30, "tracking to start")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(30) == 0
    (job,) = setup.jobs()
    assert job["state"] == states.QUEUED and setup.steps(job["id"])["tracking"] == states.PENDING


def test_sighup_with_a_broken_config_keeps_the_old_one(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    write_script(setup.state, {}, setup.counters)
    daemon = setup.start()
    setup.config.write_text("inbox = = broken\n")
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "keeping the old one" in daemon.log_text(), 10, "the reload to be refused")
    drop(setup.inbox / "after.mp4", b"video")
    wait_for(lambda: completed(setup, "after"), 30, "a job with the old configuration")
    setup.write_config(extra="max_size_mb = 77.0\n")
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in daemon.log_text(), 10, "the reload")
    assert daemon.process.poll() is None
    assert daemon.stop() == 0


STEP_MODULES = [
    Path(__file__).resolve().parent.parent / "mocapd" / "steps" / f"{step}.py" for step in states.STEPS
]


@pytest.mark.slow
@pytest.mark.skipif(
    not all(path.exists() for path in STEP_MODULES),
    reason="the real pipeline's step modules are not all written yet (mocapd/steps/*.py)",
)
def test_the_real_pipeline_turns_the_sample_into_an_fbx(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    daemon = setup.start_real()
    drop(setup.inbox / "sample.mp4", videofiles.SAMPLE_CLIP.read_bytes())
    status = wait_for(
        lambda: (s := setup.status("sample")) and s["status"] in states.FINISHED_JOB_STATES and s,
        300,
        "the real pipeline",
        interval=0.5,
    )
    assert status["status"] == states.COMPLETED, status["error"]
    assert status["backend"] == "mediapipe" and status["video"]["frame_count"] == 100
    assert any(track["selected"] for track in status["tracks"])
    data = (setup.outbox / "sample" / "animation.fbx").read_bytes()
    assert data.startswith(b"Kaydara FBX Binary")
    assert daemon.stop() == 0


def test_an_interrupted_ingest_is_finished_at_start_and_makes_one_job(tmp_path: Path) -> None:
    from mocapd.inbox.watcher import Candidate
    from mocapd.service.daemon import candidate_record
    from mocapd.store import open_store

    setup = Setup(tmp_path)
    write_script(setup.state, {}, setup.counters)
    video = drop(setup.inbox / "take.mp4", b"video" * 100)
    status = video.stat()
    candidate = Candidate(video, "take.mp4", status.st_size, status.st_mtime_ns, None, None, status.st_ino)
    # The daemon died after making the job's row, during the copy: a staging file, no verified copy.
    store = open_store(setup.state)
    job_id, _ = store.create_job(
        candidate.identity, candidate.relative, candidate_record(candidate), time.time()
    )
    store.close()
    input_dir = setup.state / "jobs" / str(job_id) / "input"
    input_dir.mkdir(parents=True)
    (input_dir / ".take.mp4.ingest").write_bytes(b"vid")
    daemon = setup.start()
    wait_for(lambda: completed(setup, "take"), 30, "the job")
    assert [job["id"] for job in setup.jobs()] == [job_id]  # the rescan found the same file: no second job
    assert (input_dir / "take.mp4").read_bytes() == b"video" * 100
    assert not video.exists()
    assert daemon.stop() == 0


def test_systemd_hears_ready_watchdog_and_stopping(tmp_path: Path) -> None:
    import socket
    import tempfile

    setup = Setup(tmp_path)
    write_script(setup.state, {}, setup.counters)
    address = Path(tempfile.mkdtemp(prefix="notify-")) / "s"  # short: socket paths are limited to 108 bytes
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(address))
        listener.settimeout(20)
        daemon = setup.start({"NOTIFY_SOCKET": str(address), "WATCHDOG_USEC": "400000"})
        messages = [listener.recv(256).decode() for _ in range(3)]
        assert messages[0] == "READY=1" and messages[1:] == ["WATCHDOG=1", "WATCHDOG=1"]
        daemon.signal(signal.SIGTERM)
        while (message := listener.recv(256).decode()) == "WATCHDOG=1":
            pass
        assert message == "STOPPING=1"
        assert daemon.wait() == 0
    address.unlink()
    address.parent.rmdir()


def test_low_disk_space_pauses_the_daemon_until_the_limit_is_met(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.write_config(extra="")
    setup.config.write_text(
        setup.config.read_text().replace("min_free_disk_mb = 0.0", "min_free_disk_mb = 1e9")
    )
    write_script(setup.state, {}, setup.counters)
    daemon = setup.start()
    drop(setup.inbox / "take.mp4", b"video")

    def paused() -> bool:
        result = setup.cli("status", "--json")
        return bool(json.loads(result.stdout).get("daemon", {}).get("paused"))

    wait_for(paused, 20, "the daemon to pause")
    health = setup.cli("health")
    assert health.returncode == 1 and "limits.min_free_disk_mb" in health.stdout
    assert setup.jobs() == [] and (setup.inbox / "take.mp4").exists()
    setup.write_config()
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: completed(setup, "take"), 30, "the job once there is room")
    assert daemon.stop() == 0
