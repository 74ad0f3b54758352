"""Rotation helpers shared by every part (the ones that hold a fact of their own)."""

from __future__ import annotations

import numpy as np

from mocapd.rotations import axis_angle_to_matrix, cross_matrix


def test_cross_matrix_is_the_cross_product_over_any_batch() -> None:
    rng = np.random.default_rng(0)
    vectors, others = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 5, 3))
    assert np.allclose(cross_matrix(vectors) @ others[..., None], np.cross(vectors, others)[..., None])
    assert np.allclose(cross_matrix(vectors), -np.swapaxes(cross_matrix(vectors), -1, -2))


def test_cross_matrix_is_the_derivative_of_a_small_turn() -> None:
    turn = np.array([0.3, -0.2, 0.5]) * 1e-6
    assert np.allclose(axis_angle_to_matrix(turn) - np.eye(3), cross_matrix(turn), atol=1e-12)
