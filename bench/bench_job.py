"""The whole job through the real daemon: wall, CPU and memory per step from the drop to completed.

`mocapd run` on the real pipeline (mocapd.steps, default options) takes one clip, SinglePerson cam01
looped forwards and backwards to --seconds (bench_solver's speed clip). A sampler walks the daemon's
process tree (the forkserver's step children, Blender under the export step) every --interval s: a
step's CPU is what its child used, read exactly from the forkserver's reaped-children times when it
ends; its memory the peak resident size seen of it and its own children. Steps' times come from the
job database. Printed: each step's wall and CPU (x of the clip's duration), the gaps between steps,
the daemon's own CPU, the whole job, peak memory and the load.

Run: nice -n 10 .venv/bin/python bench/bench_job.py [--seconds 20] [--cache DIR] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from mocapd import states  # noqa: E402
from tests.stages.harness import Daemon, Setup, wait_for  # noqa: E402

CLIP = REPO / "tests" / "data" / "pose2sim" / "SinglePerson" / "videos" / "cam01.mp4"
# The watch rule's waits are shortened (the user's settle wait is not the job's work); its poll
# interval and the runner's settings are the defaults.
CONFIG = """
inbox = "{inbox}"
outbox = "{outbox}"
state_dir = "{state}"
[watch]
settle_time = {settle}
stable_polls = 1
sidecar_grace = {settle}
[limits]
min_free_disk_mb = 0.0
"""
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Seen:
    """One process of the daemon's tree as the sampler last saw it."""

    pid: int
    parent: int
    first: float
    last: float = 0.0
    cpu: float = 0.0  # its own user + system seconds
    reaped: float = 0.0  # its waited-for children's user + system seconds
    peak_kb: int = 0  # VmHWM
    tree_kb: int = 0  # the largest sum of its and its descendants' VmRSS seen
    name: str = ""
    final_cpu: float | None = None  # exact, from its parent's reaped times when it ended
    reaped_before: float = 0.0  # `reaped` at the sample before the last


@dataclass
class Sampler:
    """Walks the tree under `root` every `interval` seconds in a thread."""

    root: int
    interval: float
    seen: dict[int, Seen] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            time.sleep(self.interval)

    def sample(self) -> None:
        now = time.time()
        alive: dict[int, int] = {}
        pending = [(self.root, 0)]
        while pending:
            pid, parent = pending.pop()
            children = []
            try:  # a thread's children are listed under that thread (the daemon forks from its worker)
                for task in Path(f"/proc/{pid}/task").iterdir():
                    children += (task / "children").read_text().split()
            except OSError:
                continue
            alive[pid] = parent
            pending += [(int(child), pid) for child in children]
        gone = [pid for pid in self.seen if pid not in alive and self.seen[pid].final_cpu is None]
        for pid, parent in alive.items():
            stat = read_stat(pid)
            if stat is None:
                continue
            entry = self.seen.get(pid)
            if entry is None or entry.final_cpu is not None:
                entry = self.seen[pid] = Seen(pid, parent, now, name=process_name(pid))
            entry.last = now
            entry.cpu, entry.reaped = stat
            entry.peak_kb = max(entry.peak_kb, status_kb(pid, "VmHWM"))
        for pid in alive:
            if pid in self.seen:
                entry = self.seen[pid]
                entry.tree_kb = max(entry.tree_kb, self.tree_rss(pid, alive))
        for pid in gone:
            # A child reaped since the last sample: its parent's reaped times grew by exactly its total
            # (in the runner's serial steps one child ends between two samples at a time).
            entry = self.seen[pid]
            owner = self.seen.get(entry.parent)
            stat = read_stat(entry.parent) if entry.parent in alive else None
            entry.final_cpu = entry.cpu + entry.reaped
            if owner is not None and stat is not None:
                entry.final_cpu = max(entry.final_cpu, stat[1] - owner.reaped_before)
        for entry in self.seen.values():
            entry.reaped_before = entry.reaped

    def tree_rss(self, pid: int, alive: dict[int, int]) -> int:
        total = status_kb(pid, "VmRSS")
        for child, parent in alive.items():
            if parent == pid:
                total += self.tree_rss(child, alive)
        return total


