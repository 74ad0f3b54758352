"""Hostile and unlucky inputs from a share, against one real `mocapd run` process (issue 13).

Each case asserts that the daemon is alive afterwards, that the job's status.json and report say why,
that nothing was written outside the inbox, outbox and state dir (a scan of the test's temp root),
and that no input was lost. The daemon runs under umask 000 to show that its files get a fixed mode.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mocapd import states
from mocapd.inbox.ingest import candidate_record
from mocapd.inbox.watcher import Candidate
from mocapd.service.daemon import INGEST_TRIES
from mocapd.store import open_store
from tests import videofiles
from tests.stages import counted, write_script
from tests.stages.harness import Daemon, Setup, drop, wait_for

FINISHED = states.FINISHED_JOB_STATES
# The daemon's own paths outside inbox/outbox/state that the harness writes (its log, the stages' counters).
HARNESS = ("daemon-", "counters", "mocapd.toml", "clips", "release-")


def outside(setup: Setup) -> dict[bytes, tuple[int, int]]:
    """Every file under the test's root but outside inbox, outbox and state: path -> (size, mtime_ns)."""
    allowed = {os.fsencode(path) for path in (setup.inbox, setup.outbox, setup.state)}
    found: dict[bytes, tuple[int, int]] = {}
    root = os.fsencode(setup.root)
    for folder, folders, files in os.walk(root):
        folders[:] = [
            name
            for name in folders
            if os.path.join(folder, name) not in allowed
            and not (folder == root and name.decode(errors="replace").startswith(HARNESS))
        ]
        for name in files:
            if folder == root and name.decode(errors="replace").startswith(HARNESS):
                continue
            status = os.lstat(os.path.join(folder, name))
            found[os.path.join(folder, name)] = (status.st_size, status.st_mtime_ns)
    return found


def put(setup: Setup, name: str, data: bytes) -> Path:
    """A finished copy into the inbox under `name` (written aside, then renamed: no staging name in the inbox)."""
    staging = setup.root / "clips" / ".put"
    staging.write_bytes(data)
    os.rename(staging, setup.inbox / name)
    return setup.inbox / name


def job_for(setup: Setup, source: str) -> dict[str, Any] | None:
    """The finished job row of `source` (as stored: escaped), with its status.json once that is final."""
    for job in setup.jobs():
        if job["source_relative"] == source and job["state"] in FINISHED and job["name"]:
            status = setup.status(job["name"])
            if status is not None and status["status"] == job["state"]:
                return job | {"status": status}
    return None


def finished(setup: Setup, source: str, timeout: float = 60.0) -> dict[str, Any]:
    found: dict[str, Any] = wait_for(lambda: job_for(setup, source), timeout, f"the job of {source!r}")
    return found


def report(setup: Setup, job: dict[str, Any]) -> str:
    return (setup.outbox / job["name"] / "report.html").read_text(encoding="utf-8")


class Shared:
    """The module's daemon and what the cases share."""

    def __init__(self, setup: Setup, daemon: Daemon, clip: bytes, crashed_job: int) -> None:
        self.setup = setup
        self.daemon = daemon
        self.clip = clip
        self.crashed_job = crashed_job

    def alive(self) -> None:
        assert self.daemon.process.poll() is None, self.daemon.log_text()[-3000:]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    root = tmp_path_factory.mktemp("hostile")
    setup = Setup(root)
    (root / "outside").mkdir()
    (root / "outside" / "marker.txt").write_text("must stay as it is")
    clips = root / "clips"
    clips.mkdir()
    short = videofiles.write_synthetic_clip(clips / "short.mp4", frames=6)
    write_script(
        setup.state,
        {
            "video_upload": {"action": "real"},
            "tracking": {"action": "block", "only": "blocker", "release": str(root / "release-blocker")},
            "packaging": {"action": "block", "only": "linked", "release": str(root / "release-linked")},
        },
        setup.counters,
    )
    # A job whose ingest the daemon began twice (max_attempts) and never ended: it crashed the daemon.
    crashed = drop(setup.inbox / "crasher.mp4", short.read_bytes())
    status = crashed.stat()
    candidate = Candidate(
        crashed, "crasher.mp4", status.st_size, status.st_mtime_ns, None, None, status.st_ino
    )
    store = open_store(setup.state)
    crashed_job, _ = store.create_job(
        candidate.identity,
        candidate.relative,
        candidate_record(candidate) | {INGEST_TRIES: 2},
        time.time(),
    )
    store.close()
    previous = os.umask(0)  # whoever starts the daemon: its files still get a fixed mode
    try:
        daemon = setup.start({"MOCAPD_RUNNER__PAUSE_RETRY_S": "0.2"})
    finally:
        os.umask(previous)
    yield Shared(setup, daemon, short.read_bytes(), crashed_job)
    for name in ("release-blocker", "release-linked"):
        (root / name).touch()
    assert daemon.stop() == 0


