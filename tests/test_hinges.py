"""Knees and elbows held as hinges: real motions pass untouched, limbs pushed past straight come back."""

from __future__ import annotations

import numpy as np
import pytest

from mocapd import hinges, skeleton
from mocapd.trackfile import TrackMotion
from tests.deepmimic import DEEPMIMIC_DIR, load_track

JOINT = skeleton.JOINT_INDEX
CLIPS = sorted(path.stem.removeprefix("humanoid3d_") for path in DEEPMIMIC_DIR.glob("humanoid3d_*.txt"))
HINGE = {hinge.middle: index for index, hinge in enumerate(hinges.HINGES)}
# Limits are met to rounding: a corrected bend lands on the limit itself.
TOLERANCE_DEG = 1e-6


def turned(track: TrackMotion, joint: str, rows: slice, degrees: float) -> np.ndarray:
    """The track's local rotations with `joint`'s lower bone turned about the hinge's own axis (its upper
    joint's rest axis) by `degrees` (negative: backwards), the bone below keeping its world orientation."""
    hinge = hinges.HINGES[HINGE[joint]]
    local = track.local_rotations().copy()
    axis = hinges.rest_axis(hinge, track.offsets)
    angle = np.radians(degrees)
    cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    turn = np.eye(3) + np.sin(angle) * cross + (1.0 - np.cos(angle)) * cross @ cross
    middle, lower = JOINT[hinge.middle], JOINT[hinge.lower]
    before = skeleton.local_to_global(local)[rows, lower]
    local[rows, middle] = turn @ local[rows, middle]
    local[rows, lower] = np.swapaxes(skeleton.local_to_global(local)[rows, middle], -1, -2) @ before
    return local


def joint_positions(local: np.ndarray, track: TrackMotion) -> np.ndarray:
    return skeleton.positions_from_local(local, track.offsets, track.trans)


@pytest.mark.parametrize("clip", CLIPS)
def test_real_motions_pass_untouched(clip: str) -> None:
    track = load_track(clip)
    local = track.local_rotations()
    assert np.nanmin(hinges.bends(local, track.offsets)) >= -hinges.HYPEREXTENSION_DEG
    np.testing.assert_array_equal(hinges.limit(local, track.offsets), local)


@pytest.mark.parametrize("clip", ["punch", "walk", "dance_a"])
def test_an_elbow_pushed_past_straight_comes_back_within_the_limit(clip: str) -> None:
    track = load_track(clip)
    rows = slice(10, 30)
    bend = hinges.bends(track.local_rotations(), track.offsets)[rows, HINGE["left_elbow"], 0]
    # Each pushed frame 20-50 degrees past straight, backwards about the elbow's own axis.
    pushed = track.local_rotations().copy()
    for row, degrees in zip(range(rows.start, rows.stop), bend, strict=True):
        pushed[row] = turned(track, "left_elbow", slice(row, row + 1), -degrees - 20.0 - row % 4 * 10.0)[row]
    assert hinges.bends(pushed, track.offsets)[rows, HINGE["left_elbow"], 0].max() < -19.0

    limited = hinges.limit(pushed, track.offsets)
    after = hinges.bends(limited, track.offsets)
    assert np.nanmin(after) >= -hinges.HYPEREXTENSION_DEG - TOLERANCE_DEG
    # The nearest allowed bend: the limit itself, not a mirror-image bend forwards.
    np.testing.assert_allclose(after[rows, HINGE["left_elbow"], 0], -hinges.HYPEREXTENSION_DEG, atol=1e-6)
    # Only the pushed frames' elbow and wrist change; the hand keeps its orientation, the elbow its place.
    untouched = np.ones(len(pushed), dtype=bool)
    untouched[rows] = False
    np.testing.assert_array_equal(limited[untouched], pushed[untouched])
    others = [
        joint
        for joint in range(skeleton.NUM_JOINTS)
        if joint not in (JOINT["left_elbow"], JOINT["left_wrist"])
    ]
    np.testing.assert_array_equal(limited[:, others], pushed[:, others])
    hand = JOINT["left_wrist"]
    np.testing.assert_allclose(
        skeleton.local_to_global(limited)[:, hand], skeleton.local_to_global(pushed)[:, hand], atol=1e-9
    )
    np.testing.assert_allclose(
        joint_positions(limited, track)[:, JOINT["left_elbow"]],
        joint_positions(pushed, track)[:, JOINT["left_elbow"]],
        atol=1e-9,
    )


