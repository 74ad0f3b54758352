"""Packaging step: animation.<ext> for a single file, else animations.zip with a manifest; and the
report's preview, plots and per-person files (mocapd.report.assets) beside it."""

from __future__ import annotations

import logging

from mocapd.export.packaging import ZIP_NAME, package
from mocapd.job import Job, StepOutcome
from mocapd.report import assets

log = logging.getLogger(__name__)


def run(job: Job) -> StepOutcome:
    """Package the export folder into the job's package folder, then make the report's files."""
    result = package(job.export_dir, job.package_dir)
    outcome = StepOutcome(data={"result": result.name})
    job.report_progress("packaging", 0.2, "drawing the preview")
    try:
        report, warnings = assets.build(job, result.name, single=result.name != ZIP_NAME)
    except Exception as error:  # the animation is the result; a preview that fails is a warning
        log.exception("the report's preview failed")
        outcome.warnings.append(f"no preview: {type(error).__name__}: {error}")
    else:
        outcome.data["report"] = report
        outcome.warnings.extend(warnings)
    return outcome
