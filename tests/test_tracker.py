"""The tracker on scripted motion: crossings, occlusion gaps, new people, duplicates, ids never reused."""

from __future__ import annotations

import numpy as np

from mocapd.backends.embedded.tracker import Detection, Tracker, box_from_points, drop_duplicates, iou

SIZE = (720, 1280)


def person(x: float, y: float = 300.0, height: float = 300.0, score: float = 0.9) -> Detection:
    """A stick figure of 33 landmarks standing at (x, y) (its hips)."""
    offsets = np.stack([np.linspace(-0.15, 0.15, 33), np.linspace(-0.6, 0.4, 33)], axis=1) * height
    points = np.array([x, y]) + offsets
    confidence = np.ones(33)
    return Detection(points, confidence, box_from_points(points, confidence, SIZE), score)


def test_two_people_crossing_keep_their_ids() -> None:
    tracker = Tracker()
    ids_of_left_walker = []
    # Two people walk towards each other, cross at frame 20 (one nearer the camera: taller) and go on.
    for frame in range(40):
        time = frame / 30
        walker = person(200 + 20 * frame, height=300)
        other = person(1000 - 20 * frame, y=320, height=340)
        pairs = tracker.update([other, walker] if frame % 2 else [walker, other], time)
        ids = {id(detection): tid for tid, detection in pairs}
        ids_of_left_walker.append(ids[id(walker)])
    assert set(ids_of_left_walker) == {ids_of_left_walker[0]}


def test_a_short_occlusion_keeps_the_id_and_a_long_one_does_not() -> None:
    tracker = Tracker(max_gap_seconds=0.5)
    first = tracker.update([person(100)], 0.0)[0][0]
    tracker.update([person(110)], 0.1)
    # Hidden for 0.3 s while moving on at the same speed: the prediction finds it again.
    assert tracker.update([person(140)], 0.4)[0][0] == first
    # Hidden for longer than the gap: a new id, and the old one is never handed out again.
    later = tracker.update([person(140)], 2.0)[0][0]
    assert later != first
    another = tracker.update([person(140), person(900)], 2.1)
    assert sorted(tid for tid, _ in another) == [later, later + 1]


def test_a_new_person_gets_a_new_id() -> None:
    tracker = Tracker()
    tracker.update([person(100)], 0.0)
    pairs = tracker.update([person(102), person(800)], 1 / 30)
    assert sorted(tid for tid, _ in pairs) == [1, 2]


def test_one_person_found_twice_counts_once() -> None:
    strong, weak = person(300, score=0.9), person(305, score=0.5)
    assert iou(strong.box, weak.box) > 0.6
    assert drop_duplicates([weak, strong]) == [strong]
    assert len(drop_duplicates([strong, person(900)])) == 2


def test_boxes_stay_inside_the_image() -> None:
    detection = person(5, y=700)
    x0, y0, x1, y1 = detection.box
    assert 0 <= x0 < x1 <= SIZE[1] and 0 <= y0 < y1 <= SIZE[0]


def test_overlapping_people_are_told_apart_by_their_landmarks() -> None:
    # The nearer person reaches out (their box widens over the person behind), then lowers the arm:
    # their box now overlaps the other's more than their own wide one, their landmarks do not.
    tracker = Tracker()
    near = person(400)
    reaching = near.image_points.copy()
    reaching[16, 0] = 250.0  # a wrist
    behind = person(430, y=290)
    first = tracker.update(
        [Detection(reaching, near.confidence, box_from_points(reaching, near.confidence, SIZE), 0.9), behind],
        0.0,
    )
    near_id = next(tid for tid, detection in first if detection is not behind)
    crowding = tracker.crowding(1 / 30)
    assert crowding[0] == crowding[1] > 0.3
    assert tracker.update([person(400)], 1 / 30)[0][0] == near_id
