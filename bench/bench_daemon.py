"""Daemon overhead: from a finished copy in the inbox to its job's first step, and idle CPU and memory.

Runs `mocapd run` as a real process on the test stages (tests/stages), so only the daemon's own work
is measured. Usage: .venv/bin/python bench/bench_daemon.py [--idle-seconds 60] [--outbox-files 10000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.stages import write_script  # noqa: E402
from tests.stages.harness import Setup, drop, wait_for  # noqa: E402

CONFIG = """
inbox = "{inbox}"
outbox = "{outbox}"
state_dir = "{state}"
[watch]
poll_interval = {poll}
settle_time = {settle}
stable_polls = {polls}
sidecar_grace = {grace}
[limits]
min_free_disk_mb = 0.0
"""
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def first_step_start(state: Path, relative: str) -> float | None:
    with sqlite3.connect(f"file:{state / 'mocapd.db'}?mode=ro", uri=True, timeout=30) as connection:
        row = connection.execute(
            "SELECT steps.started FROM steps JOIN jobs ON jobs.id = steps.job_id "
            "WHERE jobs.source_relative = ? AND steps.name = 'video_upload'",
            (relative,),
        ).fetchone()
    return row[0] if row and row[0] else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--settle-time", type=float, default=5.0)
    parser.add_argument("--stable-polls", type=int, default=3)
    parser.add_argument("--sidecar-grace", type=float, default=10.0)
    parser.add_argument(
        "--drops", type=int, default=3, help="videos dropped one after another for the latency"
    )
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--outbox-files", type=int, default=10_000)
    arguments = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-daemon-"))
    try:
        setup = Setup(root)
        setup.config.write_text(
            CONFIG.format(
                inbox=setup.inbox,
                outbox=setup.outbox,
                state=setup.state,
                poll=arguments.poll_interval,
                settle=arguments.settle_time,
                polls=arguments.stable_polls,
                grace=arguments.sidecar_grace,
            )
        )
        write_script(setup.state, {})
        for index in range(arguments.outbox_files):
            folder = setup.outbox / f"old{index // 10:04d}"
            folder.mkdir(exist_ok=True)
            (folder / f"file{index % 10}.json").write_text("{}")
        daemon = setup.start()
        print(
            f"watch: poll_interval {arguments.poll_interval:g} s, settle_time {arguments.settle_time:g} s, "
            f"stable_polls {arguments.stable_polls}, sidecar_grace {arguments.sidecar_grace:g} s"
        )
        delays = []
        for index in range(arguments.drops):
            name = f"clip{index}.mp4"
            dropped = time.time()
            drop(setup.inbox / name, b"video" * 1000)
            started = wait_for(
                lambda name=name: first_step_start(setup.state, name), 120, name, interval=0.02
            )
            delays.append(started - dropped)
            wait_for(
                lambda name=name: (s := setup.status(Path(name).stem)) and s["status"] == "completed",
                60,
                name,
            )
        rule = max(
            arguments.settle_time,
            arguments.sidecar_grace,
            (arguments.stable_polls - 1) * arguments.poll_interval,
        )
        print(
            f"finished copy -> first step: mean {statistics.mean(delays):.2f} s, min {min(delays):.2f} s, "
            f"max {max(delays):.2f} s over {len(delays)} drops; the settle rule alone waits "
            f"max(settle_time, sidecar_grace, (stable_polls - 1) x poll_interval) = {rule:g} s, "
            f"so the daemon's own overhead is {statistics.mean(delays) - rule:.2f} s "
            f"(at most one poll_interval is spent noticing the file when no event wakes the scan)"
        )
        time.sleep(2.0)  # let the last job's bookkeeping end before measuring idleness
        cpu_before, wall_before = cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(arguments.idle_seconds)
        cpu_used, wall = cpu_seconds(daemon.pid) - cpu_before, time.monotonic() - wall_before
        print(
            f"idle with {arguments.outbox_files} files in the outbox: {cpu_used:.2f} CPU s over {wall:.1f} s "
            f"= {100 * cpu_used / wall:.2f} % of one core"
        )
        print(
            f"daemon memory: RSS {status_kb(daemon.pid, 'VmRSS') / 1024:.1f} MB, peak {status_kb(daemon.pid, 'VmHWM') / 1024:.1f} MB"
        )
        daemon.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
