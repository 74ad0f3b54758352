"""The job store: claim latency and throughput with 1, 3 and 8 claimers, and the daemon's time per job,
SQLite against PostgreSQL (a farm's shared queue), printed as ratios.

Claimers are separate processes, as farm hosts are; each claims until the queue is empty. The daemon
figure runs `mocapd run` on the test stages (tests/stages: stand-ins that do no work) so only the
daemon and its database are measured. PostgreSQL: TESTS_POSTGRES_URL or 127.0.0.1:5432/test, in
a schema of its own, dropped afterwards.
Usage: .venv/bin/python bench/bench_store.py [--jobs 400] [--daemon-jobs 20]
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mocapd import states  # noqa: E402
from mocapd.store import Store, open_sqlite  # noqa: E402
from tests import postgres  # noqa: E402
from tests.stages import write_script  # noqa: E402
from tests.stages.harness import Setup, drop, wait_for  # noqa: E402

CLAIMERS = (1, 3, 8)
LEASE_SECONDS = 600.0


def opener(backend: str, where: str) -> Callable[[], Store]:
    if backend == "sqlite":
        return lambda: open_sqlite(Path(where) / "mocapd.db")
    from mocapd.store_postgres import open_postgres

    return lambda: open_postgres(postgres.url(), where)


def fill(store: Store, count: int) -> None:
    for index in range(count):
        job_id, _ = store.create_job(f"clip{index}|1|2|3", f"clip{index}.mp4", {}, 1000.0 + index)
        store.mark_ingested(job_id, f"clip{index}", {})


def claimer(backend: str, where: str, owner: str, barrier: Any, results: Any) -> None:
    store = opener(backend, where)()
    latencies = []
    barrier.wait()
    while True:
        began = time.perf_counter()
        claim = store.claim(owner, LEASE_SECONDS, time.time())
        latencies.append(time.perf_counter() - began)
        if claim is None:
            break
    results.put((latencies[:-1], time.perf_counter()))


def claim_run(backend: str, where: str, jobs: int, claimers: int) -> dict[str, float]:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(claimers + 1)
    results = context.Queue()
    workers = [
        context.Process(target=claimer, args=(backend, where, f"host{n}:{n}", barrier, results))
        for n in range(claimers)
    ]
    for worker in workers:
        worker.start()
    barrier.wait()
    began = time.perf_counter()
    parts = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join(60)
    latencies = sorted(value for part, _ in parts for value in part)
    ended = max(end for _, end in parts)
    assert len(latencies) == jobs, (len(latencies), jobs)  # every job claimed exactly once
    return {
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        "per_s": jobs / (ended - began),
    }


def claims(backend: str, jobs: int, root: Path) -> dict[int, dict[str, float]]:
    figures = {}
    for count in CLAIMERS:
        if backend == "sqlite":
            where = str(root / f"sqlite-{count}")
            Path(where).mkdir()
        else:
            where = postgres.new_schema()
        store = opener(backend, where)()
        fill(store, jobs)
        store.close()
        try:
            figures[count] = claim_run(backend, where, jobs, count)
        finally:
            if backend == "postgresql":
                postgres.drop_schema(where)
    return figures


def daemon_per_job(backend: str, jobs: int, root: Path) -> float:
    """Seconds per job of `mocapd run` on stand-in stages, from the first step to the last publish."""
    schema = postgres.new_schema() if backend == "postgresql" else ""
    tail = f'\n[store]\nurl = "{postgres.url()}"\nschema = "{schema}"\n' if schema else ""
    setup = Setup(root / f"daemon-{backend}", tail=tail)
    write_script(setup.state, {}, setup.counters)
    daemon = setup.start()
    try:
        names = [f"take{index:02d}" for index in range(jobs)]
        drop(setup.inbox / f"{names[0]}.mp4", b"warm-up")
        wait_for(lambda: (s := setup.status(names[0])) and s["status"] == states.COMPLETED, 120, "warm-up")
        began = time.perf_counter()
        for name in names[1:]:
            drop(setup.inbox / f"{name}.mp4", name.encode())
        wait_for(
            lambda: all((s := setup.status(n)) and s["status"] == states.COMPLETED for n in names),
            600,
            "every job",
            interval=0.1,
        )
        return (time.perf_counter() - began) / (jobs - 1)
    finally:
        daemon.stop()
        if schema:
            postgres.drop_schema(schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=400, help="jobs in the queue for each claim run")
    parser.add_argument("--daemon-jobs", type=int, default=20, help="jobs dropped for the daemon figure")
    arguments = parser.parse_args()
    reason = postgres.unreachable_reason()
    if reason is not None:
        print(f"bench_store compares SQLite with PostgreSQL and measured nothing: {reason}")
        return
    root = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        results = {backend: claims(backend, arguments.jobs, root) for backend in ("sqlite", "postgresql")}
        print(
            f"claims: {arguments.jobs} queued jobs, claimers in separate processes until the queue is empty"
        )
        print(
            f"{'claimers':>8}  {'sqlite med ms':>13} {'p95':>6} {'claims/s':>9}"
            f"  {'postgres med ms':>15} {'p95':>6} {'claims/s':>9}  {'latency pg/sqlite':>17} {'throughput pg/sqlite':>20}"
        )
        for count in CLAIMERS:
            lite, pg = results["sqlite"][count], results["postgresql"][count]
            print(
                f"{count:>8}  {lite['median_ms']:>13.2f} {lite['p95_ms']:>6.2f} {lite['per_s']:>9.0f}"
                f"  {pg['median_ms']:>15.2f} {pg['p95_ms']:>6.2f} {pg['per_s']:>9.0f}"
                f"  {pg['median_ms'] / lite['median_ms']:>17.2f} {pg['per_s'] / lite['per_s']:>20.2f}"
            )
        for backend in ("sqlite", "postgresql"):
            one, eight = results[backend][1], results[backend][8]
            print(f"{backend}: throughput with 8 claimers / 1 claimer: {eight['per_s'] / one['per_s']:.2f}")
        per_job = {
            backend: daemon_per_job(backend, arguments.daemon_jobs, root)
            for backend in ("sqlite", "postgresql")
        }
        print(
            f"daemon per job ({arguments.daemon_jobs - 1} jobs after a warm-up, six stand-in steps each): "
            f"sqlite {per_job['sqlite'] * 1000:.0f} ms, postgresql {per_job['postgresql'] * 1000:.0f} ms, "
            f"ratio pg/sqlite {per_job['postgresql'] / per_job['sqlite']:.2f}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