def test_a_knee_pushed_backwards_comes_back_with_the_foot_flat() -> None:
    track = load_track("run")
    rows = slice(5, 15)
    bend = hinges.bends(track.local_rotations(), track.offsets)[rows, HINGE["right_knee"], 0]
    pushed = track.local_rotations().copy()
    for row, degrees in zip(range(rows.start, rows.stop), bend, strict=True):
        pushed[row] = turned(track, "right_knee", slice(row, row + 1), -degrees - 15.0)[row]
    before = hinges.bends(pushed, track.offsets)[rows, HINGE["right_knee"]]
    assert before.max() < -10.0  # backwards about its own axis and about the hips

    limited = hinges.limit(pushed, track.offsets)
    assert np.nanmin(hinges.bends(limited, track.offsets)) >= -hinges.HYPEREXTENSION_DEG - TOLERANCE_DEG
    ankle = JOINT["right_ankle"]
    np.testing.assert_allclose(
        skeleton.local_to_global(limited)[:, ankle], skeleton.local_to_global(pushed)[:, ankle], atol=1e-9
    )


def test_a_knee_bent_backwards_by_a_twisted_thigh_is_held_about_the_hips() -> None:
    """Bent forwards about its own axis but the thigh twisted half a turn: backwards about the hips."""
    track = load_track("run")
    local = track.local_rotations().copy()
    hip, knee = JOINT["left_hip"], JOINT["left_knee"]
    thigh = track.offsets[knee] / np.linalg.norm(track.offsets[knee])
    half_turn = 2.0 * np.outer(thigh, thigh) - np.eye(3)  # half a turn about the thigh
    local[:, hip] = local[:, hip] @ half_turn  # the knee's own bend unchanged, its shank turned over
    bend = hinges.bends(local, track.offsets)[:, HINGE["left_knee"]]
    backwards = bend[:, 1] < -10.0
    assert backwards.any() and (bend[backwards, 0] > 10.0).all()

    after = hinges.bends(hinges.limit(local, track.offsets), track.offsets)[:, HINGE["left_knee"]]
    assert after.min() >= -hinges.HYPEREXTENSION_DEG - TOLERANCE_DEG


def test_corrections_take_the_nearer_end_of_the_allowed_range() -> None:
    turn = hinges.corrections(np.array([-10.0, -176.0, 20.0, -2.0, -179.5, 160.0]), 3.0, 150.0)
    np.testing.assert_allclose(turn, [7.0, -34.0, 0.0, 0.0, -30.5, -10.0])
    # Without an upper end (the side line's reading) a bend is only ever brought up to the limit.
    np.testing.assert_allclose(hinges.corrections(np.array([-176.0, 170.0]), 3.0), [173.0, 0.0])


def test_an_elbow_folded_over_the_back_of_its_upper_arm_goes_to_the_most_folded_bend() -> None:
    track = load_track("punch")
    bend = hinges.bends(track.local_rotations(), track.offsets)[:, HINGE["left_elbow"], 0]
    folded = turned(track, "left_elbow", slice(None), 0.0)
    for row, degrees in enumerate(bend):
        folded[row] = turned(track, "left_elbow", slice(row, row + 1), 183.0 - degrees)[row]  # at -177
    after = hinges.bends(hinges.limit(folded, track.offsets), track.offsets)[:, HINGE["left_elbow"], 0]
    np.testing.assert_allclose(after, hinges.MAX_FLEXION_DEG["elbow"], atol=1e-6)
