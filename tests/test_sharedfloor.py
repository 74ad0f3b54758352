"""One floor under everyone: people mis-sized by a monocular view are scaled back onto the camera's one floor."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mocapd.motion import extraction, sharedfloor
from mocapd.motion.tracklets import TrackObservations
from mocapd.rotations import rotation_x
from mocapd.skeleton import NUM_JOINTS, STANDARD_OFFSETS

FRAMES = 30
CAMERA_HEIGHT = 1.8
# Up in the OpenCV camera frame of a level camera.
UP = np.array([0.0, -1.0, 0.0])
FOCAL = 1000.0


def standing(tid: int, place: np.ndarray, size: float) -> extraction.CameraTrack:
    """A person standing still with their feet on the floor CAMERA_HEIGHT below the camera, then
    scaled about the camera by `size` (what a monocular view cannot tell: the same image)."""
    upright = np.tile(rotation_x(np.pi), (FRAMES, 1, 1))  # SMPL's up (+y) to the camera's up (-y)
    body = np.tile(np.eye(3), (FRAMES, 23, 1, 1))
    feet = extraction.camera_positions(upright[:1], body[:1], np.zeros((1, 3)), STANDARD_OFFSETS)[0]
    lowest = float((feet[[7, 8, 10, 11]] @ UP).min())
    pelvis = np.tile(place + UP * (-CAMERA_HEIGHT - lowest), (FRAMES, 1))
    observed = TrackObservations(
        tid,
        np.arange(FRAMES),
        np.ones(FRAMES, dtype=bool),
        np.zeros(FRAMES, dtype=bool),
        upright,
        body,
        np.zeros((FRAMES, 10)),
        pelvis,
        np.zeros((FRAMES, 4)),
        np.tile([1080.0, 1920.0], (FRAMES, 1)),
    )
    track = extraction.CameraTrack(
        tid=tid,
        row_fps=30.0,
        frame_idx=np.arange(FRAMES),
        times=np.arange(FRAMES) / 30.0,
        camera_rotations=upright,
        body=body,
        pelvis_camera=pelvis,
        camera=pelvis,
        betas=np.zeros((FRAMES, 10)),
        offsets=STANDARD_OFFSETS.copy(),
        confidence=np.ones((FRAMES, NUM_JOINTS)),
        observations=observed,
        measured=np.ones(FRAMES, dtype=bool),
    )
    return sharedfloor.scaled(track, size)


def image_of(track: extraction.CameraTrack) -> np.ndarray:
    joints = extraction.camera_positions(
        track.camera_rotations, track.body, track.pelvis_camera, track.offsets
    )
    return joints[..., :2] / joints[..., 2:] * FOCAL


def test_scaling_about_the_camera_keeps_the_image() -> None:
    person = standing(1, np.array([0.5, 0.0, 3.0]), 1.0)
    assert np.allclose(image_of(sharedfloor.scaled(person, 1.2)), image_of(person))


def test_a_small_and_a_tall_person_are_put_back_on_one_floor() -> None:
    # The pose model sized one person 10 % too big (placed too far) and the other 10 % too small.
    far = standing(1, np.array([-0.6, 0.0, 4.5]), 1.1)
    near = standing(2, np.array([0.8, 0.0, 3.0]), 0.9)
    floor = sharedfloor.estimate([far, near], UP)
    heights = {seen.tid: seen.camera_height for seen in floor.seen}
    assert heights[1] / heights[2] > 1.2  # before: their floors disagree by the size error
    scales = floor.scales
    # The two are now the right size relative to each other (the whole scene's scale stays unknown).
    assert abs(scales[1] * 1.1 / (scales[2] * 0.9) - 1) < 0.03, scales
    fixed = [sharedfloor.scaled(track, scales[track.tid]) for track in (far, near)]
    true_distance = np.linalg.norm(np.array([-0.6, 0.0, 4.5]) - np.array([0.8, 0.0, 3.0]))
    distance = np.linalg.norm(fixed[0].pelvis_camera[0] - fixed[1].pelvis_camera[0])
    before = np.linalg.norm(far.pelvis_camera[0] - near.pelvis_camera[0])
    assert abs(distance / true_distance - 1) < 0.06 < abs(before / true_distance - 1)
    assert abs(floor.camera_height_m / CAMERA_HEIGHT - 1) < 0.06  # type: ignore[operator]


def test_one_person_keeps_their_size() -> None:
    alone = standing(1, np.array([0.0, 0.0, 3.0]), 1.1)
    floor = sharedfloor.estimate([alone], UP)
    assert floor.scales == {1: 1.0} and floor.reason


def test_people_on_different_levels_keep_their_sizes() -> None:
    # One person on a stage 1 m above the other's floor: no body size explains that.
    below = standing(1, np.array([-0.6, 0.0, 4.0]), 1.0)
    above = standing(2, np.array([0.8, 0.0, 3.5]), 1.0)
    above = replace(above, pelvis_camera=above.pelvis_camera + UP * 1.0)
    floor = sharedfloor.estimate([below, above], UP)
    assert floor.scales == {1: 1.0, 2: 1.0} and "level" in floor.reason


def feet_hidden(track: extraction.CameraTrack, seen: int, lift: float) -> extraction.CameraTrack:
    """The person's feet seen in the first `seen` frames only; in the others the solver guessed
    them `lift` metres too high (as behind a nearer person or below the frame's edge)."""
    hidden = np.arange(FRAMES) >= seen
    confidence = track.confidence.copy()
    confidence[np.ix_(hidden, [7, 8, 10, 11])] = 0.0
    pelvis = track.pelvis_camera.copy()
    pelvis[hidden] += UP * lift
    return replace(track, confidence=confidence, pelvis_camera=pelvis)


def test_a_person_whose_feet_vanish_is_placed_gradually() -> None:
    # The near person's feet seen in fewer and fewer frames: no cliff at MIN_FLOOR_FRAMES, the
    # well-seen person keeps (about) their scale, and the report says how each floor was seen.
    places = {1: np.array([-0.6, 0.0, 4.5]), 2: np.array([0.8, 0.0, 3.0])}
    far = standing(1, places[1], 1.1)
    scales, sigmas = {}, {}
    for seen in range(FRAMES + 1):
        near = feet_hidden(standing(2, places[2], 0.9), seen, 0.15)
        floor = sharedfloor.estimate([far, near], UP)
        assert not floor.reason, (seen, floor.reason)
        scales[seen] = floor.scales
        sigmas[seen] = {person.tid: person.sigma for person in floor.seen}
        figures = floor.to_dict()
        assert figures["feet_frames"] == {"1": FRAMES, "2": seen}
        assert ("feet_never_seen" in figures) == (seen == 0)
    steps = [abs(scales[seen + 1][2] / scales[seen][2] - 1) for seen in range(FRAMES)]
    # The step onto MIN_FLOOR_FRAMES is no bigger than the ones before it.
    assert steps[sharedfloor.MIN_FLOOR_FRAMES - 1] <= max(steps[: sharedfloor.MIN_FLOOR_FRAMES - 1])
    # Each frame moves the scale a little (the first most: its floor 15 cm off the guessed one),
    # not the 9 % of a fallback to the model's size.
    assert max(steps) < 0.02, steps
    # Both people's sizes still corrected at every count (the old fallback put both back to 1.0).
    for seen, found in scales.items():
        assert abs(found[1] * 1.1 / (found[2] * 0.9) - 1) < 0.05, (seen, found)
        # Two people share the floor's evidence: the well-seen one moves no more than the other.
        moved = [abs(np.log(found[tid] / scales[FRAMES][tid])) for tid in (1, 2)]
        assert moved[0] <= moved[1] + 1e-9 and moved[0] < 0.035, (seen, found)
    # Fewer frames, a less certain floor; from MIN_FLOOR_FRAMES on, the seen feet's own sigma.
    near_sigmas = [sigmas[seen][2] for seen in range(FRAMES + 1)]
    assert all(a >= b for a, b in zip(near_sigmas, near_sigmas[1:], strict=False))
    assert near_sigmas[0] == sharedfloor.UNSEEN_FLOOR_SIGMA
    assert near_sigmas[sharedfloor.MIN_FLOOR_FRAMES] == sharedfloor.FLOOR_SIGMA
    assert all(sigmas[seen][1] == sharedfloor.FLOOR_SIGMA for seen in sigmas)


def test_a_third_persons_vanishing_feet_leave_the_others_scales() -> None:
    # Two well-seen people and a third whose feet are never seen: the first two are sized as if the
    # third's floor were barely there, the third placed from their unseen feet alone.
    far = standing(1, np.array([-0.6, 0.0, 4.5]), 1.1)
    near = standing(2, np.array([0.8, 0.0, 3.0]), 0.9)
    pair = sharedfloor.estimate([far, near], UP).scales
    third = feet_hidden(standing(3, np.array([0.0, 0.0, 6.0]), 1.05), 0, 0.0)
    trio = sharedfloor.estimate([far, near, third], UP)
    for tid in (1, 2):
        assert abs(trio.scales[tid] / pair[tid] - 1) < 0.01, (pair, trio.scales)
    assert abs(trio.scales[3] * 1.05 / (trio.scales[1] * 1.1) - 1) < 0.05, trio.scales
    assert "[3]" in trio.to_dict()["feet_never_seen"]
