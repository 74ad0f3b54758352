"""A running job's overall progress: the share of its run done, the time it has taken and an estimate of the rest.

Each step reports its own fraction (runner.read_progress); the steps are weighted by how long they
took on average in this daemon's finished jobs, or by rough guesses before there are any.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from mocapd import states
from mocapd.store import JobRecord, StepRecord

# Rough seconds per step for a short clip on the CPU, used only until this daemon has finished jobs.
GUESSED_STEP_SECONDS = {
    states.VIDEO_UPLOAD: 1.0,
    states.TRACKING: 20.0,
    states.TRACK_EXTRACTION: 5.0,
    states.SMOOTHING: 2.0,
    states.FBX_EXPORT: 5.0,
    states.PACKAGING: 1.0,
}
# Below this share the time left is taken from the step weights, not extrapolated from the time taken.
EXTRAPOLATE_FROM = 0.05


@dataclass
class Overall:
    share: float  # 0..1 of the steps this run has to do
    elapsed_seconds: float
    remaining_seconds: float | None  # None: nothing to go on yet

    def to_dict(self) -> dict[str, Any]:
        remaining = round(self.remaining_seconds, 1) if self.remaining_seconds is not None else None
        return {
            "share": round(self.share, 3),
            "elapsed_seconds": round(self.elapsed_seconds, 1),
            "remaining_seconds": remaining,
        }


def overall(
    record: JobRecord, steps: list[StepRecord], step_seconds: dict[str, float], now: float | None = None
) -> Overall | None:
    """The progress of a processing job's current run (steps finished before it, e.g. kept by a re-export, left out)."""
    if record.state != states.PROCESSING or record.started is None:
        return None
    now = time.time() if now is None else now
    weights = {step: step_seconds.get(step) or GUESSED_STEP_SECONDS[step] for step in states.STEPS}
    total = done = 0.0
    for step in steps:
        finished = step.status in states.FINISHED_STEP_STATES
        if finished and (step.started is None or step.started < record.started):
            continue  # not part of this run
        weight = weights.get(step.name, 0.0)
        total += weight
        if finished:
            done += weight
        elif step.name == record.current_step and step.status == states.RUNNING:
            done += weight * max(0.0, min(1.0, record.progress))
    share = done / total if total else 0.0
    elapsed = max(0.0, now - record.started)
    if share >= EXTRAPOLATE_FROM:
        remaining: float | None = elapsed * (1.0 - share) / share
    else:
        remaining = total - done if step_seconds else None
    return Overall(share=share, elapsed_seconds=elapsed, remaining_seconds=remaining)


def duration(seconds: float | None) -> str:
    """A readable span: 45 s, 3 min 05 s, 1 h 02 min."""
    if seconds is None:
        return "unknown"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def describe(progress: Overall) -> str:
    """One line: overall share, time taken, time left."""
    left = (
        "time left unknown"
        if progress.remaining_seconds is None
        else f"about {duration(progress.remaining_seconds)} left"
    )
    return f"{progress.share * 100:.0f} % overall, {duration(progress.elapsed_seconds)} elapsed, {left}"
