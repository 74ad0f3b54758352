"""Stand-in for 4D-Humans' track.py (test-only): takes the same Hydra overrides, behaves as told.

FAKE_4DHUMANS_MODE: ok (default), crash, oom, oom_caught (printed, exit 0, as PHALP does), hang,
partial (writes a truncated pkl, then crashes), silent (exit 0, no results), short (covers half the clip).
FAKE_4DHUMANS_RECORD: a JSON file to write the arguments, working folder and CUDA_VISIBLE_DEVICES to.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
OOM_MESSAGE = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity "
    "of 7.79 GiB of which 1.02 GiB is free."
)


def overrides(arguments: list[str]) -> dict[str, str]:
    result = {}
    for argument in arguments:
        key, _, value = argument.partition("=")
        if value.startswith("'") and value.endswith("'"):
            value = value[1:-1].replace("\\'", "'")
        result[key] = value
    return result


def main() -> int:
    mode = os.environ.get("FAKE_4DHUMANS_MODE", "ok")
    settings = overrides(sys.argv[1:])
    record = os.environ.get("FAKE_4DHUMANS_RECORD")
    if record:
        Path(record).write_text(
            json.dumps(
                {
                    "argv": sys.argv[1:],
                    "cwd": os.getcwd(),
                    "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                    "pid": os.getpid(),
                }
            )
        )
    if mode == "hang":  # before the slow imports below, so that a short timeout still finds a child
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        if record:
            Path(record + ".child").write_text(str(child.pid))
        print("Tracking : clip   0%", flush=True)
        time.sleep(120)
    import av
    import joblib

    sys.path.insert(0, str(REPOSITORY))
    from tests.fake_4dhumans.layout import LayoutBuilder, Person

    source = Path(settings["video.source"])
    output_dir = Path(settings["video.output_dir"])
    end_frame = int(settings.get("video.end_frame", "1300"))
    if not source.name.endswith(".mp4"):
        raise SystemExit("Invalid source path")
    with av.open(str(source)) as container:  # PHALP reads mp4 only: this must open
        frame_count = sum(1 for packet in container.demux(video=0) if packet.size)
    frame_count = min(frame_count, end_frame)
    print(f"Number of frames: {frame_count}", flush=True)
    if mode == "crash":
        print("Traceback (most recent call last):", flush=True)
        print("RuntimeError: detectron2 checkpoint not found", flush=True)
        return 1
    if mode in ("oom", "oom_caught"):
        print("Tracking : clip ━━━━━         12% 0:01:02\r", end="", flush=True)
        print(OOM_MESSAGE, flush=True)
        return 0 if mode == "oom_caught" else 1
    results = output_dir / "results"
    results.mkdir(parents=True, exist_ok=True)
    pkl = results / f"demo_{source.stem}.pkl"
    if mode == "partial":
        pkl.write_bytes(b"\x80\x04\x95truncated")
        print("Killed", flush=True)
        return 137
    if mode == "silent":
        print("CUDA error: an illegal memory access was encountered", flush=True)
        return 0
    covered = frame_count // 2 if mode == "short" else frame_count
    builder = LayoutBuilder(covered, name=source.stem)
    for frame in range(covered):
        print(
            f"\x1b[2KTracking : {source.stem} ━━━━ {100 * (frame + 1) // covered}% 0:00:01\r",
            end="",
            flush=True,
        )
        builder.add(frame, Person(tid=1, camera=[0.01 * frame, 0.2, 8.0]))
    print("", flush=True)
    joblib.dump(builder.build(), pkl, compress=3)
    if settings.get("render.enable") == "True":
        (output_dir / f"PHALP_{source.stem}.mp4").write_bytes(b"rendered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
