"""The preview's frames kept by the tracking step: the clip at the preview's size, in one file.

The tracking step decodes the frames anyway; its decoding thread hands each one here (decode.iter_frames'
on_frame, which may leave undecoded those neither this nor the pose model takes), where those at most 1/PREVIEW_MAX_FPS apart are scaled down in swscale (YUV 4:2:0 to YUV
4:2:0: no colour conversion) and kept as a greyscale JPEG of their three planes. That costs a fraction
of decoding the full-size source again for the preview (bench/bench_report.py), and the preview draws
and encodes on the planes as they are. The file is complete only once renamed into place; the preview
reads it when its size matches and decodes the source otherwise (4D-Humans, a re-export, an old job).

Frames here are "stacked" planes, (height * 3 / 2, width) uint8: Y on top, U and V side by side below,
so that each JPEG block holds neighbouring pixels of one plane. File layout: MAGIC, width and height
(uint16), then per frame its time (float64, seconds), the JPEG's length (uint32) and the JPEG.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import cv2
import numpy as np

from mocapd.decode import SWSCALE_THREADS, FrameSampler

log = logging.getLogger(__name__)

FILE_NAME = "preview-frames.bin"
MAGIC = b"mocapd preview frames 2\n"
SIZE = struct.Struct("<HH")
FRAME = struct.Struct("<dI")
# The preview is encoded again at x264's crf 26: a finer JPEG adds bytes and time, not detail.
JPEG_QUALITY = 80


def path_for(work_dir: Path) -> Path:
    return work_dir / FILE_NAME


def planes(frame: av.VideoFrame, size: tuple[int, int], turns: int) -> np.ndarray:
    """The decoded frame upright at `size` (width, height; even) as stacked planes.

    `turns` is the display rotation in degrees counter-clockwise (decode.frame_rotation)."""
    quarter_turns = int(round(turns / 90.0)) % 4
    width, height = size if quarter_turns % 2 == 0 else (size[1], size[0])
    # swscale's area averaging on the planes (as quick as its fast bilinear pass, and no aliasing).
    scaled = frame.reformat(
        width=width, height=height, format="yuv420p", interpolation="AREA", threads=SWSCALE_THREADS
    )
    luma, blue, red = (
        np.rot90(view, k=quarter_turns) if quarter_turns else view
        for view in (
            np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)[
                :, : plane.width
            ]
            for plane in scaled.planes
        )
    )
    # One copy from the frame's planes into the stacked picture.
    stacked = np.empty((size[1] * 3 // 2, size[0]), dtype=np.uint8)
    stacked[: size[1]] = luma
    stacked[size[1] :, : size[0] // 2] = blue
    stacked[size[1] :, size[0] // 2 :] = red
    return stacked


def unpack_i420(packed: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of Y (h, w), U and V (h/2, w/2) in a packed I420 buffer ((h * 3 / 2, w), as OpenCV and FFmpeg lay it out)."""
    width = packed.shape[1]
    quarter = height // 4
    luma = packed[:height]
    blue = packed[height : height + quarter].reshape(height // 2, width // 2)
    red = packed[height + quarter : height + 2 * quarter].reshape(height // 2, width // 2)
    return luma, blue, red


def unstack(stacked: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of Y, U and V in stacked planes."""
    height = stacked.shape[0] * 2 // 3
    half = stacked.shape[1] // 2
    return stacked[:height], stacked[height:, :half], stacked[height:, half:]


@dataclass
class Cost:
    """What keeping the frames cost the tracking step: CPU of the decoding thread that did it, and wall."""

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
    """Takes decoded frames with their times; keeps those at least 1/max_rate s apart at `size` (upright)."""

    def __init__(self, path: Path, size: tuple[int, int], max_rate: float) -> None:
        self.path = path
        self.size = size
        self.max_rate = max_rate  # the frames it keeps: the decoder may skip the others
        self.sampler = FrameSampler(max_rate)
        self.partial = path.with_name(f".{path.name}.partial")
        path.unlink(missing_ok=True)
        self.stream: BinaryIO = self.partial.open("wb")
        self.stream.write(MAGIC + SIZE.pack(*size))
        self.cost = Cost()
        self.failed = False

    def add(self, frame: av.VideoFrame, seconds: float, turns: int) -> None:
        """One decoded frame (every one, in order); `turns` as for planes(). A failure here (a full
        disk) only stops the copy: the preview then decodes the source, and tracking goes on."""
        if self.failed or not self.sampler.take(seconds):
            return
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            ok, data = cv2.imencode(
                ".jpg", planes(frame, self.size, turns), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
            )
            if not ok:
                raise OSError("cannot encode a preview frame")
            self.stream.write(FRAME.pack(seconds, data.size))
            self.stream.write(data.tobytes())
        except (OSError, ValueError, av.error.FFmpegError) as error:
            log.warning("the preview's copy of the frames stopped at %.2f s: %s", seconds, error)
            self.failed = True
            return
        self.cost.frames += 1
        self.cost.bytes += FRAME.size + data.size
        # swscale and libjpeg run in this thread only: its CPU time is the whole cost.
        self.cost.cpu_seconds += time.thread_time() - cpu_started
        self.cost.seconds += time.perf_counter() - started

    def close(self, complete: bool) -> None:
        """Put the file in place when every frame was written, else remove it."""
        try:
            self.stream.close()
        except OSError:
            self.failed = True
        if complete and self.cost.frames and not self.failed:
            self.partial.replace(self.path)
        else:
            self.partial.unlink(missing_ok=True)


def read(path: Path, size: tuple[int, int]) -> Iterator[tuple[float, np.ndarray]] | None:
    """(time, stacked planes) per kept frame; None when there is no complete file of this size."""
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
            image = cv2.imdecode(np.frombuffer(stream.read(length), np.uint8), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise OSError("a preview frame cannot be decoded")
            yield seconds, image
