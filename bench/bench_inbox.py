"""Inbox side: scan time for a crowded inbox, verified ingest against a plain copy, probe time per clip.

Run: .venv/bin/python bench/bench_inbox.py [--files 2000] [--megabytes 100]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mocapd.config import Config, LimitSettings, WatchSettings  # noqa: E402
from mocapd.inbox.ingest import ingest  # noqa: E402
from mocapd.inbox.probe import probe  # noqa: E402
from mocapd.inbox.watcher import Candidate, InboxScanner, refusal_for  # noqa: E402
from tests.videofiles import MULTI_PERSON_CLIPS, SAMPLE_CLIP  # noqa: E402


def timed(action, repeats: int) -> float:  # type: ignore[no-untyped-def]
    """Median seconds of `repeats` runs."""
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def bench_scan(root: Path, files: int) -> None:
    inbox = root / "inbox"
    for index in range(files):
        folder = inbox / f"shoot{index % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"take{index:05d}.mp4").write_bytes(b"v")
        if index % 4 == 0:
            (folder / f"take{index:05d}.json").write_text("{}")
            (folder / f".take{index:05d}.mp4.Xa81Qz").write_bytes(b"partial")
    config = Config(inbox=str(inbox), watch=WatchSettings(settle_time=0.0, stable_polls=1, sidecar_grace=0.0))
    scanner = InboxScanner(config)
    first = timed(lambda: scanner.scan(), 1)
    steady = timed(lambda: scanner.scan(), 5)
    print(
        f"scan: {files} videos in 20 folders: first scan {first * 1000:.1f} ms, steady {steady * 1000:.1f} ms"
    )
    print(f"scan: {steady / files * 1e6:.1f} us per video per scan")
    shutil.rmtree(inbox)


def bench_ingest(root: Path, megabytes: int) -> None:
    inbox = root / "inbox"
    inbox.mkdir()
    source = inbox / "big.mp4"
    with open(source, "wb") as handle:
        for _ in range(megabytes):
            handle.write(os.urandom(1 << 20))
    plain = timed(lambda: shutil.copyfile(source, root / "plain.mp4"), 3)
    kept = root / "kept.mp4"
    shutil.copyfile(source, kept)
    durations = []
    tracemalloc.start()
    for attempt in range(3):
        if not source.exists():  # the previous ingest removed it from the inbox
            os.link(kept, source)
        status = os.lstat(source)
        candidate = Candidate(source, "big.mp4", status.st_size, status.st_mtime_ns, None,
                              refusal_for(status.st_mode, "big.mp4"), status.st_ino)  # fmt: skip
        start = time.perf_counter()
        ingest(candidate, root / "jobs" / str(attempt) / "input")
        durations.append(time.perf_counter() - start)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    verified = statistics.median(durations)
    print(
        f"ingest: {megabytes} MB: plain copy {plain:.2f} s ({megabytes / plain:.0f} MB/s), "
        f"copy+sha256+verify+fsync {verified:.2f} s ({megabytes / verified:.0f} MB/s), "
        f"ratio {verified / plain:.2f}x; Python peak memory {peak / 2**20:.1f} MB"
    )


def bench_probe() -> None:
    for clip in [SAMPLE_CLIP, *MULTI_PERSON_CLIPS[:2]]:
        seconds = timed(lambda clip=clip: probe(clip, LimitSettings()), 3)
        info = probe(clip, LimitSettings())
        print(
            f"probe: {clip.parent.parent.name}/{clip.name} ({info.width}x{info.height}, {info.codec}, "
            f"{info.frame_count} frames): {seconds * 1000:.0f} ms (head and tail decode; a fixed cost per file)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--megabytes", type=int, default=100)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        bench_scan(root, arguments.files)
        bench_ingest(root, arguments.megabytes)
    bench_probe()
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
