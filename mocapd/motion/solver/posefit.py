"""The pose fit: every frame's landmarks placed in the camera frame at once, by Gauss-Newton.

Unknowns: the camera-frame 3D position of each fitted landmark in each frame. What they must explain:
- the 2D image landmarks through the camera (the model's most accurate output), per confidence;
- the model's metric world landmarks relative to the hips, as the prior for depth (weak across the
  image, where the 2D landmarks rule; stronger in depth, which the image does not show);
- the one skeleton of the clip (bones.segment_lengths), so that limbs neither stretch nor shrink;
- a temporal term on acceleration, so that the motion is smooth where the evidence is weak, while
  a strong 2D measurement still wins over it where the actor moves fast.
The Jacobian is sparse (each residual touches one to three landmarks of one to three frames), so
the normal equations are a banded sparse matrix solved directly; a clip's cost grows with its length.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from mocapd.motion.landmarks import MEDIAPIPE_INDEX, MEDIAPIPE_SOURCE
from mocapd.motion.solver import bones, contacts, timeline
from mocapd.motion.solver.camera import Pinhole

# The landmarks fitted: those the IK reads (hips to toes, shoulders to fingers, nose and ears).
FITTED = np.array(sorted(MEDIAPIPE_INDEX[name] for name in MEDIAPIPE_SOURCE.values()))
FIT_COUNT = len(FITTED)
FIT_POSITION = {int(landmark): position for position, landmark in enumerate(FITTED)}
HIPS = [FIT_POSITION[MEDIAPIPE_INDEX["left_hip"]], FIT_POSITION[MEDIAPIPE_INDEX["right_hip"]]]
# Noise of a confident 2D landmark (pixels at 1080p-class video; scaled with the person's size).
IMAGE_SIGMA_PX = 4.0
# Beyond this many sigmas a 2D residual counts less and less (Cauchy weights), so that a landmark
# the model misplaced badly does not drag the body.
ROBUST_SIGMAS = 3.0
# How far the metric world landmarks may be off, relative to the hips: across the image and in depth.
PRIOR_SIGMA_ACROSS_M = 0.15
PRIOR_SIGMA_DEPTH_M = 0.06
# The world landmarks of an unseen part are still the model's guess: they keep this much weight.
PRIOR_CONFIDENCE_FLOOR = 0.3
# Bone lengths hold to about this (the landmarks are not on the bones; soft tissue moves).
SEGMENT_SIGMA_M = 0.01
# Acceleration a limb reaches in normal motion (m/s^2): the temporal term's scale. Sprinting hands
# reach more; the 2D evidence carries them there.
ACCELERATION_M_S2 = 5.0
# Knees are hinges: the shank turns backwards from the thigh, about the hip line (left - right hip).
# A knee (or elbow, ARMS) bent the other way is pushed back to straight with this scale (the sine of
# its angle).
HINGE_SIGMA = 0.02
# A knee bent backwards past this (the sine of about 3 degrees) after the planned steps gets more steps.
KNEE_TOLERANCE = 0.05
HINGE_ITERATIONS = 2
LEGS = tuple(
    tuple(FIT_POSITION[MEDIAPIPE_INDEX[f"{side}_{name}"]] for name in ("hip", "knee", "ankle"))
    for side in ("left", "right")
)
# Elbows too, about the shoulder line: a forearm bends forwards of a hanging upper arm, the other way
# round from a shank (flexion is the negative sine about left - right shoulder).
SHOULDERS = [FIT_POSITION[MEDIAPIPE_INDEX["left_shoulder"]], FIT_POSITION[MEDIAPIPE_INDEX["right_shoulder"]]]
ARMS = tuple(
    tuple(FIT_POSITION[MEDIAPIPE_INDEX[f"{side}_{name}"]] for name in ("shoulder", "elbow", "wrist"))
    for side in ("left", "right")
)
# (the joints' first, middle and last landmark, the pair whose difference is the hinge's side axis,
# the sign of a forward bend about it)
HINGES = tuple((leg, HIPS, 1.0) for leg in LEGS) + tuple((arm, SHOULDERS, -1.0) for arm in ARMS)
# A resting foot's heel or toe stays on the floor and does not slide along it (metres).
FLOOR_SIGMA_M = 0.01
SLIDE_SIGMA_M = 0.003
# A resting foot's other end within this of the floor is down as well (the foot is flat).
FLAT_M = 0.03
SOLE = np.array([[FIT_POSITION[int(landmark)] for landmark in side] for side in contacts.SOLE_LANDMARKS])
ITERATIONS = 3
DAMPING = 1e-6
CG_TOLERANCE = 1e-5
CG_ITERATIONS = 30


def image_sigma(image: np.ndarray) -> float:
    """The noise of a confident 2D landmark (px) of a person seen at image (N, L, 2): it grows with the
    person's size in the image (the model works on a person crop)."""
    height = np.nanmedian(np.ptp(np.nan_to_num(image[..., 1]), axis=1)) if image.shape[0] else 0.0
    return IMAGE_SIGMA_PX * max(float(height) / 1000.0, 0.25)


