"""The tracking preview video: each person's 2D skeleton and track id drawn over the frames (mp4, PyAV)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from mocapd.motion.landmarks import BONE_INDICES

# Landmarks less confident than this are not drawn.
DRAW_CONFIDENCE = 0.3
# Timestamps are written in this unit (seconds), fine enough for any real frame rate.
TIME_BASE = Fraction(1, 90000)


def colour(tid: int) -> tuple[int, int, int]:
    """A distinct, stable RGB colour per track id."""
    hue = (tid * 47) % 180
    pixel = cv2.cvtColor(np.array([[[hue, 220, 255]]], dtype=np.uint8), cv2.COLOR_HSV2RGB)[0, 0]
    return int(pixel[0]), int(pixel[1]), int(pixel[2])


def draw_person(
    image: np.ndarray, tid: int, points: np.ndarray, confidence: np.ndarray, box: np.ndarray
) -> None:
    """Draw one person's skeleton, box and id onto `image` (RGB, in place); coordinates in its pixels."""
    rgb = colour(tid)
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for first, second in BONE_INDICES:
        if confidence[first] >= DRAW_CONFIDENCE and confidence[second] >= DRAW_CONFIDENCE:
            start = (int(points[first, 0]), int(points[first, 1]))
            end = (int(points[second, 0]), int(points[second, 1]))
            cv2.line(image, start, end, rgb, thickness, cv2.LINE_AA)
    x0, y0, x1, y1 = (int(value) for value in box)
    cv2.rectangle(image, (x0, y0), (x1, y1), rgb, thickness)
    cv2.putText(
        image,
        f"id {tid}",
        (x0 + 4, max(y0 - 6, 14)),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.4 * thickness + 0.2,
        rgb,
        thickness,
    )


class PreviewWriter:
    """Streams drawn frames into an mp4 (H.264); frames keep their real timestamps."""

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        rate: float,
        frame_duration: float = 0.0,
        preset: str = "veryfast",
        threads: int = 0,
    ) -> None:
        """`threads`: x264's threads (0: its own choice; 1 costs the least CPU per frame)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # moov before the data (faststart): a browser starts playing from a share before the whole file arrives.
        self.container = av.open(str(path), mode="w", options={"movflags": "+faststart"})
        self.stream = self.container.add_stream("libx264", rate=Fraction(rate).limit_denominator(1001))
        self.stream.width = width - width % 2
        self.stream.height = height - height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.time_base = TIME_BASE
        # The encoder counts in the same fine unit, so irregular (VFR) timestamps are kept as they are.
        self.stream.codec_context.time_base = TIME_BASE
        options: dict[str, object] = {"preset": preset, "crf": "26"}
        if threads:
            options["threads"] = str(threads)
        self.stream.options = options
        self.last_pts = -1
        self._frame: av.VideoFrame | None = None
        # Each packet lasts one frame, so the file's duration counts the last frame too.
        self.packet_duration = int(round(frame_duration / TIME_BASE)) if frame_duration > 0 else 0

    def write(self, image: np.ndarray, time: float) -> None:
        """Encode one RGB frame shown at `time` seconds."""
        cropped = np.ascontiguousarray(image[: self.stream.height, : self.stream.width])
        # OpenCV's RGB to YUV 4:2:0 (BT.601, limited range, as swscale's) takes a tenth of swscale's time.
        self.write_yuv(cv2.cvtColor(cropped, cv2.COLOR_RGB2YUV_I420), time)

    def write_yuv(self, planes: np.ndarray, time: float) -> None:
        """Encode one frame given as I420 planes ((height * 3 / 2, width) uint8) shown at `time` seconds."""
        self._encode(av.VideoFrame.from_ndarray(planes.astype(np.uint8, copy=False), format="yuv420p"), time)

    def planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Y, U and V of the one frame that write_planes() encodes, to draw into in place: no frame to
        allocate and copy per write. x264 copies each picture as it takes it, so reuse is safe."""
        if self._frame is None:
            self._frame = av.VideoFrame(self.stream.width, self.stream.height, "yuv420p")
        views = [
            np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)[
                :, : plane.width
            ]
            for plane in self._frame.planes
        ]
        return views[0], views[1], views[2]

    def write_planes(self, time: float) -> None:
        """Encode the frame of planes() as it is now, shown at `time` seconds."""
        assert self._frame is not None
        self._encode(self._frame, time)

    def _encode(self, frame: av.VideoFrame, time: float) -> None:
        pts = max(int(round(time / TIME_BASE)), self.last_pts + 1)
        frame.pts, frame.time_base = pts, TIME_BASE
        self.last_pts = pts
        self._mux(self.stream.encode(frame))

    def _mux(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            if self.packet_duration:
                packet.duration = self.packet_duration
            self.container.mux(packet)

    def close(self) -> None:
        self._mux(self.stream.encode())
        self.container.close()

    def __enter__(self) -> PreviewWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
