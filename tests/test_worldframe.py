"""The camera-to-world conversion on analytic cases."""

from __future__ import annotations

import numpy as np

from mocapd.motion import worldframe
from mocapd.rotations import angle_between, rotation_x, rotation_y
from mocapd.skeleton import STANDARD_OFFSETS

IDENTITY_BODY = np.tile(np.eye(3), (23, 1, 1))
# A standing T-pose puts the pelvis above the toes by the leg's offsets.
STANDING_PELVIS_HEIGHT = -(STANDARD_OFFSETS[[1, 4, 7, 10], 1].sum())


def run(orientations: np.ndarray, pelvis_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    count = orientations.shape[0]
    return worldframe.to_world(
        orientations, np.tile(IDENTITY_BODY, (count, 1, 1, 1)), pelvis_camera, STANDARD_OFFSETS
    )


def test_upright_person_facing_the_camera_is_upright_facing_plus_z() -> None:
    orientations = np.tile(rotation_x(np.pi), (5, 1, 1))
    root, trans = run(orientations, np.tile([0.3, 0.1, 6.0], (5, 1)))
    assert np.allclose(root, np.eye(3), atol=1e-9)
    assert np.allclose(root[:, :, 1], [0.0, 1.0, 0.0])  # up axis
    assert np.allclose(root[:, :, 2], [0.0, 0.0, 1.0])  # facing
    assert np.allclose(trans[:, 1], STANDING_PELVIS_HEIGHT)
    assert np.allclose(trans[:, [0, 2]], 0.0)


def test_first_frame_heading_is_turned_to_plus_z() -> None:
    # Facing the camera, turned 70 degrees about the vertical: in OpenCV axes the yaw is about -y.
    turned = worldframe.OPENCV_TO_WORLD @ rotation_y(np.radians(70))
    orientations = np.stack([turned, worldframe.OPENCV_TO_WORLD @ rotation_y(np.radians(100))])
    root, _ = run(orientations, np.tile([0.0, 0.0, 5.0], (2, 1)))
    assert np.allclose(root[0], np.eye(3), atol=1e-9)
    # The turn between the frames is kept: 30 degrees about +Y.
    assert np.isclose(angle_between(root[0], root[1]), np.radians(30))
    assert np.allclose(root[1], rotation_y(np.radians(30)), atol=1e-9)


def test_walking_away_from_the_camera_gains_plus_z() -> None:
    # Facing away from the camera: the actor's +Z points along the camera's viewing direction.
    facing_away = worldframe.OPENCV_TO_WORLD @ rotation_y(np.pi)
    assert np.allclose(facing_away @ [0, 0, 1], [0, 0, 1])  # forward = camera +z (OpenCV)
    count = 30
    depth = np.linspace(4.0, 7.0, count)
    pelvis = np.stack([np.full(count, 0.2), np.full(count, 0.4), depth], axis=1)
    root, trans = run(np.tile(facing_away, (count, 1, 1)), pelvis)
    assert np.allclose(root, np.eye(3), atol=1e-9)
    assert np.all(np.diff(trans[:, 2]) > 0)
    assert np.isclose(trans[-1, 2] - trans[0, 2], 3.0)
    assert np.allclose(trans[:, 0], 0.0)


def test_root_translation_matches_the_camera_model_within_a_millimetre() -> None:
    generator = np.random.default_rng(4)
    count = 50
    pelvis = np.stack(
        [
            np.cumsum(generator.normal(0, 0.02, count)),
            0.5 + generator.normal(0, 0.005, count),
            9.0 + np.cumsum(generator.normal(0, 0.05, count)),
        ],
        axis=1,
    )
    camera = pelvis - worldframe.PELVIS_IN_SMPL_MODEL
    root, trans = run(np.tile(rotation_x(np.pi), (count, 1, 1)), worldframe.pelvis_in_camera(camera))
    # Facing the camera needs no heading turn: world = Y-up camera axes, shifted to the first frame.
    expected = (pelvis - pelvis[0]) @ worldframe.OPENCV_TO_WORLD.T
    assert np.max(np.abs(trans[:, [0, 2]] - expected[:, [0, 2]])) < 1e-3
    assert np.max(np.abs((trans[:, 1] - trans[0, 1]) - expected[:, 1])) < 1e-3


def test_floor_is_the_lowest_foot_and_ignores_rare_outliers() -> None:
    count = 200
    pelvis = np.tile([0.0, 0.0, 5.0], (count, 1))
    pelvis[:, 1] -= 0.3 * np.abs(np.sin(np.linspace(0, 6 * np.pi, count)))  # jumping: camera y points down
    pelvis[7, 1] = 3.0  # one frame far below the floor (noise)
    _, trans = run(np.tile(rotation_x(np.pi), (count, 1, 1)), pelvis)
    usual = np.delete(trans[:, 1], 7)
    assert np.isclose(usual.min(), STANDING_PELVIS_HEIGHT, atol=0.01)
    assert trans[7, 1] < 0  # the outlier stays below the floor instead of lifting the clip


def test_a_longer_true_focal_length_puts_the_person_farther_away() -> None:
    camera = np.array([[0.5, 0.2, 10.0]])
    near = worldframe.pelvis_in_camera(camera)
    far = worldframe.pelvis_in_camera(camera, depth_scale=2.0)
    assert np.allclose(far[:, :2], near[:, :2])
    assert np.isclose(far[0, 2], 2 * near[0, 2])
    assert np.isclose(worldframe.phalp_focal_length(1080, 1920), 5000 / 256 * 1920)


def test_tilted_orientations_keep_their_tilt_in_the_world() -> None:
    lean = rotation_x(np.radians(20))  # leaning forward by 20 degrees (Y-up axes)
    orientations = np.stack([worldframe.OPENCV_TO_WORLD, worldframe.OPENCV_TO_WORLD @ lean])
    root, _ = run(orientations, np.tile([0.0, 0.0, 5.0], (2, 1)))
    assert np.allclose(root[1], lean, atol=1e-9)


def test_view_ray_rotation_turns_the_optical_axis_onto_the_ray() -> None:
    positions = np.array([[0.0, 0.0, 4.0], [2.0, -1.0, 3.0], [-3.0, 0.5, 1.0]])
    rotations = worldframe.view_ray_rotation(positions)
    assert np.allclose(rotations[0], np.eye(3))
    directions = positions / np.linalg.norm(positions, axis=1, keepdims=True)
    assert np.allclose(rotations @ [0.0, 0.0, 1.0], directions)
    assert np.allclose(np.linalg.det(rotations), 1.0)
    assert np.allclose(rotations @ np.swapaxes(rotations, 1, 2), np.eye(3))
    # The smallest such rotation: its axis is perpendicular to both, its angle the one between them.
    assert np.allclose(angle_between(np.eye(3), rotations[1]), np.arccos(directions[1, 2]))
