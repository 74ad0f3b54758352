"""What the forearm and leg depth-flip repairs share: points on their camera rays, hinges, a Viterbi.

The image fixes a landmark's ray, not its depth: a limb's far end at a known distance from its near
end lies at one of the two points where the sphere about the near end meets the ray.
"""

from __future__ import annotations

import numpy as np

from mocapd.motion.ik import unit


def mirrored_on_ray(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N, 3) each point mirrored in depth about its centre along its own ray from the camera."""
    ray = unit(points)  # from the camera through each point
    # On the ray, the centre's sphere through the point is met at t and at 2 (ray . centre) - t.
    along = np.sum(ray * points, axis=-1)
    return ray * (2.0 * np.sum(ray * centres, axis=-1) - along)[:, None]


def on_ray_at(points: np.ndarray, centres: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((N, 2, 3), (N,)): the two points on each point's ray at `lengths` from its centre, nearer first,
    and how far the ray misses that sphere (0 where it meets it; there both are its closest point)."""
    ray = unit(points)  # from the camera through each point
    middle = np.sum(ray * centres, axis=-1)
    closest = np.linalg.norm(centres - ray * middle[:, None], axis=-1)
    half = np.sqrt(np.maximum(lengths**2 - closest**2, 0.0))
    solutions = ray[:, None] * np.stack([middle - half, middle + half], axis=1)[..., None]
    return solutions, np.maximum(closest - lengths, 0.0)


def limb_hypotheses(
    root: np.ndarray, middle: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A limb's four depth readings ((N, 4, 3) middles, (N, 4, 3) ends, (N, 4) how far an end's ray misses
    the lower bone's length (m)): as placed; the end mirrored about the middle; the middle mirrored about
    the root with the end at either point of its ray at the lower bone's length."""
    lower = np.linalg.norm(end - middle, axis=-1)
    mirrored_middle = mirrored_on_ray(middle, root)
    about_mirrored, missed = on_ray_at(end, mirrored_middle, lower)
    middles = np.stack([middle, middle, mirrored_middle, mirrored_middle], axis=1)
    ends = np.stack([end, mirrored_on_ray(end, middle), about_mirrored[:, 0], about_mirrored[:, 1]], axis=1)
    misses = np.stack([np.zeros_like(missed), np.zeros_like(missed), missed, missed], axis=1)
    return middles, ends, misses


def move_limb(
    positions: np.ndarray,
    world: np.ndarray,
    chosen: np.ndarray,
    readings: tuple[np.ndarray, np.ndarray],
    middle: int,
    end: int,
    end_parts: np.ndarray,
) -> np.ndarray:
    """Move, in place in both (N, 33, 3) landmark sets, the middle landmark and the parts that go with the
    end (hand, foot) to each frame's chosen reading ((N, H, 3) middles and ends, limb_hypotheses); the
    frames moved (chosen > 0). Where a landmark is missing nothing moves."""
    rows = np.arange(positions.shape[0])
    middles, ends = readings
    middle_shift = np.nan_to_num(middles[rows, chosen] - positions[:, middle])
    end_shift = np.nan_to_num(ends[rows, chosen] - positions[:, end])
    flip = chosen > 0
    if flip.any():
        for values in (positions, world):
            values[flip, middle] += middle_shift[flip]
            values[np.ix_(flip, end_parts)] += end_shift[flip, None]
    return flip


def misalignments(first: np.ndarray, middle: np.ndarray, last: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """(N,) how far a hinge bends off its axis: |v| - v . h, where v = upper x lower (unit vectors; its
    length the sine of the flexion) and h the forward hinge axis (N, 3). 0 for a straight limb or one
    bent forwards about the axis; 2 sin(flexion) bent backwards."""
    axis = unit(axis)
    upper, lower = middle - first, last - middle
    scale = np.maximum(np.linalg.norm(upper, axis=-1) * np.linalg.norm(lower, axis=-1), 1e-9)
    bend = np.cross(upper, lower) / scale[:, None]
    return np.linalg.norm(bend, axis=-1) - np.sum(bend * axis, axis=-1)


def viterbi(unary: np.ndarray, transition: np.ndarray) -> np.ndarray:
    """(N,) the cheapest sequence of hypotheses: unary (N, H) costs, transition (N - 1, H, H) (from, to)."""
    frames, count = unary.shape
    total = unary[0].copy()
    back = np.zeros((frames, count), dtype=np.int64)
    for frame in range(1, frames):
        candidates = total[:, None] + transition[frame - 1]
        back[frame] = np.argmin(candidates, axis=0)
        total = candidates[back[frame], np.arange(count)] + unary[frame]
    chosen = np.zeros(frames, dtype=np.int64)
    chosen[-1] = int(np.argmin(total))
    for frame in range(frames - 1, 0, -1):
        chosen[frame - 1] = back[frame, chosen[frame]]
    return chosen


def steady_viterbi(unary: np.ndarray, parts: np.ndarray, scale_m: float) -> np.ndarray:
    """(N,) the cheapest sequence of hypotheses: unary (N, H) costs and the parts each moves (N, H, P, 3),
    their acceleration charged per scale_m squared only where it exceeds the as-placed path's (H = 0):
    a hypothesis is never chosen for being steadier than the model's noise. A Viterbi over pairs of rows."""
    frames, count = unary.shape
    if frames < 3:
        return np.zeros(frames, dtype=np.int64)
    before, now, after = parts[:-2, :, None, None], parts[1:-1, None, :, None], parts[2:, None, None, :]
    acceleration = np.linalg.norm(after - 2.0 * now + before, axis=-1)  # (N-2, a, b, c, P)
    cost = np.nan_to_num(np.sum((acceleration / scale_m) ** 2, axis=-1))
    cost = np.maximum(cost - cost[:, :1, :1, :1], 0.0)
    transition = np.full((frames - 2, count, count, count, count), np.inf)  # (a, b) -> (b', c)
    for middle in range(count):
        transition[:, :, middle, middle, :] = cost[:, :, middle, :]
    pair_unary = np.repeat(unary[1:, None, :], count, axis=1)  # (N-1, a, b): row n's b
    pair_unary[0] += unary[0, :, None]
    pairs = viterbi(
        pair_unary.reshape(frames - 1, count * count),
        transition.reshape(frames - 2, count * count, count * count),
    )
    return np.concatenate([[pairs[0] // count], pairs % count])
