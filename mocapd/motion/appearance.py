"""What a person looks like in one frame: colour histograms of their torso and thighs, to tell people apart.

Clothes keep their colours while a person turns, walks behind someone or is lost by the detector, so
a person's fragments can be joined (mocapd.motion.association) and a swap between two people seen.
The regions come from the landmarks (shoulders, hips, knees), each shrunk towards its middle so that
background and limbs crossing the edge count less. Hue x saturation bins, plus a few value bins so
that grey, white and black clothes (no hue) differ too.
"""

from __future__ import annotations

import cv2
import numpy as np

from mocapd.motion.landmarks import MEDIAPIPE_INDEX

HUE_BINS, SATURATION_BINS, VALUE_BINS = 8, 3, 4
REGION_BINS = HUE_BINS * SATURATION_BINS + VALUE_BINS
# Torso (shoulders to hips) and thighs (hips to knees): the regions clothes cover most.
REGIONS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")),
    (("left_hip", "right_hip"), ("left_knee", "right_knee")),
)
SIZE = REGION_BINS * len(REGIONS)
# Fraction of each region's width and height kept around its middle.
SHRINK = 0.6
# Regions smaller than this (pixels on a side) say nothing.
MIN_REGION_PX = 4


def _region_box(points: np.ndarray, top: tuple[str, ...], bottom: tuple[str, ...]) -> np.ndarray:
    upper = points[[MEDIAPIPE_INDEX[name] for name in top]]
    lower = points[[MEDIAPIPE_INDEX[name] for name in bottom]]
    corners = np.concatenate([upper, lower])
    centre = corners.mean(axis=0)
    half = (corners.max(axis=0) - corners.min(axis=0)) * SHRINK / 2.0
    return np.concatenate([centre - half, centre + half])


def describe(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(SIZE,) histograms (each region sums to 1; NaN where a region is out of the image or too small)
    of an RGB image around landmarks (33, 2) given in that image's pixels."""
    height, width = image.shape[:2]
    result = np.full(SIZE, np.nan, dtype=np.float32)
    for index, (top, bottom) in enumerate(REGIONS):
        x0, y0, x1, y1 = _region_box(points, top, bottom)
        x0, x1 = int(max(x0, 0)), int(min(x1, width))
        y0, y1 = int(max(y0, 0)), int(min(y1, height))
        if x1 - x0 < MIN_REGION_PX or y1 - y0 < MIN_REGION_PX:
            continue
        hsv = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2HSV)
        colour = cv2.calcHist([hsv], [0, 1], None, [HUE_BINS, SATURATION_BINS], [0, 180, 0, 256]).ravel()
        value = cv2.calcHist([hsv], [2], None, [VALUE_BINS], [0, 256]).ravel()
        # Hue means little for unsaturated pixels: they count by value only.
        histogram = np.concatenate([colour / 2.0, value / 2.0])
        result[index * REGION_BINS : (index + 1) * REGION_BINS] = histogram / max(histogram.sum(), 1e-9)
    return result


def distance(first: np.ndarray, second: np.ndarray) -> float | None:
    """Mean Bhattacharyya distance (0 same colours .. 1 none shared) over the regions both show; None if none."""
    value = float(distances(first[None], second[None])[0])
    return value if np.isfinite(value) else None


def typical(rows: np.ndarray) -> np.ndarray:
    """(SIZE,) the median of several frames' histograms (N, SIZE), region by region, ignoring NaN rows."""
    result = np.full(SIZE, np.nan, dtype=np.float32)
    for index in range(len(REGIONS)):
        part = rows[:, index * REGION_BINS : (index + 1) * REGION_BINS]
        part = part[np.isfinite(part).all(axis=1)]
        if part.shape[0]:
            median = np.median(part, axis=0)
            result[index * REGION_BINS : (index + 1) * REGION_BINS] = median / max(float(median.sum()), 1e-9)
    return result


def running_means(rows: np.ndarray, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(len(cuts), SIZE) the mean of several frames' histograms rows[:cut], and of rows[cut:], for every
    cut, region by region, ignoring NaN rows (NaN where a side has none): from running sums."""
    before = np.full((cuts.shape[0], SIZE), np.nan, dtype=np.float32)
    after = np.full((cuts.shape[0], SIZE), np.nan, dtype=np.float32)
    for index in range(len(REGIONS)):
        columns = slice(index * REGION_BINS, (index + 1) * REGION_BINS)
        part = rows[:, columns]
        valid = np.isfinite(part).all(axis=1)
        sums = np.zeros((rows.shape[0] + 1, REGION_BINS))
        np.cumsum(np.where(valid[:, None], part, 0.0), axis=0, out=sums[1:])
        counts = np.concatenate([[0], np.cumsum(valid)])
        head, tail = counts[cuts], counts[-1] - counts[cuts]
        with np.errstate(invalid="ignore", divide="ignore"):  # no valid row on a side: NaN
            before[:, columns] = np.where(head[:, None] > 0, sums[cuts] / head[:, None], np.nan)
            after[:, columns] = np.where(tail[:, None] > 0, (sums[-1] - sums[cuts]) / tail[:, None], np.nan)
    return before, after


def distances(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """`distance` row by row of (M, SIZE) histograms: (M,), NaN where no region is shown in both."""
    total = np.zeros(first.shape[0])
    shown = np.zeros(first.shape[0])
    for index in range(len(REGIONS)):
        a = first[:, index * REGION_BINS : (index + 1) * REGION_BINS]
        b = second[:, index * REGION_BINS : (index + 1) * REGION_BINS]
        both = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
        with np.errstate(invalid="ignore"):
            overlap = np.sum(np.sqrt(np.clip(a, 0, None) * np.clip(b, 0, None)), axis=1).astype(np.float64)
        total += np.where(both, np.sqrt(np.maximum(1.0 - overlap, 0.0)), 0.0)
        shown += both
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(shown > 0, total / shown, np.nan)
