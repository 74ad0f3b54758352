"""Inverse kinematics on real 3D motion: round trip through forward kinematics, continuity, joint angles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mocapd import skeleton
from mocapd.motion import ik, landmarks
from mocapd.rotations import angle_between

MOCAP = Path(__file__).parent / "data" / "mocap"
JOINT = skeleton.JOINT_INDEX
KEY = landmarks.KEYPOINT_INDEX
# The joints the .trc markers define (directly, or the head from neck and head top).
MEASURED_JOINTS = tuple(
    JOINT[name]
    for name in skeleton.JOINT_NAMES
    if name
    not in ("pelvis", "spine1", "spine2", "spine3", "left_collar", "right_collar", "left_hand", "right_hand")
)


def load(name: str) -> np.ndarray:
    _, _, markers = landmarks.read_trc(MOCAP / name)
    return landmarks.from_trc_markers(markers)


def round_trip(keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, global rotations, local rotations, |FK - targets| per joint (N, 24))."""
    offsets = ik.estimate_offsets(keypoints)
    global_rotations, local_rotations, root = ik.solve(keypoints, offsets)
    positions = skeleton.forward_kinematics(global_rotations, offsets, root)
    _, targets = ik.pose(keypoints, offsets, ik.available(keypoints))
    return offsets, global_rotations, local_rotations, np.linalg.norm(positions - targets, axis=-1)


@pytest.fixture(scope="module", params=["Balancing_for_IK.trc", "Standing_for_Scaling.trc"])
def clip(request: pytest.FixtureRequest) -> tuple[str, np.ndarray]:
    return request.param, load(request.param)


def test_targets_are_the_markers(clip: tuple[str, np.ndarray]) -> None:
    _, keypoints = clip
    _, targets = ik.pose(keypoints, ik.estimate_offsets(keypoints), ik.available(keypoints))
    for joint, key in (("left_knee", "left_knee"), ("right_wrist", "right_wrist"), ("neck", "neck")):
        assert np.allclose(targets[:, JOINT[joint]], keypoints[:, KEY[key]])
    assert np.allclose(targets[:, JOINT["left_foot"]], keypoints[:, KEY["left_toe"]])


def test_forward_kinematics_reproduces_a_rigid_actor_exactly(clip: tuple[str, np.ndarray]) -> None:
    """Markers of a rigid skeleton (constant bone lengths) come back through IK then FK to the millimetre."""
    _, keypoints = clip
    offsets = ik.estimate_offsets(keypoints)
    solution = ik.solve(keypoints, offsets)
    rigid = skeleton.forward_kinematics(solution.global_rotations, offsets, solution.root)
    rigid_keypoints = np.full_like(keypoints, np.nan)
    for name in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
        for side in ("left", "right"):
            rigid_keypoints[:, KEY[f"{side}_{name}"]] = rigid[:, JOINT[f"{side}_{name}"]]
    for side in ("left", "right"):
        rigid_keypoints[:, KEY[f"{side}_toe"]] = rigid[:, JOINT[f"{side}_foot"]]
    rigid_keypoints[:, KEY["neck"]] = rigid[:, JOINT["neck"]]
    neck, head = rigid[:, JOINT["neck"]], rigid[:, JOINT["head"]]
    rigid_keypoints[:, KEY["head_top"]] = neck + (head - neck) / ik.HEAD_CENTRE_FRACTION
    _, _, _, errors = round_trip(rigid_keypoints)
    assert errors[:, MEASURED_JOINTS].mean() < 0.001
    assert errors[:, MEASURED_JOINTS].max() < 0.01


def test_forward_kinematics_reproduces_the_real_markers(clip: tuple[str, np.ndarray]) -> None:
    """On the real markers, whose bone lengths wobble (Balancing: the left shin 0.35-0.45 m), within 1 cm."""
    name, keypoints = clip
    _, _, _, errors = round_trip(keypoints)
    offsets = ik.estimate_offsets(keypoints)
    analytic, targets = ik.pose(keypoints, offsets, ik.available(keypoints))
    analytic_errors = np.linalg.norm(
        skeleton.forward_kinematics(analytic, offsets, targets[:, 0]) - targets, axis=-1
    )
    mean_error = errors[:, MEASURED_JOINTS].mean()
    # Balancing_for_IK: 9.8 mm (16.5 mm from bone directions alone); Standing_for_Scaling: 2.7 mm (5.2).
    assert mean_error < 0.01, (name, mean_error)
    assert mean_error < 0.7 * analytic_errors[:, MEASURED_JOINTS].mean()
    for joint in ("left_ankle", "right_ankle", "left_wrist", "right_wrist"):
        assert errors[:, JOINT[joint]].mean() < 0.025, joint


