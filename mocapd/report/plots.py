"""Per-person plots (matplotlib, SVG): detection confidence, joint angles, foot height, jitter.

One figure of four panels per person, so a page loads one image per person; time in seconds on
every x axis, units on every y axis. Long clips are thinned to MAX_POINTS per line (each bucket's
lowest and highest value, so spikes stay), and titles sit at a fixed height: matplotlib's time
grows with the points written and the title layout's tick measuring (bench/bench_report.py).
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: the daemon and its steps are headless
# Text as SVG text, not glyph paths: a third of the file and of the time.
matplotlib.rcParams["svg.fonttype"] = "none"

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mocapd import skeleton  # noqa: E402
from mocapd.report.motion import PersonMotion  # noqa: E402

# Angles plotted: (label, joint, parent side point, child point): the angle at `joint` between bones.
ANGLES: tuple[tuple[str, str, str, str], ...] = (
    ("left knee", "left_knee", "left_hip", "left_ankle"),
    ("right knee", "right_knee", "right_hip", "right_ankle"),
    ("left elbow", "left_elbow", "left_shoulder", "left_wrist"),
    ("right elbow", "right_elbow", "right_shoulder", "right_wrist"),
    ("left hip", "left_hip", "spine1", "left_knee"),
    ("right hip", "right_hip", "spine1", "right_knee"),
)
FEET = (("left", "left_foot"), ("right", "right_foot"))
# Points per line: more than the plot's width in pixels adds bytes and time, not detail.
MAX_POINTS = 600
# Titles at a fixed height above each panel: placing them by measuring the tick labels is a third
# of the figure's time.
TITLE_Y = 1.02


def thin(times: np.ndarray, *series: np.ndarray) -> tuple[np.ndarray, ...]:
    """`times` and each series cut to about MAX_POINTS samples: per bucket the first sample's time
    twice, with each series' lowest and highest value (booleans: any), so peaks are kept."""
    count = times.shape[0]
    if count <= MAX_POINTS:
        return (times, *series)
    starts = np.linspace(0, count, MAX_POINTS // 2, endpoint=False).astype(int)
    thinned_times = np.repeat(times[starts], 2)
    thinned = []
    for values in series:
        if values.dtype == bool:
            high = np.logical_or.reduceat(values, starts)
            thinned.append(np.repeat(high, 2))
            continue
        low, high = np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts)
        thinned.append(np.stack([low, high], axis=1).reshape(-1))
    return (thinned_times, *thinned)


def joint_angles(positions: np.ndarray) -> dict[str, np.ndarray]:
    """Inner angle in degrees at each joint of ANGLES, per frame (180 = straight)."""
    result = {}
    for label, joint, first, second in ANGLES:
        centre = positions[:, skeleton.JOINT_INDEX[joint]]
        one = positions[:, skeleton.JOINT_INDEX[first]] - centre
        two = positions[:, skeleton.JOINT_INDEX[second]] - centre
        cosine = np.sum(one * two, axis=-1) / (
            np.linalg.norm(one, axis=-1) * np.linalg.norm(two, axis=-1) + 1e-12
        )
        result[label] = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
    return result


def acceleration(positions: np.ndarray) -> np.ndarray:
    """Mean joint acceleration (mm/frame^2) per frame, the same measure as the smoothing step's jitter."""
    values = np.zeros(positions.shape[0])
    if positions.shape[0] >= 3:
        second = positions[2:] - 2.0 * positions[1:-1] + positions[:-2]
        values[1:-1] = np.linalg.norm(second, axis=-1).mean(axis=-1) * 1000.0
        values[0], values[-1] = values[1], values[-2]
    return values


def write(person: PersonMotion, path: Path) -> None:
    """The four panels of one person as an SVG file."""
    colour = tuple(channel / 255.0 for channel in person.colour)
    times = person.times
    raw = person.raw
    # A bare Figure: no pyplot state to create and close per person.
    figure = Figure(figsize=(7.0, 8.0))
    axes = figure.subplots(4, 1, sharex=True)
    # Fixed margins: a layout engine costs more than drawing the plots.
    figure.subplots_adjust(left=0.11, right=0.98, top=0.96, bottom=0.06, hspace=0.35)
    raw_times, confidence, missed = thin(
        raw.time, raw.confidence.mean(axis=1), raw.confidence.max(axis=1) <= 0.0
    )
    axes[0].plot(raw_times, confidence, color=colour, label="mean joint confidence")
    if missed.any():
        axes[0].fill_between(
            raw_times, 0, 1, where=missed, color="#c33", alpha=0.2, label="not seen (filled in)"
        )
    axes[0].set_ylim(0.0, 1.05)
    axes[0].set_ylabel("confidence (0-1)")
    axes[0].set_title("Detection confidence", y=TITLE_Y)
    angles = joint_angles(person.positions)
    thinned_times, *angle_values = thin(times, *angles.values())
    for label, values in zip(angles, angle_values, strict=True):
        axes[1].plot(thinned_times, values, label=label, linestyle="--" if "right" in label else "-")
    axes[1].set_ylabel("angle (°)")
    axes[1].set_title("Knee, elbow and hip angles (180° = straight)", y=TITLE_Y)
    for side, (label, joint) in enumerate(FEET):
        foot_times, height, contact = thin(
            times, person.positions[:, skeleton.JOINT_INDEX[joint], 1] * 100.0, person.contacts[:, side]
        )
        line = axes[2].plot(foot_times, height, label=f"{label} foot")[0]
        axes[2].fill_between(
            foot_times,
            0,
            np.where(contact, height.max(initial=1.0), 0.0),
            where=contact,
            color=line.get_color(),
            alpha=0.15,
            step="mid",
            label=f"{label} contact",
        )
    axes[2].set_ylabel("height (cm)")
    axes[2].set_title("Foot height above the floor, contacts shaded", y=TITLE_Y)
    axes[3].plot(*thin(raw.time, acceleration(raw.joint_positions())), color="#999", label="before smoothing")
    axes[3].plot(
        *thin(person.smoothed.time, acceleration(person.smoothed.joint_positions())),
        color=colour,
        label="after smoothing",
    )
    axes[3].set_ylabel("jitter (mm/frame²)")
    axes[3].set_title("Jitter: mean joint acceleration", y=TITLE_Y)
    axes[3].set_xlabel("time in the video (s)")
    for axis in axes:
        axis.grid(alpha=0.3)
        axis.legend(fontsize="x-small", loc="upper right", ncols=3)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    path.write_text(buffer.getvalue(), encoding="utf-8")


def airborne_share(person: PersonMotion) -> float:
    """Share of frames with neither foot on the floor."""
    return float(np.mean(~person.contacts.any(axis=1))) if person.frame_count else 0.0
