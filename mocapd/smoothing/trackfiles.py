"""Smoothing one track file into another: what the smoothing step and tools/adapt_smoothnet.py share."""

from __future__ import annotations

from pathlib import Path

from mocapd import trackfile
from mocapd.smoothing.metrics import jitter
from mocapd.smoothing.smoother import RotationSmoother, SmoothingParameters, rotation_cutoff, smooth_motion


def smooth_track_file(
    source: Path,
    target: Path,
    parameters: SmoothingParameters,
    rotation_smoother: RotationSmoother | None = None,
) -> dict[str, float]:
    """Read `source`, write the smoothed motion to `target`; jitter before and after (mm/frame^2)."""
    motion = trackfile.load(source)
    smoothed = smooth_motion(motion, parameters, rotation_smoother)
    trackfile.save(smoothed, target)
    figures = {
        "before": round(jitter(motion.joint_positions()), 3),
        "after": round(jitter(smoothed.joint_positions()), 3),
    }
    if rotation_smoother is None:
        cutoff = rotation_cutoff(parameters.strength, parameters.window, motion.fps)
        figures["cutoff_hz"] = round(cutoff * motion.fps / 2.0, 2)
    return figures
