"""The clip-level solver end to end on synthetic clips from real DeepMimic motion (tests/solver_clips.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mocapd import skeleton
from mocapd.motion.solver import contacts
from tests.solver_clips import make_clip, mirror, solve


def joints_of(solved) -> np.ndarray:  # type: ignore[no-untyped-def]
    local = np.concatenate([solved.global_orient[:, None], solved.body_pose], axis=1)
    return skeleton.positions_from_local(local, solved.offsets, solved.pelvis)


def true_floor_heights(clip, joints: np.ndarray, offsets: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """(N, 2, 2) sole heights above the true floor (the camera is 1 m above it)."""
    return contacts.sole_heights(joints, clip.up, offsets) + 1.0


def test_a_noisy_walk_with_a_mirrored_stretch_and_a_floating_root_is_recovered() -> None:
    clip = make_clip(frames=90)
    mirror(clip, slice(30, 36))
    # The model's world landmarks change size from frame to frame: per-frame depth (and so the feet's
    # height) floats by about 5 %, 25 cm at 5 m.
    clip.world *= 1.0 + np.random.default_rng(1).normal(0.0, 0.05, (90, 1, 1))
    solved = solve(clip, known_up=True)
    joints = joints_of(solved)
    relative = (joints - joints[:, :1]) - (clip.true_joints - clip.true_joints[:, :1])
    assert np.linalg.norm(relative, axis=-1).mean() < 0.025  # pose within 2.5 cm per joint
    assert (
        np.linalg.norm(joints[:, 0] - clip.true_joints[:, 0], axis=-1).mean() < 0.06
    )  # root, depth included
    assert solved.figures["flip_repaired_frames"] == 6
    assert solved.figures["reprojection_error_px"] < 4.0
    # Feet on the true floor: every frame has a sole within 3 cm of it, none more than 3 cm below.
    lowest = true_floor_heights(clip, joints, solved.offsets).min(axis=(1, 2))
    assert np.abs(lowest).max() < 0.03
    assert solved.figures["floor_found"] and solved.figures["contact_share"] > 0.5
    lengths = np.linalg.norm(solved.offsets, axis=1)
    for left, right in (("left_knee", "right_knee"), ("left_elbow", "right_elbow")):
        assert lengths[skeleton.JOINT_INDEX[left]] == pytest.approx(
            lengths[skeleton.JOINT_INDEX[right]], abs=1e-12
        )
    legs = [skeleton.JOINT_INDEX[name] for name in ("left_knee", "left_ankle")]
    np.testing.assert_allclose(
        lengths[legs], np.linalg.norm(skeleton.STANDARD_OFFSETS[legs], axis=1), rtol=0.05
    )


def test_a_clip_of_one_frame_is_posed_without_contacts() -> None:
    solved = solve(make_clip(frames=1))
    assert solved.pelvis.shape == (1, 3) and np.isfinite(solved.pelvis).all()
    assert solved.figures["contact_share"] == 0.0 and solved.figures["floor_found"] is False
    assert not solved.resting.any()


def test_a_person_in_the_air_the_whole_clip_gets_no_invented_contact() -> None:
    frames = 40
    times = np.arange(frames) / 30.0
    # Thrown up and falling, always at least 0.5 m above the floor: the feet never rest.
    lift = 0.5 + 3.0 * times - 4.9 * times**2 + 1.0
    solved = solve(make_clip(frames=frames, lift_m=lift))
    assert solved.figures["contact_share"] == 0.0
    assert solved.figures["floor_found"] is False and solved.figures["planted_sliding_cm"] is None


def test_a_person_half_out_of_frame_is_solved_without_contacts_for_unseen_feet() -> None:
    clip = make_clip(frames=60)
    # The legs below the image's bottom edge: the model still guesses them, with low visibility.
    legs = [index for index in range(33) if index >= 23]
    clip.image[:, legs, 1] = 1080 + 150.0
    clip.visibility[:, legs] = 0.2
    solved = solve(clip)
    assert np.isfinite(solved.pelvis).all()
    assert not solved.resting.any() and solved.figures["floor_found"] is False
    relative = (joints_of(solved) - solved.pelvis[:, None]) - (clip.true_joints - clip.true_joints[:, :1])
    arms = [skeleton.JOINT_INDEX[f"{side}_elbow"] for side in ("left", "right")]
    assert np.linalg.norm(relative[:, arms], axis=-1).mean() < 0.06


def elbow_bend(points: np.ndarray, side: str) -> np.ndarray:
    """(N,) sine of the elbow's bend about the shoulder line, > 0 bent forwards (posefit's convention)."""
    from mocapd.motion.landmarks import MEDIAPIPE_INDEX as INDEX

    lateral = points[:, INDEX["left_shoulder"]] - points[:, INDEX["right_shoulder"]]
    lateral /= np.linalg.norm(lateral, axis=-1, keepdims=True)
    shoulder, elbow, wrist = (points[:, INDEX[f"{side}_{name}"]] for name in ("shoulder", "elbow", "wrist"))
    upper, lower = elbow - shoulder, wrist - elbow
    normal = (
        np.cross(upper, lower) / (np.linalg.norm(upper, axis=-1) * np.linalg.norm(lower, axis=-1))[:, None]
    )
    return -np.sum(normal * lateral, axis=-1)


def test_an_elbow_the_model_bends_backwards_in_depth_is_fitted_as_a_hinge() -> None:
    from mocapd.motion.landmarks import MEDIAPIPE_INDEX as INDEX
    from mocapd.motion.solver import bones, posefit
    from tests.solver_clips import CAMERA

    clip = make_clip(frames=40)
    wrist, elbow = INDEX["left_wrist"], INDEX["left_elbow"]
    # The model's world landmarks put the wrist 20 cm behind the elbow's hinge; the 2D landmarks stay
    # where they are, but tell nothing along the ray.
    hips = clip.truth[:, [INDEX["left_hip"], INDEX["right_hip"]]].mean(axis=1, keepdims=True)
    world = clip.truth - hips
    # Backwards: against the direction a forearm bends, from the elbow (perpendicular to the upper arm).
    lateral = world[:, INDEX["left_shoulder"]] - world[:, INDEX["right_shoulder"]]
    upper = world[:, elbow] - world[:, INDEX["left_shoulder"]]
    backwards = np.cross(lateral, upper)
    backwards /= np.linalg.norm(backwards, axis=-1, keepdims=True)
    moved = world.copy()
    moved[:, wrist] += 0.2 * backwards
    assert elbow_bend(moved, "left").mean() < -0.15
    confidence = np.full(clip.visibility.shape, 0.95)
    lengths = bones.segment_lengths(world, confidence)
    start = moved + hips
    fitted = posefit.fit(clip.image, moved, confidence, CAMERA, clip.times, lengths, start)
    # Held at straight at worst (the hinge's inequality), no longer bent backwards by the prior.
    assert np.degrees(np.arcsin(np.clip(elbow_bend(fitted, "left"), -1, 1))).min() > -5.0
    assert np.linalg.norm(fitted[:, elbow] - clip.truth[:, elbow], axis=-1).mean() < 0.05


@pytest.mark.parametrize("extra", [0, 2])
def test_a_knee_a_step_bends_backwards_gets_more_steps(extra: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from mocapd.motion.landmarks import MEDIAPIPE_INDEX as INDEX
    from mocapd.motion.solver import bones, posefit
    from tests.solver_clips import CAMERA

    clip = make_clip(frames=40)
    hip, knee = INDEX["left_hip"], INDEX["left_knee"]
    hips = clip.truth[:, [INDEX["left_hip"], INDEX["right_hip"]]].mean(axis=1, keepdims=True)
    world = clip.truth - hips
    # The model's foot 30 cm in front of its knee's hinge (the knee bent backwards): the fit starts from
    # the true pose, where the hinge's inequality is not active, so its first step follows the prior.
    lateral = world[:, INDEX["left_hip"]] - world[:, INDEX["right_hip"]]
    forwards = np.cross(world[:, knee] - world[:, hip], lateral)
    forwards /= np.linalg.norm(forwards, axis=-1, keepdims=True)
    moved = world.copy()
    for part in ("ankle", "heel", "foot_index"):
        moved[:, INDEX[f"left_{part}"]] += 0.3 * forwards
    assert posefit.knees_bent_backwards(moved[:, posefit.FITTED])
    assert not posefit.knees_bent_backwards(clip.truth[:, posefit.FITTED])
    confidence = np.full(clip.visibility.shape, 0.95)
    lengths = bones.segment_lengths(world, confidence)
    monkeypatch.setattr(posefit, "HINGE_ITERATIONS", extra)
    fitted = posefit.fit(clip.image, moved, confidence, CAMERA, clip.times, lengths, clip.truth, 1)
    # One planned step leaves the knee bent backwards; the extra steps bring it within the tolerance.
    assert posefit.knees_bent_backwards(fitted[:, posefit.FITTED]) == (extra == 0)
