"""Foot contacts and foot locking: the root is moved so a planted foot stays put and no foot goes below y = 0.

Heights are the soles' (skeleton.sole_points: the heel end and toe end lowered by their rest height
above the sole), as the world's floor and the solver's contacts measure them, so that one floor holds.

Plain numpy over the skeleton's forward kinematics, run in the export step before any file is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocapd import skeleton

SIDES = ("left", "right")
# Each foot is tracked by two points: the heel end (ankle joint) and the toe end (foot joint).
FOOT_POINTS = {
    side: (skeleton.JOINT_INDEX[f"{side}_ankle"], skeleton.JOINT_INDEX[f"{side}_foot"]) for side in SIDES
}
# A foot is in contact when its lower point is this close to the floor and its slower point this slow.
CONTACT_HEIGHT_M = 0.06
CONTACT_SPEED_M_S = 0.5
# Contacts and gaps shorter than this are noise.
MIN_RUN_S = 0.1
# The lock fades in and out over this long on each side of a contact, so the root does not pop.
BLEND_S = 0.067
# The corrected root's steps are averaged over this long on each side of a frame: a planted foot's
# sudden slide, cancelled in one frame, jerked the whole body. The root's own jitter is cancelled
# before the average (a foot's step carries it), so it still goes. SinglePerson cam02 (FBX): accel
# 12.0 -> 10.0 mm/frame^2, sliding 3.9 -> 4.7 mm/frame (0.05 s: 9.2 and 5.3; the reference's own
# sliding by that measure is 7.6).
CORRECTION_SMOOTH_S = 0.04
# The floor is this percentile of the lowest foot point over the clip (robust to a few bad frames).
FLOOR_PERCENTILE = 5.0


@dataclass
class FootLockResult:
    """The corrected root positions, the contacts found and figures for the report."""

    root_positions: np.ndarray  # (N, 3)
    contacts: np.ndarray  # (N, 2) bool, left and right
    floor_offset_m: float  # how far the estimated floor was from y = 0
    sliding_before_cm: float  # mean horizontal movement of a planted foot per contact frame
    sliding_after_cm: float
    below_floor_before: float  # share of frames with a foot point below y = 0
    below_floor_after: float


def foot_points(positions: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """(N, 2 sides, 2 points, 3) heel and toe positions of each foot: the joints, or with `offsets`
    the points of the sole under them (skeleton.sole_points)."""
    if offsets is not None:
        return skeleton.sole_points(positions, offsets)
    return np.stack([positions[:, list(FOOT_POINTS[side])] for side in SIDES], axis=1)


def runs(mask: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, end, value) of each run of equal values in a boolean series."""
    edges = [0] + [index for index in range(1, len(mask)) if mask[index] != mask[index - 1]] + [len(mask)]
    return [(start, end, bool(mask[start])) for start, end in zip(edges[:-1], edges[1:], strict=True)]


def clean_runs(mask: np.ndarray, min_frames: int) -> np.ndarray:
    """Fill inner gaps shorter than `min_frames` in a boolean series, then drop runs shorter than it."""
    result = mask.copy()
    for start, end, value in runs(result):
        if not value and start > 0 and end < len(result) and end - start < min_frames:
            result[start:end] = True
    for start, end, value in runs(result):
        if value and end - start < min_frames:
            result[start:end] = False
    return result


def slow_point_steps(points: np.ndarray) -> np.ndarray:
    """(N, 2 sides, 2) horizontal (x, z) step since the previous frame of each foot's slower point (0 on frame 0)."""
    displacement = points[1:, :, :, [0, 2]] - points[:-1, :, :, [0, 2]]  # (N-1, side, point, xz)
    distance = np.linalg.norm(displacement, axis=-1)
    slower = np.argmin(distance, axis=-1)  # (N-1, side)
    chosen = np.take_along_axis(displacement, slower[..., None, None], axis=2)[:, :, 0]
    steps = np.zeros((points.shape[0], 2, 2))
    steps[1:] = chosen
    return steps


def detect_contacts(points: np.ndarray, fps: float) -> np.ndarray:
    """(N, 2) contacts from the height of each foot's lower point and the speed of its slower point."""
    height = points[..., 1].min(axis=2)
    speed = np.zeros(height.shape)
    # Central differences over two frames: less sensitive to per-frame noise than a one-frame step.
    if points.shape[0] > 2:
        velocity = (points[2:] - points[:-2]) * fps / 2.0
        speed[1:-1] = np.linalg.norm(velocity, axis=-1).min(axis=2)
        speed[0], speed[-1] = speed[1], speed[-2]
    contacts = (height < CONTACT_HEIGHT_M) & (speed < CONTACT_SPEED_M_S)
    min_frames = max(1, round(MIN_RUN_S * fps))
    return np.stack([clean_runs(contacts[:, side], min_frames) for side in range(2)], axis=1)


def blend_frames(fps: float) -> int:
    """BLEND_S in frames at `fps`."""
    return max(1, round(BLEND_S * fps))


def blend_weights(contacts: np.ndarray, fps: float) -> np.ndarray:
    """(N, 2) lock weights 0..1: 1 inside a contact, fading to 0 over BLEND_S on each side."""
    half = blend_frames(fps)
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    padded = np.pad(contacts.astype(np.float64), ((half, half), (0, 0)), mode="edge")
    smoothed = np.stack([np.convolve(padded[:, side], kernel, mode="valid") for side in range(2)], axis=1)
    return np.maximum(smoothed, contacts.astype(np.float64))


