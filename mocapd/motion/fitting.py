"""Position fitting: joint rotations and root nudged so forward kinematics lands on the targets.

The analytic solve in ik.py matches each bone's direction exactly, so an actor whose measured bone
lengths wobble around the fixed rest lengths gets errors that add up along every limb (1-3 cm at the
ankles). A few damped Gauss-Newton steps over all frames at once spread that residual over the
chain instead. Each step turns a joint's subtree about the joint by a small world-frame rotation,
so rotations that no target constrains (a bone's twist with nothing below it) keep their value.
The normal equations are built from per-subtree moments of the weighted joint positions, so no
Jacobian is ever stored: memory and time grow with frames times joints, not joints squared.
"""

from __future__ import annotations

import numpy as np
import threadpoolctl

from mocapd import skeleton
from mocapd.rotations import axis_angle_to_matrix, cross_matrix

# Balancing_for_IK.trc round trip, mean error: analytic 16.5 mm; 3 steps 10.0, 5 steps 9.8, 10 steps
# 9.6. Each step costs about 0.16 ms per frame (2 cores).
ITERATIONS = 5
# Levenberg-Marquardt damping (m^2): small beside a limb's lever arm squared (~0.1 m^2), large
# enough to keep a near-singular step (a straight limb) from spinning a joint.
DAMPING = 1e-3
# Frames fitted together: each holds a dense (U, U) normal matrix, so a chunk bounds the memory.
CHUNK_FRAMES = 256

JOINTS = skeleton.NUM_JOINTS
PARENTS = np.array(skeleton.PARENTS)


def ancestry() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(turned joints, and the pairs (upper, lower) of them where upper is lower or one of its ancestors)."""
    has_children = np.zeros(JOINTS, dtype=bool)
    has_children[PARENTS[1:]] = True
    turned = np.flatnonzero(has_children)  # turning a leaf moves no joint
    upper, lower = [], []
    for column, joint in enumerate(turned):
        ancestor = int(joint)
        while ancestor >= 0:
            upper.append(int(np.flatnonzero(turned == ancestor)[0]))
            lower.append(column)
            ancestor = int(PARENTS[ancestor])
    return turned, np.array(upper), np.array(lower)


TURNED, UPPER, LOWER = ancestry()
UNKNOWNS = 3 * len(TURNED) + 3  # a small turn per joint with children, and the root's translation


def below_sums(values: np.ndarray) -> np.ndarray:
    """values (N, 24, ...) summed over each joint's strict subtree (its descendants, not itself)."""
    inclusive = values.copy()
    for joint in range(JOINTS - 1, 0, -1):  # parents come before their children in PARENTS
        inclusive[:, PARENTS[joint]] += inclusive[:, joint]
    return inclusive - values


