"""Rows a person is hidden in, and frames whose feet the contact detector misses: on the floor."""

from __future__ import annotations

import numpy as np
import pytest

from mocapd.motion import extraction, tracklets
from mocapd.motion.landmarks import MEDIAPIPE_INDEX
from mocapd.motion.solver import contacts
from tests.solver_clips import embedded_file, make_clip, solve
from tests.test_solver import joints_of, true_floor_heights

FPS = 30.0
FEET = [7, 8, 10, 11]  # SMPL ankles and feet


def gap_feet() -> tuple[np.ndarray, np.ndarray]:
    """(lowest sole's height above the true floor per row, measured per row) of a walk hidden for
    40 frames, in the camera frame with the camera's true up (1 m above the floor)."""
    data = tracklets.from_dict(embedded_file(100, range(30, 70)))
    up = make_clip(frames=1).up
    track = extraction.observe(data, 1, FPS, up=up)
    joints = extraction.camera_positions(
        track.camera_rotations, track.body, track.pelvis_camera, track.offsets
    )
    return contacts.sole_heights(joints, up, track.offsets).min(axis=(1, 2)) + 1.0, track.measured


def test_a_walker_hidden_for_40_frames_keeps_a_foot_on_the_floor() -> None:
    lowest, measured = gap_feet()
    assert (~measured).sum() == 40
    # Hidden rows (filled between the solved rows either side: root linear, pose slerped) keep the
    # lowest foot on the floor, as the seen rows do.
    assert np.abs(lowest[~measured]).max() < 0.03
    assert np.abs(lowest[measured]).max() < 0.03


def small_body_floats(monkeypatch: pytest.MonkeyPatch, band: float) -> float:
    """The highest lowest sole (m above the true floor) of frames 40-70 of a walk whose feet are seen
    too faintly there for a contact, with the model's body 12 % small (the depth, so the feet's
    height, off by it); `band`: contacts.SUPPORT_BAND_M (0: no support term)."""
    monkeypatch.setattr(contacts, "SUPPORT_BAND_M", band)
    clip = make_clip(frames=90)
    feet = [
        MEDIAPIPE_INDEX[f"{side}_{part}"]
        for side in ("left", "right")
        for part in ("heel", "foot_index", "ankle")
    ]
    clip.visibility[40:70, feet] = 0.3
    clip.world[40:70] *= 0.88
    solved = solve(clip, known_up=True)
    lowest = true_floor_heights(clip, joints_of(solved), solved.offsets).min(axis=(1, 2))
    return float(np.abs(lowest[40:70]).max())


def test_feet_the_contact_detector_misses_are_drawn_to_the_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    held = small_body_floats(monkeypatch, contacts.SUPPORT_BAND_M)
    free = small_body_floats(monkeypatch, 0.0)
    assert held < 0.10 and free - held > 0.03


def test_a_jump_keeps_its_height(monkeypatch: pytest.MonkeyPatch) -> None:
    lift = np.zeros(90)
    lift[40:52] = 0.4 * np.sin(np.linspace(0.0, np.pi, 12))
    apex = []
    for band in (contacts.SUPPORT_BAND_M, 0.0):
        monkeypatch.setattr(contacts, "SUPPORT_BAND_M", band)
        clip = make_clip(frames=90, lift_m=lift)
        solved = solve(clip, known_up=True)
        apex.append(float(np.max(joints_of(solved)[40:52, 0] @ clip.up)))
    assert apex[0] == pytest.approx(apex[1], abs=0.03)
