"""Step 1: the ingested video is probed for real; an unusable video fails the job with the reason."""

from __future__ import annotations

import dataclasses

from mocapd.inbox.probe import probe
from mocapd.job import Job, StepOutcome


def run(job: Job) -> StepOutcome:
    """Probe `job.video_path` against `job.config.limits`; the VideoInfo goes into the job's data."""
    info = probe(job.video_path, job.config.limits)
    return StepOutcome(data={"video": dataclasses.asdict(info)})
