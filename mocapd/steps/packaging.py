"""Packaging step: animation.<ext> for a single file, else animations.zip with a manifest."""

from __future__ import annotations

from mocapd.export.packaging import package
from mocapd.job import Job, StepOutcome


def run(job: Job) -> StepOutcome:
    """Package the export folder into the job's package folder."""
    result = package(job.export_dir, job.package_dir)
    return StepOutcome(data={"result": result.name})
