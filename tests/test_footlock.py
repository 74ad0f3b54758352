"""Foot contacts and locking on real walking motion (DeepMimic) with estimator-like noise."""

from __future__ import annotations

import numpy as np
import pytest

from mocapd import skeleton
from mocapd.export import footlock
from tests.deepmimic import add_noise, load_track


def lock(
    name: str = "walk", cycles: int = 3, **noise: float
) -> tuple[footlock.FootLockResult, np.ndarray, np.ndarray]:
    track = load_track(name, cycles=cycles)
    if noise:
        add_noise(track, **noise)
    rotations = track.local_rotations()
    result = footlock.lock_feet(rotations, track.offsets, track.trans, track.fps)
    points = footlock.foot_points(
        skeleton.positions_from_local(rotations, track.offsets, result.root_positions), track.offsets
    )
    return result, points, track.trans


def test_noisy_walk_stops_sliding_and_stays_above_the_floor() -> None:
    result, points, _ = lock(position_cm=1.5, floor_cm=-3.0)
    assert result.sliding_before_cm > 1.0  # the noise made the planted feet slide
    assert result.sliding_after_cm < 0.25 * result.sliding_before_cm
    assert result.below_floor_before > 0.5
    assert result.below_floor_after == 0.0
    assert points[..., 1].min() >= -1e-9


def test_walk_alternates_left_and_right_contacts() -> None:
    result, _, _ = lock()
    share = result.contacts.mean(axis=0)
    assert np.all((share > 0.3) & (share < 0.8))
    # Both feet are planted together only in short double-support phases.
    assert np.mean(result.contacts.all(axis=1)) < 0.3
    assert result.contacts.any(axis=1).mean() > 0.8


def test_floating_feet_are_put_on_the_floor() -> None:
    result, points, _ = lock(position_cm=0.0, floor_cm=10.0)
    assert result.floor_offset_m == pytest.approx(0.10, abs=0.02)
    lowest = points[..., 1].min(axis=2)
    assert np.abs(lowest[result.contacts]).mean() < 0.01


def test_locking_does_not_make_the_root_pop() -> None:
    result, _, before = lock(position_cm=0.5, floor_cm=0.0)
    steps_before = np.linalg.norm(np.diff(before, axis=0), axis=1)
    steps_after = np.linalg.norm(np.diff(result.root_positions, axis=0), axis=1)
    assert steps_after.max() < steps_before.max() + 0.02


def test_a_jump_has_no_contacts_in_the_air_and_lands_above_the_floor() -> None:
    result, points, _ = lock("jump", cycles=1)
    heights = points[..., 1].min(axis=(1, 2))
    assert not result.contacts[heights > 0.15].any()
    assert result.below_floor_after == 0.0


def test_clean_runs_fills_short_gaps_and_drops_short_contacts() -> None:
    mask = np.array([1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1], dtype=bool)
    cleaned = footlock.clean_runs(mask, 3)
    expected = np.array([1] * 7 + [0] * 8 + [1] * 4, dtype=bool)
    np.testing.assert_array_equal(cleaned, expected)


def test_lift_above_floor_raises_only_frames_below_it() -> None:
    track = load_track("walk")
    rotations = track.local_rotations()
    sunk = track.trans.copy()
    sunk[::2, 1] -= 0.1
    lifted = footlock.lift_above_floor(rotations, track.offsets, sunk)
    points = footlock.foot_points(
        skeleton.positions_from_local(rotations, track.offsets, lifted), track.offsets
    )
    assert points[..., 1].min() == pytest.approx(0.0, abs=1e-9)
    # Soles, not joints: the heel end is its rest height below the ankle joint.
    before = footlock.foot_points(
        skeleton.positions_from_local(rotations, track.offsets, sunk), track.offsets
    )
    above = before[..., 1].min(axis=(1, 2)) >= 0.0
    assert above[1::2].mean() > 0.6
    np.testing.assert_allclose(lifted[above], sunk[above])


def test_a_lift_for_one_frame_rises_and_falls_over_its_neighbours() -> None:
    deficit = np.zeros(21)
    deficit[10] = 0.03
    lift = footlock.smooth_lift(deficit, 2)
    assert np.all(lift >= deficit) and lift[10] == pytest.approx(0.03)
    assert np.abs(np.diff(lift, 2)).max() < 0.5 * 0.03 * 2  # a one-frame spike's is 2 x 3 cm
    assert lift[:6].max() == 0.0 and lift[15:].max() == 0.0
