"""Forearm depth flips (mocapd.motion.solver.forearms) on a synthetic run whose model folds a forearm back."""

from __future__ import annotations

import numpy as np
import pytest

from mocapd import skeleton
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.solver import forearms
from mocapd.motion.worldframe import view_ray_rotation
from tests.solver_clips import CAMERA, Clip, make_clip, solve
from tests.test_solver import joints_of

ELBOW, WRIST = MEDIAPIPE_INDEX["right_elbow"], MEDIAPIPE_INDEX["right_wrist"]
HAND = [MEDIAPIPE_INDEX[f"right_{part}"] for part in forearms.HAND_PARTS]
# A run (elbows bent 40-100 degrees): frames where the mirrored right forearm bends far off its hinge
# (misalignment 1.0-1.9, forearms.misalignments); at either end the mirror nearly meets the true wrist
# (4-5 cm), as where the pose model's depth guess turns over.
MOTION, FRAMES = "run", 60
STRETCH = slice(24, 38)
RIGHT_WRIST = skeleton.JOINT_INDEX["right_wrist"]


def folded_run() -> Clip:
    """The run with the model's world landmarks folding the right forearm back in depth over STRETCH."""
    clip = make_clip(MOTION, frames=FRAMES)
    shift = forearms.mirrored_wrists(clip.truth, ELBOW, WRIST) - clip.truth[:, WRIST]  # camera frame
    hips = clip.truth[:, [MEDIAPIPE_INDEX["left_hip"], MEDIAPIPE_INDEX["right_hip"]]].mean(axis=1)
    # The world landmarks are in the axes of the ray to the person (tests/solver_clips.py).
    shift = np.einsum("ni,nij->nj", shift, view_ray_rotation(hips))
    clip.world[STRETCH, HAND] += shift[STRETCH, None]
    return clip


def wrist_errors(clip: Clip) -> tuple[np.ndarray, int]:
    """(N,) the solved right wrist's distance from the truth (relative to the pelvis), frames mirrored."""
    solved = solve(clip, known_up=True)
    joints = joints_of(solved)
    relative = (joints - joints[:, :1]) - (clip.true_joints - clip.true_joints[:, :1])
    return np.linalg.norm(relative[:, RIGHT_WRIST], axis=-1), solved.figures["forearm_flip_frames"]


def test_the_mirrored_wrist_keeps_its_pixel_and_its_forearm() -> None:
    clip = make_clip(MOTION, frames=FRAMES)
    mirrored = forearms.mirrored_wrists(clip.truth, ELBOW, WRIST)
    np.testing.assert_allclose(CAMERA.project(mirrored), CAMERA.project(clip.truth[:, WRIST]), atol=1e-6)
    lengths = np.linalg.norm(clip.truth[:, WRIST] - clip.truth[:, ELBOW], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(mirrored - clip.truth[:, ELBOW], axis=-1), lengths, atol=1e-9)


def test_a_forearm_the_model_folds_back_for_a_stretch_is_mirrored_forwards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    errors, mirrored = wrist_errors(folded_run())
    # The stretch, give or take a few frames near its ends where both hypotheses nearly meet.
    assert abs(mirrored - (STRETCH.stop - STRETCH.start)) <= 4
    # As close as where the model saw the forearm right (the run's fast arms: about 12 cm here).
    clean, _ = wrist_errors(make_clip(MOTION, frames=FRAMES))
    assert errors[STRETCH].mean() < clean[STRETCH].mean() + 0.02
    # Without the repair the hinge holds the folded forearm straight at best: the wrist stays far off.
    monkeypatch.setattr(forearms, "repair", lambda positions, world: (positions, world, 0))
    unrepaired, _ = wrist_errors(folded_run())
    assert unrepaired[STRETCH].mean() > clean[STRETCH].mean() + 0.2


def test_a_run_the_model_sees_right_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    errors, mirrored = wrist_errors(make_clip(MOTION, frames=FRAMES))
    # At most a few frames where the two hypotheses nearly meet, and no worse for them.
    assert mirrored <= 0.05 * FRAMES
    monkeypatch.setattr(forearms, "repair", lambda positions, world: (positions, world, 0))
    unrepaired, _ = wrist_errors(make_clip(MOTION, frames=FRAMES))
    assert errors.mean() < unrepaired.mean() + 0.005