def test_a_job_that_crashed_the_daemon_during_ingest_is_failed_with_the_reason(shared: Shared) -> None:
    setup = shared.setup
    before = outside(setup)
    job = finished(setup, "crasher.mp4")
    assert job["id"] == shared.crashed_job and job["state"] == states.FAILED
    assert "the daemon stopped 2 times while taking crasher.mp4 in" in job["status"]["error"]
    assert "stopped 2 times" in report(setup, job)
    assert (setup.inbox / "crasher.mp4").read_bytes() == shared.clip  # not lost, not taken again
    assert outside(setup) == before
    shared.alive()


@pytest.mark.parametrize("name", ["a" * 251 + ".mp4", "é" * 122 + ".mp4", "b" * 244 + ".mp4"])
def test_a_name_of_up_to_255_bytes_is_taken(shared: Shared, name: str) -> None:
    setup = shared.setup
    before = outside(setup)
    assert 248 <= len(name.encode()) <= 255
    put(setup, name, shared.clip)
    job = finished(setup, name)
    assert job["state"] == states.COMPLETED, job["status"]["error"]
    assert len(job["name"].encode()) <= 200 and job["status"]["source"] == name
    assert (setup.outbox / job["name"] / "animation.fbx").is_file()
    input_dir = setup.state / "jobs" / str(job["id"]) / "input"
    assert [path.read_bytes() for path in input_dir.iterdir()] == [shared.clip]  # the input is kept
    assert not (setup.inbox / name).exists()
    assert outside(setup) == before
    shared.alive()


def test_undecodable_bytes_in_a_name_are_stored_and_shown_escaped(shared: Shared) -> None:
    setup = shared.setup
    before = outside(setup)
    raw = os.fsencode(setup.inbox) + b"/caf\xe9 \xff.mp4"
    with open(raw + b".tmp", "wb") as handle:
        handle.write(shared.clip)
    os.rename(raw + b".tmp", raw)
    job = finished(setup, "caf\\xe9 \\xff.mp4")
    assert job["state"] == states.COMPLETED, job["status"]["error"]
    assert job["name"] == "caf_ _" and job["status"]["source"] == "caf\\xe9 \\xff.mp4"
    assert "caf\\xe9 \\xff.mp4" in report(setup, job)
    listing = setup.cli("jobs")
    assert listing.returncode == 0 and "caf_ _" in listing.stdout
    (copy,) = (setup.state / "jobs" / str(job["id"]) / "input").iterdir()
    assert copy.read_bytes() == shared.clip and copy.name.isprintable()
    assert not os.path.exists(raw)
    assert outside(setup) == before
    shared.alive()


def test_control_characters_in_a_name_are_escaped_in_jobs_the_log_and_the_pages(shared: Shared) -> None:
    setup = shared.setup
    before = outside(setup)
    put(setup, "esc\x1b[31mred\nline.mp4", shared.clip)
    job = finished(setup, "esc\\x1b[31mred\\nline.mp4")
    assert job["state"] == states.COMPLETED
    assert "\x1b" not in job["name"] and "\n" not in job["name"]
    listing = setup.cli("jobs")
    assert listing.returncode == 0 and "\x1b" not in listing.stdout
    (line,) = [row for row in listing.stdout.splitlines() if job["name"] in row]  # one line, not two
    assert line.split()[0] == str(job["id"])
    log = shared.daemon.log_text()
    assert "esc\\x1b[31mred\\nline.mp4" in log and "\x1b" not in log
    assert "\x1b" not in report(setup, job) and "esc\\x1b[31mred\\nline.mp4" in report(setup, job)
    wait_for(
        lambda: job["name"] in (setup.outbox / "index.html").read_text(encoding="utf-8"), 10, "the index"
    )
    assert "\x1b" not in (setup.outbox / "index.html").read_text(encoding="utf-8")
    assert outside(setup) == before
    shared.alive()


