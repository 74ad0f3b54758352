"""Quality figures as a person reads them: a label and a unit for every key, known or not.

Keys come from several steps (and other versions of them); unknown keys get their unit from their
suffix, so a new figure shows up with its unit without a change here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# key: (label, unit, kind). kind "share" is a 0..1 fraction shown in per cent.
KNOWN: dict[str, tuple[str, str, str]] = {
    "detected_share": ("seen by the tracker", "% of frames", "share"),
    "interpolated_frames": ("filled-in frames", "frames", "count"),
    "frames_out_of_image": ("frames at the picture's edge", "frames", "count"),
    "bone_length_cv": ("limb length variation", "%", "share"),
    "jitter_m_s2": ("jitter of the raw track", "m/s²", "number"),
    "camera_tilt_deg": ("camera tilt levelled out", "°", "number"),
    "jitter_before": ("jitter before smoothing", "mm/frame²", "number"),
    "jitter_after": ("jitter after smoothing", "mm/frame²", "number"),
    "airborne_share": ("feet off the floor", "% of frames", "share"),
    "sliding_before_cm": ("foot sliding before locking", "cm/frame", "number"),
    "sliding_after_cm": ("foot sliding in the file", "cm/frame", "number"),
    "below_floor_after": ("feet below the floor", "% of frames", "share"),
    "floor_offset_m": ("floor moved by", "m", "number"),
    "reprojection_error_px": ("reprojection error", "px", "number"),
    "reprojection_px": ("reprojection error", "px", "number"),
    "contact_share": ("foot contact, left / right", "% of frames", "share"),
    "flip_repaired_frames": ("frames with a flip repaired", "frames", "count"),
    "forearm_flip_frames": ("frames with a forearm's depth repaired", "frames", "count"),
    "leg_flip_frames": ("frames with a leg's depth repaired", "frames", "count"),
    "floor_found": ("floor found", "", "bool"),
    "floor_penetration_cm": ("feet through the floor", "cm", "number"),
    "sliding_mm_per_frame": ("foot sliding in the solve", "mm/frame", "number"),
    "planted_sliding_cm": ("planted foot sliding in the solve", "cm/frame", "number"),
    "level_method": ("camera levelled by", "", "text"),
    "level_reason": ("levelling note", "", "text"),
}
# Unit by key suffix, for keys not listed above (longest suffix first).
SUFFIX_UNITS: tuple[tuple[str, str, str], ...] = (
    ("_mm_per_frame", "mm/frame", "number"),
    ("_cm_per_frame", "cm/frame", "number"),
    ("_m_s2", "m/s²", "number"),
    ("_share", "% of frames", "share"),
    ("_frames", "frames", "count"),
    ("_deg", "°", "number"),
    ("_px", "px", "number"),
    ("_cm", "cm", "number"),
    ("_mm", "mm", "number"),
    ("_m", "m", "number"),
    ("_s", "s", "number"),
    ("_hz", "Hz", "number"),
)


@dataclass
class Figure:
    key: str
    label: str
    value: Any
    text: str  # the value with its unit, e.g. "96 % of frames"


def describe(key: str) -> tuple[str, str, str]:
    """(label, unit, kind) of a key."""
    if key in KNOWN:
        return KNOWN[key]
    label = key.replace("_", " ")
    for suffix, unit, kind in SUFFIX_UNITS:
        if key.endswith(suffix):
            return key[: -len(suffix)].replace("_", " "), unit, kind
    return label, "", "text"


def number(value: Any) -> float | None:
    """A finite float, or None for anything else (missing, text, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def format_value(value: Any, unit: str, kind: str) -> str:
    if isinstance(value, list | tuple):
        return " / ".join(format_value(item, unit, kind).removesuffix(f" {unit}") for item in value) + (
            f" {unit}" if unit else ""
        )
    if isinstance(value, bool):
        return "yes" if value else "no"
    figure = number(value)
    if figure is None:
        return str(value)
    if kind == "share":
        text = f"{figure * 100:.0f}" if abs(figure) >= 0.1 or figure == 0 else f"{figure * 100:.1f}"
    elif kind == "count":
        text = f"{figure:.0f}"
    elif abs(figure) < 0.001:  # rounding noise (1e-15 cm of sliding) reads as zero
        text = "0"
    else:
        text = f"{figure:.3g}" if abs(figure) < 1000 else f"{figure:.0f}"
    return f"{text} {unit}".strip()


def figures(values: dict[str, Any]) -> list[Figure]:
    """Every figure present in `values`, labelled, with its unit; None values left out."""
    result = []
    for key, value in values.items():
        if value is None or isinstance(value, dict) or value == []:
            continue
        label, unit, kind = describe(key)
        result.append(Figure(key, label, value, format_value(value, unit, kind)))
    return result
