"""The probe on real clips and on each bad file from tests/videofiles.py."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from mocapd.config import LimitSettings
from mocapd.errors import JobError
from mocapd.inbox.probe import check_tail, legacy_rotation, probe, stream_duration
from tests.videofiles import (
    BAD_VIDEOS,
    MULTI_PERSON_CLIPS,
    SAMPLE_CLIP,
    SINGLE_PERSON_CLIPS,
    BadVideo,
    write_faststart,
    write_synthetic_clip,
)


def test_the_sample_clip_is_probed_for_real() -> None:
    info = probe(SAMPLE_CLIP, LimitSettings())
    assert (info.width, info.height) == (1080, 1920)
    assert info.fps == pytest.approx(60.0)
    assert info.frame_count == 100
    assert info.duration == pytest.approx(100 / 60, abs=1e-3)
    assert info.codec == "h264"
    assert info.rotation == 0 and info.focal_length_px is None


@pytest.mark.slow
@pytest.mark.parametrize(
    "clip", SINGLE_PERSON_CLIPS[1:2] + MULTI_PERSON_CLIPS[:1], ids=lambda path: path.name
)
def test_other_real_clips(clip: Path) -> None:
    info = probe(clip, LimitSettings())
    assert info.width in (1080, 1088) and info.height == 1920 and info.frame_count == 100


def test_a_faststart_mp4_is_probed(tmp_path: Path) -> None:
    info = probe(write_faststart(tmp_path / "fast.mp4"), LimitSettings())
    assert info.frame_count == 100


@pytest.mark.parametrize("case", BAD_VIDEOS, ids=lambda case: case.name)
def test_each_bad_video_fails_with_its_reason(case: BadVideo, tmp_path: Path) -> None:
    path = case.make(tmp_path / case.name)
    with pytest.raises(JobError) as error:
        probe(path, LimitSettings(**case.limits))
    assert case.reason in str(error.value)


def test_size_and_duration_messages_give_both_figures(tmp_path: Path) -> None:
    with pytest.raises(
        JobError, match=r"^video is 0\.4 MB, over the limit of 0\.2 MB \(limits\.max_size_mb\)$"
    ):
        probe(SAMPLE_CLIP, LimitSettings(max_size_mb=0.2))
    with pytest.raises(
        JobError, match=r"^video lasts 1\.7 s, over the limit of 1\.5 s \(limits\.max_duration_s\)$"
    ):
        probe(SAMPLE_CLIP, LimitSettings(max_duration_s=1.5))


def test_a_synthetic_clip_with_a_display_rotation(tmp_path: Path) -> None:
    clip = write_synthetic_clip(tmp_path / "phone.mp4", frames=12, width=96, height=64, fps=25, rotation=90)
    info = probe(clip, LimitSettings())
    assert (info.width, info.height) == (96, 64)  # as stored; the rotation says how to show it
    assert info.rotation == 90
    assert info.frame_count == 12 and info.fps == pytest.approx(25.0)
    assert info.duration == pytest.approx(12 / 25, abs=0.05)


def test_legacy_rotate_tags_count_clockwise() -> None:
    assert legacy_rotation({"rotate": "90"}) == 270
    assert legacy_rotation({"rotate": "-90"}) == 90
    assert legacy_rotation({}) == 0
    assert legacy_rotation({"rotate": "sideways"}) == 0


def test_the_tail_check_reaches_the_last_frame_past_skipped_ones() -> None:
    # The sample clip: one keyframe, B-frames no other frame refers to, before and within the last second.
    with av.open(str(SAMPLE_CLIP)) as container:
        stream = container.streams.video[0]
        last = max(packet.pts for packet in container.demux(stream) if packet.pts is not None)
        time_base = stream.time_base
        assert time_base is not None
        duration = stream_duration(container, stream)
        assert check_tail(container, stream, duration) == pytest.approx(float(last * time_base))
        # Truncation is still told from the last frame's time: a clip said to last longer fails.
        assert duration is not None
        with pytest.raises(JobError, match="cut short"):
            check_tail(container, stream, duration + 1.0)
