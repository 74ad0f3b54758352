"""The pose model run for tracking: a main landmarker following the known people, a scout looking for more.

The landmarker runs its person detector on every frame where it follows fewer people than its
num_poses, so the main one is sized to the people being followed (landmarks only, about half the
cost); a scout with num_poses MAX_PEOPLE looks every SCOUT_INTERVAL_SECONDS (and whenever the main
one loses someone) for people who entered, and the main one is rebuilt larger when the scout sees
more, smaller when people left. The detector sees one of two people who overlap (the one behind is
hidden by the one in front) and misses people small in a portrait frame: a third landmarker looks
at the frame with the people already found painted out (hidden_look), every frame while it keeps
finding someone, else every SCOUT_INTERVAL_SECONDS. Each landmarker keeps to one core and releases the GIL, so the scout
and the painted-out look work in threads of their own, on a frame the main landmarker is done with,
while the main one poses the next frame.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import cv2
import mediapipe
import numpy as np

from mocapd.backends.embedded import posemodel
from mocapd.backends.embedded.tracker import MAX_GAP_SECONDS

# Most people the pose model looks for in one frame.
MAX_PEOPLE = 4
# Seconds of video between two scout passes looking for people who entered the frame. The detector
# misses a partly hidden person in most frames: at 0.5 s the second person of the Pose2Sim MultiPerson
# cam02 view went unfound; at 0.2 s people are found in as many frames as running it on every frame.
SCOUT_INTERVAL_SECONDS = 0.2
# The scout runs on every frame until it has counted the same number of people this many frames in a row:
# the detector misses people in single frames, most often at the start.
SCOUT_SETTLED_FRAMES = 3
# The main landmarker grows only once the scout has counted more people this many looks in a row (on
# consecutive frames, as a changed count makes it look again at once): a one-frame false detection
# grew it, and shrinking it back later lost a partly hidden person it was following and the detector
# could not find again (MultiPerson cam01 at 30 fps: both people in 36 of 50 frames; with this, 49-50).
GROW_AFTER_LOOKS = 2
# The painted-out look runs on every frame for this long after it last found someone new (the caller's
# test): counting its sightings of the person painted out (paint that missed a limb) or of a shape in
# the paint kept it on nearly every frame of one person alone (SinglePerson cam01 looped to 20 s: 325
# looks in 600 frames, where 100 are due).
HIDDEN_FOLLOW_SECONDS = 0.5
# Grey paint over a found person: their landmarks' outline, widened by this share of their height.
PAINT_MARGIN = 0.03


Item = TypeVar("Item")


@dataclass
class Posed(Generic[Item]):
    """One frame's results from the main landmarker and the scout (None where one did not run)."""

    item: Item
    main: Any
    scout: Any
    pending: Future[Any] | None = None
    hidden: Any = None  # the look at the frame with the people found painted out
    hidden_pending: Future[Any] | None = None
    painted: list[np.ndarray] | None = None  # the outlines painted out, (K, 2) pixels of the posed image
    people: Any = None  # what the caller works out from the results, kept for it (tracking's detections)


def anyone_hidden(posed: Posed[Any]) -> bool:
    """Whether a frame's painted-out look found anybody: PoseFinder's test when the caller has none."""
    return bool(posed.hidden.pose_landmarks)


def outlines(people: list[np.ndarray]) -> list[np.ndarray]:
    """Each person's landmarks' (33, 2) outline, widened a little: what paint_out covers."""
    result = []
    for points in people:
        height = float(np.ptp(points[:, 1]))
        hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2)
        centre = hull.mean(axis=0)
        result.append(
            centre + (hull - centre) * (1.0 + PAINT_MARGIN * height / max(float(np.ptp(hull)), 1.0))
        )
    return result


def paint_out(image: np.ndarray, shapes: list[np.ndarray]) -> np.ndarray:
    """A copy of the RGB image with each outline (K, 2) filled grey."""
    painted = image.copy()
    for shape in shapes:
        cv2.fillConvexPoly(painted, shape.astype(np.int32), (128, 128, 128))
    return painted


def share_inside(points: np.ndarray, shapes: list[np.ndarray]) -> float:
    """The share of points (N, 2) inside any of the outlines."""
    if points.shape[0] == 0 or not shapes:
        return 0.0
    inside = [
        any(
            cv2.pointPolygonTest(shape.astype(np.float32), (float(x), float(y)), False) >= 0
            for shape in shapes
        )
        for x, y in points
    ]
    return float(np.mean(inside))