def test_rotations_are_continuous(clip: tuple[str, np.ndarray]) -> None:
    _, keypoints = clip
    _, _, local_rotations, _ = round_trip(keypoints)
    steps = np.degrees(angle_between(local_rotations[1:], local_rotations[:-1]))
    assert steps.max() < 30.0, (steps.max(), skeleton.JOINT_NAMES[int(np.argmax(steps.max(axis=0)))])
    assert np.allclose(np.linalg.det(local_rotations), 1.0)


def test_knee_and_elbow_rotations_follow_the_marker_angles() -> None:
    keypoints = load("Balancing_for_IK.trc")
    _, _, local_rotations, _ = round_trip(keypoints)
    for joint, (first, middle, last) in (
        ("left_knee", ("left_hip", "left_knee", "left_ankle")),
        ("right_knee", ("right_hip", "right_knee", "right_ankle")),
        ("left_elbow", ("left_shoulder", "left_elbow", "left_wrist")),
    ):
        upper = keypoints[:, KEY[middle]] - keypoints[:, KEY[first]]
        lower = keypoints[:, KEY[last]] - keypoints[:, KEY[middle]]
        cosine = np.sum(ik.unit(upper) * ik.unit(lower), axis=-1)
        bend = np.degrees(np.arccos(np.clip(cosine, -1, 1)))
        rotation = np.degrees(angle_between(np.eye(3), local_rotations[:, JOINT[joint]]))
        # The rest skeleton's own few degrees of bend sit between the two measures.
        assert np.abs(rotation - bend).mean() < 8.0, joint
        assert np.corrcoef(rotation, bend)[0, 1] > 0.95, joint


def test_offsets_are_the_actor_bone_lengths_along_standard_directions() -> None:
    keypoints = load("Standing_for_Scaling.trc")
    offsets = ik.estimate_offsets(keypoints)
    thigh = np.median(np.linalg.norm(keypoints[:, KEY["left_knee"]] - keypoints[:, KEY["left_hip"]], axis=-1))
    assert np.linalg.norm(offsets[JOINT["left_knee"]]) == pytest.approx(thigh, abs=1e-9)
    hip_width = np.median(
        np.linalg.norm(keypoints[:, KEY["left_hip"]] - keypoints[:, KEY["right_hip"]], axis=-1)
    )
    assert offsets[JOINT["left_hip"], 0] - offsets[JOINT["right_hip"], 0] == pytest.approx(hip_width)
    neck = keypoints[:, KEY["neck"]]
    head = neck + ik.HEAD_CENTRE_FRACTION * (keypoints[:, KEY["head_top"]] - neck)
    head_length = np.median(np.linalg.norm(head - neck, axis=-1))
    assert np.linalg.norm(offsets[JOINT["head"]]) == pytest.approx(head_length)
    standard = skeleton.STANDARD_OFFSETS
    cosines = np.sum(ik.unit(offsets[1:]) * ik.unit(standard[1:]), axis=-1)
    assert np.allclose(cosines, 1.0)


def test_unconfident_frames_do_not_set_bone_lengths() -> None:
    keypoints = load("Standing_for_Scaling.trc")
    confidence = np.ones(keypoints.shape[:2])
    stretched = keypoints.copy()
    stretched[:30, KEY["left_wrist"]] += np.array([0.3, 0.0, 0.0])  # a wildly wrong wrist ...
    confidence[:30, KEY["left_wrist"]] = 0.1  # ... that the model was unsure of
    clean = ik.estimate_offsets(keypoints[30:])
    offsets = ik.estimate_offsets(stretched, confidence)
    assert np.linalg.norm(offsets[JOINT["left_wrist"]]) == pytest.approx(
        np.linalg.norm(clean[JOINT["left_wrist"]])
    )