@pytest.mark.parametrize(
    ("name", "sidecar", "reason"),
    [
        ("deep", '{"formats": ' + "[" * 1000 + "]" * 1000 + "}", "nested too deeply"),
        ("huge", json.dumps({"output_name": "x" * 100_000}), "larger than 64 KB"),
        ("badbytes", '{"output_name": "\\ud800"}', "has control characters"),
    ],
)
def test_a_deep_or_huge_sidecar_fails_its_job_with_the_reason(
    shared: Shared, name: str, sidecar: str, reason: str
) -> None:
    setup = shared.setup
    before = outside(setup)
    drop(setup.inbox / f"{name}.json", sidecar.encode())
    drop(setup.inbox / f"{name}.mp4", shared.clip)
    job = finished(setup, f"{name}.mp4")
    assert job["state"] == states.FAILED and reason in job["status"]["error"], job["status"]["error"]
    assert reason in report(setup, job)
    input_dir = setup.state / "jobs" / str(job["id"]) / "input"
    assert (input_dir / f"{name}.mp4").read_bytes() == shared.clip  # the video is kept with its job
    assert (input_dir / f"{name}.json").read_text() == sidecar
    assert outside(setup) == before
    shared.alive()


def test_a_one_frame_video_gets_a_clear_reason(shared: Shared) -> None:
    setup = shared.setup
    one = videofiles.write_synthetic_clip(setup.root / "clips" / "one.mp4", frames=1)
    before = outside(setup)
    drop(setup.inbox / "one.mp4", one.read_bytes())
    job = finished(setup, "one.mp4")
    assert job["state"] == states.FAILED
    assert "the video holds 1 frame(s): a motion needs at least 2" in job["status"]["error"]
    assert "nobody" not in job["status"]["error"]
    assert "holds 1 frame(s)" in report(setup, job)
    assert [path.read_bytes() for path in (setup.state / "jobs" / str(job["id"]) / "input").iterdir()] == [
        one.read_bytes()
    ]  # the input is kept with the failed job
    assert outside(setup) == before
    shared.alive()


