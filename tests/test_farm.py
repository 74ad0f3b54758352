"""A farm on one machine: real `mocapd run` processes, each with its own state dir, sharing one inbox,
one outbox, one spool and one queue on the real PostgreSQL server (a schema of the test's own).

Skipped with the reason when the server cannot be reached (failed instead under TESTS_REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mocapd import states
from tests import postgres
from tests.stages import counted, write_script
from tests.stages.harness import Daemon, Setup, drop, wait_for
from tests.test_daemon import OutboxInspector


class Farm:
    """The share (inbox, outbox, spool), the counters every host's stages write to, and the schema."""

    def __init__(self, root: Path, schema: str) -> None:
        self.root = root
        self.schema = schema
        self.share = root / "share"
        self.inbox = self.share / "inbox"
        self.outbox = self.share / "outbox"
        self.spool = self.share / "spool"
        self.counters = root / "counters"
        self.daemons: list[Daemon] = []

    def host(
        self, name: str, lease: float = 30.0, capabilities: list[str] | None = None, heartbeat: float = 0.5
    ) -> Setup:
        tail = (
            f'\n[store]\nurl = "{postgres.url()}"\nschema = "{self.schema}"\n'
            f'\n[farm]\nhost = "{name}"\n'
            + (f"capabilities = {json.dumps(capabilities)}\n" if capabilities else "")
        )
        setup = Setup(
            self.root / name,
            inbox=self.inbox,
            outbox=self.outbox,
            counters=self.counters,
            lease=lease,
            tail=tail,
        )
        text = setup.config.read_text().replace("heartbeat_seconds = 0.5", f"heartbeat_seconds = {heartbeat}")
        setup.config.write_text(text)
        return setup

    def start(self, setup: Setup, steps: dict[str, dict[str, Any]] | None = None) -> Daemon:
        write_script(setup.state, steps or {}, self.counters)
        daemon = setup.start()
        self.daemons.append(daemon)
        return daemon

    def start_together(self, setups: list[Setup]) -> list[Daemon]:
        """Several hosts started at once (each start waits for its daemon to watch the inbox)."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(setups)) as pool:
            return list(pool.map(self.start, setups))

    def rows(self, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        return postgres.execute(f'SET search_path TO "{self.schema}"; {sql}', parameters)

    def jobs(self) -> list[dict[str, Any]]:
        try:
            rows = self.rows(
                "SELECT id, name, state, attempts, fence, lease_owner, error FROM jobs ORDER BY id"
            )
        except Exception:  # the tables are made by the first daemon
            return []
        keys = ("id", "name", "state", "attempts", "fence", "lease_owner", "error")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def step_hosts(self, job_id: int) -> dict[str, str | None]:
        return dict(self.rows("SELECT name, host FROM steps WHERE job_id = %s", (job_id,)))

    def completed(self) -> list[dict[str, Any]]:
        return [job for job in self.jobs() if job["state"] == states.COMPLETED]

    def published(self) -> dict[int, list[str]]:
        """Job id -> the hosts whose logs say they completed (published) it."""
        found: dict[int, list[str]] = {}
        for daemon in self.daemons:
            host = daemon.setup.root.name
            for line in daemon.log_text().splitlines():
                if "): completed" in line and " job " in line:
                    job_id = int(line.split(" job ", 1)[1].split(" ", 1)[0])
                    found.setdefault(job_id, []).append(host)
        return found

    def stop_all(self) -> None:
        for daemon in self.daemons:
            if daemon.process.poll() is None:
                try:
                    os.kill(daemon.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
                daemon.stop()


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[Farm]:
    with postgres.schema() as schema:
        made = Farm(tmp_path, schema)
        try:
            yield made
        finally:
            made.stop_all()


def outbox_leftovers(outbox: Path) -> list[str]:
    """Hidden staging files left in the outbox (a torn publish would leave one)."""
    return sorted(
        str(path.relative_to(outbox))
        for path in outbox.rglob(".*")
        if path.name != ".gitkeep" and not path.name.startswith(".index.html")
    )


@pytest.mark.slow
def test_three_hosts_sixty_videos_make_sixty_jobs_each_run_and_published_once(farm: Farm) -> None:
    hosts = [farm.host(name, lease=20.0) for name in ("alpha", "beta", "gamma")]
    daemons = farm.start_together(hosts)
    staging = farm.root / "staging"
    staging.mkdir()
    names = [f"take{index:02d}.mp4" for index in range(60)]
    for name in names:
        (staging / name).write_bytes(name.encode() * 50)
    for name in names:  # dropped at once: every host sees every file
        os.rename(staging / name, farm.inbox / name)
    wait_for(lambda: len(farm.completed()) == 60, 240, "60 completed jobs", interval=0.5)
    jobs = farm.jobs()
    assert len(jobs) == 60 and sorted(job["name"] for job in jobs) == [Path(n).stem for n in names]
    ids = [job["id"] for job in jobs]
    assert all(job["attempts"] == 1 and job["fence"] == 1 for job in jobs)  # each claimed once
    for step in states.STEPS:
        assert sorted(counted(farm.counters, step, "end")) == ids, step  # each step ran once per job
    published = farm.published()
    assert sorted(published) == ids and all(len(hosts) == 1 for hosts in published.values())
    ran_on = {host for job_id in ids for host in farm.step_hosts(job_id).values()}
    assert ran_on == {"alpha", "beta", "gamma"}, ran_on  # the queue was shared
    for name in names:
        data = (farm.outbox / Path(name).stem / "animation.fbx").read_bytes()
        assert data.startswith(b"FAKE-FBX") and data.endswith(b"\nEND\n")
    assert list(farm.inbox.iterdir()) == []
    assert sorted(int(p.name) for p in (farm.spool / "jobs").iterdir()) == ids  # job folders on the share
    assert outbox_leftovers(farm.outbox) == []
    listing = hosts[0].cli("hosts", "--json")
    assert listing.returncode == 0, listing.stderr
    assert sorted(host["name"] for host in json.loads(listing.stdout)) == ["alpha", "beta", "gamma"]
    assert all(daemon.process.poll() is None for daemon in daemons)


@pytest.mark.slow
def test_kill_9_of_the_host_in_a_step_another_host_finishes_the_job(farm: Farm) -> None:
    first = farm.host("first", lease=3.0)
    second = farm.host("second", lease=3.0)
    inspector = OutboxInspector(farm.outbox)
    inspector.start()
    victim = farm.start(first, {"tracking": {"action": "block", "release": str(farm.root / "never")}})
    drop(farm.inbox / "take.mp4", b"video" * 1000)
    wait_for(lambda: counted(farm.counters, "tracking", "start"), 30, "tracking to start on the first host")
    survivor = farm.start(second)
    (job,) = farm.jobs()
    assert job["lease_owner"] == f"first:{victim.pid}"
    victim.signal(signal.SIGKILL)
    victim.wait()
    wait_for(lambda: farm.completed(), 40, "the second host to finish the job")
    inspector.running = False
    inspector.join(10)
    (job,) = farm.jobs()
    assert job["attempts"] == 2 and job["fence"] == 2 and job["lease_owner"] is None
    # It resumed at the step that was running: video_upload's result was on the shared spool.
    assert counted(farm.counters, "video_upload", "end") == [job["id"]]
    assert counted(farm.counters, "tracking", "start") == [job["id"], job["id"]]
    assert counted(farm.counters, "tracking", "end") == [job["id"]]
    hosts = farm.step_hosts(job["id"])
    assert hosts[states.VIDEO_UPLOAD] == "first" and hosts[states.TRACKING] == "second"
    assert farm.published() == {job["id"]: ["second"]}
    listing = second.cli("jobs").stdout
    assert "[first: video_upload; second: tracking, track_extraction" in listing, listing
    data = (farm.outbox / "take" / "animation.fbx").read_bytes()
    assert b"host=second" in data and data.endswith(b"\nEND\n")
    assert inspector.looks > 10 and inspector.problems == []
    assert outbox_leftovers(farm.outbox) == []

    def first_is_gone() -> dict[str, Any] | None:
        listing = json.loads(second.cli("hosts", "--json").stdout)
        return next((h for h in listing if h["name"] == "first" and h["state"] == "gone"), None)

    gone = wait_for(first_is_gone, 20, "the dead host to be shown as gone")
    assert gone["job"] is None or gone["job"] == job["id"]
    text = second.cli("hosts").stdout
    assert "first" in text and "gone" in text and "second" in text
    assert survivor.process.poll() is None


@pytest.mark.slow
def test_a_stale_host_stopped_while_its_lease_was_taken_over_cannot_publish(farm: Farm) -> None:
    stale_setup = farm.host("stale", lease=3.0)
    fresh_setup = farm.host("fresh", lease=3.0)
    release = farm.root / "release"
    stale = farm.start(stale_setup, {"packaging": {"action": "block", "release": str(release)}})
    drop(farm.inbox / "take.mp4", b"video" * 1000)
    wait_for(lambda: counted(farm.counters, "packaging", "start"), 30, "packaging to start on the stale host")
    fresh = farm.start(fresh_setup)
    stale.signal(signal.SIGSTOP)
    try:
        wait_for(lambda: farm.completed(), 40, "the fresh host to take the job over and finish it")
        result = farm.outbox / "take" / "animation.fbx"
        before = result.stat()
        (job,) = farm.jobs()
        assert job["fence"] == 2
        release.touch()  # the stale host's step (still running) finishes while its daemon is stopped
        wait_for(lambda: len(counted(farm.counters, "packaging", "end")) == 2, 20, "the stale step to end")
    finally:
        stale.signal(signal.SIGCONT)
    wait_for(lambda: "not recorded or published" in stale.log_text(), 30, "the stale host to notice")
    after = result.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    (job,) = farm.jobs()
    assert job["state"] == states.COMPLETED and job["fence"] == 2
    assert farm.published() == {job["id"]: ["fresh"]}
    assert stale.process.poll() is None and fresh.process.poll() is None
    assert outbox_leftovers(farm.outbox) == []


@pytest.mark.slow
def test_a_job_for_4dhumans_is_never_claimed_by_an_embedded_only_host(farm: Farm) -> None:
    embedded = farm.host("embedded", capabilities=["mediapipe"])
    gpu = farm.host("gpu", capabilities=["4dhumans", "mediapipe"])
    farm.start(embedded)
    drop(farm.inbox / "heavy.json", json.dumps({"backend": "4dhumans"}).encode())
    drop(farm.inbox / "heavy.mp4", b"video" * 100)
    for index in range(3):
        drop(farm.inbox / f"light{index}.mp4", b"video" * 100)
    wait_for(lambda: len(farm.completed()) == 3, 40, "the embedded host to finish the plain jobs")
    heavy = next(job for job in farm.jobs() if job["name"] == "heavy")
    assert heavy["state"] == states.QUEUED and heavy["attempts"] == 0 and heavy["fence"] == 0
    farm.start(gpu)
    wait_for(lambda: len(farm.completed()) == 4, 40, "the GPU host to take the 4D-Humans job")
    heavy = next(job for job in farm.jobs() if job["name"] == "heavy")
    assert set(farm.step_hosts(heavy["id"]).values()) == {"gpu"}
    assert farm.rows("SELECT wants FROM jobs WHERE id = %s", (heavy["id"],)) == [("4dhumans",)]
    for job in farm.jobs():
        if job["name"] != "heavy":
            assert set(farm.step_hosts(job["id"]).values()) == {"embedded"}


PG_CLUSTER_VERSION_DIR = Path("/etc/postgresql")
OUTAGE_SECONDS = 20.0


def pg_ctl(action: str) -> None:
    version = sorted(os.listdir(PG_CLUSTER_VERSION_DIR))[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
        timeout=60,
    )


def others_using_postgres() -> list[tuple[Any, ...]]:
    """Client sessions that are not mocapd's (another test run or another user of the server)."""
    return postgres.execute(
        "SELECT pid, application_name, datname FROM pg_stat_activity WHERE backend_type = 'client backend' "
        "AND pid <> pg_backend_pid() AND application_name <> 'mocapd'"
    )


