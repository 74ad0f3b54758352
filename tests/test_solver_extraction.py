"""The solver inside track extraction: an embedded tracklets file in, its figures in the track's quality."""

from __future__ import annotations

import numpy as np

from mocapd.motion import extraction, occlusion, quality, tracklets
from mocapd.motion.landmarks import NUM_MEDIAPIPE
from tests.solver_clips import embedded_file

FPS = 30.0
SOLVER_FIGURES = (
    "reprojection_error_px",
    "flip_repaired_frames",
    "contact_share",
    "floor_found",
    "floor_penetration_cm",
    "planted_sliding_cm",
)


def test_an_embedded_track_is_solved_and_its_figures_reach_the_quality_dict() -> None:
    data = tracklets.from_dict(embedded_file())
    assert data.embedded
    extracted = extraction.extract(data, 1, FPS)
    figures = quality.track_quality(extracted)
    assert all(key in figures for key in SOLVER_FIGURES)
    assert figures["reprojection_error_px"] < 5.0 and figures["floor_found"]
    assert 0.5 < figures["contact_share"] <= 1.0
    # The exported motion stands on the floor (y = 0) with the solved skeleton's lengths.
    joints = extracted.motion.joint_positions()
    assert abs(np.percentile(joints[:, [7, 8, 10, 11], 1].min(axis=1), 50)) < 0.04
    lengths = np.linalg.norm(extracted.motion.offsets, axis=1)
    assert lengths[4] == lengths[5] and lengths[18] == lengths[19]  # knees, elbows: left = right


def test_the_per_frame_fit_is_kept_when_the_solver_is_off() -> None:
    data = tracklets.from_dict(embedded_file(10))
    track = extraction.observe(data, 1, FPS, solve=False)
    assert track.solver == {}
    assert not any(key in quality.track_quality(extraction.level(track)) for key in SOLVER_FIGURES)


def test_the_world_floor_is_the_floor_the_solver_held_the_feet_on() -> None:
    from mocapd.export.prepare import PrepareSettings, prepare

    data = tracklets.from_dict(embedded_file(60))
    track = extraction.observe(data, 1, FPS)
    assert track.floor_point is not None
    extracted = extraction.level(track)
    motion = extracted.motion
    # The solver's floor is the world's y = 0 (not a percentile of the lowest feet).
    world = extraction.clip_world(track, extracted.camera_tilt)
    assert abs(float((world.axes @ track.floor_point)[1] - world.origin[1])) < 1e-9
    # The export holds the feet on that floor, without estimating another, and lets none through it.
    prepared = prepare(motion, PrepareSettings())
    locking = prepared.report["foot_locking"]
    assert locking["floor_offset_m"] == 0.0 and locking["below_floor_after"] == 0.0


def test_a_person_mostly_hidden_for_a_while_is_filled_across_it_like_a_gap() -> None:
    data = tracklets.from_dict(embedded_file(45))
    hidden = range(20, 26)
    frames = [frame.index for frame in data.frames]
    mostly = np.arange(NUM_MEDIAPIPE) >= 5  # the head alone seen
    masks = {(frames[row], 1): mostly for row in hidden}
    track = extraction.observe(occlusion.lowered(data, masks), 1, FPS)
    seen = extraction.observe(data, 1, FPS)
    # The rows stay, read as not measured; the path runs straight from the last frame seen to the next.
    assert track.pelvis_camera.shape == seen.pelvis_camera.shape
    assert not track.measured[list(hidden)].any() and track.measured[: hidden[0]].all()
    assert np.all(track.confidence[list(hidden)] == 0.0)
    before, after = hidden[0] - 1, hidden[-1] + 1
    for row in hidden:
        share = (row - before) / (after - before)
        line = (1 - share) * track.pelvis_camera[before] + share * track.pelvis_camera[after]
        np.testing.assert_allclose(track.pelvis_camera[row], line, atol=1e-9)
    # The frames seen are placed as without the hidden ones, to a few centimetres (the clip-level solve
    # couples them: one floor and one set of bone lengths from fewer frames; 6.7 cm here with the stance
    # foot held while the other swings).
    assert np.abs(track.pelvis_camera[:15] - seen.pelvis_camera[:15]).max() < 0.08
    # Hidden to the end: the last frames hold the last one seen.
    tail = range(40, 45)
    track = extraction.observe(occlusion.lowered(data, {(frames[row], 1): mostly for row in tail}), 1, FPS)
    assert track.pelvis_camera.shape == seen.pelvis_camera.shape
    np.testing.assert_allclose(track.pelvis_camera[list(tail)], track.pelvis_camera[[39] * len(tail)])
