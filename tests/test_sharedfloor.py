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
