"""Forearm depth flips (mocapd.motion.solver.forearms) on a synthetic run whose model folds a forearm back."""

from __future__ import annotations

import numpy as np
import pytest

from mocapd import skeleton
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.solver import depthflip, forearms
from tests.solver_clips import CAMERA, Clip, in_world_axes, make_clip, solve
from tests.test_solver import joints_of

ELBOW, WRIST = MEDIAPIPE_INDEX["right_elbow"], MEDIAPIPE_INDEX["right_wrist"]
HAND = [MEDIAPIPE_INDEX[f"right_{part}"] for part in forearms.HAND_PARTS]
# A run (elbows bent 40-100 degrees): frames where the mirrored right forearm bends far off its hinge
# (misalignment 1.0-1.9, depthflip.misalignments); at either end the mirror nearly meets the true wrist
# (4-5 cm), as where the pose model's depth guess turns over.
MOTION, FRAMES = "run", 60
STRETCH = slice(24, 38)
RIGHT_WRIST = skeleton.JOINT_INDEX["right_wrist"]


def folded_run() -> Clip:
    """The run with the model's world landmarks folding the right forearm back in depth over STRETCH."""
    clip = make_clip(MOTION, frames=FRAMES)
    shift = in_world_axes(
        clip.truth, forearms.mirrored_wrists(clip.truth, ELBOW, WRIST) - clip.truth[:, WRIST]
    )
    clip.world[STRETCH, HAND] += shift[STRETCH, None]
    return clip


def solved_errors(clip: Clip, joint: int) -> tuple[np.ndarray, int]:
    """(N,) the solved joint's distance from the truth (relative to the pelvis), frames mirrored."""
    solved = solve(clip, known_up=True)
    joints = joints_of(solved)
    relative = (joints - joints[:, :1]) - (clip.true_joints - clip.true_joints[:, :1])
    return np.linalg.norm(relative[:, joint], axis=-1), solved.figures["forearm_flip_frames"]


def test_the_mirrored_wrist_keeps_its_pixel_and_its_forearm() -> None:
    clip = make_clip(MOTION, frames=FRAMES)
    mirrored = forearms.mirrored_wrists(clip.truth, ELBOW, WRIST)
    np.testing.assert_allclose(CAMERA.project(mirrored), CAMERA.project(clip.truth[:, WRIST]), atol=1e-6)
    lengths = np.linalg.norm(clip.truth[:, WRIST] - clip.truth[:, ELBOW], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(mirrored - clip.truth[:, ELBOW], axis=-1), lengths, atol=1e-9)


def test_a_forearm_the_model_folds_back_for_a_stretch_is_mirrored_forwards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    errors, mirrored = solved_errors(folded_run(), RIGHT_WRIST)
    # The stretch, give or take a few frames near its ends where both hypotheses nearly meet.
    assert abs(mirrored - (STRETCH.stop - STRETCH.start)) <= 4
    # As close as where the model saw the forearm right (the run's fast arms: about 12 cm here).
    clean, _ = solved_errors(make_clip(MOTION, frames=FRAMES), RIGHT_WRIST)
    assert errors[STRETCH].mean() < clean[STRETCH].mean() + 0.02
    # Without the repair the hinge holds the folded forearm straight at best: the wrist stays far off.
    monkeypatch.setattr(forearms, "repair", lambda positions, world: (positions, world, 0))
    unrepaired, _ = solved_errors(folded_run(), RIGHT_WRIST)
    assert unrepaired[STRETCH].mean() > clean[STRETCH].mean() + 0.2


def test_a_run_the_model_sees_right_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    errors, mirrored = solved_errors(make_clip(MOTION, frames=FRAMES), RIGHT_WRIST)
    # At most a few frames where the two hypotheses nearly meet, and no worse for them.
    assert mirrored <= 0.05 * FRAMES
    monkeypatch.setattr(forearms, "repair", lambda positions, world: (positions, world, 0))
    unrepaired, _ = solved_errors(make_clip(MOTION, frames=FRAMES), RIGHT_WRIST)
    assert errors.mean() < unrepaired.mean() + 0.005


# The run's right upper arm swings through the image's plane at frames 9-10 and 26-27, where its mirror
# in depth about the shoulder nearly meets it (3-4 cm); between them the mirror lies 12-50 cm off and
# its elbow bends backwards off its hinge (forearms.unary_costs: 5-9 units above the truth, flip costs
# aside), as where the pose model's depth guess for an upper arm turns over.
UPPER_STRETCH = slice(10, 27)
SHOULDER = MEDIAPIPE_INDEX["right_shoulder"]
RIGHT_ELBOW = skeleton.JOINT_INDEX["right_elbow"]


