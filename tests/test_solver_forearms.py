"""Forearm depth flips (mocapd.motion.solver.forearms) on a synthetic walk whose model folds a forearm back."""

from __future__ import annotations

import numpy as np

from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.solver import bones, forearms, posefit
from tests.solver_clips import CAMERA, make_clip
from tests.test_solver import elbow_bend

ELBOW, WRIST = MEDIAPIPE_INDEX["right_elbow"], MEDIAPIPE_INDEX["right_wrist"]
HAND = [MEDIAPIPE_INDEX[f"right_{part}"] for part in forearms.HAND_PARTS]
# Frames of the walk where the mirrored right forearm bends 9-54 degrees backwards; at either end the
# mirror nearly meets the true wrist (1-9 cm), as where the pose model's depth guess turns over.
STRETCH = slice(6, 29)


def test_the_mirrored_wrist_keeps_its_pixel_and_its_forearm() -> None:
    clip = make_clip(frames=30)
    mirrored = forearms.mirrored_wrists(clip.truth, ELBOW, WRIST)
    np.testing.assert_allclose(CAMERA.project(mirrored), CAMERA.project(clip.truth[:, WRIST]), atol=1e-6)
    lengths = np.linalg.norm(clip.truth[:, WRIST] - clip.truth[:, ELBOW], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(mirrored - clip.truth[:, ELBOW], axis=-1), lengths, atol=1e-9)


def fitted_walk(repair: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """(fitted landmarks, truth, frames mirrored) of a walk whose world landmarks fold the right forearm back."""
    clip = make_clip(frames=40)
    hips = clip.truth[:, [MEDIAPIPE_INDEX["left_hip"], MEDIAPIPE_INDEX["right_hip"]]].mean(
        axis=1, keepdims=True
    )
    world = clip.truth - hips
    folded = world.copy()
    shift = forearms.mirrored_wrists(clip.truth, ELBOW, WRIST) - clip.truth[:, WRIST]
    folded[STRETCH, HAND] += shift[STRETCH, None]
    confidence = np.full(clip.visibility.shape, 0.95)
    lengths = bones.segment_lengths(world, confidence)
    fitted = posefit.fit(clip.image, folded, confidence, CAMERA, clip.times, lengths, folded + hips)
    mirrored = 0
    if repair:
        fitted, folded, mirrored = forearms.repair(fitted, folded)
    fitted = posefit.fit(clip.image, folded, confidence, CAMERA, clip.times, lengths, fitted, 2)
    return fitted, clip.truth, mirrored


def test_a_forearm_the_model_folds_back_for_a_stretch_is_mirrored_forwards() -> None:
    fitted, truth, mirrored = fitted_walk(repair=True)
    # The stretch, give or take frames near its ends where both hypotheses nearly meet (1-9 cm apart).
    assert STRETCH.stop - STRETCH.start - 6 <= mirrored <= STRETCH.stop + 6
    bend = np.degrees(np.arcsin(np.clip(elbow_bend(fitted, "right"), -1.0, 1.0)))
    assert bend.min() > -5.0
    error = np.linalg.norm(fitted[:, WRIST] - truth[:, WRIST], axis=-1)
    assert error[STRETCH].mean() < 0.06
    # Without the repair the hinge holds the folded forearm straight at best: the wrist stays far off.
    unrepaired, _, _ = fitted_walk(repair=False)
    assert (
        np.linalg.norm(unrepaired[STRETCH, WRIST] - truth[STRETCH, WRIST], axis=-1).mean()
        > 2 * error[STRETCH].mean()
    )


def test_a_walk_the_model_sees_right_is_not_mirrored() -> None:
    clip = make_clip(frames=40)
    hips = clip.truth[:, [MEDIAPIPE_INDEX["left_hip"], MEDIAPIPE_INDEX["right_hip"]]].mean(
        axis=1, keepdims=True
    )
    confidence = np.full(clip.visibility.shape, 0.95)
    world = clip.truth - hips
    lengths = bones.segment_lengths(world, confidence)
    fitted = posefit.fit(clip.image, world, confidence, CAMERA, clip.times, lengths, clip.truth)
    _, _, mirrored = forearms.repair(fitted, world)
    assert mirrored == 0
