"""Leg depth flips (mocapd.motion.solver.legs) on a synthetic walk whose model turns a leg over in depth."""

from __future__ import annotations

import numpy as np
import pytest

from mocapd import skeleton
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.solver import depthflip, legs
from tests.solver_clips import CAMERA, Clip, in_world_axes, make_clip, solve
from tests.test_solver import joints_of

HIP, KNEE, ANKLE = (MEDIAPIPE_INDEX[f"right_{name}"] for name in ("hip", "knee", "ankle"))
FOOT = [MEDIAPIPE_INDEX[f"right_{part}"] for part in legs.FOOT_PARTS]
MOTION, FRAMES = "walk", 60
STRETCH = slice(20, 34)
RIGHT_KNEE, RIGHT_ANKLE = skeleton.JOINT_INDEX["right_knee"], skeleton.JOINT_INDEX["right_ankle"]


def turned_over(truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(knees, ankles) (N, 3): the right leg's knee mirrored about the hip, its ankle on its ray about it,
    the point that bends the knee backwards most (the model's wrong guess)."""
    knees, ankles, _ = legs.hypotheses(truth, "right")
    lateral = truth[:, MEDIAPIPE_INDEX["left_hip"]] - truth[:, HIP]
    bends = np.stack(
        [depthflip.misalignments(truth[:, HIP], knees[:, 2], ankles[:, index], lateral) for index in (2, 3)],
        axis=1,
    )
    rows = np.arange(truth.shape[0])
    return knees[:, 2], ankles[rows, 2 + np.argmax(bends, axis=1)]


def flipped_walk() -> Clip:
    """The walk with the model's world landmarks turning the right leg over in depth over STRETCH."""
    clip = make_clip(MOTION, frames=FRAMES)
    knees, ankles = turned_over(clip.truth)
    knee_shift = in_world_axes(clip.truth, knees - clip.truth[:, KNEE])
    ankle_shift = in_world_axes(clip.truth, ankles - clip.truth[:, ANKLE])
    clip.world[STRETCH, KNEE] += knee_shift[STRETCH]
    clip.world[STRETCH, FOOT] += ankle_shift[STRETCH, None]
    return clip


def unrepaired_legs(
    positions: np.ndarray, world: np.ndarray, *_: object
) -> tuple[np.ndarray, np.ndarray, int]:
    """legs.repair that repairs nothing."""
    return positions, world, 0


def leg_errors(clip: Clip) -> tuple[np.ndarray, int]:
    """(N,) the solved right knee's and ankle's mean distance from the truth (relative to the pelvis),
    frames repaired."""
    solved = solve(clip, known_up=True)
    joints = joints_of(solved)
    relative = (joints - joints[:, :1]) - (clip.true_joints - clip.true_joints[:, :1])
    errors = np.linalg.norm(relative[:, [RIGHT_KNEE, RIGHT_ANKLE]], axis=-1).mean(axis=1)
    return errors, solved.figures["leg_flip_frames"]


def test_the_turned_over_leg_keeps_its_pixels_and_its_bones() -> None:
    clip = make_clip(MOTION, frames=FRAMES)
    knees, ankles = turned_over(clip.truth)
    np.testing.assert_allclose(CAMERA.project(knees), CAMERA.project(clip.truth[:, KNEE]), atol=1e-6)
    np.testing.assert_allclose(CAMERA.project(ankles), CAMERA.project(clip.truth[:, ANKLE]), atol=1e-6)
    thigh = np.linalg.norm(clip.truth[:, KNEE] - clip.truth[:, HIP], axis=-1)
    shank = np.linalg.norm(clip.truth[:, ANKLE] - clip.truth[:, KNEE], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(knees - clip.truth[:, HIP], axis=-1), thigh, atol=1e-9)
    # The ankle's ray meets the sphere about the mirrored knee in this walk's frames (or nearly).
    assert np.median(np.abs(np.linalg.norm(ankles - knees, axis=-1) - shank)) < 0.01


def test_a_leg_the_model_turns_over_for_a_stretch_is_turned_back(monkeypatch: pytest.MonkeyPatch) -> None:
    errors, repaired = leg_errors(flipped_walk())
    # The stretch, give or take a few frames near its ends where the hypotheses nearly meet.
    assert abs(repaired - (STRETCH.stop - STRETCH.start)) <= 4
    clean, _ = leg_errors(make_clip(MOTION, frames=FRAMES))
    assert errors[STRETCH].mean() < clean[STRETCH].mean() + 0.02
    # Without the repair the knee and ankle stay far off.
    monkeypatch.setattr(legs, "repair", unrepaired_legs)
    unrepaired, _ = leg_errors(flipped_walk())
    assert unrepaired[STRETCH].mean() > clean[STRETCH].mean() + 0.1


@pytest.mark.parametrize("motion", ["walk", "run"])
def test_legs_the_model_sees_right_are_left_as_they_are(motion: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = make_clip(motion, frames=FRAMES)
    errors, repaired = leg_errors(clip)
    assert repaired <= 0.05 * FRAMES
    monkeypatch.setattr(legs, "repair", unrepaired_legs)
    unrepaired, _ = leg_errors(make_clip(motion, frames=FRAMES))
    assert errors.mean() < unrepaired.mean() + 0.005


def test_a_resting_foot_is_charged_off_the_floor_and_a_swinging_one_only_below_it() -> None:
    clip = make_clip(MOTION, frames=FRAMES)
    soles = np.min(clip.truth[:, legs.contacts.SOLE_LANDMARKS] @ clip.up, axis=2)  # (N, 2) lower point
    floor = float(np.min(soles))
    # The frames where the right foot is down (within 2 cm of the floor).
    resting = np.zeros((FRAMES, 2), dtype=bool)
    resting[:, 1] = soles[:, 1] < floor + 0.02
    assert resting[:, 1].sum() >= 10
    ground = legs.contacts.Contacts(resting=resting, point=np.zeros((FRAMES, 2), dtype=np.int64), floor=floor)
    ankle = clip.truth[:, ANKLE]
    lifted, lowered = ankle + 0.2 * clip.up, ankle - 0.2 * clip.up
    ankles = np.stack([ankle, lifted, lowered], axis=1)
    on_rest = legs.floor_costs(clip.truth, "right", ankles, ground, clip.up)
    down = resting[:, 1]
    assert (on_rest[down, 1] > on_rest[down, 0] + 1.0).all() and (on_rest[down, 2] > 1.0).all()
    assert (on_rest[down, 0] < 0.2).all()
    ground.resting[:] = False
    swinging = legs.floor_costs(clip.truth, "right", ankles, ground, clip.up)
    assert (swinging[:, :2] == 0.0).all() and (swinging[:, 2] > swinging[:, 0]).all()
