"""Root translation from 2D and metric 3D landmarks with a pinhole camera."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mocapd.motion import landmarks, rootmotion

TRC = Path(__file__).parent / "data" / "mocap" / "Balancing_for_IK.trc"
SIZE = (1920, 1080)  # height, width
CENTRE = (540.0, 960.0)


def body_in_camera_axes() -> np.ndarray:
    """(N, 21, 3) real marker positions, hip-centred, in camera axes (Y down)."""
    _, _, markers = landmarks.read_trc(TRC)
    points = np.stack(list(markers.values()), axis=1) * np.array([1.0, -1.0, -1.0])
    hips = (markers["LHip"] + markers["RHip"]) / 2 * np.array([1.0, -1.0, -1.0])
    return points - hips[:, None]


def test_default_focal_length_is_the_documented_field_of_view() -> None:
    focal = rootmotion.default_focal_length(1080, 1920)
    assert math.degrees(2 * math.atan(960 / focal)) == pytest.approx(rootmotion.DEFAULT_FIELD_OF_VIEW_DEGREES)
    assert rootmotion.focal_length(1080, 1920, 1500.0) == 1500.0
    assert rootmotion.focal_length(1080, 1920, None) == focal


def test_translation_is_recovered_from_an_exact_projection() -> None:
    world = body_in_camera_axes()
    frames = world.shape[0]
    truth = np.stack(
        [np.linspace(-0.5, 0.5, frames), np.full(frames, 0.2), np.linspace(2.0, 6.0, frames)], axis=1
    )
    focal = 1500.0
    image = rootmotion.project(world + truth[:, None], focal, CENTRE)
    found = rootmotion.fit_translation(world, image, np.ones(world.shape[:2]), focal, CENTRE)
    assert np.allclose(found, truth, atol=1e-6)


def test_noise_and_unseen_landmarks_leave_the_depth_close() -> None:
    world = body_in_camera_axes()
    frames, count = world.shape[:2]
    truth = np.tile([0.1, 0.3, 3.5], (frames, 1))
    focal = 1400.0
    generator = np.random.default_rng(1)
    image = rootmotion.project(world + truth[:, None], focal, CENTRE) + generator.normal(
        0, 2.0, (frames, count, 2)
    )
    confidence = np.ones((frames, count))
    image[:, :5] += 400.0  # badly placed landmarks the model was unsure of
    confidence[:, :5] = 0.1
    found = rootmotion.fit_translation(world, image, confidence, focal, CENTRE)
    assert np.abs(found[:, 2] - 3.5).mean() < 0.05
    assert np.abs(found[:, :2] - truth[:, :2]).max() < 0.03


def test_frames_without_enough_landmarks_are_left_unfit() -> None:
    world = body_in_camera_axes()[:3]
    image = rootmotion.project(world + np.array([0.0, 0.0, 3.0]), 1000.0, CENTRE)
    confidence = np.ones(world.shape[:2])
    confidence[1, 3:] = 0.0
    found = rootmotion.fit_translation(world, image, confidence, 1000.0, CENTRE)
    assert np.isnan(found[1]).all() and np.isfinite(found[[0, 2]]).all()
