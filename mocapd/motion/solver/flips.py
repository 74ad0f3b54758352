"""Left/right repair: where the pose model mirrors the body's labels, keep the labelling the clip supports.

MediaPipe sometimes swaps left and right for a few frames (it takes a back view for a front view, or
the legs for each other as they cross). Each frame has four hypotheses: as given, everything
swapped, the legs swapped, the arms swapped. The chosen sequence (Viterbi) is the one whose labelled
landmarks move least between neighbouring frames, in the image (where they are measured) and in
the metric 3D landmarks, with a cost for every frame not taken as given, so that only stretches the
neighbours contradict are relabelled.
"""

from __future__ import annotations

import numpy as np

from mocapd.motion.landmarks import MEDIAPIPE_INDEX, MEDIAPIPE_NAMES, NUM_MEDIAPIPE

LEG_PARTS = ("hip", "knee", "ankle", "heel", "foot_index")
ARM_PARTS = ("shoulder", "elbow", "wrist", "pinky", "index", "thumb")
# Cost of taking a frame against the model's labelling, in units of the per-frame motion cost: a
# swapped stretch is repaired when its two ends disagree with their neighbours by more than this
# times its length (a clean swap of a walking person costs tens of units at each end).
SWAP_COST = 0.5
# 3D motion is measured in metres, image motion in person heights: one body height ~ this many metres.
BODY_HEIGHT_M = 1.7
# Landmarks seen less confidently than this count for less in the motion cost (never zero, so that
# a frame's labelling is still chosen when everything is uncertain).
CONFIDENCE_FLOOR = 0.1


def permutation(parts: tuple[str, ...] | None) -> np.ndarray:
    """(33,) landmark order with the left and right landmarks of `parts` (None: every part) exchanged."""
    order = np.arange(NUM_MEDIAPIPE)
    for name in MEDIAPIPE_NAMES:
        if not name.startswith("left_"):
            continue
        part = name[5:]
        if parts is not None and part not in parts:
            continue
        left, right = MEDIAPIPE_INDEX[name], MEDIAPIPE_INDEX["right_" + part]
        order[left], order[right] = right, left
    return order


HYPOTHESES = np.stack([permutation(()), permutation(None), permutation(LEG_PARTS), permutation(ARM_PARTS)])
HYPOTHESIS_NAMES = ("as given", "all swapped", "legs swapped", "arms swapped")


def motion_costs(image: np.ndarray, world: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """(N-1, H, H) cost of hypothesis a at frame n followed by b at frame n+1."""
    height = np.nanpercentile(image[..., 1], 95, axis=1) - np.nanpercentile(image[..., 1], 5, axis=1)
    scale = np.maximum(np.nanmedian(height), 1.0)
    weights = np.maximum(np.nan_to_num(confidence), CONFIDENCE_FLOOR)
    centred = (
        world
        - np.nanmean(world[:, [MEDIAPIPE_INDEX["left_hip"], MEDIAPIPE_INDEX["right_hip"]]], axis=1)[:, None]
    )
    frames = image.shape[0]
    count = HYPOTHESES.shape[0]
    costs = np.zeros((max(frames - 1, 0), count, count))
    for a in range(count):
        for b in range(count):
            first, second = HYPOTHESES[a], HYPOTHESES[b]
            step_image = np.linalg.norm(image[1:, second] - image[:-1, first], axis=-1) / scale
            step_world = np.linalg.norm(centred[1:, second] - centred[:-1, first], axis=-1) / BODY_HEIGHT_M
            weight = np.sqrt(weights[1:, second] * weights[:-1, first])
            step = np.nan_to_num(step_image**2 + step_world**2, nan=0.0)
            costs[:, a, b] = np.sum(weight * step, axis=1) / np.maximum(weight.sum(axis=1), 1e-9) * 100.0
    return costs


def choose(image: np.ndarray, world: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """(N,) the hypothesis (index into HYPOTHESES) of each frame: the cheapest sequence overall."""
    frames = image.shape[0]
    count = HYPOTHESES.shape[0]
    if frames < 2:
        return np.zeros(frames, dtype=np.int64)
    transitions = motion_costs(image, world, confidence)
    unary = np.full(count, SWAP_COST)
    unary[0] = 0.0
    total = unary.copy()
    back = np.zeros((frames, count), dtype=np.int64)
    for frame in range(1, frames):
        candidates = total[:, None] + transitions[frame - 1]  # (from, to)
        back[frame] = np.argmin(candidates, axis=0)
        total = candidates[back[frame], np.arange(count)] + unary
    chosen = np.zeros(frames, dtype=np.int64)
    chosen[-1] = int(np.argmin(total))
    for frame in range(frames - 1, 0, -1):
        chosen[frame - 1] = back[frame, chosen[frame]]
    return chosen


def repair(
    image: np.ndarray, world: np.ndarray, visibility: np.ndarray, confidence: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(image, world, visibility, confidence) relabelled per frame, and the (N,) hypothesis chosen (0: kept)."""
    chosen = choose(image, world, confidence)
    order = HYPOTHESES[chosen]  # (N, 33)
    rows = np.arange(image.shape[0])[:, None]
    return image[rows, order], world[rows, order], visibility[rows, order], confidence[rows, order], chosen
