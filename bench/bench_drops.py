"""Many drops at once: N files renamed into the inbox together -> N jobs; ingest time and daemon RSS.

A real `mocapd run` on the test stages, its pipeline held at the first job's video check so that
only taking in is measured: scan, job row, verified copy, option reading, status.json per job.

Run: .venv/bin/python bench/bench_drops.py [--drops 1000] [--kilobytes 64]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.stages import write_script  # noqa: E402
from tests.stages.harness import Setup, wait_for  # noqa: E402


def ingested(setup: Setup) -> int:
    with sqlite3.connect(f"file:{setup.state / 'mocapd.db'}?mode=ro", uri=True, timeout=30) as connection:
        row = connection.execute("SELECT COUNT(*) FROM jobs WHERE ingested = 1").fetchone()
    return int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drops", type=int, default=1000)
    parser.add_argument("--kilobytes", type=int, default=64)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        setup = Setup(root)
        write_script(setup.state, {"video_upload": {"action": "block", "release": str(root / "never")}})
        daemon = setup.start()
        staging = root / "staging"
        staging.mkdir()
        payload = os.urandom(arguments.kilobytes * 1024)
        names = [f"take{index:05d}.mp4" for index in range(arguments.drops)]
        for name in names:
            (staging / name).write_bytes(payload)
        wait_for(lambda: (setup.state / "mocapd.db").exists(), 30, "the database")
        rss_before = daemon.rss_kb()
        start = time.perf_counter()
        for name in names:  # all at once, as a sync tool or a big copy ends
            os.rename(staging / name, setup.inbox / name)
        wait_for(lambda: ingested(setup) == arguments.drops, 1800, "every drop to become a job", interval=0.2)
        seconds = time.perf_counter() - start
        rss_after = daemon.rss_kb()
        jobs = setup.jobs()
        statuses = sum(1 for job in jobs if (setup.outbox / job["name"] / "status.json").exists())
        assert len(jobs) == arguments.drops, len(jobs)
        print(
            f"drops: {arguments.drops} files of {arguments.kilobytes} KB at once -> {len(jobs)} jobs "
            f"({statuses} status.json) in {seconds:.1f} s: {seconds / arguments.drops * 1000:.1f} ms per drop "
            f"(scan after settle, job row, verified copy, options, status.json; settle time "
            f"{0.3:g} s included once)"
        )
        print(
            f"daemon RSS: {rss_before / 1024:.1f} MB before, {rss_after / 1024:.1f} MB after "
            f"({(rss_after - rss_before) / 1024:+.1f} MB, {(rss_after - rss_before) / arguments.drops:.1f} kB per job)"
        )
        (root / "never").touch()
        daemon.stop()


if __name__ == "__main__":
    main()
