"""The storage contract, run against every backend (today SQLite; PostgreSQL is one more parameter)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mocapd import states, store
from mocapd.store import Store, StoreError


def open_sqlite_store(folder: Path) -> Store:
    return store.open_sqlite(folder / "mocapd.db")


BACKENDS: dict[str, Callable[[Path], Store]] = {"sqlite": open_sqlite_store}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


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
