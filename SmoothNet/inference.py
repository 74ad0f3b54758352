"""Sliding-window SmoothNet inference over SMPL rotations in 6D (24 x 6 channels), overlaps averaged."""

from __future__ import annotations

import numpy as np
import torch

from mocapd.rotations import matrix_to_6d, sixd_to_matrix
from SmoothNet.model import SmoothNet

# Windows per forward pass: bounds memory (3000 frames at stride 1 would otherwise need ~1 GB at once).
BATCH_WINDOWS = 128


def smooth_channels(model: SmoothNet, values: np.ndarray, stride: int = 1) -> np.ndarray:
    """(N, C) signals -> (N, C) smoothed by windows of model.window frames every `stride` frames, averaged."""
    frames, channels = values.shape
    window = model.window
    # A clip shorter than the window is padded by repeating its edge frames, then cut back.
    padded = values if frames >= window else np.pad(values, ((0, window - frames), (0, 0)), mode="edge")
    total = padded.shape[0]
    starts = list(range(0, total - window + 1, max(1, stride)))
    if starts[-1] != total - window:
        starts.append(total - window)
    summed = np.zeros_like(padded, dtype=np.float64)
    counts = np.zeros((total, 1))
    for first in range(0, len(starts), BATCH_WINDOWS):
        batch = starts[first : first + BATCH_WINDOWS]
        windows = np.stack([padded[start : start + window].T for start in batch])  # (windows, C, W)
        with torch.no_grad():
            output = model(torch.from_numpy(windows.astype(np.float32))).numpy()
        for index, start in enumerate(batch):
            summed[start : start + window] += output[index].T
            counts[start : start + window] += 1.0
    return (summed / counts)[:frames]


def smooth_rotations(model: SmoothNet, rotations: np.ndarray, stride: int = 1) -> np.ndarray:
    """(N, J, 3, 3) rotations -> (N, J, 3, 3): smoothed in 6D, then made proper rotations again."""
    frames, joints = rotations.shape[:2]
    sixd = matrix_to_6d(rotations).reshape(frames, joints * 6)
    smoothed = smooth_channels(model, sixd, stride).reshape(frames, joints, 6)
    return sixd_to_matrix(smoothed)
