"""Decoding: real timestamps, display rotation, downscaling, streaming memory, bad files."""

from __future__ import annotations

import os
import threading
import tracemalloc
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from mocapd.decode import FrameSampler, inference_size, iter_frames, prefetch, upright
from mocapd.errors import JobError

DATA = Path(__file__).parent / "data"
SINGLE = DATA / "pose2sim" / "SinglePerson" / "videos" / "cam01.mp4"


def write_clip(
    path: Path,
    frames: list[np.ndarray] | None = None,
    pts: list[int] | None = None,
    time_base: Fraction = Fraction(1, 1000),
    rotation: int = 0,
    count: int = 0,
    size: tuple[int, int] = (48, 64),
) -> Path:
    """An H.264 mp4 from RGB frames (or `count` generated ones) at the given pts and display rotation."""
    container = av.open(str(path), mode="w")
    height, width = frames[0].shape[:2] if frames else size
    stream = container.add_stream("libx264", rate=30)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.time_base = time_base
    stream.codec_context.time_base = time_base
    if rotation:
        stream.set_display_rotation(rotation)
    total = len(frames) if frames else count
    for index in range(total):
        image = frames[index] if frames else np.full((height, width, 3), (index * 7) % 255, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = pts[index] if pts else int(round(index / 30 / time_base))
        frame.time_base = time_base
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def marked_frame(height: int = 48, width: int = 64) -> np.ndarray:
    """A frame that is white in its top-left quarter only, so any rotation is visible."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[: height // 2, : width // 2] = 255
    return image


def test_real_clip_is_downscaled_with_real_timestamps() -> None:
    frames = list(iter_frames(SINGLE, max_resolution=640))
    assert len(frames) == 100
    assert [frame.frame_index for frame in frames] == list(range(100))
    assert frames[0].image.shape == (640, 360, 3) and frames[0].image.dtype == np.uint8
    assert frames[0].scale == pytest.approx(360 / 1080)
    times = np.array([frame.time for frame in frames])
    assert times[0] == 0.0
    assert np.allclose(np.diff(times), 1 / 60, atol=1e-6)


def test_small_clip_is_not_upscaled() -> None:
    assert inference_size(640, 360, 1280) == (640, 360, 1.0)
    width, height, scale = inference_size(1920, 1080, 1280)
    assert (width, height) == (1280, 720) and scale == pytest.approx(2 / 3)


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_display_rotation_comes_out_upright(tmp_path: Path, rotation: int) -> None:
    shown = marked_frame()
    # The stored picture is the shown one turned back: displaying rotates it counter-clockwise by `rotation`.
    stored = np.ascontiguousarray(np.rot90(shown, k=-rotation // 90))
    path = write_clip(tmp_path / "rotated.mp4", [stored] * 3, rotation=rotation)
    frame = next(iter_frames(path))
    assert frame.image.shape == shown.shape
    # Compression blurs edges: compare quadrant means.
    assert frame.image[:20, :28].mean() > 200
    assert frame.image[28:, 36:].mean() < 40
    assert frame.image[:20, 36:].mean() < 40


def test_upright_turns_counter_clockwise() -> None:
    image = np.arange(6).reshape(2, 3)
    assert np.array_equal(upright(image, 90), np.rot90(image))
    assert upright(image, 0) is not None and np.array_equal(upright(image, 360), image)


def test_variable_frame_rate_timestamps_are_kept(tmp_path: Path) -> None:
    pts = [0, 33, 50, 120, 121, 400, 433]
    path = write_clip(tmp_path / "vfr.mp4", count=len(pts), pts=pts)
    times = [frame.time for frame in iter_frames(path)]
    assert times == pytest.approx([value / 1000 for value in pts], abs=1e-6)


def test_sampler_keeps_frames_at_least_one_interval_apart() -> None:
    def taken(times: list[float], max_rate: float) -> list[float]:
        sampler = FrameSampler(max_rate)
        return [time for time in times if sampler.take(time)]

    sixty = [index / 60 for index in range(12)]
    assert taken(sixty, 30.0) == sixty[::2]
    assert taken([round(time, 3) for time in sixty], 30.0) == [round(time, 3) for time in sixty[::2]]
    assert taken([index / 50 for index in range(10)], 30.0) == [index / 50 for index in range(0, 10, 2)]
    assert taken([index / 30 for index in range(10)], 30.0) == [index / 30 for index in range(10)]
    assert taken([0.0, 0.01, 0.02, 0.09, 0.1, 0.2], 0.0) == [0.0, 0.01, 0.02, 0.09, 0.1, 0.2]
    # Variable rate: chosen by time, never closer than the interval.
    assert taken([0.0, 0.033, 0.05, 0.12, 0.121, 0.4, 0.433], 20.0) == [0.0, 0.05, 0.12, 0.4]


def test_a_rate_cap_yields_every_second_frame_of_a_60fps_clip_with_its_index_and_time() -> None:
    frames = list(iter_frames(SINGLE, max_resolution=320, max_rate=30.0))
    assert [frame.frame_index for frame in frames] == list(range(0, 100, 2))
    assert [frame.time for frame in frames] == pytest.approx(
        [index / 60 for index in range(0, 100, 2)], abs=1e-6
    )
    assert frames[-1].image.shape[0] == 320


def test_memory_does_not_grow_with_length(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "long.mp4", count=1200, size=(120, 160))

    def peak_after(frames: int) -> int:
        tracemalloc.start()
        for frame in iter_frames(path, limit=frames):
            assert frame.image.shape == (120, 160, 3)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    short, long = peak_after(100), peak_after(1200)
    frame_bytes = 120 * 160 * 3
    # Twelve times the frames may cost a few frames more (decoder threads), not twelve times as much.
    assert long < short + 20 * frame_bytes, (short, long)


def test_unreadable_file_is_a_job_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"this is not a video" * 100)
    with pytest.raises(JobError, match="broken.mp4"):
        list(iter_frames(path))


def test_prefetch_keeps_order_and_raises_decoding_errors(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "short.mp4", count=30)
    direct = [frame.time for frame in iter_frames(path)]
    assert [frame.time for frame in prefetch(iter_frames(path), depth=2)] == direct
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 50)
    with pytest.raises(JobError, match="broken.mp4"):
        list(prefetch(iter_frames(broken)))


def test_prefetch_stops_its_thread_when_the_consumer_stops_early(tmp_path: Path) -> None:
    import threading

    path = write_clip(tmp_path / "long.mp4", count=200)
    frames = prefetch(iter_frames(path), depth=2)
    assert next(frames).frame_index == 0
    frames.close()
    assert not any(thread.name == "decode-prefetch" for thread in threading.enumerate())


def test_on_frame_sees_every_decoded_frame_first_with_its_time_and_rotation() -> None:
    seen: list[tuple[float, int]] = []
    frames = list(
        iter_frames(
            SINGLE, 320, max_rate=30.0, on_frame=lambda frame, time, turns: seen.append((time, turns))
        )
    )
    assert len(frames) == 50 and len(seen) == 100  # every frame, posed or not
    assert [time for time, _ in seen] == pytest.approx([index / 60 for index in range(100)], abs=1e-6)
    assert {turns for _, turns in seen} == {0}


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_downscaling_starts_no_threads_per_frame() -> None:
    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.update(os.listdir("/proc/self/task"))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        frames = list(iter_frames(SINGLE, 640, limit=30))
    finally:
        done.set()
        watcher.join()
    assert len(frames) == 30 and frames[0].scale < 1.0
    # The decoder's own threads and this test's; swscale's default started two more on every frame.
    assert len(seen) < 15, len(seen)
    with av.open(str(SINGLE)) as container:
        first = next(container.decode(video=0))
        height, width = frames[0].image.shape[:2]
        # The same pixels as swscale's default threads.
        assert np.array_equal(frames[0].image, first.to_ndarray(width=width, height=height, format="rgb24"))


def decoded(
    path: Path, max_rate: float, on_frame_rate: float
) -> tuple[list[tuple[int, float, bytes]], list[float]]:
    """(index, time, pixels) of the frames yielded, and the times on_frame saw."""
    seen: list[float] = []
    frames = [
        (frame.frame_index, frame.time, frame.image.tobytes())
        for frame in iter_frames(
            path,
            320,
            max_rate=max_rate,
            on_frame=lambda _frame, time, _turns: seen.append(time),
            on_frame_rate=on_frame_rate,
        )
    ]
    return frames, seen


def test_frames_nobody_takes_go_undecoded_and_the_others_are_unchanged() -> None:
    every, all_times = decoded(SINGLE, 30.0, 0.0)
    skipping, some_times = decoded(SINGLE, 30.0, 30.0)
    assert skipping == every  # same frames, indices, times and pixels
    # The clip's non-reference frames between posed ones were not decoded at all...
    assert len(some_times) < len(all_times) and set(some_times) <= set(all_times)
    # ...and on_frame still sees every frame it keeps at its rate.
    kept = FrameSampler(30.0), FrameSampler(30.0)
    assert [t for t in all_times if kept[0].take(t)] == [t for t in some_times if kept[1].take(t)]


def test_skipping_frames_keeps_a_variable_rate_clips_indices_and_times(tmp_path: Path) -> None:
    pts = [0, 20, 33, 50, 66, 120, 121, 140, 160, 400, 433, 450, 466, 500, 516]
    path = write_clip(tmp_path / "vfr.mp4", count=len(pts), pts=pts)
    every, all_times = decoded(path, 20.0, 0.0)
    skipping, some_times = decoded(path, 20.0, 10.0)
    assert skipping == every and len(some_times) < len(all_times)
    # At least 50 ms apart (less the rounding tolerance), numbered by their place in the clip.
    assert [index for index, _, _ in every] == [0, 3, 5, 9, 11, 13]