def sliding_cm(points: np.ndarray, contacts: np.ndarray) -> float:
    """Mean horizontal movement (cm per frame) of a planted foot's slower point over the contact frames."""
    steps = np.linalg.norm(slow_point_steps(points), axis=-1)
    inside = contacts.copy()
    inside[0] = False  # frame 0 has no previous frame
    inside[1:] &= contacts[:-1]  # count movement between two contact frames only
    return float(steps[inside].mean() * 100.0) if inside.any() else 0.0


def below_floor_share(points: np.ndarray, tolerance_m: float = 1e-6) -> float:
    """Share of frames with a foot point below y = 0."""
    return float(np.mean(points[..., 1].min(axis=(1, 2)) < -tolerance_m))


def lift_above_floor(
    local_rotations: np.ndarray, offsets: np.ndarray, root_positions: np.ndarray
) -> np.ndarray:
    """Root positions raised, frame by frame, just enough that no sole is below y = 0."""
    points = foot_points(skeleton.positions_from_local(local_rotations, offsets, root_positions), offsets)
    lowest = points[..., 1].min(axis=(1, 2))
    result = root_positions.copy()
    result[:, 1] += np.maximum(0.0, -lowest)
    return result


def running_mean(values: np.ndarray, half: int) -> np.ndarray:
    """(N, ...) values averaged over 2 * half + 1 frames along the first axis (the ends repeated)."""
    if half < 1 or values.shape[0] < 2:
        return values
    window = 2 * half + 1
    padded = np.pad(values, [(half, half)] + [(0, 0)] * (values.ndim - 1), mode="edge")
    cumulative = np.cumsum(np.concatenate([np.zeros((1,) + values.shape[1:]), padded]), axis=0)
    return (cumulative[window:] - cumulative[:-window]) / window


def smooth_lift(deficit: np.ndarray, half: int) -> np.ndarray:
    """(N,) a lift at least `deficit` in every frame that rises and falls over 2 * half + 1 frames.

    The running mean of the running maximum (both 2 * half + 1 wide) is never below the deficit, and
    a lift of a few centimetres for one frame no longer jerks the whole body (SinglePerson cam02)."""
    if half < 1 or deficit.shape[0] < 2 or not deficit.any():
        return deficit
    padded = np.pad(deficit, half, mode="edge")
    highest = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1).max(axis=-1)
    return np.maximum(running_mean(highest, half), deficit)


def lock_feet(
    local_rotations: np.ndarray,
    offsets: np.ndarray,
    root_positions: np.ndarray,
    fps: float,
    floor: float | None = None,
) -> FootLockResult:
    """Ground the motion on y = 0 and move the root so that feet in contact neither slide nor float.

    floor: where the floor is (a track's world has it at y = 0); None: estimated from the soles."""
    points = foot_points(skeleton.positions_from_local(local_rotations, offsets, root_positions), offsets)
    below_before = below_floor_share(points)
    if floor is None:
        floor = float(np.percentile(points[..., 1].min(axis=(1, 2)), FLOOR_PERCENTILE))
    points = points - np.array([0.0, floor, 0.0])
    contacts = detect_contacts(points, fps)
    weights = blend_weights(contacts, fps)
    sliding_before = sliding_cm(points, contacts)

    # Horizontal: integrate the root's own steps minus the weighted steps of the planted feet, so the
    # correction is continuous and a fully planted foot does not move at all.
    steps = slow_point_steps(points)
    total = weights.sum(axis=1, keepdims=True)
    correction = (weights[..., None] * steps).sum(axis=1) / np.maximum(1.0, total)
    root_steps = np.diff(root_positions[:, [0, 2]], axis=0, prepend=root_positions[:1, [0, 2]])
    result = root_positions.copy()
    corrected = running_mean(root_steps - correction, max(0, round(CORRECTION_SMOOTH_S * fps)))
    result[:, [0, 2]] = root_positions[0, [0, 2]] + np.cumsum(corrected, axis=0)

    # Vertical: a planted foot's lower point goes onto the floor; smoothed so height noise does not
    # become root jitter.
    heights = points[..., 1].min(axis=2)
    vertical = -(weights * heights).sum(axis=1) / np.maximum(1.0, total[:, 0])
    half = blend_frames(fps)
    vertical = running_mean(vertical, half)
    result[:, 1] = root_positions[:, 1] - floor + vertical
    # No sole below the floor: lifted where needed, smoothly.
    lowest = foot_points(skeleton.positions_from_local(local_rotations, offsets, result), offsets)[..., 1]
    result[:, 1] += smooth_lift(np.maximum(0.0, -lowest.min(axis=(1, 2))), half)

    after = foot_points(skeleton.positions_from_local(local_rotations, offsets, result), offsets)
    return FootLockResult(
        root_positions=result,
        contacts=contacts,
        floor_offset_m=floor,
        sliding_before_cm=sliding_before,
        sliding_after_cm=sliding_cm(after, contacts),
        below_floor_before=below_before,
        below_floor_after=below_floor_share(after),
    )