def server_is_up() -> bool:
    return postgres.unreachable_reason() is None


@pytest.mark.slow
def test_postgres_stopped_for_20_s_under_load_the_hosts_pause_and_resume(farm: Farm) -> None:
    if not postgres.required():
        # It stops the server every other user of this machine shares: only CI (.ci/run) runs it.
        pytest.skip(
            "stops the shared PostgreSQL server for 20 s: run with TESTS_REQUIRE_POSTGRES=1 (.ci/run)"
        )
    if shutil.which("pg_ctlcluster") is None or not PG_CLUSTER_VERSION_DIR.is_dir():
        pytest.skip("pg_ctlcluster is not installed: this test stops a local Debian cluster")
    if os.geteuid() != 0:
        pytest.skip("stopping the PostgreSQL cluster needs root")
    hosts = [farm.host(name, lease=60.0) for name in ("one", "two", "three")]
    release = farm.root / "release"
    daemons = [
        farm.start(setup, {"tracking": {"action": "block", "release": str(release)}}) for setup in hosts
    ]
    for index in range(12):
        drop(farm.inbox / f"before{index:02d}.mp4", b"video" * 100)
    wait_for(lambda: len(counted(farm.counters, "tracking", "start")) == 3, 30, "a step running on each host")
    wait_for(lambda: not others_using_postgres(), 60, "other users of PostgreSQL to finish")
    pg_ctl("stop")
    stopped = time.monotonic()
    try:
        for index in range(5):  # dropped while the queue is down: taken in once it is back
            drop(farm.inbox / f"during{index}.mp4", b"video" * 100)
        health = wait_for(
            lambda: (h := hosts[0].cli("health")) and "cannot reach the job database" in h.stdout and h,
            15,
            "health to say the database cannot be reached",
        )
        assert health.returncode == 2
        wait_for(lambda: all("paused:" in d.log_text() for d in daemons), 15, "every host to pause")
        release.touch()  # the running steps end while the database is down: their results are kept
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))  # the outage itself
        assert all(daemon.process.poll() is None for daemon in daemons)
    finally:
        pg_ctl("start")
    wait_for(server_is_up, 30, "PostgreSQL to come back")
    wait_for(lambda: len(farm.completed()) == 17, 60, "every job to complete", interval=0.3)
    jobs = farm.jobs()
    ids = [job["id"] for job in jobs]
    assert len(jobs) == 17 and all(job["state"] == states.COMPLETED for job in jobs)
    assert sorted(job["name"] for job in jobs) == sorted(
        [f"before{i:02d}" for i in range(12)] + [f"during{i}" for i in range(5)]
    )
    for step in states.STEPS:
        assert sorted(counted(farm.counters, step, "end")) == ids, step  # nothing run twice
    published = farm.published()
    assert sorted(published) == ids and all(len(hosts) == 1 for hosts in published.values())
    assert all(job["fence"] == 1 for job in jobs)
    assert all("the job database is back" in daemon.log_text() for daemon in daemons)
    assert all(daemon.process.poll() is None for daemon in daemons)
    assert hosts[0].cli("health").returncode in (0, 1)
