"""The legs' bone lengths measured in the image (mocapd.motion.solver.bones.image_lengths)."""

from __future__ import annotations

import numpy as np
import pytest

from mocapd import skeleton
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.solver import bones
from tests import deepmimic
from tests.solver_clips import CAMERA, make_clip, solve

LEG_JOINTS = [skeleton.JOINT_INDEX[name] for name in ("left_knee", "left_ankle")]  # thigh, shank


def long_thighed_walk() -> np.ndarray:
    """The solved leg lengths (thigh, shank) of a walk whose model makes the thighs 8 % too long."""
    clip = make_clip(frames=90)
    for side in ("left", "right"):
        hip, knee = (
            clip.world[:, MEDIAPIPE_INDEX[f"{side}_hip"]],
            clip.world[:, MEDIAPIPE_INDEX[f"{side}_knee"]],
        )
        below = [MEDIAPIPE_INDEX[f"{side}_{name}"] for name in ("knee", "ankle", "heel", "foot_index")]
        clip.world[:, below] += 0.08 * (knee - hip)[:, None]
    solved = solve(clip, known_up=True)
    return np.linalg.norm(solved.offsets[LEG_JOINTS], axis=1)


def test_a_thigh_the_model_makes_too_long_is_measured_in_the_image(monkeypatch: pytest.MonkeyPatch) -> None:
    truth = np.linalg.norm(deepmimic.load_track("walk").offsets[LEG_JOINTS], axis=1)
    np.testing.assert_allclose(long_thighed_walk(), truth, rtol=0.025)
    # From the model's landmarks alone the thigh stays too long.
    monkeypatch.setattr(bones, "image_lengths", lambda lengths, *arguments: lengths)
    assert long_thighed_walk()[0] > 1.05 * truth[0]


def test_a_bone_never_seen_across_the_view_keeps_the_models_length() -> None:
    # Every frame's thigh points 60 degrees into the view: the image shows half of it, the model's
    # depth says it is never across, so the image is only a lower bound.
    frames, model = 40, 0.42
    lengths = bones.segment_lengths(np.zeros((1, 33, 3)), np.ones((1, 33)))
    lengths[bones._group(("hip", "knee"))] = model
    world = np.zeros((frames, 33, 3))
    depth = np.full((frames, 33), 4.0)
    for side in ("left", "right"):
        world[:, MEDIAPIPE_INDEX[f"{side}_knee"]] = [0.0, model * 0.5, model * np.sin(np.radians(60.0))]
        depth[:, MEDIAPIPE_INDEX[f"{side}_knee"]] += model * np.sin(np.radians(60.0))
    image = CAMERA.project(np.concatenate([world[..., :2], depth[..., None]], axis=-1))
    result = bones.image_lengths(lengths, image, world, depth, np.ones((frames, 33)), CAMERA, 2.0)
    assert result[bones._group(("hip", "knee"))] == pytest.approx(model)
