"""Test stage for smoothing: behaviour from the test's script (tests/stages/__init__.py)."""

from mocapd.job import Job, StepOutcome
from tests.stages import perform


def run(job: Job) -> StepOutcome:
    return perform("smoothing", job)
