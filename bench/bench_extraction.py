"""Track extraction: reading PHALP-layout tracklets, listing tracks and extracting one, per clip length.

Prints seconds per stage, frames per second of extraction and peak memory, for clips of several
lengths with three people (one of them often a ghost), as 4D-Humans writes them (joblib, compress=3).
Run: .venv/bin/python bench/bench_extraction.py [--frames 500 2000 5000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import joblib

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mocapd.motion import extraction, quality, tracklets  # noqa: E402
from tests.fake_4dhumans.layout import LayoutBuilder, Person, camera_from_world  # noqa: E402


def build(frames: int) -> dict:  # type: ignore[type-arg]
    builder = LayoutBuilder(frames)
    for frame in range(frames):
        builder.add(
            frame, Person(tid=1, tracked_time=int(frame % 50 == 0), camera=camera_from_world([0, 0, -8]))
        )
        builder.add(frame, Person(tid=2, camera=camera_from_world([0.001 * frame, 0.0, -6.0])))
        if frame % 3:
            builder.add(frame, Person(tid=3, camera=camera_from_world([-1.0, 0.0, -9.0])))
    return builder.build()


def stages(path: Path) -> tuple[float, float, float, float, int]:
    """Seconds to read, list, extract the longest track and compute its quality; the track count."""
    start = time.perf_counter()
    data = tracklets.read(path)
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    summaries = extraction.summarise(data)
    list_s = time.perf_counter() - start
    start = time.perf_counter()
    extracted = extraction.extract(data, summaries[0].tid, 30.0)
    extract_s = time.perf_counter() - start
    start = time.perf_counter()
    quality.track_quality(extracted)
    quality_s = time.perf_counter() - start
    return read_s, list_s, extract_s, quality_s, len(summaries)


def bench(frames: int, folder: Path) -> None:
    path = folder / f"demo_{frames}.pkl"
    joblib.dump(build(frames), path, compress=3)
    read_s, list_s, extract_s, quality_s, tracks = stages(path)
    # Memory in a second pass: tracemalloc slows allocation-heavy reading several times over.
    tracemalloc.start()
    stages(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{frames:>6} frames, {tracks} tracks, file {path.stat().st_size / 1e6:5.1f} MB: "
        f"read {read_s:6.2f} s ({frames / read_s:5.0f} frames/s, joblib), list {list_s:5.3f} s, "
        f"extract {extract_s:5.2f} s ({frames / extract_s:6.0f} frames/s), quality {quality_s:5.2f} s, "
        f"peak Python memory {peak / 1e6:6.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, nargs="+", default=[500, 2000, 5000])
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for frames in arguments.frames:
            bench(frames, Path(folder))
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
