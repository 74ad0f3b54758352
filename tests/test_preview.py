"""The preview on real two-person frames (Pose2Sim MultiPerson cam01): each person's skeleton is drawn
inside that person's box and in that person's colour; on the tracking step's copy of the frames, or on
the source decoded again where there is none, for the same video."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from mocapd.backends.embedded.tracking import track_video
from mocapd.config import Config
from mocapd.inbox.probe import probe
from mocapd.job import Job
from mocapd.options import JobOptions
from mocapd.report import motion, preview, proxy
from mocapd.steps import smoothing, track_extraction
from tests.videofiles import MULTI_PERSON_CLIPS

MULTI = MULTI_PERSON_CLIPS[0]  # cam01: two people, 1088x1920 portrait, 60 fps, 100 frames
# Drawn pixels differ from the source frame by more than this (0-255, any channel).
DRAWN_DIFFERENCE = 60
# A drawn pixel is a person's when its hue is this close to that person's colour (OpenCV hue, 0-180).
HUE_TOLERANCE = 12
MIN_SATURATION = 90


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("two")
    work = root / "job"
    (work / "input").mkdir(parents=True)
    shutil.copy(MULTI, work / "input" / MULTI.name)
    config = Config(state_dir=str(root / "state"))
    config.limits.max_resolution = 640  # a quicker run, and still taller than the preview
    job = Job(1, "two", work, MULTI.name, JobOptions(track_mode="all"), config)
    job.video_info = probe(job.video_path, config.limits)
    tracked = track_video(job)
    extracted = track_extraction.run(job)
    job.selected_tracks = [int(tid) for tid in extracted.data["selected"]]
    smoothing.run(job)
    kept = proxy.path_for(job.work_dir)
    assert kept.is_file() and tracked.data["preview_frames"]["frames"] == 50
    people = [motion.load(job, tid) for tid in job.selected_tracks]
    from_tracking = preview.write(job, people, root / "kept", "preview.mp4")
    kept.unlink()
    from_source = preview.write(job, people, root / "source", "preview.mp4")
    with open(job.tracklets_path, "rb") as handle:
        frames = pickle.load(handle)
    return {
        "job": job,
        "people": people,
        "frames": frames,
        "results": {"tracking": (from_tracking, root / "kept"), "source": (from_source, root / "source")},
    }


def frame_at(path: Path, time: float, size: tuple[int, int] | None = None) -> np.ndarray:
    """The RGB frame shown at `time` seconds (the nearest by timestamp)."""
    with av.open(str(path)) as container:
        frames = [(abs(float(frame.time or 0.0) - time), frame) for frame in container.decode(video=0)]
    image = min(frames, key=lambda pair: pair[0])[1].to_ndarray(format="rgb24")
    return image if size is None else cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def apart_frame(frames: dict[str, Any], tids: list[int]) -> dict[str, Any]:
    """The tracklets' frame where both people are posed and their boxes lie furthest apart."""

    def gap(entry: dict[str, Any]) -> float:
        (ax, _, aw, _), (bx, _, bw, _) = (entry["bbox"][entry["tid"].index(tid)] for tid in tids)
        return float(max(bx - (ax + aw), ax - (bx + bw)))

    both = [entry for entry in frames.values() if all(tid in entry["tid"] for tid in tids)]
    assert both, "no frame with both people"
    return max(both, key=gap)


@pytest.mark.slow
@pytest.mark.parametrize("frames_from", ["tracking", "source"])
def test_each_person_is_drawn_in_their_box_and_colour(two: dict[str, Any], frames_from: str) -> None:
    job, people = two["job"], two["people"]
    result, folder = two["results"][frames_from]
    assert result.from_tracking == (frames_from == "tracking")
    assert len(people) == 2
    video_width = result.width - result.height  # the 3D view on the right is square
    entry = apart_frame(two["frames"], [person.tid for person in people])
    time = float(entry["timestamp"])
    shown = frame_at(folder / "preview.mp4", time)[:, :video_width].astype(int)
    source = frame_at(job.video_path, time, (video_width, result.height)).astype(int)
    drawn = (np.abs(shown - source).max(axis=2) > DRAWN_DIFFERENCE).astype(np.uint8)
    hsv = cv2.cvtColor(shown.astype(np.uint8), cv2.COLOR_RGB2HSV).astype(int)
    scale = video_width / job.video_info.width
    for person in people:
        hue = int(cv2.cvtColor(np.array([[person.colour]], np.uint8), cv2.COLOR_RGB2HSV)[0, 0, 0])
        distance = np.abs(hsv[..., 0] - hue)
        mine = drawn.astype(bool) & (np.minimum(distance, 180 - distance) <= HUE_TOLERANCE)
        mine &= hsv[..., 1] >= MIN_SATURATION
        ys, xs = np.nonzero(mine)
        assert xs.size > 60, f"person {person.tid}: only {xs.size} pixels in their colour"
        x0, y0, width, height = np.asarray(entry["bbox"][entry["tid"].index(person.tid)], float) * scale
        margin_x, margin_y = 0.15 * width + 4, 0.1 * height + 4
        inside = (xs >= x0 - margin_x) & (xs <= x0 + width + margin_x)
        inside &= (ys >= y0 - margin_y) & (ys <= y0 + height + margin_y)
        assert inside.mean() > 0.9, f"person {person.tid}: {inside.mean():.0%} of their pixels in their box"


@pytest.mark.slow
def test_the_tracking_copy_and_the_source_give_the_same_preview(two: dict[str, Any]) -> None:
    job = two["job"]
    (kept, kept_folder), (source, source_folder) = two["results"]["tracking"], two["results"]["source"]
    assert (kept.frames, kept.width, kept.height) == (source.frames, source.width, source.height)
    assert abs(kept.duration - job.video_info.duration) <= 1.0 / job.video_info.fps
    assert abs(kept.duration - source.duration) < 1e-6
    middle = job.video_info.duration / 2.0
    video_width = kept.width - kept.height
    one = frame_at(kept_folder / "preview.mp4", middle)[:, :video_width].astype(int)
    other = frame_at(source_folder / "preview.mp4", middle)[:, :video_width].astype(int)
    # The same picture, resized on another path (bilinear from the posed frame, swscale from the source).
    assert np.abs(one - other).mean() < 8.0
