"""Position fitting: the moment-built normal equations, convergence, what it leaves alone."""

from __future__ import annotations

import numpy as np

from mocapd import skeleton
from mocapd.motion import fitting
from mocapd.rotations import angle_between, axis_angle_to_matrix

OFFSETS = skeleton.STANDARD_OFFSETS


def random_pose(frames: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(local rotations (N, 24, 3, 3), root (N, 3)) turned by up to about `spread` radians per joint."""
    rng = np.random.default_rng(seed)
    local = axis_angle_to_matrix(rng.normal(scale=spread, size=(frames, skeleton.NUM_JOINTS, 3)))
    return local, rng.normal(scale=0.5, size=(frames, 3))


def test_normal_equations_match_a_numerical_jacobian() -> None:
    local, root = random_pose(2, 0.6, seed=1)
    rng = np.random.default_rng(2)
    goal = skeleton.positions_from_local(local, OFFSETS, root) + rng.normal(scale=0.05, size=(2, 24, 3))
    weights = rng.uniform(0.2, 1.0, size=(2, 24))
    positions = skeleton.positions_from_local(local, OFFSETS, root)
    matrix, gradient = fitting.normal_equations(positions, positions - goal, weights)
    global_rotations = skeleton.local_to_global(local)
    step = 1e-6
    columns = []
    for column in range(fitting.UNKNOWNS):
        delta = np.zeros((2, fitting.UNKNOWNS))
        delta[:, column] = step
        turns = axis_angle_to_matrix(delta[:, :-3].reshape(2, -1, 3))
        parents = np.where(
            (fitting.PARENTS[fitting.TURNED] >= 0)[:, None, None],
            global_rotations[:, np.maximum(fitting.PARENTS[fitting.TURNED], 0)],
            np.eye(3),
        )
        moved = local.copy()
        moved[:, fitting.TURNED] = np.swapaxes(parents, -1, -2) @ turns @ parents @ local[:, fitting.TURNED]
        shifted = skeleton.positions_from_local(moved, OFFSETS, root + delta[:, -3:])
        columns.append(((shifted - positions) * weights[..., None]).reshape(2, -1) / step)
    jacobian = np.stack(columns, axis=-1)
    residual = ((positions - goal) * weights[..., None]).reshape(2, -1)
    assert np.allclose(matrix, np.swapaxes(jacobian, 1, 2) @ jacobian, atol=1e-4)
    assert np.allclose(gradient, np.einsum("nri,nr->ni", jacobian, residual), atol=1e-6)


def test_reachable_targets_are_reached() -> None:
    truth, root = random_pose(40, 0.5, seed=3)
    targets = skeleton.positions_from_local(truth, OFFSETS, root)
    start = axis_angle_to_matrix(np.random.default_rng(4).normal(scale=0.1, size=(40, 24, 3))) @ truth
    before = np.linalg.norm(skeleton.positions_from_local(start, OFFSETS, root + 0.05) - targets, axis=-1)
    local, fitted_root = fitting.fit(start, OFFSETS, root + 0.05, targets, np.ones((40, 24)), iterations=10)
    after = np.linalg.norm(skeleton.positions_from_local(local, OFFSETS, fitted_root) - targets, axis=-1)
    assert before.mean() > 0.03
    assert after.mean() < 1e-4
    assert np.allclose(np.linalg.det(local), 1.0)


def test_rotations_no_target_constrains_keep_their_value() -> None:
    truth, root = random_pose(10, 0.4, seed=5)
    targets = skeleton.positions_from_local(truth, OFFSETS, root) + 0.02
    start = truth.copy()
    local, _ = fitting.fit(start, OFFSETS, root, targets, np.ones((10, 24)))
    # Turning a leaf (hands, feet, head) moves no joint: the fit has no reason to touch it.
    leaves = [index for index in range(skeleton.NUM_JOINTS) if index not in fitting.TURNED]
    assert np.allclose(local[:, leaves], start[:, leaves])
    assert not np.allclose(local[:, fitting.TURNED], start[:, fitting.TURNED])


def test_unweighted_and_missing_targets_do_not_pull() -> None:
    local, root = random_pose(6, 0.3, seed=6)
    positions = skeleton.positions_from_local(local, OFFSETS, root)
    targets = positions.copy()
    left_wrist = skeleton.JOINT_INDEX["left_wrist"]
    targets[:, left_wrist] += 0.3  # far off, but unweighted ...
    weights = np.ones((6, 24))
    weights[:, left_wrist] = 0.0
    targets[:, skeleton.JOINT_INDEX["right_ankle"]] = np.nan  # ... or not measured
    fitted, fitted_root = fitting.fit(local, OFFSETS, root, targets, weights)
    assert np.allclose(skeleton.positions_from_local(fitted, OFFSETS, fitted_root), positions, atol=1e-9)


def test_frames_without_a_finite_start_are_left_alone_and_chunks_do_not_mix() -> None:
    frames = fitting.CHUNK_FRAMES + 20
    truth, root = random_pose(frames, 0.3, seed=7)
    targets = skeleton.positions_from_local(truth, OFFSETS, root)
    start = axis_angle_to_matrix(np.random.default_rng(8).normal(scale=0.05, size=(frames, 24, 3))) @ truth
    start[5] = np.nan
    weights = np.ones((frames, 24))
    local, fitted_root = fitting.fit(start, OFFSETS, root, targets, weights)
    assert np.isnan(local[5]).all()
    tail, tail_root = fitting.fit(start[-20:], OFFSETS, root[-20:], targets[-20:], weights[-20:])
    assert np.allclose(local[-20:], tail) and np.allclose(fitted_root[-20:], tail_root)
    assert np.degrees(angle_between(local[6:], truth[6:])).max() < 20.0