def read_stat(pid: int) -> tuple[float, float] | None:
    """(own user + system, waited-for children's user + system) seconds of a process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS, (int(fields[13]) + int(fields[14])) / TICKS


def status_kb(pid: int, key: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def process_name(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(part.decode(errors="replace") for part in command if part)
    return "forkserver" if "forkserver" in text else Path(command[0].decode(errors="replace")).name


def looped_clip(seconds: float, cache: Path) -> Path:
    """SinglePerson cam01 played forwards and backwards to `seconds` (kept in `cache`)."""
    path = cache / f"cam01_looped_{seconds:g}s.mp4"
    if path.exists():
        return path
    import av

    from tests.videofiles import write_frames

    with av.open(str(CLIP)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 0)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    count = int(round(seconds * rate))
    period = 2 * len(frames) - 2
    looped = (frames[i % period if i % period < len(frames) else period - i % period] for i in range(count))
    cache.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".part-{path.name}")
    write_frames(staging, looped, rate=rate, options={"preset": "veryfast"})
    staging.replace(path)
    return path


def step_times(state: Path) -> list[tuple[str, float, float]]:
    """(step, started, finished) of the bench's one job, in the pipeline's order."""
    with sqlite3.connect(f"file:{state / 'mocapd.db'}?mode=ro", uri=True, timeout=30) as connection:
        rows = connection.execute("SELECT name, started, finished FROM steps").fetchall()
    found = {name: (started, finished) for name, started, finished in rows}
    return [(name, *found[name]) for name in states.STEPS if name in found]


def job_times(state: Path) -> tuple[float, float]:
    with sqlite3.connect(f"file:{state / 'mocapd.db'}?mode=ro", uri=True, timeout=30) as connection:
        created, finished = connection.execute("SELECT created, finished FROM jobs").fetchone()
    return created, finished


def clip_duration(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(stream.frames / float(stream.average_rate or 1))


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="the looped clip's duration")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mocapd-bench-job")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between samples")
    parser.add_argument("--settle", type=float, default=0.3, help="the watch rule's settle time")
    parser.add_argument("--keep", type=Path, default=None, help="keep the daemon's folders here")
    arguments = parser.parse_args()
    clip = looped_clip(arguments.seconds, arguments.cache)
    duration = clip_duration(clip)
    root = arguments.keep or Path(tempfile.mkdtemp(prefix="bench-job-"))
    if arguments.keep:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    try:
        measure(root, clip, duration, arguments)
    finally:
        if not arguments.keep:
            shutil.rmtree(root, ignore_errors=True)


def measure(root: Path, clip: Path, duration: float, arguments: argparse.Namespace) -> None:
    setup = Setup(root)
    setup.config.write_text(
        CONFIG.format(inbox=setup.inbox, outbox=setup.outbox, state=setup.state, settle=arguments.settle)
    )
    daemon = Daemon(setup, "mocapd.steps")
    time.sleep(2.0)  # the forkserver's start (warm_up) is the daemon's, not the job's
    sampler = Sampler(daemon.pid, arguments.interval)
    sampler.sample()
    daemon_cpu_before = read_stat(daemon.pid)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    load_before = load()
    name = "speed.mp4"
    staging = setup.inbox / f".{name}.drop"
    shutil.copyfile(clip, staging)
    dropped = time.time()
    os.replace(staging, setup.inbox / name)
    status = wait_for(
        lambda: (s := setup.status("speed")) and s["status"] in ("completed", "failed") and s,
        3600,
        "the job",
        interval=0.05,
    )
    done = time.time()
    time.sleep(3 * arguments.interval)
    sampler.stop.set()
    thread.join()
    daemon_cpu_after = read_stat(daemon.pid)
    load_after = load()
    steps = step_times(setup.state)
    created, finished = job_times(setup.state)
    forkserver = next((e.pid for e in sampler.seen.values() if e.name == "forkserver"), None)
    children = [e for e in sampler.seen.values() if e.parent == forkserver and e.pid != forkserver]
    daemon.stop()
    if status["status"] != "completed":
        print(f"the job failed: {status.get('error')}")
    print(
        f"\nwhole job through the daemon: SinglePerson cam01 looped to {duration:.1f} s, default options; "
        f"load {load_before} before, {load_after} after ({os.cpu_count()} cores)"
    )
    print(f"  {'':22s} {'wall s':>8s} {'x clip':>7s} {'CPU s':>8s} {'x clip':>7s} {'peak MB':>8s}")
    total_cpu = 0.0
    previous_end = dropped
    for step, started, ended in steps:
        gap = started - previous_end
        label = "drop -> first step" if previous_end == dropped else "  gap"
        print(f"  {label:22s} {gap:8.2f} {gap / duration:7.3f}")
        owners = [e for e in children if started - 0.5 <= e.first <= ended]
        cpu = sum(e.final_cpu if e.final_cpu is not None else e.cpu + e.reaped for e in owners)
        peak = max((e.tree_kb for e in owners), default=0) / 1024
        total_cpu += cpu
        wall = ended - started
        print(f"  {step:22s} {wall:8.2f} {wall / duration:7.3f} {cpu:8.2f} {cpu / duration:7.3f} {peak:8.0f}")
        helpers = [e for e in sampler.seen.values() if e.parent in {o.pid for o in owners}]
        for helper in helpers:
            print(
                f"    {helper.name:20s} {helper.last - helper.first:8.2f} {'':7s} "
                f"{helper.cpu + helper.reaped:8.2f} {'':7s} {helper.peak_kb / 1024:8.0f}"
            )
        previous_end = ended
    tail = done - previous_end
    print(f"  {'last step -> outbox':22s} {tail:8.2f} {tail / duration:7.3f}")
    own = 0.0
    if daemon_cpu_before and daemon_cpu_after:
        own = daemon_cpu_after[0] - daemon_cpu_before[0]
    fork_cpu = sampler.seen[forkserver].cpu if forkserver in sampler.seen else 0.0
    print(f"  {'daemon itself':22s} {'':8s} {'':7s} {own:8.2f} {own / duration:7.3f}")
    wall = done - dropped
    everything = total_cpu + own
    print(
        f"  whole job, drop -> completed: wall {wall:.2f} s = {wall / duration:.2f}x the clip's duration "
        f"(created -> finished in the store {finished - created:.2f} s), CPU {everything:.2f} s = "
        f"{everything / duration:.2f}x (steps {total_cpu:.2f} s, daemon {own:.2f} s; forkserver "
        f"{fork_cpu:.2f} s in all); peak memory of a step {max(e.tree_kb for e in children) / 1024:.0f} MB, "
        f"daemon {sampler.seen[daemon.pid].peak_kb / 1024:.0f} MB"
    )
    if status["status"] == "completed":
        with_solver, without = solver_share(setup)
        print(
            f"  the solver's share (the extraction step run again in this process, with and without it): "
            f"{with_solver - without:.2f} CPU s = {(with_solver - without) / duration:.3f}x "
            f"(extraction {with_solver:.2f} CPU s with it, {without:.2f} without)"
        )


def solver_share(setup: Setup) -> tuple[float, float]:
    """CPU seconds of the job's extraction step run here with the solver, and without it."""
    import resource

    from bench_solver import solver_enabled

    from mocapd import config as config_module
    from mocapd.service.runner import job_from_record
    from mocapd.steps import track_extraction
    from mocapd.store import open_store

    config = config_module.load(setup.config)
    record = open_store(config.state_path).job(1)
    assert record is not None
    job = job_from_record(record, config)
    track_extraction.run(job)  # the imports and caches warm
    seconds = []
    for enabled in (True, False):
        with solver_enabled(enabled):
            usage = resource.getrusage(resource.RUSAGE_SELF)
            before = usage.ru_utime + usage.ru_stime
            track_extraction.run(job)
            usage = resource.getrusage(resource.RUSAGE_SELF)
            seconds.append(usage.ru_utime + usage.ru_stime - before)
    return seconds[0], seconds[1]


if __name__ == "__main__":
    main()