def turned_upper_arm() -> Clip:
    """The run with the model's world landmarks mirroring the right elbow in depth about the shoulder over
    UPPER_STRETCH, the hand on its ray at the forearm's length (the point keeping the forearm's direction)."""
    clip = make_clip(MOTION, frames=FRAMES)
    truth = clip.truth
    elbows = depthflip.mirrored_on_ray(truth[:, ELBOW], truth[:, SHOULDER])
    forearm = np.linalg.norm(truth[:, WRIST] - truth[:, ELBOW], axis=-1)
    candidates, _ = depthflip.on_ray_at(truth[:, WRIST], elbows, forearm)
    offs = np.linalg.norm(
        candidates - elbows[:, None] - (truth[:, WRIST] - truth[:, ELBOW])[:, None], axis=-1
    )
    wrists = candidates[np.arange(FRAMES), np.argmin(offs, axis=1)]
    elbow_shift = in_world_axes(truth, elbows - truth[:, ELBOW])
    wrist_shift = in_world_axes(truth, wrists - truth[:, WRIST])
    clip.world[UPPER_STRETCH, ELBOW] += elbow_shift[UPPER_STRETCH]
    clip.world[UPPER_STRETCH, HAND] += wrist_shift[UPPER_STRETCH, None]
    return clip


def test_an_upper_arm_the_model_turns_over_in_depth_is_mirrored_back(monkeypatch: pytest.MonkeyPatch) -> None:
    errors, mirrored = solved_errors(turned_upper_arm(), RIGHT_ELBOW)
    # The stretch, give or take a few frames near its ends where both hypotheses nearly meet.
    assert abs(mirrored - (UPPER_STRETCH.stop - UPPER_STRETCH.start)) <= 4
    clean, _ = solved_errors(make_clip(MOTION, frames=FRAMES), RIGHT_ELBOW)
    assert errors[UPPER_STRETCH].mean() < clean[UPPER_STRETCH].mean() + 0.02
    # Without the elbow's mirror about the shoulder the pose fit keeps the model's turned upper arm.
    monkeypatch.setattr(forearms, "ELBOW_FLIP_COST", 1e9)
    unrepaired, _ = solved_errors(turned_upper_arm(), RIGHT_ELBOW)
    assert unrepaired[UPPER_STRETCH].mean() > clean[UPPER_STRETCH].mean() + 0.1


def test_real_arms_are_not_turned_over_at_the_shoulder() -> None:
    # Every DeepMimic motion with arms: the upper arm as it is is never the costlier hypothesis by more
    # than the elbow's mirror's own cost, and never past a shoulder's reach.
    for motion in ("walk", "run", "jump", "kick", "punch", "spin", "dance_a", "backflip", "roll"):
        truth = make_clip(motion, frames=90).truth
        for side in ("left", "right"):
            costs, elbows, _ = forearms.unary_costs(truth, side)
            assert not forearms.behind_shoulder(truth, side, elbows)[:, 0].any()
            assert (costs[:, 0] < costs[:, 2:].min(axis=1) + forearms.ELBOW_FLIP_COST).all()


def test_the_shoulder_reaches_further_back_below_its_level_than_above_it() -> None:
    # A body facing the camera (OpenCV axes: forward is -z, up is -y), one frame per left upper arm
    # direction: (degrees behind the torso's plane, degrees above the shoulders' level).
    left, right = MEDIAPIPE_INDEX["left_shoulder"], MEDIAPIPE_INDEX["right_shoulder"]
    body = np.zeros((1, 33, 3))
    body[0, left], body[0, right] = (0.2, -0.5, 4.0), (-0.2, -0.5, 4.0)
    body[0, MEDIAPIPE_INDEX["left_hip"]], body[0, MEDIAPIPE_INDEX["right_hip"]] = (
        (0.1, 0.0, 4.0),
        (-0.1, 0.0, 4.0),
    )

    def past_reach(behind_deg: float, raised_deg: float) -> float:
        behind, raised = np.radians(behind_deg), np.radians(raised_deg)
        direction = np.array(
            [np.cos(behind) * np.cos(raised), -np.sin(raised), np.sin(behind) * np.cos(raised)]
        )
        elbows = (body[0, left] + 0.3 * direction)[None, None]
        return float(forearms.behind_shoulder(body, "left", elbows)[0, 0])

    assert past_reach(30.0, 10.0) == 0.0  # within the shoulder's reach at its level
    assert past_reach(70.0, 10.0) > 0.2  # the arm raised far behind the back
    assert past_reach(60.0, -40.0) == 0.0  # extension behind, lower down
    assert past_reach(-80.0, 30.0) == 0.0  # in front