def _rows(count: int, width: int, start: int) -> np.ndarray:
    return start + np.arange(count * width).reshape(count, width)


class Problem:
    """Residuals and their Jacobian for one clip; positions are (N, FIT_COUNT, 3)."""

    def __init__(
        self,
        image: np.ndarray,
        world: np.ndarray,
        confidence: np.ndarray,
        camera: Pinhole,
        times: np.ndarray,
        lengths: np.ndarray,
        ground: contacts.Contacts | None = None,
        up: np.ndarray | None = None,
    ) -> None:
        self.frames = image.shape[0]
        self.ground = ground if ground is not None and ground.floor is not None and up is not None else None
        self.up = up
        self.image = np.nan_to_num(image[:, FITTED])
        self.confidence = np.clip(np.nan_to_num(confidence[:, FITTED]), 0.0, 1.0)
        world = world[:, FITTED]
        self.prior = np.nan_to_num(world - world[:, HIPS].mean(axis=1, keepdims=True))
        self.camera = camera
        self.lengths = lengths
        self.image_sigma = image_sigma(self.image)
        # Per inner row, the weights of its neighbours: the acceleration over the real time steps.
        self.acceleration_weights = timeline.second_difference(times) / ACCELERATION_M_S2
        self.adjacent = timeline.adjacent(times)
        self.prior_weight = np.sqrt(np.maximum(self.confidence, PRIOR_CONFIDENCE_FLOOR))
        pairs = np.array([[FIT_POSITION[int(a)], FIT_POSITION[int(b)]] for a, b in bones.SEGMENTS])
        self.pairs = pairs
        self.unknowns = self.frames * FIT_COUNT * 3

    def index(self, frames: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """(..., 3) unknown indices of (frame, landmark) pairs."""
        return ((frames * FIT_COUNT + landmarks) * 3)[..., None] + np.arange(3)

    def linearise(self, positions: np.ndarray) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
        """(J, r) at `positions`, residuals already weighted."""
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        residuals: list[np.ndarray] = []
        start = 0
        frames = np.arange(self.frames)[:, None]
        landmarks = np.arange(FIT_COUNT)[None, :]
        unknown = self.index(
            np.broadcast_to(frames, (self.frames, FIT_COUNT)),
            np.broadcast_to(landmarks, (self.frames, FIT_COUNT)),
        )

        # Reprojection: 2 rows per landmark and frame.
        focal = self.camera.focal
        x, y = positions[..., 0], positions[..., 1]
        depth = np.maximum(positions[..., 2], 0.05)
        projected = np.stack([x / depth, y / depth], axis=-1) * focal + self.camera.centre
        error = (projected - self.image) / self.image_sigma
        robust = 1.0 / np.sqrt(1.0 + (np.linalg.norm(error, axis=-1) / ROBUST_SIGMAS) ** 2)
        scale = np.sqrt(self.confidence) * robust / self.image_sigma  # (N, L)
        block = _rows(self.frames * FIT_COUNT, 2, start).reshape(self.frames, FIT_COUNT, 2)
        for axis, value in ((0, x), (1, y)):
            rows += [block[..., axis]] * 2
            cols += [unknown[..., axis], unknown[..., 2]]
            vals += [scale * focal / depth, -scale * focal * value / depth**2]
        residuals.append((error * (scale * self.image_sigma)[..., None]).reshape(-1))
        start += 2 * self.frames * FIT_COUNT

        # Depth prior: each landmark relative to the hip centre, per axis.
        sigma = np.array([PRIOR_SIGMA_ACROSS_M, PRIOR_SIGMA_ACROSS_M, PRIOR_SIGMA_DEPTH_M])
        relative = positions - positions[:, HIPS].mean(axis=1, keepdims=True)
        weight = self.prior_weight[..., None] / sigma  # (N, L, 3)
        block = _rows(self.frames * FIT_COUNT, 3, start).reshape(self.frames, FIT_COUNT, 3)
        rows.append(block)
        cols.append(unknown)
        vals.append(weight)
        for hip in HIPS:
            rows.append(block)
            cols.append(np.broadcast_to(unknown[:, hip : hip + 1], block.shape))
            vals.append(-0.5 * weight)
        residuals.append((weight * (relative - self.prior)).reshape(-1))
        start += 3 * self.frames * FIT_COUNT

        # Bone lengths: one row per segment and frame.
        first, second = self.pairs[:, 0], self.pairs[:, 1]
        vector = positions[:, first] - positions[:, second]  # (N, S, 3)
        length = np.maximum(np.linalg.norm(vector, axis=-1), 1e-6)
        direction = vector / length[..., None] / SEGMENT_SIGMA_M
        block = start + np.arange(self.frames * len(first)).reshape(self.frames, len(first))
        for ends, sign in ((first, 1.0), (second, -1.0)):
            rows.append(np.broadcast_to(block[..., None], direction.shape))
            cols.append(unknown[:, ends])
            vals.append(sign * direction)
        residuals.append(((length - self.lengths) / SEGMENT_SIGMA_M).reshape(-1))
        start += self.frames * len(first)

        # Acceleration: one row per landmark, axis and inner frame.
        if self.frames >= 3:
            inner = self.frames - 2
            block = _rows(inner * FIT_COUNT, 3, start).reshape(inner, FIT_COUNT, 3)
            weights = self.acceleration_weights
            for offset in range(3):
                rows.append(block)
                cols.append(unknown[offset : offset + inner])
                vals.append(np.broadcast_to(weights[:, offset, None, None], block.shape))
            acceleration = sum(weights[:, k, None, None] * positions[k : k + inner] for k in range(3))
            residuals.append(np.asarray(acceleration).reshape(-1))
            start += 3 * inner * FIT_COUNT

        if self.ground is not None:
            start = ground_rows(self, positions, unknown, start, rows, cols, vals, residuals)

        # Knee and elbow hinges: a residual only where one is bent backwards (an inequality, active set).
        for (first_end, middle, last_end), (left, right), sign in HINGES:
            lateral, thigh, shank, scale, bend = hinge_bend(
                positions, first_end, middle, last_end, left, right, sign
            )
            active = np.flatnonzero(bend < 0.0)
            if not active.size:
                continue
            by_thigh = np.cross(shank[active], lateral[active]) * (scale[active] / HINGE_SIGMA)[:, None]
            by_shank = np.cross(lateral[active], thigh[active]) * (scale[active] / HINGE_SIGMA)[:, None]
            block = start + np.arange(active.size)
            for landmark, derivative in (
                (first_end, -by_thigh),
                (middle, by_thigh - by_shank),
                (last_end, by_shank),
            ):
                rows.append(np.broadcast_to(block[:, None], (active.size, 3)))
                cols.append(unknown[active, landmark])
                vals.append(derivative)
            residuals.append(bend[active] / HINGE_SIGMA)
            start += active.size

        matrix = scipy.sparse.csr_matrix(
            (
                np.concatenate([np.ravel(value) for value in vals]),
                (
                    np.concatenate([np.ravel(row) for row in rows]),
                    np.concatenate([np.ravel(col) for col in cols]),
                ),
            ),
            shape=(start, self.unknowns),
        )
        return matrix, np.concatenate(residuals)


def hinge_bend(
    positions: np.ndarray, first_end: int, middle: int, last_end: int, left: int, right: int, sign: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(signed side axis, upper and lower segment (N, 3), 1 / their lengths' product (N,), bend (N,)) of
    one hinge: the bend is the sine of its angle about the axis, > 0 bent forwards."""
    lateral = positions[:, left] - positions[:, right]
    lateral /= np.maximum(np.linalg.norm(lateral, axis=-1, keepdims=True), 1e-6)
    lateral *= sign
    thigh = positions[:, middle] - positions[:, first_end]
    shank = positions[:, last_end] - positions[:, middle]
    scale = 1.0 / np.maximum(np.linalg.norm(thigh, axis=-1) * np.linalg.norm(shank, axis=-1), 1e-6)
    bend = np.sum(np.cross(thigh, shank) * lateral, axis=-1) * scale
    return lateral, thigh, shank, scale, bend


def knees_bent_backwards(positions: np.ndarray) -> bool:
    """Whether a knee of the fitted landmarks (N, FIT_COUNT, 3) bends backwards past KNEE_TOLERANCE."""
    for (first_end, middle, last_end), (left, right), sign in HINGES[: len(LEGS)]:
        bend = hinge_bend(positions, first_end, middle, last_end, left, right, sign)[4]
        if np.any(bend < -KNEE_TOLERANCE):
            return True
    return False


def ground_rows(
    problem: Problem,
    positions: np.ndarray,
    unknown: np.ndarray,
    start: int,
    rows: list[np.ndarray],
    cols: list[np.ndarray],
    vals: list[np.ndarray],
    residuals: list[np.ndarray],
) -> int:
    """Rows for the floor: resting heels/toes on it and still along it; no heel or toe below it."""
    ground, up = problem.ground, problem.up
    assert ground is not None and ground.floor is not None and up is not None
    floor = ground.floor
    axes = np.stack([np.cross(up, [1.0, 0.0, 0.0]), np.zeros(3)])
    axes[0] /= np.linalg.norm(axes[0])
    axes[1] = np.cross(up, axes[0])
    heights = positions[:, SOLE] @ up - floor  # (N, 2, 2)
    frames, sides, points = np.nonzero(heights < 0.0)
    resting_frames, resting_sides = np.nonzero(ground.resting)
    resting_points = ground.point[resting_frames, resting_sides]
    # On the floor: resting points, and any point found below it.
    on_frames = np.concatenate([resting_frames, frames])
    on_landmarks = SOLE[np.concatenate([resting_sides, sides]), np.concatenate([resting_points, points])]
    if on_frames.size:
        block = start + np.arange(on_frames.size)
        rows.append(np.broadcast_to(block[:, None], (on_frames.size, 3)))
        cols.append(unknown[on_frames, on_landmarks])
        vals.append(np.broadcast_to(up / FLOOR_SIGMA_M, (on_frames.size, 3)))
        residuals.append((positions[on_frames, on_landmarks] @ up - floor) / FLOOR_SIGMA_M)
        start += on_frames.size
    # Supported: in frames with no resting foot, the lowest heel or toe drawn down towards the floor
    # (a walker always stands on one foot; along its ray this is the depth the image leaves open).
    free, choice = contacts.unsupported(heights, ground.resting)
    if free.size and contacts.SUPPORT_SIGMA_M > 0:
        landmark = SOLE.reshape(4)[choice]
        block = start + np.arange(free.size)
        rows.append(np.broadcast_to(block[:, None], (free.size, 3)))
        cols.append(unknown[free, landmark])
        vals.append(np.broadcast_to(up / contacts.SUPPORT_SIGMA_M, (free.size, 3)))
        residuals.append((positions[free, landmark] @ up - floor) / contacts.SUPPORT_SIGMA_M)
        start += free.size
    # Still: the resting point of each side between two resting frames.
    for side in range(2):
        # Neighbouring frames only: across a gap the foot may have stepped unseen.
        pairs = np.flatnonzero(ground.resting[:-1, side] & ground.resting[1:, side] & problem.adjacent)
        if not pairs.size:
            continue
        point = ground.point[pairs, side]
        # A flat foot rests on both ends: the other one too where it is as low in both frames.
        other = 1 - point
        flat = (heights[pairs, side, other] < FLAT_M) & (heights[pairs + 1, side, other] < FLAT_M)
        pairs = np.concatenate([pairs, pairs[flat]])
        landmark = SOLE[side, np.concatenate([point, other[flat]])]
        step = positions[pairs + 1, landmark] - positions[pairs, landmark]
        for axis in axes:
            block = start + np.arange(pairs.size)
            for frame_rows, sign in ((pairs + 1, 1.0), (pairs, -1.0)):
                rows.append(np.broadcast_to(block[:, None], (pairs.size, 3)))
                cols.append(unknown[frame_rows, landmark])
                vals.append(np.broadcast_to(sign * axis / SLIDE_SIGMA_M, (pairs.size, 3)))
            residuals.append(step @ axis / SLIDE_SIGMA_M)
            start += pairs.size
    return start


def frame_blocks(normal: scipy.sparse.csr_matrix, frames: int) -> np.ndarray:
    """(N, U, U) the normal matrix's diagonal blocks, one per frame (U unknowns per frame)."""
    size = FIT_COUNT * 3
    coo = normal.tocoo()
    inside = coo.row // size == coo.col // size
    blocks = np.zeros((frames, size, size))
    rows, cols = coo.row[inside], coo.col[inside]
    blocks[rows // size, rows % size, cols % size] = coo.data[inside]
    return blocks


def solve_normal(normal: scipy.sparse.csr_matrix, gradient: np.ndarray, frames: int) -> np.ndarray:
    """The Gauss-Newton step: conjugate gradients preconditioned by each frame's own block.

    Within a frame the landmarks are tightly coupled (bones, the prior's hip centre); between frames
    only the temporal term couples them, so the per-frame inverse is a close approximation and a few
    tens of iterations converge. A direct sparse solve costs several times more (fill-in)."""
    size = FIT_COUNT * 3
    inverse = np.linalg.inv(frame_blocks(normal, frames))

    def precondition(vector: np.ndarray) -> np.ndarray:
        return np.matmul(inverse, vector.reshape(frames, size, 1)).reshape(-1)

    operator = scipy.sparse.linalg.LinearOperator(normal.shape, matvec=precondition)
    step, _ = scipy.sparse.linalg.cg(normal, gradient, M=operator, rtol=CG_TOLERANCE, maxiter=CG_ITERATIONS)
    return np.asarray(step)


def fit(
    image: np.ndarray,
    world: np.ndarray,
    confidence: np.ndarray,
    camera: Pinhole,
    times: np.ndarray,
    lengths: np.ndarray,
    start: np.ndarray,
    iterations: int | None = None,
    ground: contacts.Contacts | None = None,
    up: np.ndarray | None = None,
) -> np.ndarray:
    """(N, 33, 3) camera-frame landmarks fitted from `start` (the world landmarks placed per frame);
    landmarks that are not fitted move with the hips. With `ground` (contacts of the landmarks) and
    `up`, resting feet are held on the floor and still, and no heel or toe goes below it."""
    problem = Problem(image, world, confidence, camera, times, lengths, ground, up)
    positions = np.array(start[:, FITTED], dtype=np.float64)
    planned = ITERATIONS if iterations is None else iterations
    done = 0
    # The hinges are an active set: a step that bends a knee backwards (the floor's pull on a resting
    # foot: MultiPerson cam03 person 1's knee 31 degrees) is only resisted at the next linearisation,
    # so the fit goes on while one is left bent so, up to HINGE_ITERATIONS more steps.
    while done < planned or (done < planned + HINGE_ITERATIONS and knees_bent_backwards(positions)):
        jacobian, residual = problem.linearise(positions)
        normal = (jacobian.T @ jacobian).tocsr()
        normal = normal + DAMPING * scipy.sparse.identity(problem.unknowns, format="csr")
        step = solve_normal(normal, -(jacobian.T @ residual), problem.frames)
        positions = positions + step.reshape(positions.shape)
        positions[..., 2] = np.maximum(positions[..., 2], 0.1)
        done += 1
    result = np.array(start, dtype=np.float64)
    shift = positions[:, HIPS].mean(axis=1) - start[:, FITTED[HIPS]].mean(axis=1)
    result += shift[:, None]
    result[:, FITTED] = positions
    return result


def reprojection_px(
    positions: np.ndarray, image: np.ndarray, confidence: np.ndarray, camera: Pinhole
) -> float | None:
    """Mean pixel distance of the confidently seen fitted landmarks from their 2D measurement."""
    seen = np.nan_to_num(confidence[:, FITTED]) >= 0.5
    if not seen.any():
        return None
    error = np.linalg.norm(camera.project(positions[:, FITTED]) - image[:, FITTED], axis=-1)
    return float(np.mean(error[seen]))
