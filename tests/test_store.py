"""The storage contract, run against every backend: SQLite, and PostgreSQL (skipped when unreachable)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mocapd import states, store
from mocapd.store import LostLease, Store, StoreError
from tests import postgres


def open_sqlite_store(folder: Path) -> Store:
    return store.open_sqlite(folder / "mocapd.db")


def open_postgres_store(folder: Path) -> Store:
    """The store in a schema of the folder's own (named in a file there): processes given the folder share it."""
    from mocapd.store_postgres import open_postgres

    return open_postgres(postgres.url(), postgres.folder_schema(folder))


BACKENDS: dict[str, Callable[[Path], Store]] = {
    "sqlite": open_sqlite_store,
    "postgresql": open_postgres_store,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    name = str(request.param)
    if name == "postgresql":
        postgres.require()
    yield name
    if name == "postgresql":
        postgres.drop_schema(postgres.folder_schema(tmp_path))


@pytest.fixture
def job_store(backend: str, tmp_path: Path) -> Iterator[Store]:
    opened = BACKENDS[backend](tmp_path)
    yield opened
    opened.close()


def make_jobs(job_store: Store, count: int) -> list[int]:
    ids = []
    for index in range(count):
        job_id, created = job_store.create_job(f"clip{index}|1|2|3", f"clip{index}.mp4", {}, 1000.0 + index)
        assert created
        job_store.mark_ingested(job_id, f"clip{index}", {})
        ids.append(job_id)
    return ids


def test_the_same_file_makes_one_job(job_store: Store) -> None:
    first, created = job_store.create_job("a.mp4|10|5|7", "a.mp4", {"size": 10}, 1.0)
    again, created_again = job_store.create_job("a.mp4|10|5|7", "a.mp4", {"size": 10}, 2.0)
    assert created and not created_again and first == again
    assert [step.name for step in job_store.steps(first)] == list(states.STEPS)
    redropped, created_new = job_store.create_job("a.mp4|10|9|8", "a.mp4", {}, 3.0)
    assert created_new and redropped != first


def test_names_in_use_of_a_base_are_that_base_and_its_numbered_names(job_store: Store) -> None:
    for index, name in enumerate(("take", "take-2", "take-x", "takeover", "other", "done")):
        job_id, _ = job_store.create_job(f"{name}|{index}", f"{name}.mp4", {}, 0.0)
        job_store.mark_ingested(job_id, name, {})
    job_store.fail_job(job_store.jobs(newest_first=True)[0].id, "finished", 1.0)  # "done" frees its name
    assert job_store.names_in_use() == {"take", "take-2", "take-x", "takeover", "other"}
    assert job_store.names_in_use("take") == {"take", "take-2", "take-x"}
    assert job_store.names_in_use("done") == set()


def test_claims_oldest_first_and_only_ingested_jobs(job_store: Store) -> None:
    job_store.create_job("pending|1", "pending.mp4", {}, 0.0)  # its copy is not finished: never claimed
    ids = make_jobs(job_store, 3)
    claimed = [job_store.claim("worker", 60.0, 2000.0) for _ in range(4)]
    assert [claim.job_id for claim in claimed if claim] == ids
    assert claimed[3] is None
    record = job_store.job(ids[0])
    assert record is not None and record.state == states.PROCESSING and record.attempts == 1
    assert record.lease_owner == "worker" and record.lease_expires == pytest.approx(2060.0)


def test_an_expired_lease_is_claimed_again_and_counts_an_attempt(job_store: Store) -> None:
    (job_id,) = make_jobs(job_store, 1)
    assert job_store.claim("dead", 10.0, 100.0) is not None
    assert job_store.claim("other", 10.0, 105.0) is None  # lease still valid
    assert job_store.renew_lease(job_id, "dead", 10.0, 108.0)
    assert job_store.claim("other", 10.0, 115.0) is None  # renewed until 118
    claim = job_store.claim("other", 10.0, 119.0)
    assert claim is not None and claim.job_id == job_id and claim.attempts == 2
    assert not job_store.renew_lease(job_id, "dead", 10.0, 120.0)  # the old owner lost it


def test_release_puts_the_job_back_without_using_an_attempt(job_store: Store) -> None:
    (job_id,) = make_jobs(job_store, 1)
    job_store.claim("worker", 60.0, 1.0)
    job_store.start_step(job_id, states.VIDEO_UPLOAD, "log", 1.0)
    job_store.release(job_id, "worker", give_back_attempt=True)
    record = job_store.job(job_id)
    assert record is not None and record.state == states.QUEUED and record.attempts == 0
    assert job_store.steps(job_id)[0].status == states.PENDING


def test_expire_leases_of_a_dead_daemon_resets_running_steps(job_store: Store) -> None:
    (job_id,) = make_jobs(job_store, 1)
    job_store.claim("dead", 600.0, 1.0)
    job_store.start_step(job_id, states.TRACKING, "log", 1.0)
    assert job_store.expire_leases(2.0, owners_other_than="alive") == 1
    assert job_store.steps(job_id)[1].status == states.PENDING
    claim = job_store.claim("alive", 60.0, 3.0)
    assert claim is not None and claim.job_id == job_id


def test_requeue_resets_steps_from_the_given_one(job_store: Store) -> None:
    (job_id,) = make_jobs(job_store, 1)
    for step in states.STEPS:
        job_store.update_step(job_id, step, status=states.DONE)
    job_store.fail_job(job_id, "boom", 5.0)
    job_store.requeue(job_id, states.FBX_EXPORT, options={"formats": ["bvh"]})
    statuses = {step.name: step.status for step in job_store.steps(job_id)}
    assert statuses[states.SMOOTHING] == states.DONE
    assert statuses[states.FBX_EXPORT] == statuses[states.PACKAGING] == states.PENDING
    record = job_store.job(job_id)
    assert record is not None and record.state == states.QUEUED and record.error is None
    assert record.json("options") == {"formats": ["bvh"]}


def _claim_all(backend: str, folder: str, owner: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    opened = BACKENDS[backend](Path(folder))
    claimed = []
    while (claim := opened.claim(owner, 600.0, 10_000.0)) is not None:
        claimed.append(claim.job_id)
    results.put(claimed)


def test_concurrent_claims_from_processes_take_each_job_once(backend: str, tmp_path: Path) -> None:
    opened = BACKENDS[backend](tmp_path)
    ids = make_jobs(opened, 60)
    opened.close()
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    workers = [
        context.Process(target=_claim_all, args=(backend, str(tmp_path), f"w{n}", results)) for n in range(4)
    ]
    for worker in workers:
        worker.start()
    claimed = [job_id for _ in workers for job_id in results.get(timeout=60)]
    for worker in workers:
        worker.join(30)
    assert sorted(claimed) == ids


def test_concurrent_claims_from_threads_take_each_job_once(job_store: Store) -> None:
    ids = make_jobs(job_store, 40)
    claimed: list[int] = []
    lock = threading.Lock()

    def work(owner: str) -> None:
        while (claim := job_store.claim(owner, 600.0, 10_000.0)) is not None:
            with lock:
                claimed.append(claim.job_id)

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(claimed) == ids


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    opened = open_sqlite_store(tmp_path)
    assert opened.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert opened.db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_database_on_a_network_filesystem_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\nserver:/export {tmp_path / 'share'} nfs4 rw 0 0\n")
    (tmp_path / "share").mkdir()
    assert store.filesystem_type(tmp_path / "share" / "state", mounts) == "nfs4"
    assert store.filesystem_type(tmp_path / "elsewhere", mounts) == "ext4"
    monkeypatch.setattr(store, "filesystem_type", lambda folder, mounts=None: "nfs4")
    with pytest.raises(StoreError, match="network filesystem"):
        store.open_sqlite(tmp_path / "share" / "mocapd.db")


def test_clock_times_are_kept_to_the_microsecond(job_store: Store) -> None:
    import time

    (job_id,) = make_jobs(job_store, 1)
    now = time.time()
    claim = job_store.claim("a:1", 20.0, now)
    assert claim is not None
    record = job_store.job(job_id)
    assert record is not None and abs(record.lease_expires - (now + 20.0)) < 1e-5
    assert job_store.claim("b:2", 20.0, now + 19.0) is None
    assert job_store.lead("a:1", 15.0, now) and not job_store.lead("b:2", 15.0, now + 1.0)


def test_claims_raise_the_fencing_token_and_a_stale_holder_cannot_publish(job_store: Store) -> None:
    (job_id,) = make_jobs(job_store, 1)
    first = job_store.claim("a:1", 10.0, 100.0)
    assert first is not None and first.fence == 1
    job_store.release(job_id, "a:1", give_back_attempt=True)
    again = job_store.claim("a:1", 10.0, 101.0)
    assert (
        again is not None and again.fence == 2 and again.attempts == 1
    )  # a release lowers attempts, never the fence
    taken = job_store.claim("b:2", 10.0, 200.0)  # the lease ran out: another host takes the job
    assert taken is not None and taken.fence == 3
    assert not job_store.holds(job_id, "a:1", again.fence)
    assert not job_store.renew_lease(job_id, "a:1", 10.0, 201.0, fence=again.fence)
    with pytest.raises(LostLease):
        with job_store.fenced(job_id, "a:1", again.fence):
            raise AssertionError("a stale holder got in")
    with job_store.fenced(job_id, "b:2", taken.fence):
        job_store.update_job(job_id, state=states.COMPLETED, lease_owner=None)
    record = job_store.job(job_id)
    assert record is not None and record.state == states.COMPLETED


def test_a_job_that_wants_a_backend_goes_only_to_a_host_that_has_it(job_store: Store) -> None:
    plain, wanting = make_jobs(job_store, 2)
    job_store.update_job(wanting, wants="4dhumans")
    assert job_store.claim("embedded:1", 60.0, 1.0, capabilities=("mediapipe",)).job_id == plain  # type: ignore[union-attr]
    assert job_store.claim("embedded:1", 60.0, 1.0, capabilities=("mediapipe",)) is None
    gpu = job_store.claim("gpu:2", 60.0, 1.0, capabilities=("mediapipe", "4dhumans"))
    assert gpu is not None and gpu.job_id == wanting


def test_output_names_are_chosen_inside_the_transaction(job_store: Store) -> None:
    first, _ = job_store.create_job("x|1", "take.mp4", {}, 1.0)
    second, _ = job_store.create_job("y|1", "other/take.mp4", {}, 2.0)

    def choose(taken: set[str]) -> str:
        return "take" if "take" not in taken else "take-2"

    assert job_store.mark_ingested(first, choose, {}) == "take"
    assert job_store.mark_ingested(second, choose, {}, wants="mediapipe") == "take-2"
    record = job_store.job(second)
    assert record is not None and record.wants == "mediapipe" and record.ingested


def test_each_host_has_its_own_heartbeat_row_and_one_leads(job_store: Store) -> None:
    job_store.daemon_heartbeat(11, "a", 1.0, "running", {}, 5.0, capabilities=["mediapipe"])
    job_store.daemon_heartbeat(22, "b", 1.0, "running", {}, 5.0)
    job_store.daemon_heartbeat(33, "a", 6.0, "running", {}, 6.0)  # host a restarted: its old row goes
    assert [(r.host, r.pid) for r in job_store.hosts()] == [("a", 33), ("b", 22)]
    record = job_store.daemon_record("b")
    assert record is not None and record.pid == 22
    assert job_store.lead("a:33", 10.0, 100.0)
    assert not job_store.lead("b:22", 10.0, 105.0)
    assert job_store.lead("a:33", 10.0, 108.0)  # renewed until 118
    assert not job_store.lead("b:22", 10.0, 117.0)
    assert job_store.lead("b:22", 10.0, 119.0)  # a's leadership ran out
    leader = job_store.leader()
    assert leader is not None and leader.owner == "b:22"


def test_only_the_host_s_own_dead_daemons_lose_their_leases_at_start(job_store: Store) -> None:
    mine, theirs = make_jobs(job_store, 2)
    job_store.claim("a:1", 600.0, 1.0)
    job_store.claim("b:2", 600.0, 1.0)
    assert job_store.expire_leases(2.0, owners_other_than="a:9", host="a") == 1
    assert job_store.job(mine).lease_expires == 0.0  # type: ignore[union-attr]
    assert job_store.job(theirs).lease_expires == pytest.approx(601.0)  # type: ignore[union-attr]


def test_steps_record_the_host_that_ran_them(job_store: Store) -> None:
    (job_id,) = make_jobs(job_store, 1)
    job_store.start_step(job_id, states.TRACKING, "log", 1.0, host="gpu-2")
    assert {s.name: s.host for s in job_store.steps(job_id)}[states.TRACKING] == "gpu-2"


def test_an_old_database_gets_the_new_columns(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "mocapd.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE jobs (id INTEGER PRIMARY KEY, name VARCHAR(255), source_relative TEXT NOT NULL,"
            " source_identity TEXT NOT NULL UNIQUE, state VARCHAR(255) NOT NULL, created REAL NOT NULL)"
        )
        connection.execute(
            "INSERT INTO jobs (source_relative, source_identity, state, created) VALUES ('a.mp4', 'a', 'queued', 1)"
        )
    opened = store.open_sqlite(path)
    record = opened.job(1)
    assert record is not None and record.fence == 0 and record.wants == "" and record.ingested is False
    opened.close()


@pytest.fixture
def shared_postgres(tmp_path: Path) -> Iterator[str]:
    with postgres.schema() as name:
        yield name


def _claim_in_process(schema: str, owner: str, hold: float, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import time

    from mocapd.store_postgres import open_postgres

    opened = open_postgres(postgres.url(), schema)
    claimed = []
    while True:
        with opened.write():
            claim = opened.claim(owner, 600.0, 10_000.0)
            time.sleep(hold)  # the row stays locked: other claimers must skip it, not wait for it
        if claim is None:
            break
        claimed.append(claim.job_id)
    results.put(claimed)


def test_postgres_claimers_skip_each_other_s_locked_rows(shared_postgres: str, tmp_path: Path) -> None:
    import time

    from mocapd.store_postgres import open_postgres

    opened = open_postgres(postgres.url(), shared_postgres)
    ids = make_jobs(opened, 12)
    opened.close()
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    workers = [
        context.Process(target=_claim_in_process, args=(shared_postgres, f"h{n}:1", 0.2, results))
        for n in range(3)
    ]
    began = time.monotonic()
    for worker in workers:
        worker.start()
    claimed = [sorted(results.get(timeout=120)) for _ in workers]
    elapsed = time.monotonic() - began
    for worker in workers:
        worker.join(30)
    assert sorted(job_id for part in claimed for job_id in part) == ids
    # Each claimer holds its row 0.2 s; had they queued on one another's locks, one would have taken all.
    assert all(part for part in claimed), claimed
    assert elapsed < 60


def test_postgres_a_held_publish_lock_makes_claimers_skip_the_job(shared_postgres: str) -> None:
    import threading as threads

    from mocapd.store_postgres import open_postgres

    opened = open_postgres(postgres.url(), shared_postgres)
    first, second = make_jobs(opened, 2)
    claim = opened.claim("a:1", 1.0, 100.0)
    assert claim is not None and claim.job_id == first
    inside, leave = threads.Event(), threads.Event()
    other: list[object] = []

    def publish() -> None:
        with opened.fenced(first, "a:1", claim.fence):
            inside.set()
            leave.wait(30)

    publisher = threads.Thread(target=publish)
    publisher.start()
    assert inside.wait(30)
    # a's lease ran out (100 + 1 < 200) but its row is locked by the publish: b takes the other job.
    other.append(opened.claim("b:2", 60.0, 200.0))
    leave.set()
    publisher.join(30)
    assert isinstance(other[0], store.Claim) and other[0].job_id == second


def test_postgres_an_unreachable_server_is_store_unavailable(shared_postgres: str) -> None:
    from mocapd.store import StoreUnavailable
    from mocapd.store_postgres import open_postgres

    with pytest.raises(StoreUnavailable, match="cannot reach the job database at postgresql://127.0.0.1:9/"):
        open_postgres("postgresql://127.0.0.1:9/test", shared_postgres)
    opened = open_postgres(postgres.url(), shared_postgres)
    (job_id,) = make_jobs(opened, 1)
    # The server ends this session (as a restart would): the next call fails once, then reconnects.
    backend_pid = opened.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    postgres.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))
    with pytest.raises(StoreUnavailable):
        opened.job(job_id)
    record = opened.job(job_id)
    assert record is not None and record.id == job_id
    postgres.execute(
        "SELECT pg_terminate_backend(%s)", (opened.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0],)
    )
    with pytest.raises(StoreUnavailable):
        opened.claim("a:1", 60.0, 1.0)
    assert opened.claim("a:1", 60.0, 1.0) is not None


def test_a_write_waits_a_bounded_time_for_a_lock_held_elsewhere(tmp_path: Path) -> None:
    opened = store.open_sqlite(tmp_path / "mocapd.db", busy_seconds=0.5)
    holder = sqlite3.connect(tmp_path / "mocapd.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(store.StoreBusy, match="locked by another process"):
        opened.create_job("a|1|1|1", "a.mp4", {}, 1.0)
    assert time.monotonic() - started < 5
    assert opened.lock_problem() is not None
    holder.execute("COMMIT")
    assert opened.lock_problem() is None and opened.create_job("a|1|1|1", "a.mp4", {}, 1.0)[1]
    holder.close()
    opened.close()


def test_a_damaged_database_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "mocapd.db"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(store.StoreError) as raised:
        store.open_sqlite(path)
    message = str(raised.value)
    assert "\n" not in message and str(path) in message and "move it aside" in message
