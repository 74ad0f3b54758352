"""Landmarks behind a nearer person: found inside that person's outline, and read as unseen."""

from __future__ import annotations

import numpy as np

from mocapd.motion import extraction, occlusion
from mocapd.motion.landmarks import NUM_MEDIAPIPE
from mocapd.motion.tracklets import Frame, Tracklets, TrackObservations
from mocapd.skeleton import NUM_JOINTS, STANDARD_OFFSETS

FRAMES = 20
FPS = 30.0
HEIGHT_PX = 400.0


def figure(centre_x: float) -> np.ndarray:
    """(33, 2) a standing person's landmarks: a narrow column HEIGHT_PX tall around centre_x."""
    index = np.arange(NUM_MEDIAPIPE)
    return np.stack(
        [centre_x + 15.0 * np.sin(index), 300.0 + HEIGHT_PX * index / (NUM_MEDIAPIPE - 1)], axis=1
    )


def person(tid: int, centres: np.ndarray, depth: float, seen: np.ndarray) -> extraction.CameraTrack:
    """A track with its landmarks at `centres` (F,) px, `depth` m from the camera, detected where `seen`."""
    marks = np.stack([figure(centre) for centre in centres])
    marks[~seen] = np.nan
    observed = TrackObservations(
        tid,
        np.arange(FRAMES),
        seen.copy(),
        np.zeros(FRAMES, dtype=bool),
        np.tile(np.eye(3), (FRAMES, 1, 1)),
        np.tile(np.eye(3), (FRAMES, 23, 1, 1)),
        np.zeros((FRAMES, 10)),
        np.tile([0.0, 0.0, depth], (FRAMES, 1)),
        np.zeros((FRAMES, 4)),
        np.tile([1080.0, 1920.0], (FRAMES, 1)),
        extras={"landmarks_image": marks},
    )
    return extraction.CameraTrack(
        tid=tid,
        row_fps=FPS,
        frame_idx=np.arange(FRAMES),
        times=np.arange(FRAMES) / FPS,
        camera_rotations=np.tile(np.eye(3), (FRAMES, 1, 1)),
        body=np.tile(np.eye(3), (FRAMES, 23, 1, 1)),
        pelvis_camera=np.tile([0.0, 0.0, depth], (FRAMES, 1)),
        camera=np.zeros((FRAMES, 3)),
        betas=np.zeros((FRAMES, 10)),
        offsets=STANDARD_OFFSETS.copy(),
        confidence=np.ones((FRAMES, NUM_JOINTS)),
        observations=observed,
        measured=seen.copy(),
    )


def tracklets_of(tracks: list[extraction.CameraTrack]) -> Tracklets:
    frames = []
    for index in range(FRAMES):
        present = [track for track in tracks if track.observations.measured[index]]
        frames.append(
            Frame(
                index,
                f"frame{index}",
                {
                    "tid": [track.tid for track in present],
                    "tracked_time": [0] * len(present),
                    "landmarks_image": [
                        track.observations.extras["landmarks_image"][index] for track in present
                    ],
                    "landmarks_visibility": [np.full(NUM_MEDIAPIPE, 0.9) for _ in present],
                    "joint_confidence": [np.full(NUM_JOINTS, 0.9) for _ in present],
                },
            )
        )
    return Tracklets(frames, True)


# The far person (tid 1) walks across the image behind the near one (tid 2), who stands at x = 500.
WALK = np.linspace(100.0, 900.0, FRAMES)
EVERY = np.ones(FRAMES, dtype=bool)
CROSSING = np.flatnonzero(np.abs(WALK - 500.0) < 30.0)


def test_the_far_person_is_hidden_where_they_pass_behind_the_near_one() -> None:
    far, near = person(1, WALK, 5.0, EVERY), person(2, np.full(FRAMES, 500.0), 3.0, EVERY)
    masks = occlusion.hidden(tracklets_of([far, near]), {1: far, 2: near})
    assert CROSSING.size
    assert {frame for frame, tid in masks if tid == 1} >= set(CROSSING.tolist())
    assert all(abs(WALK[frame] - 500.0) < 100.0 for frame, _ in masks)  # only where they overlap
    assert not any(tid == 2 for _, tid in masks)  # the near person is in front of nobody
    assert all(masks[(int(frame), 1)].mean() > 0.5 for frame in CROSSING)


