"""A real look into the container (PyAV): is this a usable video, within the configured limits?"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av

from mocapd.config import LimitSettings
from mocapd.errors import JobError
from mocapd.job import VideoInfo

BYTES_PER_MB = 1024 * 1024
# Frames decoded at the start and at the end of the stream to tell a truncated file cheaply.
HEAD_FRAMES = 3
# The end of the stream must decode up to this close to the duration the container announces.
TAIL_TOLERANCE_S = 0.5
# Leading bytes of containers we accept: a file that starts like one of these but does not open is
# damaged (e.g. an mp4 cut before its moov atom), anything else is not a video at all.
CONTAINER_SIGNATURES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
MATROSKA_SIGNATURE = b"\x1a\x45\xdf\xa3"
RIFF_SIGNATURE = b"RIFF"
# Fewest frames a motion is made of: one frame holds a pose, not a movement.
MIN_FRAMES = 2


def probe(path: Path, limits: LimitSettings) -> VideoInfo:
    """What the video holds; a JobError with a reason a person can act on when it cannot be used."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise JobError(f"cannot read {path.name}: {error.strerror or error}") from error
    if size == 0:
        raise JobError("empty file (0 bytes)")
    size_mb = size / BYTES_PER_MB
    if size_mb > limits.max_size_mb:
        raise JobError(
            f"video is {size_mb:.1f} MB, over the limit of {limits.max_size_mb:g} MB (limits.max_size_mb)"
        )
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        if looks_like_container(path):
            raise JobError(
                f"truncated or corrupt video: it cannot be opened ({reason}); "
                "an mp4 cut short while copying loses its index"
            ) from error
        raise JobError(
            f"not a video: FFmpeg does not recognise {path.name} as a video file ({reason})"
        ) from error
    with container:
        if not container.streams.video:
            raise JobError("no video stream")
        stream = container.streams.video[0]
        # The decoded pictures are never looked at, only whether they decode: the deblocking filter
        # (a quarter of H.264's decoding time, no part of reading the stream) is skipped.
        stream.codec_context.options = {"skip_loop_filter": "all"}
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or not math.isfinite(float(rate)) or float(rate) <= 0:
            raise JobError("frame rate unknown")
        fps = float(rate)
        duration = stream_duration(container, stream)
        if duration is not None and duration > limits.max_duration_s:
            raise JobError(
                f"video lasts {duration:.1f} s, over the limit of {limits.max_duration_s:g} s "
                "(limits.max_duration_s)"
            )
        rotation, width, height = check_head(container, stream)
        last_time = check_tail(container, stream, duration)
    if duration is None:
        duration = last_time + 1.0 / fps
        if duration > limits.max_duration_s:
            raise JobError(
                f"video lasts {duration:.1f} s, over the limit of {limits.max_duration_s:g} s "
                "(limits.max_duration_s)"
            )
    frame_count = stream.frames or int(round(duration * fps))
    if frame_count < MIN_FRAMES:
        raise JobError(
            f"the video holds {frame_count} frame(s): a motion needs at least {MIN_FRAMES} "
            "(a still image or a clip cut to one frame cannot be animated)"
        )
    return VideoInfo(
        width=width,
        height=height,
        fps=fps,
        duration=duration,
        frame_count=frame_count,
        codec=stream.codec_context.name,
        rotation=rotation or legacy_rotation(stream.metadata),
        focal_length_px=None,  # consumer containers carry no intrinsics; 35 mm equivalents are not pixels
    )


def looks_like_container(path: Path) -> bool:
    """Whether the file starts like an MP4/MOV, Matroska or AVI: then failing to open means damage."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    return head[4:8] in CONTAINER_SIGNATURES or head.startswith((MATROSKA_SIGNATURE, RIFF_SIGNATURE))


def stream_duration(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    """Seconds, from the stream's own duration, else the container's; None when neither says."""
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def check_head(container: av.container.InputContainer, stream: av.VideoStream) -> tuple[int, int, int]:
    """Decode the first frames: (display rotation, stored width, stored height)."""
    frames = []
    try:
        for frame in container.decode(stream):
            frames.append(frame)
            if len(frames) >= HEAD_FRAMES:
                break
    except av.error.FFmpegError as error:
        reason = error.strerror or str(error)
        raise JobError(f"truncated or corrupt video: the first frames do not decode ({reason})") from error
    if not frames:
        raise JobError("truncated or corrupt video: no frame decodes")
    first = frames[0]
    try:
        rotation = int(first.rotation) % 360
    except (AttributeError, TypeError, ValueError):
        rotation = 0
    return rotation, first.width, first.height


def check_tail(
    container: av.container.InputContainer, stream: av.VideoStream, duration: float | None
) -> float:
    """Decode the last second of the stream; a file cut short fails here or ends early. The last frame's time."""
    time_base = stream.time_base or Fraction(1, av.time_base)
    start = stream.start_time or 0
    target_time = max(0.0, (duration or 0.0) - 1.0)
    target_pts = start + int(target_time / time_base) if duration is not None else None
    if target_pts is not None:
        container.seek(target_pts, stream=stream, any_frame=False, backward=True)
    last_time: float | None = None
    # Frames before the last second are decoded only as far as later ones refer to them: the check is
    # that the end decodes (the keyframe before it can be seconds earlier: x264's default is 250 frames).
    context = stream.codec_context
    try:
        for packet in container.demux(stream):
            early = target_pts is not None and packet.pts is not None and packet.pts < target_pts
            context.skip_frame = "NONREF" if early else "DEFAULT"
            for frame in packet.decode():
                if frame.pts is not None:
                    last_time = float((frame.pts - start) * time_base)
    except av.error.FFmpegError as error:
        reason = error.strerror or str(error)
        raise JobError(f"truncated or corrupt video: the end does not decode ({reason})") from error
    if last_time is None:
        raise JobError("truncated or corrupt video: no frame decodes near the end")
    if (
        duration is not None
        and last_time < duration - 1.0 / float(stream.average_rate or 30) - TAIL_TOLERANCE_S
    ):
        raise JobError(
            f"truncated or corrupt video: frames stop at {last_time:.1f} s of {duration:.1f} s "
            "(the file was probably cut short while copying)"
        )
    return last_time


def legacy_rotation(metadata: dict[str, str]) -> int:
    """Counter-clockwise degrees from an old-style 'rotate' tag (which counts clockwise); 0 when absent."""
    try:
        clockwise = int(float(metadata.get("rotate", "0")))
    except ValueError:
        return 0
    return (-clockwise) % 360
