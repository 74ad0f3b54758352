"""The preview's frames kept by the tracking step: the clip at the preview's size, JPEG frames in one file.

The tracking step decodes every frame anyway; keeping a small copy of the frames it poses (at most
the preview's rate) costs far less than decoding the full-size source again for the preview
(bench/bench_report.py). The file is complete only once renamed into place; the preview reads it
when its size matches and falls back to the source otherwise (4D-Humans, a re-export, an old job).

Layout: MAGIC, then width and height (uint16), then per frame its time (float64, seconds) and the
length of its JPEG (uint32), then the JPEG.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from mocapd.decode import FrameSampler

FILE_NAME = "preview-frames.bin"
MAGIC = b"mocapd preview frames 1\n"
SIZE = struct.Struct("<HH")
FRAME = struct.Struct("<dI")
# The preview is encoded again at x264's crf 26: a finer JPEG adds bytes and time, not detail.
JPEG_QUALITY = 80


def path_for(work_dir: Path) -> Path:
    return work_dir / FILE_NAME


@dataclass
class Cost:
    """What keeping the frames cost the tracking step (its own thread; wall time is on the step's path)."""

    frames: int = 0
    bytes: int = 0
    cpu_seconds: float = 0.0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "frames": self.frames,
            "bytes": self.bytes,
            "cpu_seconds": round(self.cpu_seconds, 3),
            "seconds": round(self.seconds, 3),
        }


class Writer:
    """Takes upright RGB frames with their times; keeps those at least 1/max_rate s apart, resized to `size`."""

    def __init__(self, path: Path, size: tuple[int, int], max_rate: float) -> None:
        self.path = path
        self.size = size
        self.sampler = FrameSampler(max_rate)
        self.partial = path.with_name(f".{path.name}.partial")
        path.unlink(missing_ok=True)
        self.stream: BinaryIO = self.partial.open("wb")
        self.stream.write(MAGIC + SIZE.pack(*size))
        self.cost = Cost()

    def add(self, seconds: float, image: np.ndarray) -> None:
        if not self.sampler.take(seconds):
            return
        started, cpu_started = time.perf_counter(), time.thread_time()
        # Bilinear, not area: a third of the time, and the preview is drawn over and encoded again.
        small = cv2.resize(image, self.size, interpolation=cv2.INTER_LINEAR)
        # The JPEG codec's channel order does not matter: the reader swaps nothing either.
        ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise OSError("cannot encode a preview frame")
        self.stream.write(FRAME.pack(seconds, data.size))
        self.stream.write(data.tobytes())
        self.cost.frames += 1
        self.cost.bytes += FRAME.size + data.size
        self.cost.cpu_seconds += time.thread_time() - cpu_started
        self.cost.seconds += time.perf_counter() - started

    def close(self, complete: bool) -> None:
        """Put the file in place when every frame was written, else remove it."""
        self.stream.close()
        if complete and self.cost.frames:
            self.partial.replace(self.path)
        else:
            self.partial.unlink(missing_ok=True)


def read(path: Path, size: tuple[int, int]) -> Iterator[tuple[float, np.ndarray]] | None:
    """(time, RGB image) per kept frame; None when there is no complete file of this size."""
    try:
        stream = path.open("rb")
    except OSError:
        return None
    header = stream.read(len(MAGIC) + SIZE.size)
    if header[: len(MAGIC)] != MAGIC or SIZE.unpack(header[len(MAGIC) :]) != size:
        stream.close()
        return None
    return _frames(stream)


def _frames(stream: BinaryIO) -> Iterator[tuple[float, np.ndarray]]:
    with stream:
        while head := stream.read(FRAME.size):
            seconds, length = FRAME.unpack(head)
            image = cv2.imdecode(np.frombuffer(stream.read(length), np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                raise OSError("a preview frame cannot be decoded")
            yield seconds, image
