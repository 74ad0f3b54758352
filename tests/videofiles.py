"""Bad and odd video files for tests: each maker writes one real file; BAD_VIDEOS pairs them with the reason.

Shared by the probe tests and the daemon's end-to-end bad-input matrix. Over-size and over-length
files are ordinary clips checked against small limits (`limits` in each case), not huge files.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CLIP = REPO / "examples" / "sample.mp4"  # one person, 1080x1920 portrait, 60 fps, 100 frames
SINGLE_PERSON_CLIPS = sorted((REPO / "tests/data/pose2sim/SinglePerson/videos").glob("cam0*.mp4"))
MULTI_PERSON_CLIPS = sorted((REPO / "tests/data/pose2sim/MultiPerson/videos").glob("cam0*.mp4"))


def write_empty(path: Path) -> Path:
    """A zero-byte file with a video extension (a copy that never started)."""
    path.write_bytes(b"")
    return path


def write_truncated(path: Path, source: Path = SAMPLE_CLIP, keep: float = 0.5) -> Path:
    """The first `keep` fraction of a real clip: its moov atom (at the end) is missing."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def write_faststart(path: Path, source: Path = SAMPLE_CLIP) -> Path:
    """`source` remuxed with its index (moov) first, as phones and web tools write mp4 files."""
    with av.open(str(source)) as reader, av.open(str(path), "w", options={"movflags": "faststart"}) as writer:
        in_stream = reader.streams.video[0]
        out_stream = writer.add_stream_from_template(in_stream)
        for packet in reader.demux(in_stream):
            if packet.dts is None:
                continue
            packet.stream = out_stream
            writer.mux(packet)
    return path


def write_truncated_faststart(path: Path, source: Path = SAMPLE_CLIP, keep: float = 0.6) -> Path:
    """A faststart mp4 cut short: it opens (the index is intact) but its last frames are missing."""
    full = write_faststart(path.with_name(f"full-{path.name}"), source)
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def write_text_as_video(path: Path) -> Path:
    """Plain text renamed with a video extension."""
    path.write_text("These are the meeting notes, not a video.\n" * 20, encoding="utf-8")
    return path


def write_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """A real .mp4 holding only an audio stream (no video stream)."""
    rate = 16000
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        samples = np.zeros((1, int(rate * seconds)), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_frames(
    path: Path,
    frames: Iterable[np.ndarray],
    rate: float = 60,
    rotation: int = 0,
    options: dict[str, str] | None = None,
) -> Path:
    """An H.264 mp4 of RGB frames at a constant rate; `rotation` sets the display matrix."""
    images = iter(frames)
    first = next(images)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(rate).limit_denominator(1001))
        stream.height, stream.width = first.shape[:2]
        stream.pix_fmt = "yuv420p"
        if options:
            stream.options = options
        if rotation:
            stream.set_display_rotation(rotation)
        for image in itertools.chain([first], images):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_synthetic_clip(
    path: Path, frames: int = 12, width: int = 96, height: int = 64, fps: int = 25, rotation: int = 0
) -> Path:
    """A tiny H.264 clip with nobody in it (moving grey gradient); `rotation` sets the display matrix."""
    ramp = np.linspace(0, 200, width, dtype=np.float32)[None, :, None]
    images = (
        np.broadcast_to((ramp + index * 4) % 256, (height, width, 3)).astype(np.uint8)
        for index in range(frames)
    )
    return write_frames(path, images, rate=fps, rotation=rotation)


@dataclass(frozen=True)
class BadVideo:
    """One bad input: how to make it, the limits to check it with, and words the reason must hold."""

    name: str  # a file name with a video extension
    make: Callable[[Path], Path]
    reason: str
    limits: dict[str, Any] = field(default_factory=dict)  # LimitSettings overrides


def _copy_sample(path: Path) -> Path:
    path.write_bytes(SAMPLE_CLIP.read_bytes())
    return path


BAD_VIDEOS = (
    BadVideo("empty.mp4", write_empty, "empty file (0 bytes)"),
    BadVideo("truncated.mp4", write_truncated, "truncated or corrupt video"),
    BadVideo("cut-short.mp4", write_truncated_faststart, "truncated or corrupt video"),
    BadVideo("notes.mp4", write_text_as_video, "not a video"),
    BadVideo("audio-only.mp4", write_audio_only, "no video stream"),
    # The sample is 0.37 MB and 1.67 s long.
    BadVideo(
        "too-big.mp4", _copy_sample, "over the limit of 0.1 MB (limits.max_size_mb)", {"max_size_mb": 0.1}
    ),
    BadVideo(
        "too-long.mp4", _copy_sample, "over the limit of 1 s (limits.max_duration_s)", {"max_duration_s": 1.0}
    ),
)
