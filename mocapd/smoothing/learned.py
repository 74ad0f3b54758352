"""A configured SmoothNet checkpoint as the joints' filter; the root path is still smoothed by ours."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocapd.rotations import matrix_to_6d, sixd_to_matrix
from mocapd.smoothing.smoother import RotationSmoother


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A usable checkpoint: its filter and a description for the job's report."""

    smoother: RotationSmoother
    description: str


def load_checkpoint(path: Path, strength: float, window: int | None = None) -> LoadedCheckpoint:
    """The SmoothNet in `path` as a rotation filter blended with the raw motion by `strength`.

    Raises SmoothNet.checkpoint.CheckpointError (a JobError) with the reason when it cannot be used.
    """
    # torch is imported only when a checkpoint is configured: the default smoother does not need it.
    from SmoothNet.checkpoint import load_model
    from SmoothNet.inference import smooth_rotations

    model = load_model(path, window)
    share = float(np.clip(strength, 0.0, 1.0))

    def smoother(local: np.ndarray) -> np.ndarray:
        smoothed = smooth_rotations(model, local)
        # Strength blends raw and network output in 6D, then back to proper rotations.
        blended = (1.0 - share) * matrix_to_6d(local) + share * matrix_to_6d(smoothed)
        return sixd_to_matrix(blended)

    description = (
        f"SmoothNet checkpoint {path.name} (window {model.window}, width {model.hidden}, "
        f"residual width {model.res_hidden}, {model.blocks} blocks)"
    )
    return LoadedCheckpoint(smoother, description)
