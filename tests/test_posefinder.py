"""The main landmarker and the scout on a real clip: when the scout looks, and that it works beside the main one."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mediapipe
import numpy as np
import pytest

from mocapd.backends.embedded.posefinder import (
    SCOUT_INTERVAL_SECONDS,
    SCOUT_SETTLED_FRAMES,
    Posed,
    PoseFinder,
)
from mocapd.decode import iter_frames

SINGLE = Path(__file__).parent / "data" / "pose2sim" / "SinglePerson" / "videos" / "cam01.mp4"
RATE = 60.0


class Recording:
    """A landmarker that notes the thread and stamp of each call before passing it on."""

    def __init__(self, landmarker: Any, calls: list[tuple[str, int]]) -> None:
        self.landmarker, self.calls = landmarker, calls

    def detect_for_video(self, image: mediapipe.Image, stamp: int) -> Any:
        self.calls.append((threading.current_thread().name, stamp))
        return self.landmarker.detect_for_video(image, stamp)

    def close(self) -> None:
        self.landmarker.close()


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[tuple[Any, Any]], list[tuple[str, int]], PoseFinder, list[int]]:
    """60 frames (1 s) of the single-person clip through a PoseFinder whose scout is recorded; the
    painted-out look finds nobody new (its sightings are not counted); the frames it looked at."""
    finder: PoseFinder[int] = PoseFinder(tmp_path_factory.mktemp("models"), hidden_found=lambda posed: False)
    calls: list[tuple[str, int]] = []
    finder.scout = Recording(finder.scout, calls)
    finder.hidden = Recording(finder.hidden, [])
    posed: list[Posed[int]] = []
    try:
        for index, frame in enumerate(iter_frames(SINGLE, 640, limit=60)):
            image = mediapipe.Image(image_format=mediapipe.ImageFormat.SRGB, data=frame.image)
            done = finder.add(index, image, int(round(frame.time * 1000)), frame.time)
            # A frame comes back once the next one's main landmarker has run (its scout works meanwhile).
            assert [entry.item for entry in done] == ([] if index == 0 else [index - 1])
            posed += done
        posed += finder.finish()
    finally:
        finder.close()
    assert [entry.item for entry in posed] == list(range(60))
    hidden = [index for index, entry in enumerate(posed) if entry.hidden is not None]
    return [(entry.main, entry.scout) for entry in posed], calls, finder, hidden


def test_main_landmarker_follows_the_one_person_on_every_frame(
    run: tuple[list[tuple[Any, Any]], list[tuple[str, int]], PoseFinder, list[int]],
) -> None:
    results, _, finder, _ = run
    assert finder.main_size == 1
    assert results[0][0] is None  # nobody to follow yet: the scout's count sizes the main landmarker
    assert all(len(main.pose_landmarks) == 1 for main, _ in results[1:])


def test_scout_settles_then_the_painted_out_look_watches_once_per_interval_in_its_place(
    run: tuple[list[tuple[Any, Any]], list[tuple[str, int]], PoseFinder, list[int]],
) -> None:
    results, calls, _, hidden = run
    looked = [index for index, (_, scout) in enumerate(results) if scout is not None]
    assert looked == list(range(SCOUT_SETTLED_FRAMES))  # nobody new: the scout does not look again
    gaps = {later - earlier for earlier, later in zip(hidden, hidden[1:], strict=False)}
    # The first frame at least one interval after the last look (frame times are not exact multiples).
    interval = round(SCOUT_INTERVAL_SECONDS * RATE)
    assert hidden[0] == 1 and gaps <= {interval, interval + 1} and len(hidden) < 10, hidden
    assert len(calls) == len(looked)


def test_scout_runs_in_its_own_thread_one_frame_behind_the_main_landmarker(
    run: tuple[list[tuple[Any, Any]], list[tuple[str, int]], PoseFinder, list[int]],
) -> None:
    _, calls, finder, _ = run
    assert {name for name, _ in calls} == {"pose-scout_0"}
    assert [stamp for _, stamp in calls] == sorted(stamp for _, stamp in calls)
    with pytest.raises(RuntimeError):  # closed: the scout's thread is gone with the landmarkers
        finder.helper.submit(print)


def test_painted_out_look_runs_in_a_thread_of_its_own_in_order(
    run: tuple[list[tuple[Any, Any]], list[tuple[str, int]], PoseFinder, list[int]],
) -> None:
    _, calls, finder, hidden = run
    looks = finder.hidden.calls
    assert len(looks) == len(hidden) > 0
    # Beside the scout's thread, so a frame's two looks can run at once; each landmarker in stamp order.
    assert {name for name, _ in looks} == {"pose-hidden_0"}
    assert [stamp for _, stamp in looks] == sorted(stamp for _, stamp in looks)
    with pytest.raises(RuntimeError):
        finder.hidden_helper.submit(print)


def run_doubled(cache: Path, doubled: range, frames: int = 45) -> tuple[list[Posed[int]], list[int]]:
    """The single-person clip on a canvas twice as wide, with a copy of the person beside them on `doubled` frames."""
    finder: PoseFinder[int] = PoseFinder(cache)
    sizes: list[int] = []
    posed: list[Posed[int]] = []
    try:
        for index, frame in enumerate(iter_frames(SINGLE, 640, limit=frames)):
            twin = frame.image if index in doubled else np.zeros_like(frame.image)
            canvas = np.ascontiguousarray(np.concatenate([frame.image, twin], axis=1))
            image = mediapipe.Image(image_format=mediapipe.ImageFormat.SRGB, data=canvas)
            posed += finder.add(index, image, int(round(frame.time * 1000)), frame.time)
            sizes.append(finder.main_size)
        posed += finder.finish()
    finally:
        finder.close()
    return posed, sizes


def test_one_frame_false_sighting_does_not_grow_the_main_landmarker(tmp_path: Path) -> None:
    looked_at = 25  # a frame the painted-out look looks at (the test above)
    posed, sizes = run_doubled(tmp_path, range(looked_at, looked_at + 1))
    assert len(posed[looked_at].hidden.pose_landmarks) == 1  # the painted-out look did see the copy ...
    assert [entry.scout is not None for entry in posed[looked_at + 1 : looked_at + 3]] == [True, True]
    assert (
        max(sizes) == 1
    )  # ... once (the scout looked again): the main landmarker kept following the one person
    assert all(len(entry.main.pose_landmarks) == 1 for entry in posed[1:])


def test_a_newcomer_seen_on_consecutive_looks_grows_the_main_landmarker(tmp_path: Path) -> None:
    arrives = 25  # seen by the painted-out look at once, counted by the scout on the next two frames
    posed, sizes = run_doubled(tmp_path, range(arrives, 45))
    grown = sizes.index(2)
    assert arrives < grown <= arrives + 3, sizes
    assert all(len(entry.main.pose_landmarks) == 2 for entry in posed[grown + 2 :])


class Sighting:
    """A painted-out look (a fake landmarker) that sees somebody on every frame it is given."""

    def detect_for_video(self, image: mediapipe.Image, stamp: int) -> Any:
        return SimpleNamespace(pose_landmarks=[[]])

    def close(self) -> None:
        pass


@pytest.mark.parametrize("counted", [True, False])
def test_the_painted_out_look_follows_only_what_the_caller_counts_as_found(
    tmp_path: Path, counted: bool
) -> None:
    finder: PoseFinder[int] = PoseFinder(tmp_path, hidden_found=lambda posed: counted)
    finder.hidden.close()
    finder.hidden = Sighting()
    posed: list[Posed[int]] = []
    try:
        for index, frame in enumerate(iter_frames(SINGLE, 640, limit=40)):
            image = mediapipe.Image(image_format=mediapipe.ImageFormat.SRGB, data=frame.image)
            posed += finder.add(index, image, int(round(frame.time * 1000)), frame.time)
        posed += finder.finish()
    finally:
        finder.close()
    looked = [index for index, entry in enumerate(posed) if entry.hidden is not None]
    if counted:  # someone new: it looks again on every frame
        assert looked == list(range(looked[0], 40))
    else:  # only the person painted out (paint that missed them): once per interval
        interval = round(SCOUT_INTERVAL_SECONDS * RATE)
        assert len(looked) >= 2 and all(
            later - earlier >= interval for earlier, later in zip(looked, looked[1:], strict=False)
        )
