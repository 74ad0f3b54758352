"""Resting feet (mocapd.motion.solver.contacts) on a synthetic walk across the image whose model loses
the stance foot while the other leg swings past it."""

from __future__ import annotations

import numpy as np

from mocapd.motion import landmarks
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.solver import contacts, rootpath
from tests.solver_clips import CAMERA, HEIGHT, WIDTH, Clip, make_clip, solve
from tests.test_solver import joints_of

FRAMES = 60
# In the walk across the image the left foot swings over frames 2-18 while the right one stands.
STANCE = slice(3, 17)
RIGHT = 1
STANCE_FOOT = [MEDIAPIPE_INDEX[f"right_{name}"] for name in ("ankle", "heel", "foot_index")]
SWING_FOOT = [MEDIAPIPE_INDEX[f"left_{name}"] for name in ("ankle", "heel", "foot_index")]


def wandering_stance(speed_m_s: float = 0.5, swapped: tuple[int, ...] = (9, 10)) -> Clip:
    """The walk across the image with the standing right foot's landmarks wandering down the image and
    back at `speed_m_s` over STANCE, and put on the swinging foot in the frames `swapped` (as the
    pose model does while one leg passes the other)."""
    clip = make_clip(frames=FRAMES, heading_deg=90.0)
    depth = clip.truth[:, MEDIAPIPE_INDEX["right_heel"], 2]
    rows = np.arange(FRAMES)
    frames_in = np.minimum(rows - STANCE.start, STANCE.stop - 1 - rows).clip(0)
    clip.image[:, STANCE_FOOT, 1] += (frames_in * speed_m_s * CAMERA.focal / depth / 30.0)[:, None]
    for frame in swapped:
        clip.image[frame, STANCE_FOOT] = clip.image[frame, SWING_FOOT]
    return clip


def found_on_truth(clip: Clip) -> contacts.Contacts:
    """Contacts of the true landmarks seen through the clip's (perturbed) 2D landmarks."""
    confidence = landmarks.landmark_confidence(clip.image, clip.visibility, (HEIGHT, WIDTH))
    return contacts.detect_landmarks(clip.truth, clip.image, confidence, clip.up, CAMERA, clip.times)


def test_the_running_median_keeps_a_steady_motion_and_drops_a_jump_of_two_frames() -> None:
    steady = np.linspace(0.0, 90.0, 12)[:, None] * np.array([1.0, -0.5])
    np.testing.assert_allclose(contacts.running_median(steady, 5), steady)
    jumped = np.zeros(12)
    jumped[[5, 6]] = 150.0
    np.testing.assert_allclose(contacts.running_median(jumped, 5), np.zeros(12))
    # Unknown rows are skipped, not spread: a row with known neighbours gets their median.
    gaps = np.arange(8.0)
    gaps[3] = np.nan
    result = contacts.running_median(gaps, 5)
    assert np.isfinite(result).all() and abs(result[3] - 3.0) <= 0.5
    assert np.isnan(contacts.running_median(np.full(6, np.nan), 5)).all()


def test_a_stance_foot_whose_landmarks_wander_while_the_other_swings_still_rests() -> None:
    clean = found_on_truth(make_clip(frames=FRAMES, heading_deg=90.0))
    assert clean.resting[STANCE, RIGHT].all() and not clean.resting[STANCE, 0].any()
    found = found_on_truth(wandering_stance())
    assert found.resting[STANCE, RIGHT].all()
    # The swinging foot is not taken for a second support.
    assert not found.resting[5:15, 0].any()


def test_the_solved_stance_foot_stays_still_though_its_landmarks_wander() -> None:
    clip = wandering_stance()
    solved = solve(clip, known_up=True)
    assert solved.resting[STANCE, RIGHT].all()
    axes = rootpath.floor_axes(clip.up)
    sole = joints_of(solved)[STANCE][:, contacts.SOLE_JOINTS[RIGHT]] @ axes.T  # (frames, 2 points, 2)
    true = clip.true_joints[STANCE][:, contacts.SOLE_JOINTS[RIGHT]] @ axes.T
    steps = np.linalg.norm(np.diff(sole, axis=0), axis=-1)
    true_steps = np.linalg.norm(np.diff(true, axis=0), axis=-1)
    # The wandering landmarks move 17 mm a frame; the foot itself (DeepMimic's rolls) 2-3 mm.
    assert steps.mean() < true_steps.mean() + 1.5e-3
    assert steps.max() < 0.01


def test_no_stance_is_added_while_the_walker_is_off_the_floor() -> None:
    rows = np.arange(FRAMES)
    # Lifted 0.3 m over frames 20-40 (a hop onto something and down), the feet well above the floor.
    lift = 0.3 * np.clip(np.minimum(rows - 18, 42 - rows) / 4.0, 0.0, 1.0)
    clip = make_clip(frames=FRAMES, heading_deg=90.0, lift_m=lift)
    found = found_on_truth(clip)
    assert found.floor is not None
    assert not found.resting[lift > 2 * contacts.CONTACT_HEIGHT_M].any()