def test_people_at_about_the_same_depth_hide_nobody() -> None:
    far, near = person(1, WALK, 3.2, EVERY), person(2, np.full(FRAMES, 500.0), 3.0, EVERY)
    assert occlusion.hidden(tracklets_of([far, near]), {1: far, 2: near}) == {}


def test_a_near_person_lost_in_the_overlap_still_hides_across_a_short_gap() -> None:
    lost = EVERY.copy()
    lost[CROSSING[0] - 2 : CROSSING[-1] + 3] = False  # about 0.2 s undetected, where they overlap
    far, near = person(1, WALK, 5.0, EVERY), person(2, np.full(FRAMES, 500.0), 3.0, lost)
    masks = occlusion.hidden(tracklets_of([far, near]), {1: far, 2: near})
    assert {frame for frame, tid in masks if tid == 1} >= set(CROSSING.tolist())
    # Lost for longer than MAX_GAP_S: no outline to hide behind there.
    far_slow = person(1, WALK, 5.0, EVERY)
    far_slow.times = np.arange(FRAMES) * occlusion.MAX_GAP_S / 3.0  # the 7 rows' gap: over 2 s
    near_slow = person(2, np.full(FRAMES, 500.0), 3.0, lost)
    near_slow.times = far_slow.times
    masks = occlusion.hidden(tracklets_of([far_slow, near_slow]), {1: far_slow, 2: near_slow})
    assert not any(frame in CROSSING for frame, _ in masks)


def test_hidden_landmarks_are_lowered_and_nothing_else() -> None:
    far, near = person(1, WALK, 5.0, EVERY), person(2, np.full(FRAMES, 500.0), 3.0, EVERY)
    data = tracklets_of([far, near])
    few = np.zeros(NUM_MEDIAPIPE, dtype=bool)
    few[[27, 31]] = True  # left ankle and left foot index
    most = np.ones(NUM_MEDIAPIPE, dtype=bool)
    most[:5] = False
    lowered = occlusion.lowered(data, {(3, 1): few, (10, 1): most})
    visibility = lowered.frames[3].data["landmarks_visibility"][0]
    assert np.all(visibility[few] == occlusion.HIDDEN_VISIBILITY) and np.all(visibility[~few] == 0.9)
    joints = lowered.frames[3].data["joint_confidence"][0]
    assert 0 < np.count_nonzero(joints < 0.9) < NUM_JOINTS  # the left foot's joints only
    # Mostly hidden: what is seen keeps its visibility, but the detection does not place the person.
    mostly = np.asarray(lowered.frames[10].data["landmarks_visibility"][0])
    assert np.all(mostly[:5] == 0.9) and np.all(mostly[5:] == occlusion.HIDDEN_VISIBILITY)
    assert occlusion.unplaced(np.stack([mostly, visibility])).tolist() == [True, False]
    # The near person, other frames and the tracklets given are as they were.
    assert np.all(lowered.frames[3].data["landmarks_visibility"][1] == 0.9)
    assert np.all(lowered.frames[4].data["landmarks_visibility"][0] == 0.9)
    assert np.all(data.frames[3].data["landmarks_visibility"][0] == 0.9)


def test_the_figures_count_partly_and_mostly_hidden_detections() -> None:
    few = np.zeros(NUM_MEDIAPIPE, dtype=bool)
    few[0] = True
    counts = occlusion.figures({(3, 1): few, (4, 1): np.ones(NUM_MEDIAPIPE, dtype=bool), (4, 2): few})
    assert counts == {
        "1": {"partly_hidden": 1, "mostly_hidden": 1},
        "2": {"partly_hidden": 1, "mostly_hidden": 0},
    }
