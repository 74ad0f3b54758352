"""Streaming video decoding for inference: real timestamps, upright frames, bounded size.

Frames come one at a time from a generator, so memory does not grow with the clip's length.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import NamedTuple, TypeVar, cast

import av
import numpy as np

from mocapd.errors import JobError


class DecodedFrame(NamedTuple):
    """One upright RGB frame ready for the pose model."""

    frame_index: int  # 0-based position in the video
    time: float  # seconds since the first frame (from pts, so variable frame rates are exact)
    image: np.ndarray  # (H, W, 3) uint8 RGB, display-rotated, downscaled
    scale: float  # inference pixels per upright source pixel (1.0 when not downscaled)


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """The frame as it is meant to be shown; `rotation` is the display matrix's counter-clockwise degrees."""
    quarter_turns = int(round(rotation / 90.0)) % 4
    # Contiguous either way: PyAV may hand back rows with padding, and MediaPipe needs packed rows.
    return np.ascontiguousarray(np.rot90(image, k=quarter_turns) if quarter_turns else image)


def inference_size(width: int, height: int, max_resolution: int) -> tuple[int, int, float]:
    """(width, height, scale) of a frame whose longest side is at most `max_resolution`; even sizes."""
    longest = max(width, height)
    if longest <= max_resolution:
        return width, height, 1.0
    scale = max_resolution / longest
    new_width = max(2, int(round(width * scale / 2.0)) * 2)
    new_height = max(2, int(round(height * scale / 2.0)) * 2)
    return new_width, new_height, new_width / width


def frame_rotation(frame: av.VideoFrame, stream_rotation: int) -> int:
    """The frame's display rotation from its side data, else the stream's (degrees counter-clockwise)."""
    try:
        rotation = int(frame.rotation)
    except (AttributeError, TypeError, ValueError):
        rotation = 0
    return rotation or stream_rotation


# swscale threads for one frame's conversion. PyAV's default (0: one per core) starts new threads on
# every call (2 a frame on 2 cores: 2400 for a 20 s 60 fps clip with the preview's copy); one thread
# gives the same pixels for a little less CPU (1080x1920 to 720x1280 RGB: ~6.2 -> ~6.0 ms) and less
# wall on a busy host, where the decoding thread already runs beside the pose model.
SWSCALE_THREADS = 1
# Timestamps are rounded (to milliseconds in some containers): frames this share of the interval early
# still count as on time, so 60 fps stamped 0, 17, 33, 50 ms is sampled at every 2nd frame.
SAMPLING_TOLERANCE = 0.02


class FrameSampler:
    """Chooses frames by timestamp so that chosen frames are at least 1/max_rate seconds apart (VFR-safe)."""

    def __init__(self, max_rate: float) -> None:
        self.interval = 1.0 / max_rate if max_rate > 0 else 0.0
        self.last_time: float | None = None

    def take(self, time: float) -> bool:
        """Whether the frame at `time` (seconds, increasing) is processed; max_rate 0 takes every frame."""
        if self.interval <= 0.0:
            return True
        if self.last_time is not None and time < self.last_time + self.interval * (1.0 - SAMPLING_TOLERANCE):
            return False
        self.last_time = time
        return True


def open_video(path: Path) -> av.container.InputContainer:
    """Open a video for reading; unreadable files are a JobError."""
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError) as error:
        raise JobError(f"cannot open video {path.name}: {error}") from error
    if not container.streams.video:
        container.close()
        raise JobError(f"{path.name} has no video stream")
    return container


def converted(
    frame: av.VideoFrame, turns: int, max_resolution: int, pixel_format: str = "rgb24"
) -> tuple[np.ndarray, float]:
    """(upright image, scale) of a decoded frame: longest side <= max_resolution, in `pixel_format`."""
    sideways = int(round(turns / 90.0)) % 2 == 1
    upright_width, upright_height = (frame.height, frame.width) if sideways else (frame.width, frame.height)
    width, height, scale = inference_size(upright_width, upright_height, max_resolution)
    # Scale before rotating: swscale does the resize and the conversion in one pass.
    stored_width, stored_height = (height, width) if sideways else (width, height)
    image = frame.to_ndarray(
        width=stored_width, height=stored_height, format=pixel_format, threads=SWSCALE_THREADS
    )
    return upright(image, turns), scale