def test_upright_actor_in_camera_axes_has_the_phalp_orientation() -> None:
    """Y-down camera axes (MediaPipe, OpenCV): an upright actor facing the camera has a root near Rx(180)."""
    keypoints = load("Standing_for_Scaling.trc")
    _, global_rotations, _, _ = round_trip(keypoints)
    # The file's lab frame is Y up; the actor faces roughly along -Z there (root near Ry(180)).
    facing = global_rotations[:, 0] @ np.array([0.0, 0.0, 1.0])
    assert np.mean(facing[:, 1]) == pytest.approx(0.0, abs=0.3)
    flip = np.diag([1.0, -1.0, -1.0])  # lab (Y up) -> camera-like (Y down), seen from the other side
    camera_keypoints = keypoints @ flip.T
    offsets = ik.estimate_offsets(camera_keypoints)
    camera_rotations = ik.solve(camera_keypoints, offsets).global_rotations
    up = camera_rotations[:, 0] @ np.array([0.0, 1.0, 0.0])
    assert np.all(up[:, 1] < -0.9)


def test_a_bent_limb_whose_bend_turns_across_its_reference_keeps_its_twist() -> None:
    # An upper arm hanging down, the forearm bent 60 degrees, its bend swinging from forward round
    # to the side and a little behind: the bending plane's normal turns across the straight-arm
    # reference (the arm's side axis). The hinge axis must follow it, never turn over in one frame.
    frames = 40
    upper = np.tile([0.0, -0.3, 0.0], (frames, 1))
    swing = np.radians(np.linspace(0.0, 120.0, frames))
    bend = np.stack([np.sin(swing), np.zeros(frames), np.cos(swing)], axis=1)
    lower = 0.25 * (np.cos(np.radians(60.0)) * np.array([0.0, -1.0, 0.0]) + np.sin(np.radians(60.0)) * bend)
    fallback = np.cross(ik.unit(upper), [0.0, 0.0, 1.0])
    reference = ik.unit(ik.bend_reference(upper, lower, fallback))
    turns = np.degrees(np.arccos(np.clip(np.sum(reference[1:] * reference[:-1], axis=-1), -1.0, 1.0)))
    assert turns.max() < 10.0
    # Where the bend agrees with the reference it is the bending plane's normal with that sign.
    normal = ik.unit(np.cross(ik.unit(upper), ik.unit(lower)))
    assert np.sum(reference[0] * normal[0]) > 0.99


def test_a_straight_legs_twist_follows_its_foot_until_the_foot_turns_past_the_hips() -> None:
    # A thigh hanging down, the hips along x, the foot turning from forward (+z) round to backwards.
    turns = np.radians(np.linspace(0.0, 180.0, 91))
    foot = np.stack([np.sin(turns), np.zeros_like(turns), np.cos(turns)], axis=1)
    thigh = np.tile([0.0, -0.4, 0.0], (len(turns), 1))
    hips = np.tile([0.2, 0.0, 0.0], (len(turns), 1))
    reference = ik.knee_fallback(foot, thigh, hips)
    follows = np.cos(turns) >= ik.FOOT_TWIST_COSINE
    np.testing.assert_allclose(reference[follows], ik.unit(np.cross(foot, thigh))[follows], atol=1e-12)
    backwards = np.cos(turns) < -1e-9
    np.testing.assert_allclose(
        reference[backwards], np.tile([1.0, 0.0, 0.0], (backwards.sum(), 1)), atol=1e-12
    )
    steps = np.degrees(np.arccos(np.clip(np.sum(reference[1:] * reference[:-1], axis=-1), -1.0, 1.0)))
    assert steps.max() < 10.0  # the foot turns 2 degrees a step: it follows, never turning over


def test_a_knee_bent_forwards_about_the_hips_bends_forwards_about_its_own_axis() -> None:
    """With the foot misread backwards (heel and toe swapped), a bent knee is still solved bent, not
    bent backwards with the thigh twisted half a turn."""
    from mocapd import hinges

    keypoints = load("Balancing_for_IK.trc")
    for side in ("left", "right"):
        heel, toe = KEY[f"{side}_heel"], KEY[f"{side}_toe"]
        keypoints[:, [heel, toe]] = keypoints[:, [toe, heel]]
    offsets, _, local_rotations, _ = round_trip(keypoints)
    bends = hinges.bends(local_rotations, offsets)
    knees = [index for index, hinge in enumerate(hinges.HINGES) if hinge.middle.endswith("knee")]
    bent = bends[:, knees, 1] > 20.0  # about the hips
    assert bent.any()
    assert bends[:, knees, 0][bent].min() > 0.0