def test_a_stalled_copy_fails_as_incomplete_keeps_the_inbox_file_and_is_taken_when_complete(
    shared: Shared,
) -> None:
    setup = shared.setup
    data = videofiles.SAMPLE_CLIP.read_bytes()
    target = setup.inbox / "stalled.mp4"
    before = outside(setup)
    with open(target, "wb") as handle:  # the copy stalls halfway for longer than the settle time
        handle.write(data[: len(data) // 2])
    job = finished(setup, "stalled.mp4")
    assert job["state"] == states.FAILED
    assert job["status"]["error"].startswith("video check: the copy looks incomplete"), job["status"]["error"]
    assert "stalled.mp4 stays in the inbox" in report(setup, job)
    assert target.read_bytes() == data[: len(data) // 2]  # still in the inbox
    with open(target, "ab") as handle:  # the copy resumes and ends
        handle.write(data[len(data) // 2 :])
    complete = wait_for(
        lambda: next(
            (
                row
                for row in setup.jobs()
                if row["source_relative"] == "stalled.mp4" and row["state"] == states.COMPLETED
            ),
            None,
        ),
        60,
        "the completed copy's job",
    )
    assert complete["id"] != job["id"]
    wait_for(lambda: not target.exists(), 30, "the complete copy to leave the inbox")
    copy = setup.state / "jobs" / str(complete["id"]) / "input" / "stalled.mp4"
    assert copy.read_bytes() == data
    assert outside(setup) == before
    shared.alive()


def test_a_link_put_in_place_of_the_outbox_folder_is_not_followed(shared: Shared) -> None:
    setup = shared.setup
    target = setup.root / "outside" / "target"
    target.mkdir()
    (target / "animation.fbx").write_text("someone else's file")
    (target / "animation.bvh").write_text("someone else's file")
    drop(setup.inbox / "linked.mp4", shared.clip)
    wait_for(lambda: counted(setup.counters, "packaging", "start"), 30, "packaging to start")
    wait_for(lambda: (setup.outbox / "linked" / "status.json").exists(), 10, "the job's status")
    os.rename(setup.outbox / "linked", setup.root / "outside" / "old-linked")  # as a person would
    (setup.outbox / "linked").symlink_to(target)
    before = outside(setup)
    (setup.root / "release-linked").touch()
    job = finished(setup, "linked.mp4")
    assert job["state"] == states.COMPLETED
    after = outside(setup)
    # A status write already under way when the folder was moved lands in it (its descriptor was open
    # before the move): the moved folder may see its status rewritten, nothing else outside changes.
    moved = os.fsencode(setup.root / "outside" / "old-linked") + b"/"
    assert set(after) == set(before)  # nothing new outside, nothing deleted there
    assert {path: seen for path, seen in after.items() if not path.startswith(moved)} == {
        path: seen for path, seen in before.items() if not path.startswith(moved)
    }  # nothing written through the link
    assert sorted(path.name for path in target.iterdir()) == ["animation.bvh", "animation.fbx"]
    assert not (setup.outbox / "linked").is_symlink()
    assert (setup.outbox / "linked" / "animation.fbx").read_bytes().endswith(b"\nEND\n")
    assert os.readlink(setup.outbox / "linked.link") == str(target)  # kept, renamed aside
    assert "renamed to linked.link and not followed" in shared.daemon.log_text()
    shared.alive()


def test_a_link_put_in_place_of_the_job_folder_is_not_followed(shared: Shared) -> None:
    setup = shared.setup
    drop(setup.inbox / "blocker.mp4", shared.clip)
    wait_for(lambda: counted(setup.counters, "tracking", "start"), 30, "the blocker's tracking")
    drop(setup.inbox / "swapped.mp4", shared.clip)
    row = wait_for(
        lambda: next(
            (job for job in setup.jobs() if job["source_relative"] == "swapped.mp4" and job["ingested"]), None
        ),
        30,
        "the queued job",
    )
    folder = setup.state / "jobs" / str(row["id"])
    decoy = setup.root / "outside" / "decoy"
    moved = setup.root / "outside" / "moved-job"
    decoy.mkdir()
    (decoy / "package").mkdir()
    (decoy / "package" / "animation.fbx").write_text("not the job's result")
    os.rename(folder, moved)
    folder.symlink_to(decoy)
    before = outside(setup)
    (setup.root / "release-blocker").touch()
    job = finished(setup, "swapped.mp4")
    assert job["state"] == states.FAILED
    assert "is a symbolic link or not a folder" in job["status"]["error"]
    assert "symbolic link" in report(setup, job)
    assert outside(setup) == before  # nothing read from or written into the decoy
    assert not (setup.outbox / job["name"] / "animation.fbx").exists()
    assert (moved / "input" / "swapped.mp4").read_bytes() == shared.clip  # the input was never touched
    folder.unlink()
    os.rename(moved, folder)
    shared.alive()


def test_submit_writes_only_inside_the_inbox_and_takes_only_videos(shared: Shared) -> None:
    setup = shared.setup
    clip = setup.root / "clips" / "short.mp4"
    notes = setup.root / "clips" / "notes.txt"
    notes.write_text("not a video")
    before = outside(setup)
    for folder in ("../outside", str(setup.root / "outside"), "sub/../../outside"):
        result = setup.cli("submit", str(clip), "--folder", folder)
        assert result.returncode != 0 and "--folder" in result.stderr, result.stderr
    (setup.inbox / "escape").symlink_to(setup.root / "outside")
    result = setup.cli("submit", str(clip), "--folder", "escape")
    assert result.returncode != 0 and "leads out of the inbox" in result.stderr
    (setup.inbox / "escape").unlink()
    result = setup.cli("submit", str(notes))
    assert result.returncode != 0 and "not a video the daemon takes" in result.stderr
    assert outside(setup) == before
    assert not any(setup.inbox.glob("*.txt"))
    shared.alive()


def test_files_get_a_fixed_mode_under_any_umask(shared: Shared) -> None:
    setup = shared.setup
    job = finished(setup, "linked.mp4")
    loose = []
    for top in (setup.outbox, setup.state):
        for folder, folders, files in os.walk(top):
            for name in folders + files:
                path = Path(folder) / name
                if path.is_symlink() or path.name == "test-stages.json":
                    continue
                if path.stat().st_mode & 0o022:
                    loose.append(f"{path} {oct(path.stat().st_mode)}")
    assert loose == []
    assert (setup.state / "jobs" / str(job["id"]) / "tracklets.pkl").stat().st_mode & 0o777 == 0o644
    shared.alive()
