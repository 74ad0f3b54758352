"""Rotation conversions shared by every part: matrices, quaternions (w, x, y, z), 6D, axis-angle.

Arrays carry any leading batch shape. Quaternions are scalar-first, as in FBX/glTF-minded code here.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def matrix_to_quaternion(matrices: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (w, x, y, z), w >= 0."""
    shape = matrices.shape[:-2]
    xyzw = Rotation.from_matrix(matrices.reshape(-1, 3, 3)).as_quat()
    wxyz = np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1)
    wxyz *= np.where(wxyz[:, :1] < 0, -1.0, 1.0)
    return wxyz.reshape(shape + (4,))


def quaternion_to_matrix(quaternions: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z), normalised here -> (..., 3, 3) rotation matrices."""
    shape = quaternions.shape[:-1]
    flat = quaternions.reshape(-1, 4)
    xyzw = np.concatenate([flat[:, 1:], flat[:, :1]], axis=1)
    return Rotation.from_quat(xyzw).as_matrix().reshape(shape + (3, 3))


def continuous_quaternions(quaternions: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 (time) so that consecutive quaternions lie in the same hemisphere."""
    result = quaternions.copy()
    for frame in range(1, result.shape[0]):
        dots = np.sum(result[frame] * result[frame - 1], axis=-1, keepdims=True)
        result[frame] *= np.where(dots < 0, -1.0, 1.0)
    return result


def matrix_to_6d(matrices: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 6): the first two columns, as in Zhou et al.'s continuous representation."""
    return np.concatenate([matrices[..., :, 0], matrices[..., :, 1]], axis=-1)


def sixd_to_matrix(sixd: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt, so any 6D vector gives a proper rotation."""
    first = sixd[..., 0:3]
    second = sixd[..., 3:6]
    x_axis = first / np.linalg.norm(first, axis=-1, keepdims=True)
    second = second - np.sum(x_axis * second, axis=-1, keepdims=True) * x_axis
    y_axis = second / np.linalg.norm(second, axis=-1, keepdims=True)
    z_axis = np.cross(x_axis, y_axis)
    return np.stack([x_axis, y_axis, z_axis], axis=-1)


def matrix_to_axis_angle(matrices: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) rotation vectors (radians)."""
    shape = matrices.shape[:-2]
    return Rotation.from_matrix(matrices.reshape(-1, 3, 3)).as_rotvec().reshape(shape + (3,))


def axis_angle_to_matrix(vectors: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors (radians) -> (..., 3, 3)."""
    shape = vectors.shape[:-1]
    return Rotation.from_rotvec(vectors.reshape(-1, 3)).as_matrix().reshape(shape + (3, 3))


def cross_matrix(vectors: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3) matrices M with M @ u == vectors x u (the skew-symmetric form)."""
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    zero = np.zeros_like(x)
    return np.stack(
        [np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2
    )


def orthonormalize(matrices: np.ndarray) -> np.ndarray:
    """The nearest proper rotation to each (..., 3, 3) matrix (SVD), e.g. after averaging."""
    u, _, vt = np.linalg.svd(matrices)
    determinant = np.sign(np.linalg.det(u @ vt))
    u[..., :, -1] *= determinant[..., None]
    return u @ vt


def angle_between(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Geodesic angle (radians) between rotation matrices, elementwise over the batch."""
    relative = np.swapaxes(first, -1, -2) @ second
    cosine = (np.trace(relative, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.arccos(np.clip(cosine, -1.0, 1.0))


def rotation_x(angle: float) -> np.ndarray:
    """A rotation of `angle` radians about X."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rotation_y(angle: float) -> np.ndarray:
    """A rotation of `angle` radians about Y."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