class PoseFinder(Generic[Item]):
    """Both landmarkers over the frames of one video, in order: `add` each, then `finish`."""

    def __init__(
        self,
        cache_dir: Path,
        max_people: int = MAX_PEOPLE,
        hidden_found: Callable[[Posed[Item]], bool] = anyone_hidden,
    ) -> None:
        """`hidden_found(posed)`: whether a frame's painted-out look found someone the main landmarker
        and the scout did not (then it looks on every frame for HIDDEN_FOLLOW_SECONDS)."""
        self.cache_dir = cache_dir
        self.hidden_found = hidden_found
        self.scout = posemodel.create_landmarker(max_people, cache_dir=cache_dir)
        self.hidden = posemodel.create_landmarker(max_people, cache_dir=cache_dir)
        self.last_hidden_time = -np.inf
        self.last_hidden_found = -np.inf
        self.helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pose-scout")
        # The painted-out look on a thread of its own: on a frame where the scout looks too, the two
        # run side by side instead of one after the other while the main landmarker waits for both.
        self.hidden_helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pose-hidden")
        self.waiting: Posed[Item] | None = None
        self.main: Any = None
        self.main_size = 0
        self.last_scout_time = -np.inf
        self.scout_counts: list[int] = []
        self.last_main_count = 0
        # When the main landmarker last found all the people it is sized for.
        self.last_full_time = 0.0
        self.most_found_since_full = 0

    def resize_main(self, people: int, time: float) -> None:
        """A fresh main landmarker following `people` (a new instance: VIDEO mode state is per instance)."""
        if self.main is not None:
            self.main.close()
        self.main = posemodel.create_landmarker(people, cache_dir=self.cache_dir)
        self.main_size = people
        self.last_full_time = time
        self.most_found_since_full = 0

    def scout_settled(self) -> bool:
        """Whether the scout has counted the same number of people on its last looks."""
        return len(self.scout_counts) >= SCOUT_SETTLED_FRAMES and len(set(self.scout_counts)) == 1

    def scout_due(self, time: float, watched: bool = False) -> bool:
        """Whether the scout looks at this frame (`watched`: the painted-out look runs on it)."""
        settled = self.scout_settled()
        # While the main landmarker has not found everyone the scout sees, the scout's people fill in.
        behind = bool(self.scout_counts) and self.last_main_count < self.scout_counts[-1]
        # Once settled, the painted-out look watches for newcomers in the scout's place: it sees anyone
        # the main landmarker has not found (and whoever stands behind them); someone new it finds
        # sends the scout looking again (finish). One look instead of two every interval.
        return (
            not settled or behind or (not watched and time - self.last_scout_time >= SCOUT_INTERVAL_SECONDS)
        )

    def add(self, item: Item, image: mediapipe.Image, stamp: int, time: float) -> list[Posed[Item]]:
        """Pose one frame (`stamp`: increasing milliseconds); returns the frames now complete, in order.

        A frame's scout starts once its main landmarker is done and runs beside the next frame's main
        landmarker; so a frame comes back one call later (or from `finish`).
        """
        done = self.finish() if self.main is None else []  # the first count sizes the main landmarker
        main_result = None
        lost = False
        if self.main is not None:
            main_result = self.main.detect_for_video(image, stamp)
            found = len(main_result.pose_landmarks)
            lost = found < self.last_main_count
            self.last_main_count = found
            if found >= self.main_size:
                self.last_full_time = time
                self.most_found_since_full = 0
            else:
                self.most_found_since_full = max(self.most_found_since_full, found)
        done += self.finish()
        pending = None
        watched = main_result is not None and bool(main_result.pose_landmarks) and self.hidden_due(time)
        if self.main is None or lost or self.scout_due(time, watched):
            if lost:
                self.scout_counts = []  # look again on the next frames
            pending = self.helper.submit(self.scout.detect_for_video, image, stamp)
            self.last_scout_time = time
        else:
            if watched:  # the painted-out look looks for newcomers on this frame
                self.last_scout_time = time
            if self.main_size > 1 and time - self.last_full_time > MAX_GAP_SECONDS:
                # Someone left a while ago (the tracker has ended their track): stop looking for them each frame.
                self.resize_main(max(1, self.most_found_since_full), time)
        hidden_pending = None
        if watched and main_result is not None:
            frame = image.numpy_view()
            height, width = frame.shape[:2]
            people = [
                np.array([[mark.x * width, mark.y * height] for mark in marks])
                for marks in main_result.pose_landmarks
            ]
            shapes = outlines(people)
            painted = mediapipe.Image(
                image_format=mediapipe.ImageFormat.SRGB, data=paint_out(frame[..., :3], shapes)
            )
            hidden_pending = self.hidden_helper.submit(self.hidden.detect_for_video, painted, stamp)
            self.last_hidden_time = time
        self.waiting = Posed(item, main_result, None, pending, hidden_pending=hidden_pending)
        if hidden_pending is not None:
            self.waiting.painted = shapes
        return done

    def hidden_due(self, time: float) -> bool:
        """Whether the painted-out look runs on this frame."""
        following = time - self.last_hidden_found <= HIDDEN_FOLLOW_SECONDS
        return following or time - self.last_hidden_time >= SCOUT_INTERVAL_SECONDS

    def finish(self) -> list[Posed[Item]]:
        """The frame still waiting for its scout, completed: the scout's count steers the main landmarker."""
        posed, self.waiting = self.waiting, None
        if posed is None:
            return []
        if posed.pending is not None:
            posed.scout = posed.pending.result()
            posed.pending = None
        if posed.hidden_pending is not None:
            posed.hidden = posed.hidden_pending.result()
            posed.hidden_pending = None
            # Both results are in: the caller's test may hold the painted-out look's people against the scout's.
            if posed.hidden.pose_landmarks and self.hidden_found(posed):
                self.last_hidden_found = self.last_hidden_time
                if self.scout_settled():  # someone new: the scout counts again on the next frames
                    self.scout_counts = []
        if posed.scout is not None:
            seen = len(posed.scout.pose_landmarks)
            if self.scout_counts and seen != self.scout_counts[-1]:
                self.scout_counts = []  # a change: look again on the next frames
            self.scout_counts = (self.scout_counts + [seen])[-SCOUT_SETTLED_FRAMES:]
            confirmed = len(self.scout_counts) >= GROW_AFTER_LOOKS
            if self.main is None or (seen > self.main_size and confirmed):
                self.resize_main(max(1, seen, self.main_size), self.last_scout_time)
                self.last_main_count = seen
        return [posed]

    def close(self) -> None:
        """Release the landmarkers and the scout's and the painted-out look's threads."""
        self.helper.shutdown(wait=True)
        self.hidden_helper.shutdown(wait=True)
        self.scout.close()
        self.hidden.close()
        if self.main is not None:
            self.main.close()
