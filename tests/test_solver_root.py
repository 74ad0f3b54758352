"""The root path of a 4D-Humans track (mocapd.motion.solver.root), alone and through extraction.observe."""

from __future__ import annotations

import numpy as np

from mocapd.motion import extraction
from mocapd.motion.solver.root import solve_root
from tests.phalp_clips import (
    FPS,
    TRUE_FLOOR,
    TRUE_UP,
    measure,
    measure_camera,
    per_frame_joints,
    phalp_clip,
)
from tests.solver_clips import CAMERA


def test_the_root_path_holds_a_jittering_4dhumans_walk_on_the_floor_with_planted_feet() -> None:
    clip = phalp_clip()
    assert np.abs(clip.soles).max() < 0.02 and clip.planted.mean() > 0.2  # the truth: always a foot down
    track = extraction.observe(clip.data, 1, FPS, solve=False)
    joints = per_frame_joints(track)
    solved = solve_root(
        joints, CAMERA.project(joints), track.confidence, track.offsets, CAMERA, track.times, TRUE_UP
    )
    before = measure_camera(joints, track.offsets, clip)
    after = measure_camera(joints + solved.shift[:, None], track.offsets, clip)
    # Per-frame: the lowest sole 9 cm through the floor to 8 cm above it, planted feet sliding 13 cm a
    # frame, the root 23 cm off; solved (this seed): -3.3 to +2.1 cm, 2.2 mm, 11 cm.
    assert np.abs(after.lowest_sole_m).max() < 0.05 < 0.07 < np.abs(before.lowest_sole_m).max()
    assert after.sliding_mm < 8.0 < 50.0 < before.sliding_mm
    assert after.root_error_m < 0.7 * before.root_error_m
    assert solved.found.floor is not None and abs(solved.found.floor - TRUE_FLOOR) < 0.03
    assert solved.figures["floor_found"] and solved.figures["contact_share"] > 0.7
    assert solved.figures["floor_penetration_cm"] < 3.0 and solved.figures["planted_sliding_cm"] < 1.0


def test_a_4dhumans_track_gets_the_root_path_its_figures_and_floor_in_extraction() -> None:
    clip = phalp_clip()
    per_frame = measure(extraction.observe(clip.data, 1, FPS, solve=False), clip)
    track = extraction.observe(clip.data, 1, FPS)
    solved = measure(track, clip)
    # Up is estimated (5.6 degrees off on this walk, as on its clean motion: mocapd.motion.gravity's
    # balance cue), so the levelled floor slopes along the walk: less is asked than with the true up.
    assert solved.sliding_mm < 0.25 * per_frame.sliding_mm
    assert solved.root_error_m < per_frame.root_error_m
    assert np.abs(solved.lowest_sole_m).max() < np.abs(per_frame.lowest_sole_m).max()
    figures = track.solver
    assert figures["floor_found"] and figures["contact_share"] > 0.3 and figures["planted_sliding_cm"] < 1.0
    assert track.floor_point is not None and track.tilt_person is not None


def test_a_4dhumans_person_in_the_air_gets_no_invented_contact() -> None:
    frames = 24
    times = np.arange(frames) / FPS
    # Thrown up and falling, always more than 0.25 m above the floor: the feet never rest.
    lift = 0.6 + 3.5 * times - 4.9 * times**2
    clip = phalp_clip(frames, lift)
    assert clip.soles.min() > 0.25
    per_frame = extraction.observe(clip.data, 1, FPS, solve=False)
    track = extraction.observe(clip.data, 1, FPS)
    assert track.solver["contact_share"] == 0.0 and track.solver["floor_found"] is False
    assert track.solver["planted_sliding_cm"] is None and track.floor_point is None
    # Without a floor the root is only smoothed: laterally where the per-frame fit put it.
    assert np.abs(track.pelvis_camera - per_frame.pelvis_camera)[:, :2].max() < 0.05


def test_a_4dhumans_track_of_one_frame_or_with_a_gap_is_handled_with_clear_figures() -> None:
    one = extraction.observe(phalp_clip(1).data, 1, FPS)
    assert one.solver["contact_share"] == 0.0 and one.solver["floor_found"] is False
    assert np.isfinite(one.pelvis_camera).all() and one.floor_point is None
    # Not detected for 10 frames mid-walk: the rows between are interpolated (confidence 0).
    clip = phalp_clip()
    for frame in clip.data.frames[40:50]:
        frame.data["tracked_time"] = [1]  # PHALP's ghosts: no measurement
    track = extraction.observe(clip.data, 1, FPS)
    assert not track.measured[40:50].any() and track.measured.sum() == 80
    assert track.solver["floor_found"] and track.solver["planted_sliding_cm"] < 1.0
    assert np.isfinite(track.pelvis_camera).all()
    assert (
        measure(track, clip).sliding_mm
        < 0.25 * measure(extraction.observe(clip.data, 1, FPS, solve=False), clip).sliding_mm
    )