def normal_equations(
    positions: np.ndarray, errors: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(J^T J (N, U, U), J^T r (N, U)) of the weighted position residuals for the small turns and the root shift."""
    frames = positions.shape[0]
    squared = weights**2
    # Moments of the weighted positions and errors over each joint's strict subtree.
    count = below_sums(squared)[:, TURNED]
    first = below_sums(squared[..., None] * positions)[:, TURNED]
    second = below_sums(squared[..., None, None] * positions[..., :, None] * positions[..., None, :])[
        :, TURNED
    ]
    error_sum = below_sums(squared[..., None] * errors)[:, TURNED]
    moment = below_sums(squared[..., None] * np.cross(positions, errors))[:, TURNED]
    pivot = positions[:, TURNED]
    matrix = np.zeros((frames, UNKNOWNS, UNKNOWNS))
    # Turn/turn blocks: sum over k below both of (a.b) I - b a^T, a = p_k - p_upper, b = p_k - p_lower.
    top, bottom = pivot[:, UPPER], pivot[:, LOWER]
    weight, centre, spread = count[:, LOWER], first[:, LOWER], second[:, LOWER]
    dot = (
        np.trace(spread, axis1=-2, axis2=-1)
        - np.sum((top + bottom) * centre, axis=-1)
        + weight * np.sum(top * bottom, axis=-1)
    )
    outer = (
        spread
        - bottom[..., :, None] * centre[..., None, :]
        - centre[..., :, None] * top[..., None, :]
        + weight[..., None, None] * bottom[..., :, None] * top[..., None, :]
    )
    blocks = dot[..., None, None] * np.eye(3) - outer
    view = matrix[:, : UNKNOWNS - 3, : UNKNOWNS - 3].reshape(frames, len(TURNED), 3, len(TURNED), 3)
    view[:, UPPER, :, LOWER, :] = blocks.transpose(1, 0, 2, 3)
    view[:, LOWER, :, UPPER, :] = np.swapaxes(blocks, -1, -2).transpose(1, 0, 2, 3)
    # Turn/shift blocks: [sum over k below j of (p_k - p_j)]x; shift/shift: the total weight.
    shift = cross_matrix(first - count[..., None] * pivot).reshape(frames, -1, 3)
    matrix[:, : UNKNOWNS - 3, UNKNOWNS - 3 :] = shift
    matrix[:, UNKNOWNS - 3 :, : UNKNOWNS - 3] = np.swapaxes(shift, 1, 2)
    matrix[:, UNKNOWNS - 3 :, UNKNOWNS - 3 :] = np.eye(3) * squared.sum(axis=1)[:, None, None]
    gradient = np.concatenate(
        [
            (moment - np.cross(pivot, error_sum)).reshape(frames, -1),
            np.sum(squared[..., None] * errors, axis=1),
        ],
        axis=1,
    )
    return matrix, gradient


def fit(
    local_rotations: np.ndarray,
    offsets: np.ndarray,
    root: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    iterations: int = ITERATIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """(local rotations (N, 24, 3, 3), root (N, 3)) moved towards `targets` (N, 24, 3) by weight (N, 24).

    Targets may be NaN (no pull); frames whose starting pose is not finite are returned unchanged.
    """
    local_rotations = np.array(local_rotations, dtype=np.float64)
    root = np.array(root, dtype=np.float64)
    weights = np.where(np.isfinite(targets).all(axis=-1), weights, 0.0)
    goal = np.nan_to_num(targets)
    usable = np.flatnonzero(np.isfinite(local_rotations).all(axis=(1, 2, 3)) & np.isfinite(root).all(axis=1))
    # One BLAS thread: the batched solve is thousands of (U, U) LAPACK calls, and OpenBLAS's threads
    # hand each one off; on a busy 2-core host that took the tracking step's fit of 600 frames from
    # 0.5 s to 13-16 s of CPU (60 s wall).
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, len(usable), CHUNK_FRAMES):
            chunk = usable[start : start + CHUNK_FRAMES]
            local_rotations[chunk], root[chunk] = fit_frames(
                local_rotations[chunk], offsets, root[chunk], goal[chunk], weights[chunk], iterations
            )
    return local_rotations, root


def fit_frames(
    local: np.ndarray,
    offsets: np.ndarray,
    root: np.ndarray,
    goal: np.ndarray,
    weights: np.ndarray,
    iterations: int,
) -> tuple[np.ndarray, np.ndarray]:
    """fit() on finite frames and targets."""
    frames = local.shape[0]
    for _ in range(iterations):
        global_rotations = skeleton.local_to_global(local)
        positions = skeleton.forward_kinematics(global_rotations, offsets, root)
        matrix, gradient = normal_equations(positions, positions - goal, weights)
        matrix += DAMPING * np.eye(UNKNOWNS)
        step = np.linalg.solve(matrix, -gradient[..., None])[..., 0]
        turns = axis_angle_to_matrix(step[:, :-3].reshape(frames, len(TURNED), 3))
        # A world-frame turn of joint j's subtree, written into j's local rotation: P^T W P L.
        parents = np.where(
            (PARENTS[TURNED] >= 0)[:, None, None],
            global_rotations[:, np.maximum(PARENTS[TURNED], 0)],
            np.eye(3),
        )
        local[:, TURNED] = np.swapaxes(parents, -1, -2) @ turns @ parents @ local[:, TURNED]
        root = root + step[:, -3:]
    return local, root
