"""Step 4, smoothing: each selected track's motion smoothed into job.smoothed_path(tid).

Our smoother runs unless config.smoothing.checkpoint names a SmoothNet checkpoint; a checkpoint that
cannot be used is a JobError with the reason (the runner reports it and the exporter uses raw motion).
StepOutcome.data: 'method', 'jitter' {tid: {'before', 'after'}} in 'jitter_units' (mm/frame^2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mocapd import states
from mocapd.errors import JobError
from mocapd.job import Job, StepOutcome
from mocapd.smoothing.metrics import JITTER_UNITS
from mocapd.smoothing.smoother import METHOD, RotationSmoother, SmoothingParameters
from mocapd.smoothing.trackfiles import smooth_track_file

DISABLED = "smoothing disabled"


def run(job: Job) -> StepOutcome:
    """Smooth every selected track; with smoothing disabled, write nothing."""
    options = job.options
    if not options.enable_smoothing:
        for tid in job.selected_tracks:
            # A smoothed file from an earlier attempt would otherwise be exported.
            job.smoothed_path(tid).unlink(missing_ok=True)
        return StepOutcome(data={"method": DISABLED, "jitter": {}})
    if not job.selected_tracks:
        return StepOutcome(warnings=["no track was selected: nothing to smooth"], data={"method": "none"})
    parameters = SmoothingParameters(
        strength=options.smoothing_strength,
        window=options.smoothing_window,
    )
    rotation_smoother: RotationSmoother | None = None
    method = METHOD
    if job.config.smoothing.checkpoint:
        from mocapd.smoothing.learned import load_checkpoint

        checkpoint = Path(job.config.smoothing.checkpoint).expanduser()
        loaded = load_checkpoint(checkpoint, options.smoothing_strength)
        rotation_smoother, method = loaded.smoother, loaded.description
    figures: dict[str, dict[str, float]] = {}
    for index, tid in enumerate(job.selected_tracks):
        source = job.track_path(tid)
        if not source.is_file():
            raise JobError(f"smoothing: the motion of track {tid} ({source.name}) is missing")
        figures[str(tid)] = smooth_track_file(source, job.smoothed_path(tid), parameters, rotation_smoother)
        job.report_progress(states.SMOOTHING, (index + 1) / len(job.selected_tracks), f"track {tid}")
    data: dict[str, Any] = {
        "method": method,
        "strength": parameters.strength,
        "jitter": figures,
        "jitter_units": JITTER_UNITS,
    }
    return StepOutcome(data=data)
