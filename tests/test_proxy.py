"""The preview's frames kept by tracking: the frames sampled, their picture and orientation, and a file
that is used only when complete and of the preview's size."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from mocapd.decode import iter_frames
from mocapd.report import proxy
from mocapd.report.preview import PREVIEW_HEIGHT
from tests.test_decode import marked_frame, write_clip
from tests.videofiles import SAMPLE_CLIP

SIZE = (
    PREVIEW_HEIGHT * 1080 // 1920 // 2 * 2,
    PREVIEW_HEIGHT,
)  # the sample (1080x1920) at the preview's height


def keep(path: Path, clip: Path = SAMPLE_CLIP, size: tuple[int, int] = SIZE) -> proxy.Writer:
    """Every frame of `clip` through a writer, as the tracking step's decoding thread hands them over."""
    writer = proxy.Writer(path, size, 30.0)
    for _ in iter_frames(clip, 320, max_rate=30.0, on_frame=writer.add):
        pass
    writer.close(complete=True)
    return writer


def rgb(stacked: np.ndarray) -> np.ndarray:
    """Stacked planes back in RGB."""
    luma, blue, red = proxy.unstack(stacked)
    packed = np.vstack([luma, blue.reshape(-1, luma.shape[1]), red.reshape(-1, luma.shape[1])])
    return cv2.cvtColor(packed, cv2.COLOR_YUV2RGB_I420)


def test_the_frames_kept_are_the_previews_with_their_times_and_picture(tmp_path: Path) -> None:
    writer = keep(tmp_path / proxy.FILE_NAME)
    frames = proxy.read(tmp_path / proxy.FILE_NAME, SIZE)
    assert frames is not None
    kept = list(frames)
    # 60 fps kept at 30 fps: every second frame, at its own time.
    assert [seconds for seconds, _ in kept] == pytest.approx([index / 60 for index in range(0, 100, 2)])
    assert writer.cost.frames == 50 and writer.cost.cpu_seconds > 0.0
    assert writer.cost.bytes == (tmp_path / proxy.FILE_NAME).stat().st_size - len(proxy.MAGIC) - 4
    assert kept[0][1].shape == (SIZE[1] * 3 // 2, SIZE[0])
    # The source's picture, less what scaling and the JPEG lose.
    with av.open(str(SAMPLE_CLIP)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    expected = cv2.resize(first, SIZE, interpolation=cv2.INTER_AREA)
    assert np.abs(rgb(kept[0][1]).astype(int) - expected.astype(int)).mean() < 4.0


def test_a_file_of_another_size_or_left_incomplete_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / proxy.FILE_NAME
    assert proxy.read(path, SIZE) is None  # none written (4D-Humans, an old job)
    keep(path)
    assert proxy.read(path, (SIZE[0] + 2, SIZE[1])) is None
    writer = proxy.Writer(path, SIZE, 30.0)
    with av.open(str(SAMPLE_CLIP)) as container:
        writer.add(next(container.decode(video=0)), 0.0, 0)
    writer.close(complete=False)  # tracking failed part-way: no file, and the old one is gone
    assert not path.exists() and not writer.partial.exists()


@pytest.mark.parametrize("rotation", [90, -90])
def test_a_turned_phone_clip_is_kept_upright(tmp_path: Path, rotation: int) -> None:
    shown = marked_frame(96, 128)
    stored = np.ascontiguousarray(np.rot90(shown, k=-rotation // 90))
    clip = write_clip(tmp_path / "turned.mp4", [stored] * 3, rotation=rotation)
    keep(tmp_path / proxy.FILE_NAME, clip, (64, 48))
    frames = proxy.read(tmp_path / proxy.FILE_NAME, (64, 48))
    assert frames is not None
    image = rgb(next(frames)[1])
    assert image.shape == (48, 64, 3)
    assert image[:20, :28].mean() > 200 and image[28:, 36:].mean() < 40 and image[:20, 36:].mean() < 40


def test_a_copy_that_cannot_be_written_stops_quietly_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / proxy.FILE_NAME
    writer = proxy.Writer(path, SIZE, 30.0)
    writer.stream.close()  # as a full disk or a vanished folder would end it
    frames = list(iter_frames(SAMPLE_CLIP, 320, max_rate=30.0, on_frame=writer.add))
    assert len(frames) == 50  # the frames for the pose model keep coming
    writer.close(complete=True)
    assert writer.failed and not path.exists() and proxy.read(path, SIZE) is None