def iter_frames(
    path: Path,
    max_resolution: int = 1280,
    limit: int | None = None,
    rotation: int = 0,
    max_rate: float = 0.0,
    on_frame: Callable[[av.VideoFrame, float, int], None] | None = None,
    on_frame_rate: float | None = None,
) -> Generator[DecodedFrame, None, None]:
    """Decode `path` frame by frame: upright (display rotation), longest side <= max_resolution.

    `rotation` is used only when the frames carry no display matrix of their own (e.g. a probe found
    a legacy 'rotate' tag). Timestamps are pts * time_base relative to the first frame. With
    `max_rate` > 0 only frames at least 1/max_rate s apart are yielded (FrameSampler); of the others
    only those later frames refer to are decoded, where the codec can tell (wanted_stamps), and none
    is converted. `frame_index` is a frame's place in presentation order; `limit` counts from it.
    `on_frame(frame, seconds, rotation)` sees each decoded frame first (the report's preview copy);
    `on_frame_rate`: the rate it keeps frames at (FrameSampler), so that frames neither it nor the
    sampler takes may be skipped; 0 (the default with an `on_frame`): it needs every frame.
    """
    sampler = FrameSampler(max_rate)
    if on_frame_rate is None:
        on_frame_rate = 0.0 if on_frame is not None else max_rate
    plan = wanted_stamps(path, (max_rate, on_frame_rate)) if max_rate > 0 and on_frame_rate > 0 else None
    with open_video(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame-parallel decoding: the pose model is the bottleneck anyway
        context = stream.codec_context
        time_base = float(stream.time_base) if stream.time_base else 0.0
        rate = float(stream.average_rate or stream.guessed_rate or 30.0)
        first_pts: int | None = None
        index = -1
        try:
            for packet in container.demux(stream):
                if plan is not None:
                    # Per packet (frame threads copy it as each packet goes in): only frames nobody
                    # takes may be dropped, and the decoder drops only those no other frame refers to.
                    context.skip_frame = (
                        "DEFAULT" if packet.pts is None or packet.pts in plan.wanted else "NONREF"
                    )
                for frame in packet.decode():
                    index = (
                        plan.order.get(frame.pts, index + 1)
                        if plan is not None and frame.pts is not None
                        else index + 1
                    )
                    if limit is not None and index >= limit:
                        return
                    if frame.pts is not None and time_base:
                        if first_pts is None:
                            first_pts = plan.first if plan is not None else frame.pts
                        seconds = (frame.pts - first_pts) * time_base
                    else:
                        seconds = index / rate
                    turns = frame_rotation(frame, rotation)
                    if on_frame is not None:
                        on_frame(frame, float(seconds), turns)
                    if not sampler.take(float(seconds)):
                        continue
                    image, scale = converted(frame, turns, max_resolution)
                    yield DecodedFrame(index, float(seconds), image, scale)
        except av.error.FFmpegError as error:
            raise JobError(f"cannot decode {path.name} at frame {index + 1}: {error}") from error


class StampPlan(NamedTuple):
    """Which presentation stamps (pts) of a clip some sampler takes, and each stamp's frame index."""

    wanted: frozenset[int]
    order: dict[int, int]  # pts -> place in presentation order
    first: int  # the earliest pts


def wanted_stamps(path: Path, rates: tuple[float, ...]) -> StampPlan | None:
    """The stamps a FrameSampler at any of `rates` takes, from the packets alone (no decoding); None
    when some packet has no pts or two share one (the frames cannot be told apart before decoding)."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        time_base = float(stream.time_base) if stream.time_base else 0.0
        stamps = []
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue  # the end-of-stream flush, and packets the decoder drops (edit lists)
            if packet.pts is None:
                return None
            stamps.append(packet.pts)
    stamps.sort()
    if not stamps or not time_base or len(set(stamps)) != len(stamps):
        return None
    samplers = [FrameSampler(rate) for rate in rates]
    wanted = frozenset(
        pts
        for pts in stamps
        # Every sampler sees every stamp (no short-circuit): each keeps its own last time.
        if any([sampler.take(float((pts - stamps[0]) * time_base)) for sampler in samplers])
    )
    return StampPlan(wanted, {pts: place for place, pts in enumerate(stamps)}, stamps[0])


# Frames decoded ahead of the consumer: enough to hide decoding behind inference, few enough for memory.
PREFETCH_DEPTH = 4
_END = object()
Item = TypeVar("Item")


def prefetch(frames: Iterator[Item], depth: int = PREFETCH_DEPTH) -> Generator[Item, None, None]:
    """Run `frames` in a background thread, `depth` frames ahead; its errors are raised here, in order.

    PyAV releases the GIL while decoding, so decoding overlaps with the pose model on another core
    (and the preview's JPEG decoding with its drawing and encoding).
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for frame in frames:
                while not stop.is_set():
                    try:
                        buffer.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_END)
        except BaseException as error:  # handed to the consumer, which raises it
            buffer.put(error)

    worker = threading.Thread(target=produce, name="decode-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(Item, item)
    finally:
        stop.set()
        # Unblock a producer waiting on a full queue, then let it finish.
        while worker.is_alive():
            try:
                buffer.get(timeout=0.1)
            except queue.Empty:
                pass
        if hasattr(frames, "close"):
            frames.close()


# A clip with fewer keyframes than the frames asked for is sampled by decoding from its start, but
# no further than this many frames (each costs a full decode: about 5 ms at 1080p on one core).
MAX_SAMPLE_DECODED = 40


def keyframe_times(path: Path) -> list[float]:
    """The keyframes' times (seconds from the first frame), from the packets alone (no decoding: a few
    milliseconds for a minute of video)."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        time_base = float(stream.time_base) if stream.time_base else 0.0
        stamps = [
            (packet.pts, packet.is_keyframe) for packet in container.demux(stream) if packet.pts is not None
        ]
    if not stamps or not time_base:
        return []
    first = min(pts for pts, _ in stamps)
    return sorted((pts - first) * time_base for pts, key in stamps if key)


def sample_frames(
    path: Path, count: int, max_resolution: int = 960, rotation: int = 0, pixel_format: str = "gray"
) -> list[DecodedFrame]:
    """About `count` upright frames spread over the clip, cheaply: keyframes where the clip has
    enough (one seek and one decoded frame each), else evenly spaced frames among its first
    MAX_SAMPLE_DECODED. `pixel_format`: PyAV's ("gray" for line detection, "rgb24")."""
    keys = keyframe_times(path)
    if len(keys) >= count:
        chosen = [keys[int(round(position))] for position in np.linspace(0, len(keys) - 1, count)]
        return [
            frame
            for seconds in dict.fromkeys(chosen)
            for frame in _frames_from(path, seconds, 1, 1, max_resolution, rotation, pixel_format)
        ]
    step = max(1, MAX_SAMPLE_DECODED // max(1, count))
    return _frames_from(path, 0.0, count, step, max_resolution, rotation, pixel_format)


def _frames_from(
    path: Path, seconds: float, count: int, step: int, max_resolution: int, rotation: int, pixel_format: str
) -> list[DecodedFrame]:
    """`count` frames `step` apart from the keyframe at or before `seconds`."""
    frames: list[DecodedFrame] = []
    with open_video(path) as container:
        stream = container.streams.video[0]
        if count > 1:
            # Frame threads decode frames ahead: of use for a run of frames, waste for one.
            stream.thread_type = "AUTO"
        time_base = float(stream.time_base) if stream.time_base else 0.0
        rate = float(stream.average_rate or stream.guessed_rate or 30.0)
        start = stream.start_time or 0
        try:
            if seconds > 0.0 and time_base:
                container.seek(start + int(seconds / time_base), stream=stream, backward=True)
            for decoded, frame in enumerate(container.decode(stream)):
                if decoded % step:
                    continue
                moment = (
                    (frame.pts - start) * time_base if frame.pts is not None and time_base else decoded / rate
                )
                image, scale = converted(frame, frame_rotation(frame, rotation), max_resolution, pixel_format)
                frames.append(DecodedFrame(int(round(moment * rate)), float(moment), image, scale))
                if len(frames) >= count:
                    break
        except av.error.FFmpegError as error:
            raise JobError(f"cannot decode {path.name} near {seconds:.2f} s: {error}") from error
    return frames
