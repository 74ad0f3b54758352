"""The pose fit's floor rows (mocapd.motion.solver.posefit.ground_rows) on a synthetic walk across the image."""

from __future__ import annotations

import numpy as np
import pytest

from mocapd.motion import landmarks
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.solver import bones, contacts, posefit, rootpath
from tests.solver_clips import CAMERA, HEIGHT, WIDTH, make_clip

FRAMES = 60
# The right foot stands over these frames of the walk across the image, flat (heel and toe within
# 2 cm of the floor) and resting by its heel, the slower end in the image.
STANCE = slice(3, 17)
TOE, HEEL = MEDIAPIPE_INDEX["right_foot_index"], MEDIAPIPE_INDEX["right_heel"]


def toe_steps(monkeypatch: pytest.MonkeyPatch, flat_m: float) -> tuple[np.ndarray, np.ndarray]:
    """The fitted right toe's steps along the floor over STANCE and the true ones (metres), with the
    model's toe landmark wandering down the image and back at 0.5 m/s meanwhile."""
    monkeypatch.setattr(posefit, "FLAT_M", flat_m)
    clip = make_clip(frames=FRAMES, heading_deg=90.0)
    rows = np.arange(FRAMES)
    inside = np.minimum(rows - STANCE.start, STANCE.stop - 1 - rows).clip(0)
    clip.image[:, TOE, 1] += inside * 0.5 * CAMERA.focal / clip.truth[:, TOE, 2] / 30.0
    confidence = landmarks.landmark_confidence(clip.image, clip.visibility, (HEIGHT, WIDTH))
    ground = contacts.detect_landmarks(clip.truth, clip.image, confidence, clip.up, CAMERA, clip.times)
    assert ground.resting[STANCE, 1].all() and (ground.point[STANCE, 1] == 0).all()
    lengths = bones.segment_lengths(clip.world, confidence)
    fitted = posefit.fit(
        clip.image, clip.world, confidence, CAMERA, clip.times, lengths, clip.truth, 2, ground, clip.up
    )
    axes = rootpath.floor_axes(clip.up)

    def steps(points: np.ndarray) -> np.ndarray:
        return np.linalg.norm(np.diff(points[STANCE, TOE] @ axes.T, axis=0), axis=-1)

    return steps(fitted), steps(clip.truth)


def test_a_flat_resting_foot_holds_its_other_end_still_too(monkeypatch: pytest.MonkeyPatch) -> None:
    steps, true = toe_steps(monkeypatch, posefit.FLAT_M)
    assert steps.max() < true.max() + 2e-3  # the wandering landmark moves 17 mm a frame
    # Without the rule only the heel is held: the toe follows its landmark.
    loose, _ = toe_steps(monkeypatch, -1.0)
    assert loose.mean() > 3.0 * steps.mean()
